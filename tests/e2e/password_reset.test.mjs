// "Forgot your password?" (issue 16) end to end: Debian's headless chromium driven by
// playwright-core against the keystep binary, the mail going over SMTP to tests/smtp/server.py
// and read with mailparser, codes computed by oathtool.
//
// Alice has turned two-factor authentication on (a scripted browser keeps her profile
// session). Starting a relying party's sign-in, she follows "Forgot your password?", types her
// address and gets the same answer a stranger's address gets; only her address receives a
// link. The link leads to the second step first (a wrong code changes nothing), then to the
// new password's form; once saved she is emailed that it changed, her other session has
// ended, the link works no more, and the relying party's sign-in takes the new password and
// her code. Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test --test-reporter=spec password_reset.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { focusedId, launchChromium, serveRpCallback } from './lib/chromium.mjs';
import { otherCode, totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';
import { parseMail, smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually } from './lib/wait.mjs';

const STRANGER = 'nobody@example.com';
const NEW_PASSWORD = 'a brand new staple 42';

describe('forgot password: the emailed link, the second factor first, signed out everywhere (chromium)', { timeout: 180000 }, () => {
  let ks;
  let smtp;
  let config;
  let browser;
  let rpServer;
  let page;
  let alice;     // { browser (scripted, signed in to the profile), secret, step }
  let link;      // the reset link of the email

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    ks = await Keystep.start({ conf: smtpConf(smtp.port) });
    config = await discover(ks, PUBLIC_CLIENT_ID);
    rpServer = await serveRpCallback(ks);
    alice = await enableTwoFactorOnProfile(ks, USER);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    rpServer?.close();
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  async function clickThrough(selector, p = page) {
    await Promise.all([p.waitForNavigation(), p.click(selector)]);
  }
  const text = async (selector, p = page) => (await p.locator(selector).innerText()).trim();
  const pathname = (p = page) => new URL(p.url()).pathname;

  // The parsed messages to `to` whose subject starts with `subject`, once there are `count`.
  async function mailTo(to, subject, count = 1) {
    const found = await eventually(async () => {
      const parsed = await Promise.all((await smtp.messagesTo(to)).map((m) => parseMail(m.raw)));
      const mine = parsed.filter((m) => m.subject.startsWith(subject));
      return mine.length >= count && mine;
    }, `${count} "${subject}" messages to ${to} over SMTP`, 20000);
    return found;
  }

  // Types a current code of alice's app, one not spent yet.
  async function typeCode(p = page) {
    const at = await waitForStepAfter(alice.step);
    await p.fill('#code', await totpCode(alice.secret, at));
    alice.step = totpStep(at);
    await clickThrough('button:has-text("Verify")', p);
  }

  // The form of "Forgot your password?" from a relying party's sign-in page, sent with `email`;
  // returns the answer's text.
  async function askFromSignIn(email) {
    const auth = await startAuthorization(config, ks);
    await page.goto(auth.url.href);
    assert.equal(pathname(), '/login');
    await clickThrough('a:has-text("Forgot your password?")');
    assert.equal(pathname(), '/password/forgot');
    assert.equal(await text('h1'), 'Reset your password');
    assert.equal(await page.getAttribute('#email', 'autocomplete'), 'username');
    await page.fill('#email', email);
    await clickThrough('button:has-text("Email me a link")');
    assert.equal(await text('h1'), 'Check your email');
    // "Back to sign-in" returns to the relying party's sign-in page.
    assert.equal(new URL(await page.getAttribute('a:has-text("Back to sign-in")', 'href'), ks.issuer).pathname, '/login');
    return text('main');
  }

  it('every address gets the same answer; only alice receives a link', async () => {
    const stranger = await askFromSignIn(STRANGER);
    const known = await askFromSignIn(USER.email);
    assert.equal(known, stranger);
    assert.match(known, /If an account uses that address, we have sent it a link/);
    const [mail] = await mailTo(USER.email, 'Reset your password');
    assert.match(mail.html, /<html lang="en">/);
    link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/password\/reset\?token=[A-Za-z0-9_-]{43}/)?.[0];
    assert.ok(link, `a reset link in:\n${mail.text}`);
    assert.equal((await smtp.messagesTo(STRANGER)).length, 0, 'nothing for an address without an account');
  });

  it('the link asks for the second factor first; a wrong code changes nothing', async () => {
    const hashOf = async () =>
      (await ks.sql(`SELECT password_hash FROM users WHERE email = '${USER.email}'`))[0].password_hash;
    const before = await hashOf();
    await page.goto(link);
    assert.equal(pathname(), '/login/second-factor');
    assert.match(await text('main'), /Before you choose a new password, confirm it's you/);
    await page.fill('#code', otherCode(await totpCode(alice.secret)));
    await clickThrough('button:has-text("Verify")');
    assert.equal(pathname(), '/login/second-factor');
    assert.match(await text('[role=alert]'), /not valid|wrong|incorrect/i);
    assert.equal(await hashOf(), before, 'the password is unchanged');
    await typeCode();
    assert.equal(pathname(), '/password/reset');
    assert.equal(await text('h1'), 'Choose a new password');
  });

  it('the new password is checked on its fields, then saved: alice is signed out everywhere and emailed', async () => {
    await page.fill('#password', NEW_PASSWORD);
    await page.fill('#password_confirm', 'not the same at all');
    await clickThrough('button:has-text("Save the new password")');
    assert.equal(await page.getAttribute('#password_confirm', 'aria-invalid'), 'true');
    assert.equal(await focusedId(page), 'password_confirm');
    await page.fill('#password', NEW_PASSWORD);
    await page.fill('#password_confirm', NEW_PASSWORD);
    await clickThrough('button:has-text("Save the new password")');
    assert.equal(await text('h1'), 'Your password was changed');
    const [changed] = await mailTo(USER.email, 'Your password was changed');
    assert.match(changed.text, /You were signed out everywhere/);
    // The scripted browser's profile session has ended.
    const profile = await alice.browser.get(new URL('/profile', ks.issuer));
    assert.equal(profile.status, 302);
    assert.equal(new URL(profile.location).pathname, '/login');
    // The link works once.
    await page.goto(link);
    assert.match(await text('main'), /already used/);
  });

  it('the relying party sign-in takes the new password and the code', async () => {
    const context = await browser.newContext();
    try {
      const rp = await context.newPage();
      const auth = await startAuthorization(config, ks);
      await rp.goto(auth.url.href);
      await rp.fill('#email', USER.email);
      await rp.fill('#password', USER.password);
      await clickThrough('button[type=submit]', rp);
      assert.match(await text('[role=alert]', rp), /Incorrect email or password/);
      await rp.fill('#password', NEW_PASSWORD);
      await clickThrough('button[type=submit]', rp);
      assert.equal(pathname(rp), '/login/second-factor');
      await typeCode(rp);
      assert.ok(rp.url().startsWith(ks.redirectUri), `back at the RP, not ${rp.url()}`);
      const tokens = await client.authorizationCodeGrant(config, new URL(rp.url()), auth.checks);
      assert.equal(tokens.claims().email, USER.email);
      assert.deepEqual(tokens.claims().amr, ['pwd', 'otp', 'mfa']);
    } finally {
      await context.close();
    }
  });
});
