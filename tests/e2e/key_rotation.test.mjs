// Signing key rotation while the server runs: the new key is published at once and signs
// only once every node has had time to publish it (SigningKeys::kReloadSeconds); the old key
// stays published so tokens it signed keep verifying.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as client from 'openid-client';

import { Browser, signIn } from './lib/browser.mjs';
import { Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, jwtHeader, startAuthorization } from './lib/rp.mjs';
import { sleep } from './lib/wait.mjs';

// SigningKeys::kReloadSeconds: a new key signs this long after it was added.
const KEY_RELOAD_SECONDS = 30;

describe('signing key rotation', { timeout: 120000 }, () => {
  let ks;

  before(async () => {
    ks = await Keystep.start();
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  async function login(config, browser) {
    const auth = await startAuthorization(config, ks);
    const { callback } = await signIn(browser, auth.url, USER);
    return client.authorizationCodeGrant(config, callback, auth.checks);
  }

  async function jwksKids() {
    const res = await fetch(`${ks.issuer}/jwks.json`);
    assert.equal(res.status, 200);
    return (await res.json()).keys.map((k) => k.kid);
  }

  it('keeps old tokens verifiable and signs new tokens with the new kid', async () => {
    const browser = new Browser();
    const before = await login(await discover(ks, PUBLIC_CLIENT_ID), browser);
    const oldKid = jwtHeader(before.id_token).kid;
    assert.ok(oldKid);
    assert.deepEqual(await jwksKids(), [oldKid]);

    const { stdout } = await ks.cli(['key', 'rotate']);
    const newKid = stdout.match(/New active signing key (\S+)/)?.[1];
    assert.ok(newKid, stdout);
    assert.notEqual(newKid, oldKid);
    const rotatedAt = Date.now();
    // The running server would pick the key up within its 30 s reload interval; a restart
    // makes that immediate.
    assert.deepEqual(await ks.restart(), { code: 0, signal: null }, ks.output);

    const kids = await jwksKids();
    assert.ok(kids.includes(oldKid), 'the old key is still published');
    assert.ok(kids.includes(newKid), 'the new key is published');
    // Published before it signs: tokens are still signed with the old key meanwhile.
    const meanwhile = await login(await discover(ks, PUBLIC_CLIENT_ID), new Browser());
    assert.equal(jwtHeader(meanwhile.id_token).kid, oldKid);
    await sleep(Math.max(0, rotatedAt + (KEY_RELOAD_SECONDS + 1) * 1000 - Date.now()));

    const jwks = jose.createRemoteJWKSet(new URL(`${ks.issuer}/jwks.json`));
    const { payload } = await jose.jwtVerify(before.id_token, jwks, {
      issuer: ks.issuer,
      audience: PUBLIC_CLIENT_ID,
    });
    assert.equal(payload.sub, before.claims().sub);

    // A fresh RP (empty JWKS cache) validates the new token through openid-client.
    const after = await login(await discover(ks, PUBLIC_CLIENT_ID), new Browser());
    assert.equal(jwtHeader(after.id_token).kid, newKid);
    assert.equal(after.claims().sub, before.claims().sub);
    const { payload: newPayload } = await jose.jwtVerify(after.id_token, jwks, { issuer: ks.issuer });
    assert.equal(newPayload.sub, before.claims().sub);

    // The session survived the restart: the existing browser gets a token with the new kid too.
    const silent = await login(await discover(ks, PUBLIC_CLIENT_ID), browser);
    assert.equal(jwtHeader(silent.id_token).kid, newKid);
  });
});
