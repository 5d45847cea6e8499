// Two-factor authentication end to end: the user turns it on from the profile by scanning the
// QR code (read by zbarimg) and typing a code (computed by oathtool), then signs in to a
// relying party (openid-client) with password and code, a recovery code, step-up, and turns it
// off again. The TOTP steps are real time: one wait for the next 30-second step.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { readQrDataUri, totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { alertText, Browser, formByAction, signIn, submitForm, submitSecondFactor } from './lib/browser.mjs';
import { ACR_MFA, ACR_PASSWORD, ISSUER_LABEL, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

const PASSWORD_ONLY_USER = { email: 'bob@example.com', password: 'bob staple battery' };
const now = () => Math.floor(Date.now() / 1000);

// The state of the profile's Two-Factor Authentication switch: true, false, or undefined.
function switchState(html) {
  const m = html.match(/<[a-z]+\b[^>]*role="switch"[^>]*aria-checked="(true|false)"[^>]*aria-label="Two-Factor Authentication"/);
  return m ? m[1] === 'true' : undefined;
}

function pathOf(url) {
  return url.origin + url.pathname;
}

describe('two-factor authentication', { timeout: 120000 }, () => {
  let ks;
  let config;
  const profile = new Browser();  // the user's browser, signed in to the profile
  let profileUrl;
  let secret;                      // base32, no spaces
  let enabledStep;                 // the TOTP step whose code turned 2FA on
  let recoveryCodes;
  let acceptedCode;                // the TOTP code that completed the first OIDC sign-in
  let rp;                          // the browser of the first OIDC sign-in, and its session
  let rpClaims;

  before(async () => {
    ks = await Keystep.start();
    await ks.addUser(PASSWORD_ONLY_USER);
    config = await discover(ks, PUBLIC_CLIENT_ID);
    profileUrl = new URL('/profile', ks.issuer);
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // Starts an OIDC sign-in in `browser` and submits the password; returns the checks, the
  // response to the password form and when it was sent.
  async function passwordStep(browser, user = USER, extra = {}) {
    const auth = await startAuthorization(config, ks, extra);
    const passwordAt = now();
    const result = await signIn(browser, auth.url, user);
    return { ...result, checks: auth.checks, passwordAt };
  }

  it('/profile without a session sends the browser to sign in, then back to /profile', async () => {
    const first = await profile.get(profileUrl);
    assert.equal(first.status, 302);
    assert.equal(pathOf(first.location), `${ks.issuer}/login`);
    assert.ok(first.location.searchParams.get('flow'));
    assert.ok(first.setCookies.find((c) => c.name === 'ks_flow')?.value, 'the redirect sets ks_flow');

    const { loginPage, loginResponse, callback } = await signIn(profile, profileUrl, USER);
    assert.match(loginPage.body, /your Keystep profile/);
    assert.equal(loginResponse.status, 302);
    assert.equal(callback.href, profileUrl.href);
    assert.ok(loginResponse.setCookies.find((c) => c.name === 'ks_session')?.value, 'sign-in sets ks_session');
  });

  it('the profile shows Two-Factor Authentication off, with a CSRF-protected toggle form', async () => {
    const page = await profile.get(profileUrl);
    assert.equal(page.status, 200);
    assert.match(page.body, /Two-Factor Authentication/);
    assert.equal(switchState(page.body), false);
    const form = formByAction(page.body, '/profile/two-factor');
    assert.equal(form.attrs.method, 'post');
    const hidden = Object.fromEntries(form.inputs.filter((i) => i.type === 'hidden').map((i) => [i.name, i.value]));
    assert.ok(hidden.csrf_token?.length >= 16, 'the form carries a csrf_token');
    assert.equal(hidden.action, 'enable');
  });

  it('toggling on shows a QR code that zbarimg reads as the otpauth URI of the secret shown as text', async () => {
    const page = await profile.get(profileUrl);
    const toggled = await submitForm(profile, profileUrl, page, '/profile/two-factor');
    assert.equal(toggled.status, 302, toggled.body);
    assert.equal(pathOf(toggled.location), `${ks.issuer}/profile/two-factor/enable`);

    const enable = await profile.get(toggled.location);
    assert.equal(enable.status, 200);
    assert.match(enable.body, /<title>Enable Two-Factor Authentication\b/);
    assert.match(enable.body, /<h1>Enable Two-Factor Authentication<\/h1>/);
    const img = enable.body.match(/<img\b[^>]*class="qr"[^>]*src="(data:image\/png;base64,[^"]+)"/);
    assert.ok(img, 'the page shows the QR code as a PNG data URI');
    const shown = enable.body.match(/<p class="secret" id="secret-key">([A-Z2-7 ]+)<\/p>/);
    assert.ok(shown, 'the page shows the secret key as text');
    assert.match(shown[1], /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, 'the secret is shown in groups of four');
    secret = shown[1].replaceAll(' ', '');
    assert.equal(secret.length, 32, '160-bit secret');

    const uri = await readQrDataUri(img[1]);
    const label = encodeURIComponent(ISSUER_LABEL);
    assert.equal(uri, `otpauth://totp/${label}:${encodeURIComponent(USER.email)}?secret=${secret}` +
                      `&issuer=${label}&algorithm=SHA1&digits=6&period=30`);
    assert.equal(uri, `otpauth://totp/Acme%20Inc:alice%40example.com?secret=${secret}` +
                      '&issuer=Acme%20Inc&algorithm=SHA1&digits=6&period=30');
    assert.equal(new URL(uri).searchParams.get('secret'), secret);
  });

  it('a wrong code enables nothing', async () => {
    const url = new URL('/profile/two-factor/enable', ks.issuer);
    const page = await profile.get(url);
    const right = await totpCode(secret);
    const wrong = String((Number(right) + 1) % 1000000).padStart(6, '0');
    const res = await submitForm(profile, url, page, '/profile/two-factor/enable', { code: wrong });
    assert.equal(res.status, 401);
    assert.match(alertText(res.body), /not valid/);
    assert.match(res.body, /id="secret-key"/, 'the enable page is shown again');
    assert.equal(switchState((await profile.get(profileUrl)).body), false, 'the profile still says off');
  });

  it("oathtool's current code turns it on and shows 10 recovery codes", async () => {
    const url = new URL('/profile/two-factor/enable', ks.issuer);
    const page = await profile.get(url);
    const at = now();
    enabledStep = totpStep(at);
    const res = await submitForm(profile, url, page, '/profile/two-factor/enable', { code: await totpCode(secret, at) });
    assert.equal(res.status, 200, res.body);
    recoveryCodes = [...res.body.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]);
    assert.equal(recoveryCodes.length, 10);
    for (const code of recoveryCodes) assert.match(code, /^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$/);
    assert.equal(new Set(recoveryCodes).size, 10);

    const after = await profile.get(profileUrl);
    assert.equal(switchState(after.body), true, 'the profile says on');
    assert.match(after.body, /10 unused/);
  });

  it('an OIDC sign-in asks for the password, then a code; the id_token says pwd+otp+mfa', async () => {
    rp = new Browser();
    const { callback, checks, passwordAt } = await passwordStep(rp);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const flow = callback.searchParams.get('flow');
    assert.ok(flow);

    const page = await rp.get(callback);
    assert.equal(page.status, 200);
    const form = formByAction(page.body, '/login/second-factor');
    const visible = form.inputs.filter((i) => i.type !== 'hidden');
    assert.equal(visible.length, 1, 'one input for the code');
    assert.equal(visible[0].name, 'code');
    assert.equal(visible[0].autocomplete, 'one-time-code');
    assert.equal(visible[0].inputmode, 'numeric');
    assert.ok(form.inputs.some((i) => i.type === 'hidden' && i.name === 'csrf_token' && i.value));
    assert.ok(form.inputs.some((i) => i.type === 'hidden' && i.name === 'flow' && i.value === flow));
    assert.match(page.body, /Use another method/);
    assert.match(page.body, new RegExp(`<a[^>]*href="/login/second-factor\\?flow=${flow}&amp;method=recovery_code"[^>]*>Recovery code</a>`));

    const current = await totpCode(secret);
    const wrong = String((Number(current) + 500000) % 1000000).padStart(6, '0');
    const refused = await submitForm(rp, callback, page, '/login/second-factor', { code: wrong });
    assert.equal(refused.status, 401);
    assert.equal(refused.location, null);
    assert.match(alertText(refused.body), /not valid/);
    assert.equal(rp.cookie('ks_session'), undefined, 'no session after a wrong code');

    // The code that turned 2FA on is spent: a real user waits for the app's next code.
    const secondAt = await waitForStepAfter(enabledStep);
    acceptedCode = await totpCode(secret);
    const ok = await submitForm(rp, callback, refused, '/login/second-factor', { code: acceptedCode });
    assert.equal(ok.status, 302, ok.body);
    assert.equal(pathOf(ok.location), ks.redirectUri);
    assert.ok(rp.cookie('ks_session'), 'the second step creates the session');

    const tokens = await client.authorizationCodeGrant(config, ok.location, checks);
    rpClaims = tokens.claims();
    assert.deepEqual(rpClaims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(rpClaims.acr, ACR_MFA);
    assert.ok(Math.abs(rpClaims.auth_time - secondAt) <= 5,
              `auth_time ${rpClaims.auth_time} is the time of the second step ${secondAt}`);
    assert.ok(rpClaims.auth_time >= passwordAt);
    assert.equal(rpClaims.email, USER.email);
  });

  it('the accepted code is refused as already used in a fresh sign-in', async () => {
    const browser = new Browser();
    const { callback } = await passwordStep(browser);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const { response } = await submitSecondFactor(browser, callback, acceptedCode);
    assert.equal(response.status, 401);
    assert.equal(response.location, null);
    assert.match(alertText(response.body), /already used/);
    assert.equal(browser.cookie('ks_session'), undefined);
  });

  it('a recovery code replaces the app code once', async () => {
    const signInWithRecovery = async (code) => {
      const browser = new Browser();
      const { callback, checks } = await passwordStep(browser);
      assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
      const recoveryUrl = new URL(callback);
      recoveryUrl.searchParams.set('method', 'recovery_code');
      const { page, response } = await submitSecondFactor(browser, recoveryUrl, code);
      assert.match(page.body, /<h1>Enter a recovery code<\/h1>/);
      assert.ok(formByAction(page.body, '/login/second-factor').inputs.some(
        (i) => i.name === 'method' && i.value === 'recovery_code'));
      return { response, checks };
    };

    const first = await signInWithRecovery(recoveryCodes[0]);
    assert.equal(first.response.status, 302, first.response.body);
    assert.equal(pathOf(first.response.location), ks.redirectUri);
    const claims = (await client.authorizationCodeGrant(config, first.response.location, first.checks)).claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.ok(claims.amr.includes('pwd') && claims.amr.includes('mfa'), `amr ${claims.amr}`);

    const again = await signInWithRecovery(recoveryCodes[0]);
    assert.equal(again.response.status, 401);
    assert.match(alertText(again.response.body), /already used/);
  });

  it('a password-only user gets acr 1fa and amr [pwd], even when the RP asks for 2fa', async () => {
    for (const extra of [{}, { acr_values: ACR_MFA }]) {
      const { callback, checks } = await passwordStep(new Browser(), PASSWORD_ONLY_USER, extra);
      assert.equal(pathOf(callback), ks.redirectUri, `no second step (${JSON.stringify(extra)})`);
      const claims = (await client.authorizationCodeGrant(config, callback, checks)).claims();
      assert.equal(claims.acr, ACR_PASSWORD);
      assert.deepEqual(claims.amr, ['pwd']);
    }
  });

  it('step-up: a fresh 2FA session satisfies acr_values=2fa; max_age=0 and prompt=login ask again', async () => {
    const fresh = await startAuthorization(config, ks, { acr_values: ACR_MFA });
    const answered = await rp.get(fresh.url);
    assert.equal(answered.status, 302);
    assert.equal(pathOf(answered.location), ks.redirectUri, 'no page while both factors are fresh');
    const freshClaims = (await client.authorizationCodeGrant(config, answered.location, fresh.checks)).claims();
    assert.equal(freshClaims.acr, ACR_MFA);
    assert.equal(freshClaims.sid, rpClaims.sid);
    assert.equal(freshClaims.auth_time, rpClaims.auth_time);

    const relogin = await startAuthorization(config, ks, { prompt: 'login' });
    const reloginAnswer = await rp.get(relogin.url);
    assert.equal(reloginAnswer.status, 302);
    assert.equal(pathOf(reloginAnswer.location), `${ks.issuer}/login`, 'prompt=login asks for the password');

    // max_age=0: both factors are too old, so the password page comes first, then the code.
    // (A second has passed since the sign-in; the same-second case is the next test.)
    while (now() <= rpClaims.auth_time) await new Promise((r) => setTimeout(r, 100));
    const { authorizeResponse, callback, checks } = await passwordStep(rp, USER, { acr_values: ACR_MFA, max_age: '0' });
    assert.equal(pathOf(authorizeResponse.location), `${ks.issuer}/login`);
    assert.equal(pathOf(callback), `${ks.issuer}/login/second-factor`);
    const recoveryUrl = new URL(callback);
    recoveryUrl.searchParams.set('method', 'recovery_code');
    const secondAt = now();
    const { response } = await submitSecondFactor(rp, recoveryUrl, recoveryCodes[1]);
    assert.equal(response.status, 302, response.body);
    const claims = (await client.authorizationCodeGrant(config, response.location, checks)).claims();
    assert.equal(claims.acr, ACR_MFA);
    assert.equal(claims.sid, rpClaims.sid, 'step-up keeps the session');
    assert.ok(Math.abs(claims.auth_time - secondAt) <= 5);
  });

  it('max_age=0 asks again even within the second of the last sign-in', async () => {
    // OIDC Core 1.0 §3.1.2.1 (errata set 2; OIDC WG issue #993): max_age=0 is equivalent to
    // prompt=login. Start at the beginning of a second so the sign-in and the next request fall
    // within it: an "elapsed > max_age" check with whole seconds sees 0 > 0 and issues a code.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const browser = new Browser();
    const { callback } = await passwordStep(browser, PASSWORD_ONLY_USER);
    assert.equal(pathOf(callback), ks.redirectUri);
    const auth = await startAuthorization(config, ks, { max_age: '0' });
    const res = await browser.get(auth.url);
    assert.equal(res.status, 302);
    assert.equal(pathOf(res.location), `${ks.issuer}/login`,
                 'GET /authorize?max_age=0 right after sign-in must show the login page, not issue a code');
  });

  it('turning it off needs the password; afterwards a sign-in asks only for the password', async () => {
    const page = await profile.get(profileUrl);
    const form = formByAction(page.body, '/profile/two-factor');
    assert.ok(form.inputs.some((i) => i.type === 'hidden' && i.name === 'action' && i.value === 'disable'));
    assert.ok(form.inputs.some((i) => i.name === 'password' && i.autocomplete === 'current-password'));

    const wrong = await submitForm(profile, profileUrl, page, '/profile/two-factor', { password: 'wrong horse battery' });
    assert.equal(wrong.status, 401);
    assert.ok(alertText(wrong.body));
    assert.equal(switchState(wrong.body), true);
    assert.equal(switchState((await profile.get(profileUrl)).body), true, 'still on');

    const off = await submitForm(profile, profileUrl, wrong, '/profile/two-factor', { password: USER.password });
    assert.equal(off.status, 200, off.body);
    assert.match(off.body, /Two-factor authentication is off\./);
    assert.equal(switchState((await profile.get(profileUrl)).body), false);

    const { callback, checks } = await passwordStep(new Browser());
    assert.equal(pathOf(callback), ks.redirectUri, 'no second step');
    const claims = (await client.authorizationCodeGrant(config, callback, checks)).claims();
    assert.equal(claims.acr, ACR_PASSWORD);
    assert.deepEqual(claims.amr, ['pwd']);
  });
});
