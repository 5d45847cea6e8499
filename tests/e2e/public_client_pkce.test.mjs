// A public client (PKCE, no secret) through its whole life: sign-in, token validation,
// userinfo, refresh-token rotation with reuse detection, RP-initiated logout.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { Browser, signIn } from './lib/browser.mjs';
import { ACR_PASSWORD, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

describe('public client with PKCE', { timeout: 60000 }, () => {
  let ks;
  let config;
  const browser = new Browser();
  let signInResult;
  let checks;
  let tokens;
  let claims;
  let startedAt;
  let sessionCookie;
  let silent;

  before(async () => {
    ks = await Keystep.start();
    config = await discover(ks, PUBLIC_CLIENT_ID);
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('discovery describes the issuer and its endpoints', () => {
    const md = config.serverMetadata();
    assert.equal(md.issuer, ks.issuer);
    assert.equal(md.authorization_endpoint, `${ks.issuer}/authorize`);
    assert.equal(md.token_endpoint, `${ks.issuer}/token`);
    assert.equal(md.end_session_endpoint, `${ks.issuer}/logout`);
    assert.ok(md.code_challenge_methods_supported.includes('S256'));
  });

  it('signs in through the login form and redirects back with code, state and iss', async () => {
    const auth = await startAuthorization(config, ks);
    checks = auth.checks;
    startedAt = Math.floor(Date.now() / 1000);
    signInResult = await signIn(browser, auth.url, USER);

    const { authorizeResponse, loginPage, loginResponse, callback } = signInResult;
    assert.equal(authorizeResponse.location.origin + authorizeResponse.location.pathname, `${ks.issuer}/login`);
    const flowId = authorizeResponse.location.searchParams.get('flow');
    assert.ok(flowId, 'the login redirect carries a flow id');
    const flowCookie = authorizeResponse.setCookies.find((c) => c.name === 'ks_flow');
    assert.ok(flowCookie?.value, 'the login redirect sets ks_flow');
    assert.equal(flowCookie.attrs.path, '/');
    assert.equal(flowCookie.attrs.httponly, true);

    assert.ok(loginPage, 'the login page was shown');
    assert.equal(loginResponse.status, 302);
    assert.equal(callback.origin + callback.pathname, ks.redirectUri);
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('state'), checks.expectedState);
    assert.equal(callback.searchParams.get('iss'), ks.issuer);
    const session = loginResponse.setCookies.find((c) => c.name === 'ks_session');
    assert.ok(session?.value, 'a successful sign-in sets ks_session');
    assert.equal(session.attrs.httponly, true);
    assert.equal(session.attrs.samesite, 'Lax');
    sessionCookie = session.value;
  });

  it('the login page has a CSRF-protected form with standard autocomplete attributes', () => {
    const { loginPage, authorizeResponse } = signInResult;
    assert.match(loginPage.headers.get('content-type'), /^text\/html/);
    const html = loginPage.body;
    const form = html.match(/<form\b[^>]*>/i)[0];
    assert.match(form, /method="post"/i);
    assert.match(form, /action="\/login"/);
    assert.match(html, new RegExp(`<input[^>]*type="hidden"[^>]*name="flow"[^>]*value="${authorizeResponse.location.searchParams.get('flow')}"`));
    assert.match(html, /<input[^>]*type="hidden"[^>]*name="csrf_token"[^>]*value="[^"]{16,}"/);
    assert.match(html, /<input[^>]*name="email"[^>]*autocomplete="username"/);
    assert.match(html, /<input[^>]*name="password"[^>]*autocomplete="current-password"/);
  });

  it('the code exchange returns an id_token that openid-client validates, with the expected claims', async () => {
    tokens = await client.authorizationCodeGrant(config, signInResult.callback, checks);
    claims = tokens.claims();
    const now = Math.floor(Date.now() / 1000);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'offline_access yields a refresh token');
    assert.equal(claims.iss, ks.issuer);
    assert.deepEqual([claims.aud].flat(), [PUBLIC_CLIENT_ID]);
    assert.equal(typeof claims.sub, 'string');
    assert.ok(claims.sub.length > 0);
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(claims.auth_time >= startedAt - 1 && claims.auth_time <= now + 1,
              `auth_time ${claims.auth_time} is the time of this sign-in`);
    assert.equal(typeof claims.sid, 'string');
    assert.ok(claims.sid.length > 0);
    assert.equal(claims.acr, ACR_PASSWORD);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.nonce, checks.expectedNonce);
    assert.equal(claims.email, USER.email);
  });

  it('userinfo returns the same subject as the id_token', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    assert.equal(info.email, USER.email);
  });

  it('refreshing rotates the refresh token; reusing the old one is refused and revokes the new one', async () => {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    const refreshedClaims = refreshed.claims();
    assert.equal(refreshedClaims.sub, claims.sub);
    assert.equal(refreshedClaims.auth_time, claims.auth_time);
    const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);

    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token),
                         { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 });
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token),
                         { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 },
                         'the replacement refresh token dies with its grant');
    await assert.rejects(client.fetchUserInfo(config, refreshed.access_token, claims.sub),
                         { name: 'WWWAuthenticateChallengeError', status: 401 },
                         "the grant's access tokens are revoked too");
  });

  it('while the session lives, prompt=none answers with a code and no login page', async () => {
    const auth = await startAuthorization(config, ks, { prompt: 'none' });
    const res = await browser.get(auth.url);
    assert.equal(res.status, 302);
    assert.equal(res.location.origin + res.location.pathname, ks.redirectUri);
    assert.ok(res.location.searchParams.get('code'));
    silent = await client.authorizationCodeGrant(config, res.location, auth.checks);
    assert.equal(silent.claims().sid, claims.sid);
    assert.equal(silent.claims().auth_time, claims.auth_time);
  });

  it('RP-initiated logout redirects to the post-logout URI with state and ends the session', async () => {
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: ks.postLogoutRedirectUri,
      state,
    });
    assert.equal(url.origin + url.pathname, `${ks.issuer}/logout`);
    const res = await browser.get(url);
    assert.equal(res.status, 302, res.body);
    assert.equal(res.location.origin + res.location.pathname, ks.postLogoutRedirectUri);
    assert.equal(res.location.searchParams.get('state'), state);
    assert.equal(browser.cookie('ks_session'), undefined, 'the session cookie is deleted');
    await assert.rejects(client.fetchUserInfo(config, silent.access_token, claims.sub),
                         { name: 'WWWAuthenticateChallengeError', status: 401 },
                         "the session's access tokens are revoked");

    // The session is gone on the server too: replaying the old cookie does not sign in.
    for (const jar of [browser, withSession(sessionCookie)]) {
      const auth = await startAuthorization(config, ks, { prompt: 'none' });
      const answer = await jar.get(auth.url);
      assert.equal(answer.status, 302);
      assert.equal(answer.location.origin + answer.location.pathname, ks.redirectUri);
      assert.equal(answer.location.searchParams.get('error'), 'login_required');
      assert.equal(answer.location.searchParams.get('state'), auth.checks.expectedState);
      assert.equal(answer.location.searchParams.get('iss'), ks.issuer);
      await assert.rejects(client.authorizationCodeGrant(config, answer.location, auth.checks),
                           { name: 'AuthorizationResponseError', error: 'login_required' });
    }
  });
});

function withSession(value) {
  const b = new Browser();
  b.setCookie('ks_session', value);
  return b;
}
