// Members who join or enroll after an account enforces 2FA, end to end with the emails over
// real SMTP (tests/smtp/server.py, read with mailparser) and the authenticator played by
// zbarimg and oathtool: the seed's "New members will be able to set up 2FA during signup".
//
// 1. A member invited after enforcement: the admin (with 2FA of their own) enforces it, then
//    invites dave through the admin API (201, pending, audited). Exactly one invitation email
//    reaches dave (envelope, From, To, Subject) with the same single signup link in its text
//    and HTML parts. The signup page shows his email, says 2FA is required and sets the
//    double-submit cookie; a post without that cookie or with another csrf_token is refused
//    (403), too short or differing passwords answer 400 and create nothing. His password
//    creates him (role member) and leads to the forced setup step, which cannot be skipped;
//    the code oathtool computes from the QR code zbarimg reads takes him to /profile. The link
//    again: 410. The invitation lists as accepted; inviting him again: 409 already_member.
//    Inviting erin twice while pending: 201 then 200 with the same invitation and a single
//    email; revoking it (then 404) turns her link into a 410. Dave's next sign-in through an
//    OIDC client (openid-client, code + PKCE) is the normal TOTP challenge, which refuses the
//    code spent on the setup and takes the next one, with acr 2fa and amr pwd+otp+mfa;
//    userinfo answers his email. Carol, invited before enforcement (her email says nothing of
//    2FA, and enforcement emails no pending invitee), gets the setup step at signup all the same.
// 2. Link mode (enrollment_email "link"): frank, invited while nothing is enforced, signs up
//    straight to his profile. The 428 summary and the settings say "link"; each member without
//    2FA is emailed a single-use /enroll link and no QR code, otpauth URI or secret (none exists
//    yet). Following bob's link: his email prefilled on the sign-in page; a wrong password
//    leaves the link unused and creates no secret; his password uses it up (audited
//    mfa.enrollment_link_used), and only then is a secret created and shown on the setup step;
//    its code takes him to /profile. The link again: 410; an unknown one: 404.
//
// Real time: dave's sign-in waits for the TOTP step after his setup code (at most 30 s); 10 to
// 40 s in all. Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test onboarding.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { AdminApi } from './lib/admin_api.mjs';
import { totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { alertText, Browser, formByAction, pathOf, readLoginForm, submitForm, submitSecondFactor } from './lib/browser.mjs';
import { ACR_MFA, ISSUER_LABEL, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, signInWithPassword } from './lib/rp.mjs';
import { assertSetupCannotBeSkipped, readSetupStep, SETUP_HEADING } from './lib/setup_step.mjs';
import { MAIL_FROM_ADDRESS, parseMail, smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually, sleep } from './lib/wait.mjs';

const ADMIN = { email: 'admin@example.com', password: 'admin staple battery', admin: true };
const BOB = { email: 'bob@example.com', password: 'bob staple battery' };
const CAROL = { email: 'carol@example.com', password: 'carol staple battery' };
const DAVE = { email: 'dave@example.com', password: 'dave staple battery' };
const ERIN = { email: 'erin@example.com' };
const FRANK = { email: 'frank@example.com', password: 'frank staple battery' };
const ENFORCE = { enforce_two_factor: true, confirm: true };
const INVITATION_SUBJECT = `You are invited to ${ISSUER_LABEL}`;
const ENFORCEMENT_SUBJECT = `Set up two-factor authentication for ${ISSUER_LABEL}`;
const TOKEN = '[A-Za-z0-9_-]{43}';  // 32 random bytes, base64url

const now = () => Math.floor(Date.now() / 1000);

// Asserts the envelope and headers of a message keystep sent to `recipient`; returns it parsed.
async function readMail({ envelope, raw }, recipient, subject) {
  const mail = await parseMail(raw);
  assert.deepEqual(envelope, { mail_from: MAIL_FROM_ADDRESS, rcpt_tos: [recipient] });
  assert.deepEqual(mail.from.value, [{ address: MAIL_FROM_ADDRESS, name: 'Keystep Test' }]);
  assert.deepEqual(mail.to.value.map((a) => a.address), [recipient]);
  assert.equal(mail.subject, subject);
  assert.ok(mail.text, 'a text part');
  assert.ok(mail.html, 'an HTML part');
  return mail;
}

// The one link of the text part matching `pattern` (a RegExp source); asserts the HTML part
// links to the same URL and nothing else of the kind.
function onlyLink(mail, pattern) {
  const inText = [...mail.text.matchAll(new RegExp(`(?<![\\w/])${pattern}`, 'g'))].map((m) => m[0]);
  assert.equal(inText.length, 1, `one link in the text part:\n${mail.text}`);
  const inHtml = [...mail.html.matchAll(new RegExp(`href="(${pattern})"`, 'g'))].map((m) => m[1]);
  assert.deepEqual(inHtml, inText, `the HTML part links to the same URL:\n${mail.html}`);
  return new URL(inText[0]);
}

// Waits for the first message to `recipient`; asserts it is the only one and returns it parsed.
async function onlyMailTo(smtp, recipient, subject) {
  const messages = await eventually(async () => {
    const m = await smtp.messagesTo(recipient);
    return m.length > 0 && m;
  }, `an email to ${recipient}`);
  assert.equal(messages.length, 1, `one email to ${recipient}`);
  return { message: messages[0], mail: await readMail(messages[0], recipient, subject) };
}

// Opens the invitation `link` in a new browser and signs up with `password`: returns
// { browser, page (the signup page), response (to the good POST) }.
async function signUp(link, password) {
  const browser = new Browser();
  const page = await browser.get(link);
  assert.equal(page.status, 200, page.body);
  const response = await submitForm(browser, link, page, '/signup', { password, password_confirm: password });
  return { browser, page, response };
}

// Asserts `res` is keystep's error page with HTTP `status` and error code `error`.
function assertErrorPage(res, status, error) {
  assert.equal(res.status, status, res.body);
  assert.match(res.body, new RegExp(`Error code: <code>${error}</code>`));
}

describe('a member invited after enforcement sets up 2FA during signup', { timeout: 120000 }, () => {
  let ks;
  let smtp;
  let config;
  let api;
  let adminId;
  let invitation;      // the 201 body of dave's invitation
  let signupLink;      // the URL in dave's invitation email
  let browser;         // dave's browser through signup
  let signupPage;      // the signup page as last shown to him
  let daveStep;        // the TOTP step of the code that completed his setup
  let daveSecret;
  let erinInvitation;  // the 201 body of erin's invitation
  let erinRepeatedAt;  // Date.now() of the repeated invitation
  let carolLink;       // the URL in carol's invitation email, sent before enforcement

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    ks = await Keystep.start({ conf: smtpConf(smtp.port) });
    await ks.addUser(ADMIN);
    config = await discover(ks, PUBLIC_CLIENT_ID);
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
    await enableTwoFactorOnProfile(ks, ADMIN);
    adminId = (await api.membersByEmail())[ADMIN.email].id;
  });

  after(async () => {
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('carol, invited before enforcement: her email says nothing of 2FA', async () => {
    const res = await api.request('POST', '/invitations', { email: CAROL.email });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { mail } = await onlyMailTo(smtp, CAROL.email, INVITATION_SUBJECT);
    carolLink = onlyLink(mail, `${ks.issuer}/signup\\?invitation=${TOKEN}`);
    assert.doesNotMatch(mail.text, /two-factor/);
  });

  it('the admin, with 2FA of their own, enforces it: alice gets the enforcement email, carol (invited) none', async () => {
    const res = await api.putSettings(ENFORCE);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.enforce_two_factor, true);
    await onlyMailTo(smtp, USER.email, ENFORCEMENT_SUBJECT);
    const audit = await api.auditEvents({ event: 'account.two_factor_enforced' });
    assert.deepEqual(audit.body.events.map((e) => e.detail), ['1 email queued']);
  });

  it('inviting dave: 201, a pending invitation for 7 days, audited', async () => {
    const before = now();
    const res = await api.request('POST', '/invitations', { email: DAVE.email, role: 'member' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    invitation = res.body;
    assert.ok(Number.isInteger(invitation.id) && invitation.id > 0);
    assert.deepEqual({ ...invitation, id: 0, created_at: 0, expires_at: 0 },
                     { id: 0, email: DAVE.email, role: 'member', status: 'pending', created_at: 0, expires_at: 0,
                       accepted_at: 0, revoked_at: 0, user_id: 0, invited_by: adminId });
    assert.ok(invitation.created_at >= before && invitation.created_at <= now());
    assert.equal(invitation.expires_at - invitation.created_at, 7 * 86400);
    const audit = await api.auditEvents({ event: 'member.invited' });
    assert.deepEqual(audit.body.events.map((e) => [e.user_id, e.detail]),
                     [[adminId, `${DAVE.email} as member`], [adminId, `${CAROL.email} as member`]], 'newest first');
  });

  it('one invitation email over SMTP to dave, with one signup link in its text and HTML', async () => {
    const { message, mail } = await onlyMailTo(smtp, DAVE.email, INVITATION_SUBJECT);
    signupLink = onlyLink(mail, `${ks.issuer}/signup\\?invitation=${TOKEN}`);
    assert.match(mail.text, /requires two-factor authentication/, 'the email says 2FA comes with signup');
    assert.match(mail.text, /expires in 7 days/);
    assert.equal(mail.attachments.length, 0);
    assert.doesNotMatch(message.raw.toString(), /otpauth/i);
    assert.deepEqual(await ks.sql(`SELECT subject FROM mail_outbox WHERE recipient = '${DAVE.email}'`),
                     [{ subject: INVITATION_SUBJECT }]);
  });

  it('an unknown invitation token: 404', async () => {
    const res = await new Browser().get(`${ks.issuer}/signup?invitation=${'A'.repeat(43)}`);
    assertErrorPage(res, 404, 'invalid_invitation');
  });

  it("the signup page: dave's email, 2FA required, the form and its double-submit cookie", async () => {
    browser = new Browser();
    signupPage = await browser.get(signupLink);
    assert.equal(signupPage.status, 200, signupPage.body);
    assert.match(signupPage.body, new RegExp(`<strong>${DAVE.email}</strong>`));
    assert.match(signupPage.body, /requires two-factor authentication/);
    const form = formByAction(signupPage.body, '/signup');
    assert.equal(form.attrs.method, 'post');
    const byName = Object.fromEntries(form.inputs.map((i) => [i.name, i]));
    assert.equal(byName.invitation.type, 'hidden');
    assert.equal(byName.invitation.value, signupLink.searchParams.get('invitation'));
    assert.equal(byName.password.autocomplete, 'new-password');
    assert.equal(byName.password_confirm.autocomplete, 'new-password');
    assert.equal(byName.email.value, DAVE.email);
    const cookie = browser.cookie('ks_signup');
    assert.ok(cookie, 'the ks_signup cookie');
    assert.equal(cookie.value, byName.csrf_token.value, 'double submit: the cookie is the csrf_token');
    assert.equal(cookie.path, '/signup');
    assert.equal(cookie.attrs.httponly, true);
    assert.equal(cookie.attrs.samesite, 'Lax');
  });

  it('a post without the cookie or with another csrf_token: 403, nothing created', async () => {
    const fields = { password: DAVE.password, password_confirm: DAVE.password };
    const stranger = new Browser();
    assertErrorPage(await submitForm(stranger, signupLink, signupPage, '/signup', fields), 403, 'invalid_csrf_token');
    assertErrorPage(await submitForm(browser, signupLink, signupPage, '/signup', { ...fields, csrf_token: 'x'.repeat(43) }),
                    403, 'invalid_csrf_token');
    assert.equal((await api.membersByEmail())[DAVE.email], undefined);
  });

  it('too short or differing passwords: 400 with the error on a fresh signup form, nothing created', async () => {
    // Each rendering of the form comes with a new csrf_token and cookie: a user agent submits
    // the form it was last shown.
    const short = await submitForm(browser, signupLink, signupPage, '/signup',
                                   { password: 'short', password_confirm: 'short' });
    assert.equal(short.status, 400);
    assert.match(alertText(short.body), /8 to 1024 characters/);

    const differ = await submitForm(browser, signupLink, short, '/signup',
                                    { password: DAVE.password, password_confirm: `${DAVE.password}!` });
    assert.equal(differ.status, 400);
    assert.match(alertText(differ.body), /two passwords differ/);
    assert.match(differ.body, new RegExp(`<strong>${DAVE.email}</strong>`));
    const form = formByAction(differ.body, '/signup');
    const csrf = form.inputs.find((i) => i.name === 'csrf_token').value;
    assert.equal(browser.cookie('ks_signup').value, csrf, 'the new form and cookie match');
    assert.equal(differ.location, null);
    assert.equal(browser.cookie('ks_session'), undefined);
    signupPage = differ;

    assert.equal((await api.membersByEmail())[DAVE.email], undefined, 'no dave among the members');
    const listed = (await api.request('GET', '/invitations')).body.invitations;
    assert.equal(listed.find((i) => i.id === invitation.id).status, 'pending');
  });

  it('his password creates dave and leads to the forced setup step, which cannot be skipped', async () => {
    const res = await submitForm(browser, signupLink, signupPage, '/signup',
                                 { password: DAVE.password, password_confirm: DAVE.password });
    assert.equal(res.status, 302, res.body);
    assert.equal(pathOf(res.location), `${ks.issuer}/login/second-factor`);
    assert.equal(browser.cookie('ks_signup'), undefined, 'the signup cookie is cleared');
    assert.equal(browser.cookie('ks_session'), undefined, 'not signed in before the second factor');

    const member = (await api.membersByEmail())[DAVE.email];
    assert.ok(member, 'dave is a member');
    assert.equal(member.role, 'member');
    assert.equal(member.has_second_factor, false);

    const page = await browser.get(res.location);
    const step = await readSetupStep(page);
    assert.equal(step.shownSecret, step.secret, 'the secret key shown is the QR code\'s');
    assert.ok(step.qrUri.startsWith(`otpauth://totp/${encodeURIComponent(ISSUER_LABEL)}:${encodeURIComponent(DAVE.email)}?`));
    await assertSetupCannotBeSkipped(browser, ks, res.location, page, step.secret);
    assert.equal((await api.membersByEmail())[DAVE.email].has_second_factor, false, 'nothing was registered');

    const at = now();
    const ok = await submitForm(browser, res.location, page, '/login/second-factor',
                                { code: await totpCode(step.secret, at) });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(ok.location.href, `${ks.issuer}/profile`);
    assert.ok(browser.cookie('ks_session'), 'the setup step signs him in');
    daveStep = totpStep(at);
    daveSecret = step.secret;

    const profile = await browser.get(ok.location);
    assert.equal(profile.status, 200);
    assert.ok(profile.body.includes(DAVE.email));
  });

  it('dave has a second factor enrolled for the account; his signup is audited', async () => {
    const member = (await api.membersByEmail())[DAVE.email];
    assert.equal(member.has_second_factor, true);
    assert.equal(member.two_factor_enabled, false, 'his own setting stays off');
    assert.equal(member.challenged, true);
    for (const event of ['member.signed_up', 'mfa.enrolled_for_account']) {
      const audit = await api.auditEvents({ event, user: member.id });
      assert.equal(audit.body.events.length, 1, event);
    }
  });

  it('the signup link again: 410', async () => {
    const again = new Browser();
    assertErrorPage(await again.get(signupLink), 410, 'invitation_used');
    assert.equal(again.cookie('ks_signup'), undefined);
  });

  it('the invitation lists as accepted; inviting dave again: 409 already_member', async () => {
    const members = await api.membersByEmail();
    const listed = await api.request('GET', '/invitations');
    assert.equal(listed.status, 200);
    const dave = listed.body.invitations.find((i) => i.id === invitation.id);
    assert.equal(dave.status, 'accepted');
    assert.ok(dave.accepted_at >= invitation.created_at);
    assert.equal(dave.user_id, members[DAVE.email].id);

    for (const email of [DAVE.email, DAVE.email.toUpperCase()]) {
      const res = await api.request('POST', '/invitations', { email, role: 'member' });
      assert.equal(res.status, 409, email);
      assert.equal(res.body.error, 'already_member');
    }
  });

  it('inviting erin twice while pending: 201, then 200 with the same invitation', async () => {
    const first = await api.request('POST', '/invitations', { email: ERIN.email });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.role, 'member', 'member by default');
    erinInvitation = first.body;
    await onlyMailTo(smtp, ERIN.email, INVITATION_SUBJECT);

    const again = await api.request('POST', '/invitations', { email: ERIN.email, role: 'member' });
    erinRepeatedAt = Date.now();
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, erinInvitation);
    const asAdmin = await api.request('POST', '/invitations', { email: ERIN.email, role: 'admin' });
    assert.equal(asAdmin.status, 409);
    assert.equal(asAdmin.body.error, 'invitation_pending');
  });

  it("dave's OIDC sign-in: password, the TOTP challenge (not the setup), acr 2fa, amr otp+mfa", async () => {
    const rp = new Browser();
    const { callback, checks } = await signInWithPassword(rp, config, ks, DAVE);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const replayed = await submitSecondFactor(rp, callback, await totpCode(daveSecret, daveStep * 30));
    assert.equal(replayed.response.status, 401, 'the code that completed the setup is spent');
    assert.equal(replayed.response.location, null);

    await waitForStepAfter(daveStep);  // the app shows the next code
    const { page, response } = await submitSecondFactor(rp, callback, await totpCode(daveSecret));
    assert.match(page.body, /<h1>Two-factor authentication<\/h1>/);
    assert.doesNotMatch(page.body, SETUP_HEADING);
    assert.doesNotMatch(page.body, /class="qr"/);
    assert.equal(response.status, 302, response.body);
    assert.equal(pathOf(response.location), ks.redirectUri);

    const tokens = await client.authorizationCodeGrant(config, response.location, checks);
    const claims = tokens.claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.email, DAVE.email);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, DAVE.email);
  });

  it('erin got one email for both requests; revoked, her link answers 410', async () => {
    await sleep(Math.max(0, erinRepeatedAt + 3000 - Date.now()));
    const messages = await smtp.messagesTo(ERIN.email);
    assert.equal(messages.length, 1, 'no second email');
    assert.equal((await ks.sql(`SELECT id FROM mail_outbox WHERE recipient = '${ERIN.email}'`)).length, 1);
    assert.equal((await smtp.messages({ notices: false })).length, 4, 'carol, alice, dave and erin: one email each');
    const link = onlyLink(await readMail(messages[0], ERIN.email, INVITATION_SUBJECT),
                          `${ks.issuer}/signup\\?invitation=${TOKEN}`);
    assert.notEqual(link.href, signupLink.href);

    const revoked = await api.request('DELETE', `/invitations/${erinInvitation.id}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((await api.request('DELETE', `/invitations/${erinInvitation.id}`)).status, 404);
    const listed = (await api.request('GET', '/invitations')).body.invitations;
    assert.equal(listed.find((i) => i.id === erinInvitation.id).status, 'revoked');
    assertErrorPage(await new Browser().get(link), 410, 'invitation_expired');
  });

  it('carol, invited before enforcement, signs up after it: the setup step all the same', async () => {
    const { browser, page, response } = await signUp(carolLink, CAROL.password);
    assert.match(page.body, /requires two-factor authentication/, 'the page says what the email could not');
    assert.equal(response.status, 302, response.body);
    assert.equal(pathOf(response.location), `${ks.issuer}/login/second-factor`);
    const setup = await browser.get(response.location);
    const { secret } = await readSetupStep(setup);
    const ok = await submitForm(browser, response.location, setup, '/login/second-factor',
                                { code: await totpCode(secret) });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(ok.location.href, `${ks.issuer}/profile`);
    assert.equal((await api.membersByEmail())[CAROL.email].has_second_factor, true);
  });
});

describe('link mode: the enforcement email carries a single-use enrollment link, no secret', { timeout: 90000 }, () => {
  let ks;
  let smtp;
  let api;
  let bobId;
  const links = {};  // the /enroll link of each member's email

  before(async () => {
    smtp = await SmtpServer.create();
    await smtp.listen();
    ks = await Keystep.start({ conf: smtpConf(smtp.port) });
    for (const user of [ADMIN, BOB]) await ks.addUser(user);
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
    await enableTwoFactorOnProfile(ks, ADMIN);
    bobId = (await api.membersByEmail())[BOB.email].id;
  });

  after(async () => {
    const exit = await ks?.shutdown();
    await smtp?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const credentialsOf = (userId) => ks.sql(
      `SELECT confirmed FROM mfa_credentials WHERE user_id = ${userId} AND provider_id = 'totp'`);
  const linkRows = () => ks.sql(
      'SELECT u.email, l.created_at, l.expires_at, l.used_at FROM enrollment_links l JOIN users u ON u.id = l.user_id ORDER BY u.email');

  it('frank, invited while nothing is enforced, signs up straight to his profile', async () => {
    const res = await api.request('POST', '/invitations', { email: FRANK.email });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { mail } = await onlyMailTo(smtp, FRANK.email, INVITATION_SUBJECT);
    const { browser, page, response } = await signUp(onlyLink(mail, `${ks.issuer}/signup\\?invitation=${TOKEN}`),
                                                     FRANK.password);
    assert.doesNotMatch(page.body, /two-factor/);
    assert.equal(response.status, 302, response.body);
    assert.equal(response.location.href, `${ks.issuer}/profile`);
    assert.ok(browser.cookie('ks_session'), 'signed in');
    const profile = await browser.get(response.location);
    assert.equal(profile.status, 200);
    assert.ok(profile.body.includes(FRANK.email));
    assert.equal((await api.membersByEmail())[FRANK.email].has_second_factor, false);
  });

  it('without confirm: 428 saying an enrollment link is emailed; nothing changes', async () => {
    const res = await api.putSettings({ enforce_two_factor: true, enrollment_email: 'link' });
    assert.equal(res.status, 428);
    assert.equal(res.body.summary.enrollment_email, 'link');
    assert.equal(res.body.summary.emails_to_send, 3);
    assert.match(res.body.summary.effect, /single-use enrollment link/);
    const settings = (await api.settings()).body;
    assert.equal(settings.enforce_two_factor, false);
    assert.equal(settings.enrollment_email, 'qr_code');
  });

  it('with confirm: 200, enforced in link mode', async () => {
    const res = await api.putSettings({ ...ENFORCE, enrollment_email: 'link' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const settings = (await api.settings()).body;
    assert.equal(settings.enforce_two_factor, true);
    assert.equal(settings.enrollment_email, 'link');
    assert.ok(settings.allowed_providers.includes('totp'));
    assert.ok(settings.available_providers.includes('totp'));
  });

  it('each member without 2FA gets one email with one /enroll link and no QR code or secret', async () => {
    await smtp.waitForMessages(4, { notices: false });  // frank's invitation, then the three enforcement emails
    const messages = (await smtp.messages({ notices: false })).slice(1);
    assert.equal(messages.length, 3);
    assert.deepEqual(messages.map((m) => m.envelope.rcpt_tos[0]).sort(), [USER.email, BOB.email, FRANK.email]);
    for (const m of messages) {
      const recipient = m.envelope.rcpt_tos[0];
      const mail = await readMail(m, recipient, ENFORCEMENT_SUBJECT);
      const link = onlyLink(mail, `${ks.issuer}/enroll\\?token=${TOKEN}`);
      links[recipient] = link;
      assert.equal(mail.attachments.length, 0, 'no attachment');
      assert.doesNotMatch(m.raw.toString(), /otpauth|image\/png|<img\b/i);
      for (const part of [mail.text, mail.html]) {
        const rest = part.replaceAll(link.href, '');
        assert.doesNotMatch(rest, /\b[A-Z2-7]{4}(?: [A-Z2-7]{4}){3,}\b/, 'no grouped secret key');
        assert.doesNotMatch(rest, /\b[A-Z2-7]{16,}\b/, 'no base32 secret');
        assert.doesNotMatch(rest, /secret/i);
      }
      assert.match(mail.text, /works once and expires in 72 hours/);
    }
    assert.deepEqual(await credentialsOf(bobId), [], 'no secret exists yet');
    const rows = await linkRows();
    assert.deepEqual(rows.map((r) => [r.email, r.expires_at - r.created_at, r.used_at]),
                     [[USER.email, 72 * 3600, 0], [BOB.email, 72 * 3600, 0], [FRANK.email, 72 * 3600, 0]]);
  });

  it('an unknown enrollment token: 404', async () => {
    assertErrorPage(await new Browser().get(`${ks.issuer}/enroll?token=${'A'.repeat(43)}`), 404, 'invalid_link');
  });

  it("bob follows his link: the sign-in page with his email; a wrong password uses nothing up", async () => {
    const browser = new Browser();
    const opened = await browser.get(links[BOB.email]);
    assert.equal(opened.status, 302, opened.body);
    assert.equal(pathOf(opened.location), `${ks.issuer}/login`);
    const login = await browser.get(opened.location);
    assert.equal(login.status, 200);
    const { byName } = readLoginForm(login.body);
    assert.equal(byName.email.value, BOB.email, 'his email is prefilled');
    assert.deepEqual(await credentialsOf(bobId), [], 'no secret before his password');

    const wrong = await submitForm(browser, opened.location, login, '/login',
                                   { email: BOB.email, password: 'not his password' });
    assert.equal(wrong.status, 401);
    assert.equal((await linkRows()).find((r) => r.email === BOB.email).used_at, 0, 'still unused');
    assert.deepEqual(await credentialsOf(bobId), []);

    // His password uses the link up; only now is a secret created, and shown once.
    const signedIn = await submitForm(browser, opened.location, login, '/login',
                                      { email: BOB.email, password: BOB.password });
    assert.equal(signedIn.status, 302, signedIn.body);
    assert.equal(pathOf(signedIn.location), `${ks.issuer}/login/second-factor`);
    assert.ok((await linkRows()).find((r) => r.email === BOB.email).used_at > 0, 'the link is used');
    const page = await browser.get(signedIn.location);
    const step = await readSetupStep(page);
    assert.deepEqual(await credentialsOf(bobId), [{ confirmed: 0 }], 'a pending secret, created now');
    assert.equal(step.shownSecret, step.secret);

    const ok = await submitForm(browser, signedIn.location, page, '/login/second-factor',
                                { code: await totpCode(step.secret) });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(ok.location.href, `${ks.issuer}/profile`);
    const profile = await browser.get(ok.location);
    assert.equal(profile.status, 200);
    assert.ok(profile.body.includes(BOB.email));
    assert.deepEqual(await credentialsOf(bobId), [{ confirmed: 1 }]);
    assert.equal((await api.membersByEmail())[BOB.email].has_second_factor, true);
  });

  it('the link again: 410 already used; alice\'s link stays unused', async () => {
    const res = await new Browser().get(links[BOB.email]);
    assertErrorPage(res, 410, 'link_used');
    assert.match(alertText(res.body), /already used/);
    assert.equal((await linkRows()).find((r) => r.email === USER.email).used_at, 0);
  });

  it('the audit log: mfa.enrollment_link_used once, for bob; then his enrollment', async () => {
    const used = await api.auditEvents({ event: 'mfa.enrollment_link_used' });
    assert.deepEqual(used.body.events.map((e) => e.user_id), [bobId]);
    const enrolled = await api.auditEvents({ event: 'mfa.enrolled_for_account', user: bobId });
    assert.equal(enrolled.body.events.length, 1);
    assert.ok(enrolled.body.events[0].id > used.body.events[0].id, 'enrolled after the link was used');
  });
});
