// Signup with a security key (issue 13), in Debian's chromium with the DevTools WebAuthn
// virtual authenticator standing in for the key. The account enforces two-factor
// authentication and allows security keys; its administrator (with an authenticator app of
// their own, oathtool's codes) invites dana through the admin API, and the invitation arrives
// over SMTP (the test server). Dana opens its link, chooses a password, and the setup step
// that follows offers a security key instead of an app: she registers the key and lands on
// her profile, signed in. A relying party (openid-client, code + PKCE) then signs her in from
// that session without a page, with amr hwk; a fresh browser holding only her key signs her
// in again: password, then the key.
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test webauthn_signup.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { ACR_MFA } from './lib/keystep.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { startAuthorization } from './lib/rp.mjs';
import { idOf, KEY, startKeySuite, submitPassword, useKey, withKey } from './lib/security_key.mjs';
import { parseMail } from './lib/smtp.mjs';
import { eventually } from './lib/wait.mjs';

const ADMIN = { email: 'boss@example.com', password: 'boss staple battery' };
const DANA = { email: 'dana@example.com', password: 'dana staple battery' };

describe('signup with a security key (chromium)', { timeout: 120000 }, () => {
  let suite;
  let smtp;
  let ks;
  let api;
  let config;
  let browser;
  let dana;        // her browser after signup: { context, page, cdp, key }
  let credential;  // her key as the virtual authenticator exported it

  before(async () => {
    suite = await startKeySuite(ADMIN);
    ({ smtp, ks, api, config, browser } = suite);
  });

  after(async () => {
    await dana?.context.close();
    const exit = await suite?.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // A relying party's sign-in in `page` up to its callback; returns the id_token's claims.
  async function signInToRp(page, { atSignIn = async () => {} } = {}) {
    const auth = await startAuthorization(config, ks);
    await page.goto(auth.url.href);
    await atSignIn();
    assert.ok(page.url().startsWith(ks.redirectUri), `back at the RP, not ${page.url()}`);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
    return tokens.claims();
  }

  it('the account enforces 2FA, allows security keys, and dana is invited by email', async () => {
    await enableTwoFactorOnProfile(ks, ADMIN);
    let { status, body } = await api.putSettings({ allowed_providers: ['totp', 'webauthn'] });
    assert.equal(status, 200, JSON.stringify(body));
    ({ status, body } = await api.putSettings({ enforce_two_factor: true, confirm: true }));
    assert.equal(status, 200, JSON.stringify(body));
    ({ status, body } = await api.request('POST', '/invitations', { email: DANA.email }));
    assert.equal(status, 201, JSON.stringify(body));
  });

  it('dana signs up, chooses a security key in the forced setup and lands on her profile', async () => {
    const [message] = await eventually(() => smtp.messagesTo(DANA.email).then((m) => m.length && m),
                                       'the invitation email');
    const mail = await parseMail(message.raw);
    const link = mail.text.match(/https?:\/\/\S+\/signup\?invitation=[\w-]+/)?.[0];
    assert.ok(link?.startsWith(ks.issuer), mail.text);

    dana = await withKey(browser);
    const { page } = dana;
    await page.goto(link);
    assert.match(await page.locator('p.sub').innerText(), /requires two-factor authentication/);
    await page.fill('#password', DANA.password);
    await page.fill('#password_confirm', DANA.password);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign up")')]);
    assert.equal(new URL(page.url()).pathname, '/login/second-factor');
    assert.equal(await page.locator('h1').innerText(), 'Set up two-factor authentication');
    await Promise.all([page.waitForNavigation(), page.click('a:has-text("Security key")')]);
    assert.equal(await page.locator('form#ceremony[data-ceremony=create]').count(), 1);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Touch your key")')]);
    assert.equal(new URL(page.url()).pathname, '/profile', await page.content());
    assert.match(await page.locator('main').innerText(), new RegExp(DANA.email.replace('.', '\\.')));
    assert.match(await page.locator('#factors + .table').innerText(), /\tSecurity key\t/);

    [credential] = await dana.key.credentials();
    assert.ok(credential, 'the virtual authenticator holds the new credential');
    const rows = await ks.sql("SELECT c.provider_id, c.lookup_key FROM mfa_credentials c " +
                              "JOIN users u ON u.id = c.user_id " +
                              `WHERE u.email = '${DANA.email}' AND c.confirmed = 1 ` +
                              'ORDER BY c.provider_id');
    // Her recovery codes are made with her first factor, as with an app.
    assert.deepEqual(rows, [{ provider_id: 'recovery_code', lookup_key: '' },
                            { provider_id: 'webauthn', lookup_key: idOf(credential) }]);
    const member = (await api.membersByEmail())[DANA.email];
    assert.deepEqual([member.role, member.has_second_factor], ['member', true]);
  });

  it('her session signs her in to the relying party without a page: amr has hwk', async () => {
    const claims = await signInToRp(dana.page);
    assert.equal(claims.email, DANA.email);
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
    assert.equal(claims.acr, ACR_MFA);
  });

  it('a fresh browser with only her key signs her in again: password, then the key', async () => {
    [credential] = await dana.key.credentials();  // its signature counter moved on
    const { context, page, key } = await withKey(browser, KEY, [credential]);
    try {
      const claims = await signInToRp(page, { atSignIn: async () => {
        await submitPassword(page, DANA);
        assert.equal(new URL(page.url()).pathname, '/login/second-factor');
        await useKey(page);
      } });
      assert.equal(claims.email, DANA.email);
      // A key that did not verify her (touch only, the account's default): no user, no pin.
      assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
      assert.equal(claims.acr, ACR_MFA);
      const [used] = await key.credentials();
      assert.ok(used.signCount > credential.signCount, 'the key signed the sign-in');
    } finally {
      await context.close();
    }
  });
});
