// Account-wide two-factor enforcement end to end, the seed's "Set up account-wide two-factor
// authentication" through the admin API, with the setup emails going over real SMTP to
// tests/smtp/server.py on loopback and read with mailparser, zbarimg and oathtool.
//
// 1. Enforcing: an admin without 2FA is refused (409); after turning it on from the profile,
//    a PUT without "confirm" answers 428 with the summary counts, with it 200. Each member
//    without a second factor gets exactly one email (envelope and To, From, Subject): HTML
//    with the QR code as an inline PNG referenced by cid, whose otpauth URI (read by zbarimg)
//    carries the secret key the text part shows, and a sign-in link at the issuer. A member
//    who had turned 2FA on herself gets none; one who had only started it gets that pending
//    secret, and following the email's link takes her through the setup step to her profile.
// 2. An emailed member's OIDC sign-in (openid-client, code + PKCE): after the password the
//    forced setup step shows the email's QR code and cannot be skipped (no code, a code posted
//    as another method, a recovery code, other URLs: no authorization code, no session); the
//    code oathtool computes from the email's QR completes it with acr 2fa and amr pwd+otp+mfa,
//    userinfo answers; the next sign-in is the normal challenge. The member's own setting
//    stays off (two_factor_enabled false, has_second_factor true).
// 3. The member who had 2FA already is challenged as before, with no setup step.
// 4. SMTP down while enforcement is confirmed, then up on the same port: keystep records the
//    failed attempt, retries (30 s later), and every member gets exactly one email; nothing
//    more arrives after 10 s, a keystep restart and a repeated confirmed PUT.
//
// The TOTP steps are real time: the file waits for at most one new 30-second step, and for the
// mailer's first retry (about 30 s); about 50 s in all. Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test enforcement.test.mjs
// server.py runs with /usr/bin/python3 (Debian's, with python3-aiosmtpd) or $KEYSTEP_PYTHON.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { AdminApi } from './lib/admin_api.mjs';
import { readQrDataUri, totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { Browser, pathOf, signIn, submitForm, submitSecondFactor } from './lib/browser.mjs';
import { ACR_MFA, freePort, ISSUER_LABEL, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { enableTwoFactorOnProfile, startTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, signInWithPassword } from './lib/rp.mjs';
import { assertSetupCannotBeSkipped, readSetupStep, SETUP_HEADING } from './lib/setup_step.mjs';
import { isNotice, MAIL_FROM_ADDRESS, NOT_A_NOTICE, parseMail, smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually, sleep } from './lib/wait.mjs';

const ADMIN = { email: 'admin@example.com', password: 'admin staple battery', admin: true };
const BOB = { email: 'bob@example.com', password: 'bob staple battery' };
const CAROL = { email: 'carol@example.com', password: 'carol staple battery' };
const SUBJECT = `Set up two-factor authentication for ${ISSUER_LABEL}`;
const ENFORCE = { enforce_two_factor: true, confirm: true };

const now = () => Math.floor(Date.now() / 1000);

function otpauthUri(email, secret) {
  const label = encodeURIComponent(ISSUER_LABEL);
  return `otpauth://totp/${label}:${encodeURIComponent(email)}?secret=${secret}` +
         `&issuer=${label}&algorithm=SHA1&digits=6&period=30`;
}

// Reads one received enforcement email: the parsed message, its envelope, the QR code's PNG
// and otpauth URI (read by zbarimg), and the secret key of the text part without spaces.
async function readSetupEmail({ envelope, raw }) {
  const mail = await parseMail(raw);
  const png = mail.attachments.find((a) => a.contentType === 'image/png');
  assert.ok(png, 'the email carries a PNG');
  const qrUri = await readQrDataUri(`data:image/png;base64,${png.content.toString('base64')}`);
  const shown = mail.text?.match(/\b([A-Z2-7]{4}(?: [A-Z2-7]{1,4})+)\b/);
  assert.ok(shown, `the text part shows the secret key in groups of four:\n${mail.text}`);
  return { mail, envelope, png, qrUri, textSecret: shown[1].replaceAll(' ', '') };
}

describe('enforcing 2FA account-wide: emails over SMTP, forced setup at sign-in', { timeout: 120000 }, () => {
  let ks;
  let smtp;
  let config;
  let api;
  let alice;              // enableTwoFactorOnProfile's result: she turned 2FA on herself
  let carolPending;       // the secret of the enrollment carol started on her profile
  const emails = {};      // readSetupEmail() results by recipient
  let bobStep;            // the TOTP step of the code that completed bob's setup

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    ks = await Keystep.start({ conf: smtpConf(smtp.port) });
    for (const user of [ADMIN, BOB, CAROL]) await ks.addUser(user);
    config = await discover(ks, PUBLIC_CLIENT_ID);
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
  });

  after(async () => {
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('an admin without 2FA of their own is refused enforcement (409), even with confirm', async () => {
    const res = await api.putSettings(ENFORCE);
    assert.equal(res.status, 409);
    assert.equal(res.body.error, 'own_two_factor_required');
    assert.equal(res.body.settings_url, `${ks.issuer}/profile`);
    assert.equal((await api.settings()).body.enforce_two_factor, false);
  });

  it('alice (a member) and the admin turn 2FA on from their profiles', async () => {
    alice = await enableTwoFactorOnProfile(ks, USER);
    await enableTwoFactorOnProfile(ks, ADMIN);
    const members = await api.membersByEmail();
    assert.equal(members[USER.email].two_factor_enabled, true);
    assert.equal(members[ADMIN.email].has_second_factor, true);
    assert.equal(members[BOB.email].has_second_factor, false);
  });

  it('carol starts turning 2FA on from her profile but never confirms a code', async () => {
    carolPending = (await startTwoFactorOnProfile(ks, CAROL)).secret;
    assert.equal((await api.membersByEmail())[CAROL.email].has_second_factor, false);
  });

  it('without confirm: 428 with the summary counts, and nothing changes or is sent', async () => {
    const res = await api.putSettings({ enforce_two_factor: true });
    assert.equal(res.status, 428);
    assert.equal(res.body.error, 'confirmation_required');
    assert.equal(res.body.summary.members, 4);
    assert.equal(res.body.summary.members_without_two_factor, 2);
    assert.match(res.body.summary.effect, /user-level settings are not changed/);
    assert.equal((await api.settings()).body.enforce_two_factor, false);
    assert.deepEqual(await ks.sql(`SELECT id FROM mail_outbox WHERE ${NOT_A_NOTICE}`), []);
  });

  it('with confirm: 200, enforcement on, two emails queued and audited', async () => {
    const res = await api.putSettings(ENFORCE);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.enforce_two_factor, true);
    assert.equal((await api.settings()).body.enforce_two_factor, true);
    const audit = await api.auditEvents({ event: 'account.two_factor_enforced' });
    assert.deepEqual(audit.body.events.map((e) => e.detail), ['2 emails queued']);
  });

  it('each member without 2FA gets exactly one email over SMTP; the admin and alice none', async () => {
    await smtp.waitForMessages(2, { notices: false });
    await eventually(async () => (await ks.sql('SELECT id FROM mail_outbox WHERE sent_at = 0')).length === 0,
                     'the outbox to be sent');
    const messages = await smtp.messages({ notices: false });
    assert.equal(messages.length, 2, 'one message per member without 2FA');
    for (const m of messages) {
      const email = await readSetupEmail(m);
      emails[m.envelope.rcpt_tos[0]] = email;
    }
    assert.deepEqual(Object.keys(emails).sort(), [BOB.email, CAROL.email]);
    assert.equal((await ks.sql(`SELECT id FROM mail_outbox WHERE ${NOT_A_NOTICE}`)).length, 2);
  });

  it('the email: envelope, From, To, Subject, a QR code by cid, its secret as text, a sign-in link', async () => {
    for (const [recipient, { mail, envelope, png, qrUri, textSecret }] of Object.entries(emails)) {
      assert.deepEqual(envelope, { mail_from: MAIL_FROM_ADDRESS, rcpt_tos: [recipient] });
      assert.deepEqual(mail.from.value, [{ address: MAIL_FROM_ADDRESS, name: 'Keystep Test' }]);
      assert.deepEqual(mail.to.value.map((a) => a.address), [recipient]);
      assert.equal(mail.subject, SUBJECT);
      assert.ok(mail.messageId, 'a Message-ID');
      assert.ok(mail.date instanceof Date && Math.abs(mail.date.getTime() - Date.now()) < 600000, 'a Date');

      // HTML and text alternatives; the PNG belongs to the HTML (multipart/related, by cid).
      assert.equal(mail.headers.get('content-type').value, 'multipart/alternative');
      assert.ok(mail.html, 'an HTML part');
      assert.ok(mail.text, 'a text part');
      assert.equal(png.cid, 'qr');
      assert.equal(png.related, true, 'the PNG is part of the HTML (multipart/related)');
      assert.equal(png.contentDisposition, 'inline');
      assert.match(mail.html, /<img\b[^>]*\bsrc="cid:qr"/);
      assert.equal(mail.attachments.length, 1);

      assert.equal(qrUri, otpauthUri(recipient, textSecret));
      assert.equal(textSecret.length, 32, '160-bit secret');
      assert.equal(new URL(qrUri).searchParams.get('secret'), textSecret);
      const grouped = textSecret.match(/.{1,4}/g).join(' ');
      assert.ok(mail.html.includes(grouped), 'the HTML shows the same secret key');

      const link = `${ks.issuer}/profile`;
      assert.ok(mail.text.includes(link), `the text links to ${link}:\n${mail.text}`);
      assert.match(mail.html, new RegExp(`<a\\b[^>]*href="${link}"`));
    }
    assert.notEqual(emails[BOB.email].textSecret, emails[CAROL.email].textSecret);
    assert.equal(emails[CAROL.email].textSecret, carolPending, "carol's email carries her pending enrollment");
  });

  it("the members: everyone is challenged, nobody's own setting was turned on", async () => {
    const members = await api.membersByEmail();
    const state = (m) => ({ own: m.two_factor_enabled, factor: m.has_second_factor, challenged: m.challenged });
    for (const email of [BOB.email, CAROL.email])
      assert.deepEqual(state(members[email]), { own: false, factor: false, challenged: true }, email);
    for (const email of [USER.email, ADMIN.email])
      assert.deepEqual(state(members[email]), { own: true, factor: true, challenged: true }, email);
  });

  it("bob's sign-in: the forced setup step shows the email's QR code and cannot be skipped", async () => {
    const secret = emails[BOB.email].textSecret;
    const browser = new Browser();
    const { callback, checks } = await signInWithPassword(browser, config, ks, BOB);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const page = await browser.get(callback);
    const step = await readSetupStep(page);
    assert.equal(step.qrUri, emails[BOB.email].qrUri, "the email's QR code");
    assert.equal(step.shownSecret, secret);
    await assertSetupCannotBeSkipped(browser, ks, callback, page, secret);
    const members = await api.membersByEmail();
    assert.equal(members[BOB.email].has_second_factor, false, 'nothing was registered');

    // The authenticator app, set up from the email's QR code alone.
    const at = now();
    const code = await totpCode(new URL(emails[BOB.email].qrUri).searchParams.get('secret'), at);
    const ok = await submitForm(browser, callback, page, '/login/second-factor', { code });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(pathOf(ok.location), ks.redirectUri);
    assert.ok(browser.cookie('ks_session'), 'the setup step completes the sign-in');
    bobStep = totpStep(at);

    const tokens = await client.authorizationCodeGrant(config, ok.location, checks);
    const claims = tokens.claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.email, BOB.email);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, BOB.email);
  });

  it("carol follows the email's link: password, the setup step with her secret, then her profile", async () => {
    const link = new URL(emails[CAROL.email].mail.text.match(/Sign in at (\S+)/)[1]);
    const browser = new Browser();
    const { callback } = await signIn(browser, link, CAROL);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const page = await browser.get(callback);
    assert.match(page.body, SETUP_HEADING);
    assert.match(page.body, new RegExp(`id="secret-key">${carolPending.match(/.{1,4}/g).join(' ')}<`));
    const ok = await submitForm(browser, callback, page, '/login/second-factor',
                                { code: await totpCode(carolPending) });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(ok.location.href, link.href, 'back where the link pointed');
    const profile = await browser.get(link);
    assert.equal(profile.status, 200);
    assert.ok(profile.body.includes(CAROL.email));
    const members = await api.membersByEmail();
    assert.equal(members[CAROL.email].two_factor_enabled, false);
    assert.equal(members[CAROL.email].has_second_factor, true);
  });

  it("bob's own setting stays off; he has a second factor now, enrolled for the account", async () => {
    const members = await api.membersByEmail();
    assert.equal(members[BOB.email].two_factor_enabled, false);
    assert.equal(members[BOB.email].has_second_factor, true);
    assert.equal(members[BOB.email].challenged, true);
    const audit = await api.auditEvents({ event: 'mfa.enrolled_for_account', user: members[BOB.email].id });
    assert.equal(audit.body.events.length, 1);
  });

  it("bob's next sign-in is the normal challenge for the app's code", async () => {
    await waitForStepAfter(bobStep);  // the setup code is spent; the app shows the next one
    const browser = new Browser();
    const { callback, checks } = await signInWithPassword(browser, config, ks, BOB);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const code = await totpCode(emails[BOB.email].textSecret);
    const { page, response } = await submitSecondFactor(browser, callback, code);
    assert.match(page.body, /<h1>Two-factor authentication<\/h1>/);
    assert.doesNotMatch(page.body, /Set up two-factor authentication/);
    assert.equal(response.status, 302, response.body);
    assert.equal(pathOf(response.location), ks.redirectUri);
    const claims = (await client.authorizationCodeGrant(config, response.location, checks)).claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  it('alice, who had 2FA already, is only challenged as before and got no email', async () => {
    await waitForStepAfter(alice.step);
    const browser = new Browser();
    const { callback, checks } = await signInWithPassword(browser, config, ks, USER);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const { page, response } = await submitSecondFactor(browser, callback, await totpCode(alice.secret));
    assert.match(page.body, /<h1>Two-factor authentication<\/h1>/);
    assert.doesNotMatch(page.body, /Set up two-factor authentication|class="qr"/);
    assert.equal(response.status, 302, response.body);
    const claims = (await client.authorizationCodeGrant(config, response.location, checks)).claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

    const messages = await smtp.messages({ notices: false });
    assert.equal(messages.length, 2);
    assert.ok(messages.every((m) => !m.envelope.rcpt_tos.includes(USER.email)));
    // The notice of the authenticator app she added on her profile arrived over SMTP.
    const notices = (await smtp.messagesTo(USER.email)).filter((m) => isNotice(m.raw));
    assert.equal(notices.length, 1);
    const notice = await parseMail(notices[0].raw);
    assert.match(notice.subject, /^A second factor was added \(/);
    assert.match(notice.text, /You added a second factor to your sign-in/);
    assert.deepEqual(await ks.sql(`SELECT id FROM mail_outbox WHERE recipient = '${USER.email}' AND ${NOT_A_NOTICE}`), []);
  });
});

describe('SMTP down while enforcing, then up: every email arrives exactly once', { timeout: 150000 }, () => {
  let ks;
  let smtp;
  let smtpPort;
  let api;
  const members = [USER.email, BOB.email, CAROL.email];  // none has 2FA

  before(async () => {
    smtp = await SmtpServer.create();
    smtpPort = await freePort();  // nothing listens there until the test starts the server
    ks = await Keystep.start({ conf: smtpConf(smtpPort) });
    for (const user of [ADMIN, BOB, CAROL]) await ks.addUser(user);
    await enableTwoFactorOnProfile(ks, ADMIN);
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
  });

  after(async () => {
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const outbox = () => ks.sql(
      `SELECT recipient, attempts, sent_at, last_error FROM mail_outbox WHERE ${NOT_A_NOTICE} ORDER BY recipient`);

  it('enforcement is confirmed while the SMTP server is down; the failed attempt is recorded', async () => {
    const res = await api.putSettings(ENFORCE);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const rows = await eventually(async () => {
      const r = await outbox();
      return r.length === 3 && r.every((m) => m.attempts >= 1) && r;
    }, 'a first delivery attempt of every message');
    assert.deepEqual(rows.map((m) => m.recipient), members);
    for (const m of rows) {
      assert.equal(m.sent_at, 0);
      assert.match(m.last_error, new RegExp(`127\\.0\\.0\\.1.*${smtpPort}|connect`, 'i'));
    }
    assert.deepEqual(await smtp.messages({ notices: false }), []);
  });

  it('once the SMTP server listens on that port, each member gets exactly one email (the retry)', async () => {
    await smtp.listen(smtpPort);
    // The first retry is due 30 s after the failure, then 1 min: allow for both on a slow machine.
    const messages = await smtp.waitForMessages(3, { timeoutMs: 100000, notices: false });
    assert.deepEqual(messages.map((m) => m.envelope.rcpt_tos).flat().sort(), members);
    for (const m of messages) {
      const { mail, envelope, qrUri, textSecret } = await readSetupEmail(m);
      assert.equal(envelope.mail_from, MAIL_FROM_ADDRESS);
      assert.deepEqual(mail.to.value.map((a) => a.address), envelope.rcpt_tos);
      assert.equal(mail.subject, SUBJECT);
      assert.equal(qrUri, otpauthUri(envelope.rcpt_tos[0], textSecret));
    }
    const rows = await eventually(async () => {
      const r = await outbox();
      return r.every((m) => m.sent_at > 0) && r;
    }, 'every message to be marked sent');
    assert.ok(rows.every((m) => m.attempts >= 1), JSON.stringify(rows));
  });

  it('nothing more arrives: after 10 s, across a keystep restart, and on a repeated confirmed PUT', async () => {
    await sleep(10000);
    assert.equal((await smtp.messages({ notices: false })).length, 3, 'no duplicates within 10 s');

    const exit = await ks.restart();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks.output}`);
    const again = await api.putSettings(ENFORCE);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.enforce_two_factor, true);
    await sleep(6000);  // the worker's start-up pass, the wake-up of the PUT and one more poll

    assert.equal((await smtp.messages({ notices: false })).length, 3, 'no duplicates after the restart and the repeated PUT');
    assert.equal((await outbox()).length, 3, 'the repeated PUT queued nothing');
    const audit = await api.auditEvents({ event: 'account.two_factor_enforced' });
    assert.deepEqual(audit.body.events.map((e) => e.detail), ['3 emails queued']);
  });
});
