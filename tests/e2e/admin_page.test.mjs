// The administrator's flow of the seed ("Set up account-wide two-factor authentication") in a
// real browser: Debian's headless chromium driven by playwright-core against the keystep
// binary. An admin without 2FA opens Account setup > Authentication, slides Enforce Two
// Factor Authentication on, is told to protect their own login first, goes to settings,
// enables 2FA with a code from oathtool, comes back through the navigation, slides the toggle
// on again, confirms, and the toggle is On; the admin API and the outbox agree. Then the admin
// invites a new member (one invitation email in the outbox), who signs up from the email's link
// in another browser and sets up 2FA during signup, and switches the enforcement email to the
// single-use enrollment link in the Two-factor settings form.
//
// Each step's screenshot goes to $KEYSTEP_SCREENSHOTS when set (the admin guide's images:
// KEYSTEP_SCREENSHOTS=$PWD/docs/images tests/e2e/run.sh build/keystep), else to a temporary
// directory.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

import { Keystep, USER } from './lib/keystep.mjs';
import { isNotice, parseMail } from './lib/smtp.mjs';

const run = promisify(execFile);

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];
const ADMIN = { email: 'admin@example.com', password: 'admin staple battery horse' };
const PAGE_PATH = '/account/authentication';
const ENFORCE_SWITCH = 'button[role=switch][aria-label="Enforce Two-Factor Authentication"]';
const INVITEE = 'new.member@example.com';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What an authenticator app holding `secret` shows now: computed by oathtool, not keystep.
async function totp(secret) {
  const { stdout } = await run('oathtool', ['--totp', '-b', secret.replace(/\s+/g, '')]);
  return stdout.trim();
}

