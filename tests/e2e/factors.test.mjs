// Several second factors per user (issue 11) end to end in a real browser: Debian's headless
// chromium driven by playwright-core against the keystep binary, the members' mail going over
// SMTP to tests/smtp/server.py and read with mailparser, codes computed by oathtool.
//
// Alice signs in to /profile, turns 2FA on with an authenticator app (the secret read from the
// page), then adds a second authenticator app from the profile's "Your second factors"
// section; both are listed. She signs in to a relying party (openid-client, code + PKCE) with
// a code of each app in turn, and only the app whose code she typed records a use. She renames
// the second app; the new name shows. Her session is then older than reauthentication_max_age,
// so removing it asks "Confirm it's you": she signs in again (password and the first app's
// code), comes back and removes it; its codes sign in no more. The security notices of the
// two adds and the remove arrive over SMTP and name the factor.
//
// The TOTP steps are real time (a code is single-use per credential and 30-second step), and
// the remove waits for the session to age past REAUTH_MAX_AGE: about 90 s in all. Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test --test-reporter=spec factors.test.mjs
// Each step's screenshot goes to $KEYSTEP_SCREENSHOTS when set, else to a temporary directory.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { ACR_MFA, ISSUER_LABEL, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';
import { isNotice, parseMail, smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually, sleep } from './lib/wait.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];
// Short enough for the test to outlive it before the remove, long enough for everything
// before the rename (one TOTP step and two sign-ins) on a slow machine.
const REAUTH_MAX_AGE = 75;
const APP = 'Authenticator app';   // the type's name, and the first app's default label
const SECOND = `${APP} 2`;         // the default label of the second app of the same type
const RENAMED = 'Spare phone';
const SWITCH = 'button[role=switch][aria-label="Two-Factor Authentication"]';

const now = () => Math.floor(Date.now() / 1000);

