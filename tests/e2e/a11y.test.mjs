// Every page state people reach, checked in Chromium for WCAG 2.1 A/AA with axe-core at
// 1280 px and 390 px, for reflow at 320 px and for tap targets (tests/e2e/lib/a11y.mjs), and
// the HTML part of every email the test SMTP server received. Then a keyboard-only walk: sign
// in, turn two-factor authentication on, pass the second step and turn it off without a mouse.
//
// STATES is the list of page states, in the order one walk reaches them: each entry names the
// state and moves a browser tab there from the previous state. A new page joins by adding an
// entry (docs/page-rules.md).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { CONTEXT_OPTIONS, htmlProblems, pageProblems } from './lib/a11y.mjs';
import { AdminApi } from './lib/admin_api.mjs';
import { otherCode, totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { focusedId, launchChromium } from './lib/chromium.mjs';
import { ISSUER_LABEL, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { addAuthenticator, addKey, useKey } from './lib/security_key.mjs';
import { parseMail, smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually } from './lib/wait.mjs';

const ADMIN = { email: 'admin@example.com', password: 'admin staple battery horse' };
const INVITEE = { email: 'new.member@example.com', password: 'invitee staple battery' };
const THIRD_PARTY = 'photo-app';
const REQUIRES_2FA = 'payroll';  // an application that requires two-factor authentication
const BOB = { email: 'bob@example.com', password: 'bob staple battery horse' };
// Bob's password once "Forgot your password?" has changed it: the states after it use this.
const BOB_NEW_PASSWORD = 'bob renewed staple battery';
const INVITATION_SUBJECT = `You are invited to ${ISSUER_LABEL}`;

// An /authorize URL of `clientId` with PKCE, as a relying party would send the browser.
function authorizeUrl(ks, clientId) {
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: clientId, redirect_uri: ks.redirectUri, response_type: 'code',
    scope: 'openid email', state: 's', nonce: 'n', code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  });
  return `${ks.issuer}/authorize?${query}`;
}

