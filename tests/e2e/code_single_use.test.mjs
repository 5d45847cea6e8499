// An authorization code can be redeemed once. A second redemption is refused and revokes
// the tokens the first one issued (RFC 6749 §4.1.2).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { Browser, signIn } from './lib/browser.mjs';
import { Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

describe('authorization code', { timeout: 60000 }, () => {
  let ks;
  let config;

  before(async () => {
    ks = await Keystep.start();
    config = await discover(ks, PUBLIC_CLIENT_ID);
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('is single use: the second redemption fails and the first access token stops working', async () => {
    const auth = await startAuthorization(config, ks);
    const { callback } = await signIn(new Browser(), auth.url, USER);
    const first = await client.authorizationCodeGrant(config, callback, auth.checks);
    const sub = first.claims().sub;
    assert.equal((await client.fetchUserInfo(config, first.access_token, sub)).sub, sub);

    await assert.rejects(client.authorizationCodeGrant(config, callback, auth.checks),
                         { name: 'ResponseBodyError', error: 'invalid_grant', status: 400 });

    await assert.rejects(client.fetchUserInfo(config, first.access_token, sub),
                         { name: 'WWWAuthenticateChallengeError', status: 401 });
    const raw = await fetch(`${ks.issuer}/userinfo`, { headers: { authorization: `Bearer ${first.access_token}` } });
    assert.equal(raw.status, 401);
    assert.match(raw.headers.get('www-authenticate'), /error="invalid_token"/);
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token),
                         { name: 'ResponseBodyError', error: 'invalid_grant' },
                         'the refresh token from the first redemption is revoked too');
  });
});