describe('several second factors: add, sign in with each, rename, remove (chromium)', { timeout: 240000 }, () => {
  let ks;
  let smtp;
  let config;
  let browser;
  let rpServer;
  let page;                 // alice's browser, signed in to her profile
  let shots;
  let cleanShots = false;
  let enabledAt;            // just after the first app's code turned 2FA on (the session's mfa_time)
  const apps = {};          // by label at creation: { secret, step (the last TOTP step spent) }

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    ks = await Keystep.start({ conf: { ...smtpConf(smtp.port), reauthentication_max_age: REAUTH_MAX_AGE } });
    config = await discover(ks, PUBLIC_CLIENT_ID);
    shots = process.env.KEYSTEP_SCREENSHOTS;
    if (!shots) {
      shots = await mkdtemp(path.join(os.tmpdir(), 'keystep-shots-'));
      cleanShots = true;
    }
    // The relying party's callback page, so chromium's redirect to it lands somewhere.
    rpServer = http.createServer((req, res) => res.end('signed in to the relying party\n'));
    await new Promise((resolve, reject) => {
      rpServer.on('error', reject);
      rpServer.listen(Number(new URL(ks.rpOrigin).port), '127.0.0.1', resolve);
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    rpServer?.close();
    if (cleanShots) await rm(shots, { recursive: true, force: true });
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  async function shoot(name) {
    const file = path.join(shots, `factors-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok((await stat(file)).size > 5000, `${file} looks empty`);
  }

  // Clicks `selector` on `p` and waits for the page it leads to.
  async function clickThrough(selector, p = page) {
    await Promise.all([p.waitForNavigation(), p.click(selector)]);
  }

  const text = async (selector, p = page) => (await p.locator(selector).innerText()).trim();
  const pathname = (p = page) => new URL(p.url()).pathname;

  // The rows of the profile's factor list: [{ label, type, added, lastUsed }].
  function factorRows() {
    return page.$$eval('#factors ~ .table tbody tr', (rows) => rows.map((r) => ({
      label: r.querySelector('input[name=label]').value,
      type: r.cells[1].innerText.trim(),
      added: r.cells[2].innerText.trim(),
      lastUsed: r.cells[3].innerText.trim(),
    })));
  }

  // The credentials of alice as the database holds them, by label.
  async function credentials() {
    const rows = await ks.sql(
        "SELECT c.id, c.label, c.last_used_at FROM mfa_credentials c JOIN users u ON u.id = c.user_id " +
        `WHERE u.email = '${USER.email}' AND c.confirmed = 1 AND c.provider_id = 'totp'`);
    return Object.fromEntries(rows.map((r) => [r.label, r]));
  }

  // Reads the enable page's secret and confirms it with oathtool's current code.
  async function confirmWithCurrentCode(button) {
    const secret = (await text('#secret-key')).replaceAll(' ', '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const at = now();
    await page.fill('#code', await totpCode(secret, at));
    await clickThrough(`form[action="/profile/two-factor/enable"] button:has-text("${button}")`);
    return { secret, step: totpStep(at) };
  }

  // Types a code of `app` on a second-factor page, once the app shows a code not spent yet.
  async function typeCode(p, app) {
    const at = await waitForStepAfter(app.step);
    await p.fill('#code', await totpCode(app.secret, at));
    app.step = totpStep(at);
    await clickThrough('button:has-text("Verify")', p);
  }

  // The security notices alice received over SMTP, parsed, once there are `count`.
  async function notices(count) {
    const mine = await eventually(async () => {
      const all = (await smtp.messagesTo(USER.email)).filter((m) => isNotice(m.raw));
      return all.length >= count && all;
    }, `${count} security notices over SMTP`, 20000);
    return Promise.all(mine.map((m) => parseMail(m.raw)));
  }

  // A relying party's sign-in in a fresh browser context: password, then a code of `app`.
  // The RP's callback (rpServer) receives the code, which openid-client redeems.
  async function signInToRp(app) {
    const context = await browser.newContext();
    try {
      const rp = await context.newPage();
      const auth = await startAuthorization(config, ks);
      await rp.goto(auth.url.href);
      assert.equal(pathname(rp), '/login');
      await rp.fill('#email', USER.email);
      await rp.fill('#password', USER.password);
      await clickThrough('button[type=submit]', rp);
      assert.equal(pathname(rp), '/login/second-factor');
      assert.equal(await text('h1', rp), 'Two-factor authentication');
      const before = now();
      await typeCode(rp, app);
      assert.ok(rp.url().startsWith(ks.redirectUri), `back at the RP, not ${rp.url()}`);
      const tokens = await client.authorizationCodeGrant(config, new URL(rp.url()), auth.checks);
      return { claims: tokens.claims(), before };
    } finally {
      await context.close();
    }
  }

  // Follows "Confirm it's you": a sign-in as alice (password, then a code of `app`) that comes
  // back to the profile.
  async function confirmItsYou(app) {
    assert.equal(await text('h1'), "Confirm it's you");
    await clickThrough('form[action="/profile/confirm"] button');
    assert.equal(pathname(), '/login');
    assert.equal(await page.inputValue('#email'), USER.email, 'the sign-in is for alice');
    await page.fill('#password', USER.password);
    await clickThrough('button[type=submit]');
    assert.equal(pathname(), '/login/second-factor');
    await typeCode(page, app);
    assert.equal(pathname(), '/profile');
  }

  it('alice signs in to /profile and turns 2FA on with an authenticator app', async () => {
    await page.goto(`${ks.issuer}/profile`);
    assert.equal(pathname(), '/login');
    await page.fill('#email', USER.email);
    await page.fill('#password', USER.password);
    await clickThrough('button[type=submit]');
    assert.equal(pathname(), '/profile');
    assert.equal(await page.getAttribute(SWITCH, 'aria-checked'), 'false');
    assert.equal(await text('#factors + p'), 'None yet.');

    await clickThrough(SWITCH);
    assert.equal(pathname(), '/profile/two-factor/enable');
    assert.equal(await text('h1'), 'Enable Two-Factor Authentication');
    apps[APP] = await confirmWithCurrentCode('Enable');
    enabledAt = now();  // the server's mfa_time is at most this (whole seconds both)
    assert.equal(await text('h1'), 'Save your recovery codes');
    assert.equal(await page.locator('ul.codes li').count(), 10);

    await page.goto(`${ks.issuer}/profile`);
    assert.equal(await page.getAttribute('[role=switch][aria-label="Two-Factor Authentication"]', 'aria-checked'), 'true');
    assert.deepEqual((await factorRows()).map((r) => [r.label, r.type]), [[APP, APP]]);
  });

  it('adds a second authenticator app from the factor list; both are listed, no new recovery codes', async () => {
    assert.deepEqual(await page.$$eval('select#method option', (os) => os.map((o) => o.value)), ['totp', 'webauthn', 'yubikey_hotp']);
    await page.selectOption('select#method', 'totp');
    await clickThrough('form[action="/profile/two-factor/add"] button[type=submit]');
    assert.equal(pathname(), '/profile/two-factor/enable');
    assert.equal(await text('h1'), `Add ${APP}`);
    assert.match(await page.getAttribute('img.qr', 'src'), /^data:image\/png;base64,/);
    await shoot('add-second-app');
    apps[SECOND] = await confirmWithCurrentCode('Add');
    assert.notEqual(apps[SECOND].secret, apps[APP].secret, 'a secret of its own');

    assert.equal(await text('h1'), 'Profile', 'no recovery codes step for a second factor');
    assert.equal(await text('[role=status]'), `${SECOND} added.`);
    const rows = await factorRows();
    assert.deepEqual(rows.map((r) => [r.label, r.type]), [[APP, APP], [SECOND, APP]]);
    for (const r of rows) assert.match(r.added, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.match(await page.locator('body').innerText(), /10 unused/);
    await shoot('two-apps');
  });

  it('signs in to the RP with a code of each app in turn; only that app records the use', async () => {
    for (const [label, other] of [[APP, SECOND], [SECOND, APP]]) {
      const before = await credentials();
      const { claims, before: typedAt } = await signInToRp(apps[label]);
      assert.equal(claims.email, USER.email);
      assert.equal(claims.acr, ACR_MFA);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      const after = await credentials();
      assert.ok(after[label].last_used_at >= typedAt, `${label} records its use`);
      assert.equal(after[other].last_used_at, before[other].last_used_at, `${other} is untouched`);
    }
    await page.goto(`${ks.issuer}/profile`);
    for (const r of await factorRows()) assert.match(r.lastUsed, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/, r.label);
  });

  it('renames the second app; the new name shows', async () => {
    await page.fill(`input[aria-label="Name of ${SECOND}"]`, RENAMED);
    await clickThrough(`form:has(input[aria-label="Name of ${SECOND}"]) button:has-text("Rename")`);
    // Normally within the session's REAUTH_MAX_AGE; on a very slow machine the page asks first.
    if ((await text('h1')) === "Confirm it's you") {
      await confirmItsYou(apps[APP]);
      await page.fill(`input[aria-label="Name of ${SECOND}"]`, RENAMED);
      await clickThrough(`form:has(input[aria-label="Name of ${SECOND}"]) button:has-text("Rename")`);
    }
    assert.equal(await text('[role=status]'), 'Renamed.');
    assert.deepEqual((await factorRows()).map((r) => [r.label, r.type]), [[APP, APP], [RENAMED, APP]]);
    await page.goto(`${ks.issuer}/profile`);
    assert.deepEqual((await factorRows()).map((r) => r.label), [APP, RENAMED], 'kept');
    assert.ok((await credentials())[RENAMED], 'stored under the new name');
  });

  it("removing it after REAUTH_MAX_AGE asks \"Confirm it's you\"; after signing in again it is removed", async () => {
    // Past the age limit by the server's whole-second clock too.
    const stale = (enabledAt + REAUTH_MAX_AGE + 2) * 1000;
    if (Date.now() < stale) await sleep(stale - Date.now());
    await page.goto(`${ks.issuer}/profile`);
    await clickThrough(`button[aria-label="Remove ${RENAMED}"]`);
    assert.equal(await text('h1'), "Confirm it's you");
    assert.match(await page.locator('main').innerText(), /password and a second factor within the last 2 minutes/);
    assert.equal((await factorRows()).length, 0, 'nothing listed on the step');
    assert.equal(Object.keys(await credentials()).length, 2, 'nothing removed yet');
    await shoot('confirm-its-you');

    await confirmItsYou(apps[APP]);
    assert.deepEqual((await factorRows()).map((r) => r.label), [APP, RENAMED], 'both still there');
    await clickThrough(`button[aria-label="Remove ${RENAMED}"]`);
    assert.equal(await text('h1'), 'Profile');
    assert.equal(await text('[role=status]'), `${RENAMED} removed.`);
    assert.deepEqual((await factorRows()).map((r) => r.label), [APP]);
    assert.equal(await page.getAttribute('[role=switch][aria-label="Two-Factor Authentication"]', 'aria-checked'), 'true',
                 'one app left: 2FA stays on');
    assert.deepEqual(Object.keys(await credentials()), [APP]);
    await shoot('removed');
  });

  it("the removed app's code no longer signs in", async () => {
    const context = await browser.newContext();
    try {
      const rp = await context.newPage();
      const auth = await startAuthorization(config, ks);
      await rp.goto(auth.url.href);
      await rp.fill('#email', USER.email);
      await rp.fill('#password', USER.password);
      await clickThrough('button[type=submit]', rp);
      assert.equal(pathname(rp), '/login/second-factor');
      const removed = apps[SECOND];
      const at = await waitForStepAfter(removed.step);
      await rp.fill('#code', await totpCode(removed.secret, at));
      const [response] = await Promise.all([rp.waitForNavigation(), rp.click('button:has-text("Verify")')]);
      assert.equal(response.status(), 401);
      assert.match(await text('[role=alert]', rp), /not valid/);
      assert.equal(pathname(rp), '/login/second-factor');
    } finally {
      await context.close();
    }
  });

  it('the notices of both adds and of the remove arrive over SMTP and name the factor', async () => {
    const mail = await notices(3);
    assert.equal(mail.length, 3, 'one notice per change');
    const expected = [
      ['added', `You added a second factor to your sign-in to ${ISSUER_LABEL}: ${APP} "${APP}".`],
      ['added', `You added a second factor to your sign-in to ${ISSUER_LABEL}: ${APP} "${SECOND}".`],
      ['removed', `You removed a second factor from your sign-in to ${ISSUER_LABEL}: ${APP} "${RENAMED}".`],
    ];
    for (const [i, [verb, line]] of expected.entries()) {
      const m = mail[i];
      assert.equal(m.subject, `A second factor was ${verb} (${ISSUER_LABEL})`);
      assert.deepEqual(m.to.value.map((a) => a.address), [USER.email]);
      assert.ok(m.text.startsWith(line), `notice ${i + 1}:\n${m.text}`);
      assert.doesNotMatch(m.text, /two-factor authentication is now off/);
      assert.ok(m.text.includes(`${ks.issuer}/profile`), 'links to the profile');
      assert.ok(m.html.includes(`${ks.issuer}/profile`));
      for (const { secret } of Object.values(apps))
        assert.ok(!m.text.includes(secret) && !m.html.includes(secret), 'no secret in a notice');
    }
  });
});