describe('accessibility of every page state and email', { timeout: 300000 }, () => {
  let ks;
  let smtp;
  let browser;
  const tabs = {};   // one signed-in tab per person: admin, member (alice), invitee, anonymous
  const known = {};  // what earlier states learnt: secrets, links

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    // localhost: WebAuthn refuses an IP address as relying-party id (the security key states).
    ks = await Keystep.start({ host: 'localhost', conf: smtpConf(smtp.port) });
    await ks.addUser({ ...ADMIN, admin: true });
    await ks.cli(['client', 'create', '--client-id', THIRD_PARTY, '--redirect-uri', ks.redirectUri,
                  '--public', '--third-party']);
    await ks.cli(['client', 'create', '--client-id', REQUIRES_2FA, '--redirect-uri', ks.redirectUri,
                  '--public', '--require-2fa']);
    await ks.addUser(BOB);
    browser = await launchChromium();
    for (const who of ['anonymous', 'admin', 'member', 'invitee'])
      tabs[who] = await (await browser.newContext(CONTEXT_OPTIONS)).newPage();
  });

  after(async () => {
    await browser?.close();
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const go = (page, path) => page.goto(new URL(path, ks.issuer).href);
  const submit = (page, selector) => Promise.all([page.waitForNavigation(), page.click(selector)]);
  const h1 = async (page) => (await page.locator('h1').innerText()).trim();
  const focused = focusedId;

  async function signIn(page, user, path = '/profile') {
    await go(page, path);
    await page.fill('#email', user.email);
    await page.fill('#password', user.password);
    await submit(page, 'form[action="/login"] button[type=submit]');
  }

  // Types `code` in the code field of the form posting to `action` and sends it.
  async function sendCode(page, code, action) {
    await page.fill('#code', code);
    await submit(page, `form[action="${action}"] button[type=submit]`);
  }

  // Sends a code that is not the current one of `secret` with the form posting to `action`;
  // the page comes back with the code field marked invalid and focused.
  async function wrongCode(page, secret, action) {
    await sendCode(page, otherCode(await totpCode(secret)), action);
    assert.equal(await focused(page), 'code');
    assert.equal(await page.getAttribute('#code', 'aria-invalid'), 'true');
  }

  async function secretOn(page) {
    return (await page.locator('#secret-key').innerText()).replaceAll(' ', '');
  }

  // [state name, tab, how to get there from the previous state (may assert)].
  const STATES = [
    ['home page', 'anonymous', async (p) => {
      await go(p, '/');
      assert.equal(await p.title(), 'Home · Keystep');
    }],
    ['error: unknown application', 'anonymous', async (p) => {
      await go(p, authorizeUrl(ks, 'no-such-app'));
      assert.equal(await h1(p), 'This application cannot sign you in here');
      assert.match(await p.locator('main').innerText(), /tell whoever runs it/);
    }],
    ['error: invitation link not valid', 'anonymous', async (p) => {
      await go(p, '/signup?invitation=not-a-real-invitation-token-at-all-xxxxxxxxxx');
      assert.equal(await h1(p), 'This invitation link does not work');
      assert.match(await p.locator('main').innerText(), /send a new invitation/);
    }],
    ['sign-in', 'anonymous', async (p) => {
      await go(p, '/profile');
      assert.equal(new URL(p.url()).pathname, '/login');
      assert.equal(await focused(p), 'email');
    }],
    ['sign-in: wrong password', 'anonymous', async (p) => {
      await p.fill('#email', ADMIN.email);
      await p.fill('#password', 'not the password');
      await submit(p, 'button[type=submit]');
      assert.equal(await focused(p), 'password', 'focus goes to the password');
      assert.equal(await p.getAttribute('#password', 'aria-invalid'), 'true');
      assert.equal(await p.getAttribute('#password', 'aria-describedby'), 'page-error');
      assert.equal(await p.getAttribute('#email', 'aria-invalid'), null);
    }],
    ['forgot your password?', 'anonymous', async (p) => {
      await submit(p, 'a:has-text("Forgot your password?")');
      assert.equal(new URL(p.url()).pathname, '/password/forgot');
      assert.equal(await focused(p), 'email');
    }],
    ['forgot your password?: not an email address', 'anonymous', async (p) => {
      // The browser's own check would stop the form first; the server's answer is the state.
      await p.$eval('form[action="/password/forgot"]', (f) => { f.noValidate = true; });
      await p.fill('#email', 'bob at example');
      await submit(p, 'form[action="/password/forgot"] button[type=submit]');
      assert.equal(await focused(p), 'email');
      assert.equal(await p.getAttribute('#email', 'aria-invalid'), 'true');
      assert.equal(await p.getAttribute('#email', 'aria-describedby'), 'email-error');
    }],
    ['check your email', 'anonymous', async (p) => {
      await p.fill('#email', BOB.email);
      await submit(p, 'form[action="/password/forgot"] button[type=submit]');
      assert.equal(await h1(p), 'Check your email');
    }],
    ['choose a new password (bob has no second factor)', 'anonymous', async (p) => {
      const link = await eventually(async () => {
        for (const m of await smtp.messagesTo(BOB.email)) {
          const mail = await parseMail(m.raw);
          if (mail.subject.startsWith('Reset your password'))
            return mail.text.match(/\S+\/password\/reset\?token=[A-Za-z0-9_-]+/)[0];
        }
        return null;
      }, 'the password reset email');
      await p.goto(link);
      assert.equal(await h1(p), 'Choose a new password');
      assert.equal(await focused(p), 'password');
    }],
    ['choose a new password: passwords differ', 'anonymous', async (p) => {
      await p.fill('#password', BOB_NEW_PASSWORD);
      await p.fill('#password_confirm', `${BOB_NEW_PASSWORD} typo`);
      await submit(p, 'form[action="/password/reset"] button[type=submit]');
      assert.equal(await focused(p), 'password_confirm');
      assert.equal(await p.getAttribute('#password_confirm', 'aria-invalid'), 'true');
    }],
    ['your password was changed', 'anonymous', async (p) => {
      await p.fill('#password', BOB_NEW_PASSWORD);
      await p.fill('#password_confirm', BOB_NEW_PASSWORD);
      await submit(p, 'form[action="/password/reset"] button[type=submit]');
      assert.equal(await h1(p), 'Your password was changed');
    }],
    ['setup step (required by the application)', 'anonymous', async (p) => {
      await go(p, authorizeUrl(ks, REQUIRES_2FA));
      await p.fill('#email', BOB.email);
      await p.fill('#password', BOB_NEW_PASSWORD);
      await submit(p, 'form[action="/login"] button[type=submit]');
      assert.equal(await h1(p), 'This application requires two-factor authentication');
      assert.equal(await p.locator('button:has-text("Not now")').count(), 1);
    }],
    ['sign-in for an application', 'admin', async (p) => {
      await go(p, authorizeUrl(ks, PUBLIC_CLIENT_ID));
      assert.equal(new URL(p.url()).pathname, '/login');
    }],
    ['profile: two-factor off', 'admin', async (p) => signIn(p, ADMIN)],
    ['consent', 'admin', async (p) => {
      await go(p, authorizeUrl(ks, THIRD_PARTY));
      assert.equal(new URL(p.url()).pathname, '/consent');
    }],
    ['admin page', 'admin', async (p) => go(p, '/account/authentication')],
    ['admin page: protect your own login first', 'admin', async (p) => {
      await submit(p, 'button[role=switch][aria-label="Enforce Two-Factor Authentication"]');
      assert.match(await p.locator('[role=alert]').innerText(), /^Protect your own login first/);
    }],
    ['enable two-factor', 'admin', async (p) => {
      await submit(p, 'button:has-text("Go to settings")');
      assert.equal(await h1(p), 'Enable Two-Factor Authentication');
      assert.match(await p.getAttribute('#otpauth-link', 'href'), /^otpauth:\/\/totp\//);
      known.adminSecret = await secretOn(p);
    }],
    ['enable two-factor: wrong code', 'admin',
     async (p) => wrongCode(p, known.adminSecret, '/profile/two-factor/enable')],
    ['recovery codes', 'admin', async (p) => {
      await sendCode(p, await totpCode(known.adminSecret), '/profile/two-factor/enable');
      assert.equal(await h1(p), 'Save your recovery codes');
    }],
    ['profile: two-factor on', 'admin', async (p) => go(p, '/profile')],
    ['profile: the On switch asks for the password', 'admin', async (p) => {
      await p.focus('button[role=switch][aria-label="Two-Factor Authentication"]');
      await Promise.all([p.waitForNavigation(), p.keyboard.press('Space')]);
      assert.equal(await focused(p), 'password');
      assert.equal(await p.getAttribute('#password', 'aria-invalid'), 'true');
    }],
    ['remove the last factor: confirm it\'s you, or confirm the removal', 'admin', async (p) => {
      await go(p, '/profile');
      await submit(p, 'form[action="/profile/two-factor/remove"] button[type=submit]');
      assert.match(await h1(p), /^(Confirm it's you|Remove .*\?)$/);
    }],
    ['admin page: confirm enforcement', 'admin', async (p) => {
      await go(p, '/account/authentication');
      await submit(p, 'button[role=switch][aria-label="Enforce Two-Factor Authentication"]');
      assert.match(await p.locator('#confirm-summary').innerText(), /^Enforce two-factor/);
    }],
    ['admin page: enforced', 'admin', async (p) => submit(p, 'button:has-text("Confirm")')],
    ['admin page: invitation sent', 'admin', async (p) => {
      await p.fill('#invite-email', INVITEE.email);
      await submit(p, '#invite button[type=submit]');
    }],
    ['admin page: invitation refused', 'admin', async (p) => {
      await p.fill('#invite-email', USER.email);  // a member already
      await submit(p, '#invite button[type=submit]');
      assert.equal(await focused(p), 'invite-email');
      assert.equal(await p.getAttribute('#invite-email', 'aria-invalid'), 'true');
    }],
    ['admin page: token created', 'admin', async (p) => {
      await p.fill('#token-name', 'deploy script');
      await submit(p, '#create-token button[type=submit]');
      assert.equal(await h1(p), 'Authentication: Configuration');
    }],
    ['admin page: confirm requiring two-factor for an application', 'admin', async (p) => {
      await go(p, '/account/authentication');
      await submit(p, `button[aria-label="Require two-factor authentication for ${THIRD_PARTY}"]`);
      assert.match(await p.locator('#confirm-summary').innerText(), /^Every member of /);
    }],
    ['admin page: confirm removing a member', 'admin', async (p) => {
      await go(p, '/account/authentication');  // the requirement was not confirmed
      // Nor is the removal: Bob stays a member.
      await submit(p, `button[aria-label="Remove ${BOB.email}"]`);
      assert.match(await p.locator('#confirm-summary').innerText(), new RegExp(`^${BOB.email} will be signed out`));
    }],
    ['admin page: a member\'s credentials with their details', 'admin', async (p) => {
      await go(p, '/account/authentication');  // nor was the removal
      await submit(p, `a[aria-label="Credentials of ${ADMIN.email}"]`);
      assert.equal(await p.locator('h2').first().innerText(), `Credentials of ${ADMIN.email}`);
      assert.equal(await p.locator('#credentials dl dt').first().innerText(), 'Algorithm');
    }],
    ['sign out?', 'admin', async (p) => {
      await go(p, `/logout?client_id=${PUBLIC_CLIENT_ID}`);
      assert.equal(await h1(p), 'Sign out of Keystep?');
    }],
    ['signed out', 'admin', async (p) => {
      await submit(p, 'form[action="/logout"] button[type=submit]');
      assert.equal(await h1(p), 'You are signed out');
      assert.equal(await p.locator('a:has-text("Sign in again")').count(), 1);
    }],
    ['second step', 'admin', async (p) => {
      await signIn(p, ADMIN);
      assert.equal(new URL(p.url()).pathname, '/login/second-factor');
      assert.equal(await focused(p), 'code');
    }],
    ['second step: wrong code', 'admin',
     async (p) => wrongCode(p, known.adminSecret, '/login/second-factor')],
    ['second step: recovery code', 'admin', async (p) => {
      await submit(p, 'a:has-text("Recovery code")');
      assert.equal(await h1(p), 'Enter a recovery code');
    }],
    ['setup step (enforced)', 'member', async (p) => {
      await signIn(p, USER);
      assert.equal(await h1(p), 'Set up two-factor authentication');
      known.memberSecret = await secretOn(p);
    }],
    ['setup step: wrong code', 'member',
     async (p) => wrongCode(p, known.memberSecret, '/login/second-factor')],
    ['profile: enforced member', 'member', async (p) => {
      await sendCode(p, await totpCode(known.memberSecret), '/login/second-factor');
      assert.equal(new URL(p.url()).pathname, '/profile');
      assert.match(await p.locator('main').innerText(), /Codes are shown once/);
    }],
    ['add a security key', 'member', async (p) => {
      // The page before the ceremony: naming the key, the button that starts it.
      await go(p, '/profile');
      await p.selectOption('select[name=method]', 'webauthn');
      await submit(p, 'button:has-text("Add a second factor")');
      assert.equal(new URL(p.url()).pathname, '/profile/two-factor/enable');
      assert.equal(await p.locator('button:has-text("Touch your key")').count(), 1);
    }],
    ['add a YubiKey', 'member', async (p) => {
      // The command that programs the key, and two codes from it.
      await go(p, '/profile');
      await p.selectOption('select[name=method]', 'yubikey_hotp');
      await submit(p, 'button:has-text("Add a second factor")');
      assert.equal(new URL(p.url()).pathname, '/profile/two-factor/enable');
      assert.match(await p.locator('main').innerText(), /ykman otp hotp/);
    }],
    ['error: no access to the admin page', 'member', async (p) => {
      await go(p, '/account/authentication');
      assert.equal(await h1(p), 'You do not have access to this page');
      assert.doesNotMatch(await p.locator('main').innerText(), /auth_settings|permission/);
    }],
    ['signup', 'invitee', async (p) => {
      known.signupLink = await eventually(async () => {
        for (const m of await smtp.messagesTo(INVITEE.email)) {
          const mail = await parseMail(m.raw);
          if (mail.subject === INVITATION_SUBJECT) return mail.html.match(/href="([^"]+)"/)[1].replaceAll('&amp;', '&');
        }
        return null;
      }, 'the invitation email');
      await p.goto(known.signupLink);
      assert.match(await h1(p), /^Join /);
    }],
    ['signup: passwords differ', 'invitee', async (p) => {
      await p.fill('#password', INVITEE.password);
      await p.fill('#password_confirm', `${INVITEE.password} typo`);
      await submit(p, 'form[action="/signup"] button[type=submit]');
      assert.equal(await focused(p), 'password');
      assert.equal(await p.getAttribute('#password', 'aria-invalid'), 'true');
    }],
    ['second step: security key', 'member', async (p) => {
      // Alice adds a key (Chromium's virtual authenticator) and signs in again: the second
      // step asks for the kind she used last.
      const cdp = await p.context().newCDPSession(p);
      await cdp.send('WebAuthn.enable');
      known.memberKey = await addAuthenticator(cdp);
      await go(p, '/profile');
      await addKey(p, 'Desk key');
      await p.context().clearCookies();
      await signIn(p, USER);
      assert.equal(new URL(p.url()).pathname, '/login/second-factor');
      assert.equal(await p.locator('button:has-text("Use your Security key")').count(), 1);
    }],
    ['second step: security key refused', 'member', async (p) => {
      await known.memberKey.overrideBits({ isBogusSignature: true });
      await useKey(p);
      assert.match(await p.locator('[role=alert]').innerText(), /^Your security key was not accepted/);
    }],
    ['admin page: read-only', 'member', async (p) => {
      // A role that may view Authentication settings and change nothing, as an operator adds it.
      await ks.sql("INSERT INTO roles (name) VALUES ('auditor'); " +
                   "INSERT INTO role_permissions (role, permission) VALUES ('auditor', 'auth_settings.view'); " +
                   `UPDATE users SET role = 'auditor' WHERE email = '${USER.email}'`);
      await known.memberKey.overrideBits({});
      await useKey(p);
      await go(p, '/account/authentication');
      assert.equal(await h1(p), 'Authentication: Configuration');
      assert.equal(await p.locator('[role=switch][aria-readonly=true]').count(), 1);
      assert.equal(await p.locator('main form[method=post]').count(), 0, 'nothing to change');
    }],
    ['enrollment link: sign-in with the email filled in', 'anonymous', async (p) => {
      // Enforced again with the safer email: bob, still without a second factor, gets a link.
      const api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
      for (const change of [{ enforce_two_factor: false }, { enrollment_email: 'link' },
                            { enforce_two_factor: true, confirm: true }]) {
        const { status, body } = await api.putSettings(change);
        assert.equal(status, 200, JSON.stringify(body));
      }
      known.enrollmentLink = await eventually(async () => {
        for (const m of await smtp.messagesTo(BOB.email)) {
          const link = (await parseMail(m.raw)).text.match(/\S+\/enroll\?token=[A-Za-z0-9_-]+/);
          if (link) return link[0];
        }
        return null;
      }, 'the enrollment link email');
      await p.context().clearCookies();
      await p.goto(known.enrollmentLink);
      assert.equal(new URL(p.url()).pathname, '/login');
      assert.equal(await p.inputValue('#email'), BOB.email);
    }],
    ['enrollment link: already used', 'anonymous', async (p) => {
      await p.fill('#password', BOB_NEW_PASSWORD);
      await submit(p, 'form[action="/login"] button[type=submit]');
      assert.equal(await h1(p), 'Set up two-factor authentication');
      await p.goto(known.enrollmentLink);
      assert.match(await p.locator('main').innerText(), /This enrollment link was already used/);
    }],
  ];

  for (const [name, tab, reach] of STATES) {
    it(name, async () => {
      const page = tabs[tab];
      await reach(page);
      assert.deepEqual(await pageProblems(page), [], `${name} (${page.url()})`);
    });
  }

  it('every email\'s HTML part', async () => {
    const messages = await smtp.messages();
    const subjects = new Set();
    const page = tabs.anonymous;
    for (const m of messages) {
      const mail = await parseMail(m.raw);
      if (!mail.html) continue;  // text only
      assert.match(mail.html, /<html lang="en">/, mail.subject);
      assert.equal(mail.html.match(/<html\b/gi).length, 1, `${mail.subject}: one document, not a page in the page`);
      assert.match(mail.html, new RegExp(`<title>[^<]+</title>`), mail.subject);
      for (const img of mail.html.matchAll(/<img\b[^>]*>/g))
        assert.doesNotMatch(img[0], /alt="QR code"/, `${mail.subject}: the QR code's alt text says what it is`);
      assert.deepEqual(await htmlProblems(page, mail.html), [], mail.subject);
      subjects.add(mail.subject);
    }
    // The invitation, the enforcement email (with its QR code), the password reset's and the
    // security notices.
    assert.ok(subjects.has(INVITATION_SUBJECT), [...subjects].join(', '));
    assert.ok([...subjects].some((s) => s.startsWith('Reset your password')), [...subjects].join(', '));
    assert.ok([...subjects].some((s) => s.startsWith('Your password was changed')), [...subjects].join(', '));
    assert.ok(subjects.has(`Set up two-factor authentication for ${ISSUER_LABEL}`), [...subjects].join(', '));
    assert.ok([...subjects].some((s) => s.startsWith('A second factor was added')), [...subjects].join(', '));
  });
});

describe('keyboard only: sign in, two-factor on, the second step, two-factor off', { timeout: 120000 }, () => {
  const KIM = { email: 'kim@example.com', password: 'kim keyboard battery staple' };
  let ks;
  let browser;
  let page;

  before(async () => {
    ks = await Keystep.start();
    await ks.addUser(KIM);
    browser = await launchChromium();
    page = await (await browser.newContext(CONTEXT_OPTIONS)).newPage();
  });

  after(async () => {
    await browser?.close();
    const exit = await ks?.shutdown();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const focusedElement = () => page.evaluate(() => {
    const el = document.activeElement;
    return { id: el?.id ?? '', label: el?.getAttribute('aria-label') ?? '', text: el?.textContent?.trim() ?? '' };
  });

  // Presses Tab until the focused element matches `wanted`; fails after 40 presses.
  async function tabTo(wanted, what) {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (wanted(await focusedElement())) return;
    }
    assert.fail(`Tab never reached ${what}`);
  }

  async function pressAndWait(key) {
    await Promise.all([page.waitForNavigation(), page.keyboard.press(key)]);
  }

  async function signIn() {
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal((await focusedElement()).id, 'email', 'the sign-in page opens on the email');
    await page.keyboard.type(KIM.email);
    await page.keyboard.press('Tab');
    assert.equal((await focusedElement()).id, 'password');
    await page.keyboard.type(KIM.password);
    await pressAndWait('Enter');
  }

  const isSwitch = (el) => el.label === 'Two-Factor Authentication';
  const switchState = () => page.getAttribute('[role=switch][aria-label="Two-Factor Authentication"]', 'aria-checked');

  it('signs in, turns 2FA on with Space, passes the second step and turns 2FA off with Enter', async () => {
    await page.goto(`${ks.issuer}/profile`);
    await signIn();
    assert.equal(new URL(page.url()).pathname, '/profile');
    assert.equal(await switchState(), 'false');

    await tabTo(isSwitch, 'the Two-Factor Authentication switch');
    await pressAndWait('Space');
    assert.equal(new URL(page.url()).pathname, '/profile/two-factor/enable');
    assert.equal((await focusedElement()).id, 'code', 'the enable page opens on the code');
    const secret = (await page.locator('#secret-key').innerText()).replaceAll(' ', '');
    const at = Math.floor(Date.now() / 1000);
    await page.keyboard.type(await totpCode(secret, at));
    await pressAndWait('Enter');
    assert.equal((await page.locator('h1').innerText()).trim(), 'Save your recovery codes');

    await tabTo((el) => el.text === 'Back to your profile', 'Back to your profile');
    await pressAndWait('Enter');
    assert.equal(await switchState(), 'true');
    await tabTo((el) => el.text === 'Sign out', 'Sign out');
    await pressAndWait('Enter');
    await tabTo((el) => el.text === 'Sign out', 'the Sign out button');
    await pressAndWait('Enter');
    await tabTo((el) => el.text === 'Sign in again', 'Sign in again');
    await pressAndWait('Enter');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn();

    assert.equal(new URL(page.url()).pathname, '/login/second-factor');
    assert.equal((await focusedElement()).id, 'code', 'the second step opens on the code');
    await page.keyboard.type(await totpCode(secret, await waitForStepAfter(totpStep(at))));
    await pressAndWait('Enter');
    assert.equal(new URL(page.url()).pathname, '/profile');
    assert.equal(await switchState(), 'true');

    await tabTo(isSwitch, 'the On switch');
    await pressAndWait('Enter');
    assert.equal((await focusedElement()).id, 'password', 'the On switch asks for the password');
    await page.keyboard.type(KIM.password);
    await pressAndWait('Enter');
    assert.match(await page.locator('[role=status]').innerText(), /Two-factor authentication is off/);
    assert.equal(await switchState(), 'false');
  });
});
