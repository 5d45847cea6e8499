// Security keys (WebAuthn) in Debian's chromium, end to end (issue 13), with the DevTools
// WebAuthn virtual authenticator standing in for the key: alice adds a key on her profile
// (names it, touches it) through the same-origin /assets/webauthn.js, then signs in to a
// relying party (openid-client, code + PKCE) with it (amr has hwk); an account policy
// requiring user verification refuses a key that did not verify her; a key whose signature
// counter went backwards is refused, marked on the profile and alice is emailed (the test
// SMTP server); a browser without JavaScript is told so and offered her other methods; when
// the account enforces two-factor authentication, bob's forced setup takes a key. Carol adds
// a second key from a second authenticator and signs in with each; a bogus signature and an
// answer without user presence are refused; the key she removes is no longer offered and is
// refused when a browser is made to use it; a U2F (CTAP1) authenticator registers and signs in.
// The issuer is http://localhost:PORT: WebAuthn refuses an IP address as relying-party id.
// The user guide's screenshots of these pages (adding a key, the second step with and without
// JavaScript, the forced setup's choice and its key step) go to $KEYSTEP_SCREENSHOTS when set
// (docs/images), else to a temporary directory:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test webauthn.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { GUIDE_VIEWPORT, screenshots } from './lib/chromium.mjs';
import { USER } from './lib/keystep.mjs';
import { startAuthorization } from './lib/rp.mjs';
import { addAuthenticator, addKey, addKeyOnProfile, ceremonyOptions, changeCeremonyOptions, idOf,
         KEY, openAddKey, signInToProfile, startKeySuite, submitPassword, touchNewKey, U2F,
         useKey, withKey } from './lib/security_key.mjs';
import { parseMail } from './lib/smtp.mjs';

const ADMIN = { email: 'boss@example.com', password: 'boss staple battery' };

