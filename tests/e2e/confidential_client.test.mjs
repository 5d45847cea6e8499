// Confidential clients authenticate at the token endpoint with their secret, both ways the
// IdP advertises: client_secret_basic and client_secret_post.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { Browser, signIn } from './lib/browser.mjs';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, Keystep, USER } from './lib/keystep.mjs';
import { discover, recordingFetch, startAuthorization } from './lib/rp.mjs';

describe('confidential client', { timeout: 60000 }, () => {
  let ks;

  before(async () => {
    ks = await Keystep.start();
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // Signs in with a fresh browser and exchanges the code; returns the tokens and the token
  // request the RP sent.
  async function loginAndExchange(method, auth, { pkce = true } = {}) {
    const recorder = recordingFetch();
    const config = await discover(ks, CONFIDENTIAL_CLIENT_ID, auth, { fetch: recorder.fetch });
    assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes(method));
    const start = await startAuthorization(config, ks);
    if (!pkce) {
      start.url.searchParams.delete('code_challenge');
      start.url.searchParams.delete('code_challenge_method');
      delete start.checks.pkceCodeVerifier;
    }
    const { callback } = await signIn(new Browser(), start.url, USER);
    const tokens = await client.authorizationCodeGrant(config, callback, start.checks);
    const tokenRequest = recorder.requests.find((r) => r.url === `${ks.issuer}/token`);
    return { config, tokens, tokenRequest };
  }

  it('client_secret_basic: sign-in and code exchange (with PKCE) yield a valid id_token', async () => {
    const { config, tokens, tokenRequest } = await loginAndExchange(
        'client_secret_basic', client.ClientSecretBasic(CONFIDENTIAL_CLIENT_SECRET));
    assert.match(tokenRequest.headers.get('authorization') ?? '', /^Basic /);
    assert.doesNotMatch(tokenRequest.body, /client_secret=/);
    const claims = tokens.claims();
    assert.deepEqual([claims.aud].flat(), [CONFIDENTIAL_CLIENT_ID]);
    assert.deepEqual(claims.amr, ['pwd']);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, USER.email);
  });

  it('client_secret_post: sign-in and code exchange (without PKCE) yield a valid id_token', async () => {
    const { config, tokens, tokenRequest } = await loginAndExchange(
        'client_secret_post', client.ClientSecretPost(CONFIDENTIAL_CLIENT_SECRET), { pkce: false });
    assert.equal(tokenRequest.headers.get('authorization'), null);
    const form = new URLSearchParams(tokenRequest.body);
    assert.equal(form.get('client_id'), CONFIDENTIAL_CLIENT_ID);
    assert.equal(form.get('client_secret'), CONFIDENTIAL_CLIENT_SECRET);
    assert.equal(form.get('code_verifier'), null);
    const claims = tokens.claims();
    assert.deepEqual([claims.aud].flat(), [CONFIDENTIAL_CLIENT_ID]);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.equal(refreshed.claims().sub, claims.sub);
  });

  it('a wrong client secret is refused with invalid_client (401)', async () => {
    const wrong = client.ClientSecretBasic('x'.repeat(40));
    const config = await discover(ks, CONFIDENTIAL_CLIENT_ID, wrong);
    const start = await startAuthorization(config, ks);
    const { callback } = await signIn(new Browser(), start.url, USER);
    const err = await client.authorizationCodeGrant(config, callback, start.checks).then(
        () => assert.fail('the token endpoint accepted a wrong secret'), (e) => e);
    assert.equal(err.status, 401);
    // openid-client reports a 401 with a WWW-Authenticate challenge before reading the body.
    const body = err.name === 'WWWAuthenticateChallengeError' ? await err.response.json() : err.cause;
    assert.equal(body.error, 'invalid_client');
  });
});