describe('admin page: enforce two-factor authentication for the account', { timeout: 120000 }, () => {
  let ks;
  let browser;
  let page;
  let shots;
  let cleanShots = false;
  let apiToken;

  before(async () => {
    ks = await Keystep.start();
    await ks.cli(['user', 'create', '--account', 'acme', '--email', ADMIN.email, '--admin',
                  '--password-stdin'], { input: ADMIN.password + '\n' });
    const { stdout } = await ks.cli(['token', 'create', '--account', 'acme', '--user', ADMIN.email,
                                     '--name', 'e2e']);
    apiToken = stdout.trim().split('\n').pop();
    shots = process.env.KEYSTEP_SCREENSHOTS;
    if (!shots) {
      shots = await mkdtemp(path.join(os.tmpdir(), 'keystep-shots-'));
      cleanShots = true;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    if (cleanShots) await rm(shots, { recursive: true, force: true });
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // The whole page, or the part of it from the top of element `from` to the bottom of `to`.
  async function shoot(name, from, to) {
    const file = path.join(shots, `admin-${name}.png`);
    if (from) {
      const main = await page.locator('main').boundingBox();
      const top = (await page.locator(from).boundingBox()).y - 16;
      const last = await page.locator(to).boundingBox();
      await page.screenshot({ path: file, fullPage: true, clip: {
        x: main.x, y: top, width: main.width, height: last.y + last.height + 16 - top } });
    } else {
      await page.screenshot({ path: file, fullPage: true });
    }
    assert.ok((await stat(file)).size > 5000, `${file} looks empty`);
  }

  // The .eml files the mail worker wrote (no SMTP configured), once `ready` accepts them.
  async function outbox(ready) {
    const dir = path.join(ks.dataDir, 'outbox');
    let mail = [];
    for (let i = 0; i < 100; i++) {
      const names = (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.eml'));
      mail = (await Promise.all(names.map((n) => readFile(path.join(dir, n), 'utf8'))))
          .filter((m) => !isNotice(m));
      if (ready(mail)) break;
      await sleep(50);
    }
    return mail;
  }

  // Clicks `selector` and waits for the page it leads to.
  async function clickThrough(selector) {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  }

  const text = async (selector) => (await page.locator(selector).innerText()).trim();
  const switchState = () => page.getAttribute(ENFORCE_SWITCH, 'aria-checked');

  async function settings() {
    const res = await fetch(`${ks.issuer}/api/v1/accounts/acme/authentication-settings`,
                            { headers: { authorization: `Bearer ${apiToken}` } });
    assert.equal(res.status, 200);
    return res.json();
  }

  it('step 2: Account setup > Authentication asks an unsigned browser to sign in, then opens', async () => {
    await page.goto(ks.issuer + PAGE_PATH);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('#email', ADMIN.email);
    await page.fill('#password', ADMIN.password);
    await clickThrough('button[type=submit]');
    assert.equal(new URL(page.url()).pathname, PAGE_PATH);
    assert.equal(await page.title(), 'Authentication: Configuration · Keystep');
    assert.equal(await text('h1'), 'Authentication: Configuration');
    assert.equal(await switchState(), 'false');
    assert.match(await text('#members'), new RegExp(USER.email.replace('.', '\\.')));
    await shoot('authentication-off');
  });

  it('step 3: sliding the toggle on without own 2FA prompts to protect your own login first', async () => {
    await clickThrough(ENFORCE_SWITCH);
    assert.match(await text('[role=alert]'), /^Protect your own login first/);
    assert.equal(await page.locator('button:has-text("Go to settings")').count(), 1);
    assert.equal((await settings()).enforce_two_factor, false);
    await shoot('own-two-factor-prompt');
  });

  it('step 4: Go to settings shows the QR code and secret key; Enable turns own 2FA on', async () => {
    await clickThrough('button:has-text("Go to settings")');
    assert.equal(new URL(page.url()).pathname, '/profile/two-factor/enable');
    assert.equal(await text('h1'), 'Enable Two-Factor Authentication');
    assert.match(await page.getAttribute('img.qr', 'src'), /^data:image\/png;base64,/);
    const secret = await text('#secret-key');
    assert.match(secret, /^[A-Z2-7 ]{16,}$/);
    await shoot('enable-own-two-factor');
    await page.fill('#code', await totp(secret));
    await clickThrough('button:has-text("Enable")');
    assert.equal(await text('h1'), 'Save your recovery codes');
    assert.equal(await page.locator('a:has-text("Back to Authentication settings")').count(), 1);
  });

  it('step 5: the navigation leads back to Account setup > Authentication', async () => {
    await clickThrough('nav a:has-text("Account setup › Authentication")');
    assert.equal(new URL(page.url()).pathname, PAGE_PATH);
    assert.equal(await switchState(), 'false');
  });

  it('step 6: sliding the toggle on now asks for confirmation with the counts', async () => {
    await clickThrough(ENFORCE_SWITCH);
    // The counts, then what happens in the API's own words (its 428 summary).
    const res = await fetch(`${ks.issuer}/api/v1/accounts/acme/authentication-settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enforce_two_factor: true }),
    });
    assert.equal(res.status, 428);
    const { effect } = (await res.json()).summary;
    assert.match(effect, /^members without two-factor authentication are emailed .+; user-level settings are not changed$/);
    assert.equal(await text('#confirm-summary'),
                 'Enforce two-factor authentication for all 2 members? 1 member has no 2FA yet ' +
                 `(1 email to send). M${effect.slice(1)}.`);
    assert.equal((await settings()).enforce_two_factor, false);
    await shoot('confirm-enforce');
  });

  it('step 7: Confirm enforces it: the toggle is On, the API agrees, the member is emailed', async () => {
    await clickThrough('button:has-text("Confirm")');
    assert.equal(new URL(page.url()).pathname, PAGE_PATH);
    assert.equal(await switchState(), 'true');
    assert.match(await text('[role=status]'), /^Two-factor authentication is enforced/);
    assert.equal((await settings()).enforce_two_factor, true);
    await shoot('authentication-on');
    // The mail worker writes the enforcement email to the outbox (no SMTP configured).
    const mail = await outbox((m) => m.length > 0);
    assert.equal(mail.length, 1);
    assert.match(mail[0], new RegExp(`^To: ${USER.email.replace('.', '\\.')}`, 'm'));
    assert.match(mail[0], /^Subject: Set up two-factor authentication/m);
  });

  it('Invite a member: the invitation is listed as pending and emailed once', async () => {
    await page.fill('#invite input[name=email]', INVITEE);
    await page.selectOption('#invite select[name=role]', 'member');
    await clickThrough('#invite button:has-text("Invite")');
    assert.equal(new URL(page.url()).pathname, PAGE_PATH);
    assert.equal(await text('[role=status]'), `Invitation sent to ${INVITEE}.`);
    const row = page.locator('#invitations tbody tr', { hasText: INVITEE });
    assert.equal(await row.count(), 1);
    assert.deepEqual((await row.locator('td').allInnerTexts()).slice(0, 3),
                     [INVITEE, 'member', 'pending']);
    assert.equal(await row.locator('button:has-text("Revoke")').count(), 1);
    await shoot('invite');
    const res = await fetch(`${ks.issuer}/api/v1/accounts/acme/invitations`,
                            { headers: { authorization: `Bearer ${apiToken}` } });
    const { invitations } = await res.json();
    assert.deepEqual(invitations.map((i) => [i.email, i.role, i.status]),
                     [[INVITEE, 'member', 'pending']]);
    const invited = (await outbox((m) => m.some((e) => e.includes(`To: ${INVITEE}`))))
      .filter((e) => e.includes(`To: ${INVITEE}`));
    assert.equal(invited.length, 1);
    assert.match(invited[0], /^Subject: You are invited to /m);
  });

  it('the invitee signs up from the email and sets up 2FA during signup', async () => {
    const [raw] = (await outbox((m) => m.some((e) => e.includes(`To: ${INVITEE}`))))
      .filter((e) => e.includes(`To: ${INVITEE}`));
    const mail = await parseMail(raw);
    const link = mail.text.match(/https?:\/\/\S+\/signup\?invitation=[\w-]+/)?.[0];
    assert.ok(link?.startsWith(ks.issuer), mail.text);
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    try {
      const invitee = await context.newPage();
      await invitee.goto(link);
      assert.match(await invitee.locator('h1').innerText(), /^Join /);
      assert.match(await invitee.locator('p.sub').innerText(), /requires two-factor authentication/);
      assert.ok((await invitee.content()).includes(INVITEE));
      await invitee.screenshot({ path: path.join(shots, 'signup.png') });
      await invitee.fill('#password', 'new member staple battery');
      await invitee.fill('#password_confirm', 'new member staple battery');
      await Promise.all([invitee.waitForNavigation(), invitee.click('button:has-text("Sign up")')]);
      // The account enforces 2FA: the setup step comes before the profile.
      assert.equal(new URL(invitee.url()).pathname, '/login/second-factor');
      assert.equal(await invitee.locator('h1').innerText(), 'Set up two-factor authentication');
      await invitee.screenshot({ path: path.join(shots, 'signup-setup.png'), fullPage: true });
      const secret = (await invitee.locator('#secret-key').innerText()).trim();
      await invitee.fill('#code', await totp(secret));
      await Promise.all([invitee.waitForNavigation(), invitee.click('button:has-text("Continue")')]);
      assert.equal(new URL(invitee.url()).pathname, '/profile');
      assert.ok((await invitee.content()).includes(INVITEE));
    } finally {
      await context.close();
    }
    const res = await fetch(`${ks.issuer}/api/v1/accounts/acme/members`,
                            { headers: { authorization: `Bearer ${apiToken}` } });
    const member = (await res.json()).members.find((m) => m.email === INVITEE);
    assert.deepEqual([member.role, member.has_second_factor, member.two_factor_enabled],
                     ['member', true, false]);
  });

  it('Two-factor settings: the enforcement email becomes a single-use enrollment link', async () => {
    assert.equal(await page.isChecked('input[name=enrollment_email][value=qr_code]'), true);
    await page.check('input[name=enrollment_email][value=link]');
    await clickThrough('#two-factor-settings button:has-text("Save")');
    assert.equal(await text('[role=status]'), 'The two-factor settings were saved.');
    assert.equal(await page.isChecked('input[name=enrollment_email][value=link]'), true);
    assert.equal(await page.isChecked('input[name=allowed_providers][value=totp]'), true);
    assert.equal(await page.inputValue('select[name=totp_digits]'), '6');
    assert.equal(await switchState(), 'true');
    await shoot('settings', '[role=status]', '#two-factor-settings');
    const now = await settings();
    assert.equal(now.enrollment_email, 'link');
    assert.deepEqual(now.allowed_providers, ['totp', 'webauthn', 'yubikey_hotp']);
    assert.deepEqual(now.totp, { algorithm: 'SHA1', digits: 6, period: 30 });
    assert.equal(now.enforce_two_factor, true);
  });

  it('an API token created on the page is shown once and works as a Bearer token', async () => {
    await page.fill('input[name=name]', 'deploy script');
    await clickThrough('button:has-text("Create token")');
    assert.match(await text('[role=alert]'), /shown only this once/);
    const token = await text('#new-token');
    await shoot('token-created');
    const res = await fetch(`${ks.issuer}/api/v1/accounts/acme/members`,
                            { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    await clickThrough('a:has-text("Back to Authentication settings")');
    assert.equal((await page.content()).includes(token), false);
  });
});