describe('security keys in chromium (WebAuthn virtual authenticator)', { timeout: 180000 }, () => {
  let suite;
  let smtp;
  let ks;
  let api;
  let config;
  let browser;
  let shots;       // the user guide's screenshots of the security key pages
  let credential;  // alice's key as the virtual authenticator exported it

  before(async () => {
    suite = await startKeySuite(ADMIN);
    ({ smtp, ks, api, config, browser } = suite);
    shots = await screenshots();
  });

  after(async () => {
    await shots?.cleanup();
    const exit = await suite?.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const newKey = (options = KEY, credentials = []) =>
    withKey(browser, options, credentials, { viewport: GUIDE_VIEWPORT });

  // A relying party's sign-in up to the second step. Returns the RP's checks.
  async function toSecondStep(page, user = USER) {
    const auth = await startAuthorization(config, ks);
    await page.goto(auth.url.href);
    await submitPassword(page, user);
    assert.equal(new URL(page.url()).pathname, '/login/second-factor', await page.content());
    return auth;
  }

  // `user`'s sign-in to the RP with the page's key, up to the tokens: amr has hwk.
  // `atSecondStep` checks the second step's page before the key is used.
  async function signInWithKey(page, user, atSecondStep = async () => {}) {
    const auth = await toSecondStep(page, user);
    await atSecondStep();
    await useKey(page);
    assert.ok(page.url().startsWith(ks.redirectUri), `back at the RP, not ${page.url()}`);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
    const claims = tokens.claims();
    assert.equal(claims.email, user.email);
    assert.ok(claims.amr.includes('hwk'), `amr ${JSON.stringify(claims.amr)} has hwk`);
  }

  // The page's key was used and refused with `message`: the sign-in stays at the second step.
  async function assertRefused(page, message = /Your security key was not accepted\. Use a key registered for you, touch it when it blinks and try again\./) {
    assert.equal(new URL(page.url()).pathname, '/login/second-factor', 'still at the second step');
    assert.match(await page.locator('[role=alert]').innerText(), message);
  }

  it('alice adds a security key on her profile: she names it and touches it', async () => {
    const { context, page, key } = await newKey();
    try {
      await signInToProfile(ks, page, USER);
      await openAddKey(page);
      await page.fill('#label', 'Desk key');
      await shots.shoot(page, 'add-security-key');
      await touchNewKey(page, 'Desk key');
      assert.match(await page.locator('main').innerText(), /Two-factor authentication is on/);
      await page.goto(`${ks.issuer}/profile`);
      assert.equal(await page.locator('#factors + .table input[name=label]').inputValue(), 'Desk key');
      assert.match(await page.locator('#factors + .table').innerText(), /\tSecurity key\t/);
      [credential] = await key.credentials();
      assert.ok(credential, 'the virtual authenticator holds the new credential');
    } finally {
      await context.close();
    }
    const [row] = await ks.sql("SELECT lookup_key, counter, params FROM mfa_credentials " +
                               "WHERE provider_id = 'webauthn' AND confirmed = 1");
    assert.equal(row.lookup_key, Buffer.from(credential.credentialId, 'base64').toString('base64url'));
    assert.equal(JSON.parse(row.params).alg, -7);
  });

  it('alice signs in to the relying party with her key: amr has hwk', async () => {
    const { context, page, key } = await newKey(KEY, [credential]);
    try {
      await signInWithKey(page, USER, async () => {
        assert.match(await page.locator('main').innerText(), /Use your Security key/);
        await shots.shoot(page, 'sign-in-security-key');
      });
      [credential] = await key.credentials();  // its signature counter moved on
    } finally {
      await context.close();
    }
  });

  it('a page without JavaScript says so and offers the recovery codes', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: GUIDE_VIEWPORT });
    try {
      const page = await context.newPage();
      await toSecondStep(page);
      const main = await page.locator('main').innerText();
      assert.match(main, /Security keys need JavaScript, which is off in this browser/);
      assert.match(main, /Use another method:\s+Recovery code/);
      await shots.shoot(page, 'sign-in-security-key-no-javascript');
    } finally {
      await context.close();
    }
  });

  describe('the account requires user verification', () => {
    before(async () => {
      const { status, body } = await api.putSettings({ webauthn: { user_verification: 'required' } });
      assert.equal(status, 200, JSON.stringify(body));
    });

    after(async () => {
      const { status, body } = await api.putSettings({ webauthn: { user_verification: 'discouraged' } });
      assert.equal(status, 200, JSON.stringify(body));
    });

    it('a key that did not verify alice is refused; one that did signs her in with pin', async () => {
      let { context, page, key } = await newKey(KEY, [credential]);
      try {
        await key.overrideBits({ isBadUV: true });
        await toSecondStep(page);
        await useKey(page);
        await assertRefused(page);
        await key.overrideBits({});
        await useKey(page);
        assert.ok(page.url().startsWith(ks.redirectUri), `back at the RP, not ${page.url()}`);
        [credential] = await key.credentials();
      } finally {
        await context.close();
      }
      ({ context, page, key } = await newKey(KEY, [credential]));
      try {
        const auth = await toSecondStep(page);
        await useKey(page);
        const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
        const { amr } = tokens.claims();
        for (const value of ['hwk', 'user', 'pin'])
          assert.ok(amr.includes(value), `amr ${JSON.stringify(amr)} has ${value}`);
        [credential] = await key.credentials();
      } finally {
        await context.close();
      }
    });
  });

  it('a key whose counter went backwards is refused, marked on the profile, and alice is emailed', async () => {
    assert.ok(credential.signCount > 1, `the key signed already (count ${credential.signCount})`);
    const copy = { ...credential, signCount: 1 };
    const { context, page } = await newKey(KEY, [copy]);
    try {
      await toSecondStep(page);
      await useKey(page);
      await assertRefused(page, /This key may have been copied, so it was refused\./);
    } finally {
      await context.close();
    }
    const [row] = await ks.sql("SELECT state FROM mfa_credentials WHERE provider_id = 'webauthn'");
    assert.equal(JSON.parse(row.state).possibly_cloned, true);
    const deadline = Date.now() + 20000;
    let notice;
    while (!notice && Date.now() < deadline) {
      for (const m of await smtp.messagesTo(USER.email)) {
        const mail = await parseMail(m.raw);
        if (/may have been copied/.test(mail.subject)) notice = mail;
      }
      if (!notice) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(notice, 'alice was emailed about the copied key');
    assert.match(notice.text, /signature counter went backwards/);
    assert.match(notice.text, /Desk key/);
    const { body } = await api.auditEvents({ event: 'mfa.clone_refused' });
    assert.ok(JSON.stringify(body).includes('mfa.clone_refused'), JSON.stringify(body));
  });

  describe('carol has two keys', () => {
    const CAROL = { email: 'carol@example.com', password: 'carol staple battery' };
    let first;   // her keys as the virtual authenticators exported them
    let second;

    it('she adds a second key from a second authenticator and signs in with each in turn', async () => {
      await ks.addUser(CAROL);
      let { context, page, cdp, key } = await newKey();
      try {
        await addKeyOnProfile(ks, page, CAROL, 'Key one');
        [first] = await key.credentials();
      } finally {
        await context.close();
      }
      ({ context, page, cdp, key } = await newKey(KEY, [first]));
      try {
        await signInToProfile(ks, page, CAROL);
        // The first key is unplugged and a second, empty one plugged in.
        await key.remove();
        const other = await addAuthenticator(cdp);
        await addKey(page, 'Key two');
        [second] = await other.credentials();
        assert.ok(second, 'the second authenticator holds the new credential');
        assert.notEqual(idOf(second), idOf(first));
      } finally {
        await context.close();
      }
      for (const credential of [first, second]) {
        ({ context, page, key } = await newKey(KEY, [credential]));
        try {
          await signInWithKey(page, CAROL);
          const [moved] = await key.credentials();  // its signature counter moved on
          if (credential === first) first = moved; else second = moved;
        } finally {
          await context.close();
        }
      }
    });

    // Chromium's authenticator spoils its answer as `bits` say: the server refuses it with a
    // plain message and carol stays at the second step.
    for (const [what, bits] of [['a bogus signature', { isBogusSignature: true }],
                                ['an answer without user presence (no touch)', { isBadUP: true }]]) {
      it(`${what} is refused with a plain message, the sign-in not completed`, async () => {
        const { context, page, key } = await newKey(KEY, [second]);
        try {
          await key.overrideBits(bits);
          await toSecondStep(page, CAROL);
          await useKey(page);
          await assertRefused(page);
        } finally {
          await context.close();
        }
      });
    }

    it('she removes the first key on her profile: it is no longer offered, and refused', async () => {
      let { context, page, key } = await newKey(KEY, [second]);
      try {
        await signInToProfile(ks, page, CAROL);
        [second] = await key.credentials();
        await Promise.all([page.waitForNavigation(), page.click('button[aria-label="Remove Key one"]')]);
        assert.equal(await page.locator('button[aria-label="Remove Key one"]').count(), 0,
                     await page.content());
        assert.equal(await page.locator('button[aria-label="Remove Key two"]').count(), 1);
      } finally {
        await context.close();
      }
      ({ context, page, key } = await newKey(KEY, [first]));
      try {
        await toSecondStep(page, CAROL);
        const options = await ceremonyOptions(page);
        assert.deepEqual(options.allowCredentials.map((c) => c.id), [idOf(second)]);
        // A browser that is made to use it anyway gets a refusal.
        await changeCeremonyOptions(page, (o) => ({
          ...o, allowCredentials: [{ type: 'public-key', id: idOf(first) }] }));
        await useKey(page);
        await assertRefused(page);
      } finally {
        await context.close();
      }
    });

    it('a U2F (CTAP1) key registers and signs her in', async () => {
      let { context, page, cdp, key } = await newKey(KEY, [second]);
      let u2f;
      try {
        await signInToProfile(ks, page, CAROL);
        await key.remove();
        const old = await addAuthenticator(cdp, U2F);
        await addKey(page, 'Old U2F key');
        [u2f] = await old.credentials();
        assert.ok(u2f, 'the U2F authenticator holds the new credential');
      } finally {
        await context.close();
      }
      const [row] = await ks.sql("SELECT params FROM mfa_credentials WHERE provider_id = 'webauthn' " +
                                 `AND lookup_key = '${idOf(u2f)}'`);
      assert.ok(row, 'the U2F key is stored');
      // Keystep asks for attestation "none" unless the account wants trusted attestation, so
      // Chromium replaces the key's fido-u2f statement; a U2F key has no model (AAGUID).
      assert.equal(JSON.parse(row.params).aaguid, '00000000-0000-0000-0000-000000000000', row.params);
      // Chromium exports a U2F credential without its relying-party id.
      ({ context, page } = await newKey(U2F, [{ ...u2f, rpId: new URL(ks.issuer).hostname }]));
      try {
        await signInWithKey(page, CAROL);
      } finally {
        await context.close();
      }
    });
  });

  it("the account's forced setup takes a security key instead of an app", async () => {
    const BOB = { email: 'bob@example.com', password: 'bob staple battery' };
    await ks.addUser(BOB);
    // An administrator enforces 2FA only with their own set up.
    const boss = await newKey();
    try {
      await addKeyOnProfile(ks, boss.page, ADMIN, 'Boss key');
    } finally {
      await boss.context.close();
    }
    const { status, body } = await api.putSettings({ enforce_two_factor: true, confirm: true });
    assert.equal(status, 200, JSON.stringify(body));
    const { context, page, key } = await newKey();
    try {
      const auth = await startAuthorization(config, ks);
      await page.goto(auth.url.href);
      await submitPassword(page, BOB);
      assert.match(await page.locator('h1').innerText(), /Set up two-factor authentication/);
      assert.match(await page.locator('main').innerText(), /Or set up instead:\s+Security key/);
      await shots.shoot(page, 'setup-choice');
      await Promise.all([page.waitForNavigation(), page.click('a:has-text("Security key")')]);
      assert.equal(await page.locator('form#ceremony[data-ceremony=create]').count(), 1);
      await shots.shoot(page, 'setup-security-key');
      await Promise.all([page.waitForNavigation(), page.click('button:has-text("Touch your key")')]);
      assert.ok(page.url().startsWith(ks.redirectUri), `back at the RP, not ${page.url()}`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
      const claims = tokens.claims();
      assert.equal(claims.email, BOB.email);
      assert.ok(claims.amr.includes('hwk'), `amr ${JSON.stringify(claims.amr)} has hwk`);
      assert.equal((await key.credentials()).length, 1);
    } finally {
      await context.close();
    }
    const members = await api.membersByEmail();
    assert.equal(members[BOB.email].has_second_factor, true);
  });
});
