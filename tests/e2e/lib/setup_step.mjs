// The forced setup step: /login/second-factor when the account enforces two-factor
// authentication and the member has no second factor yet. What the member's authenticator app
// reads from it, and the ways around it that must all fail.

import assert from 'node:assert/strict';

import { otherCode, readQrDataUri, totpCode } from './authenticator.mjs';
import { alertText, formByAction, pathOf, submitForm } from './browser.mjs';

export const SETUP_HEADING = /<h1>Set up two-factor authentication<\/h1>/;

// Asserts `page` is the setup step (its heading, a form posting method=setup, no recovery-code
// way around it, a QR code) and returns { qrUri (read by zbarimg), secret (the QR code's),
// shownSecret (the page's secret key without spaces) }.
export async function readSetupStep(page) {
  assert.equal(page.status, 200, page.body);
  assert.match(page.body, SETUP_HEADING);
  const form = formByAction(page.body, '/login/second-factor');
  assert.ok(form.inputs.some((i) => i.type === 'hidden' && i.name === 'method' && i.value === 'setup'));
  assert.doesNotMatch(page.body, /method=recovery_code/, 'no recovery-code way around it');
  const img = page.body.match(/<img\b[^>]*class="qr"[^>]*src="(data:image\/png;base64,[^"]+)"/);
  assert.ok(img, 'the step shows a QR code');
  const qrUri = await readQrDataUri(img[1]);
  const shown = page.body.match(/<p class="secret" id="secret-key">([A-Z2-7 ]+)<\/p>/);
  assert.ok(shown, 'the step shows the secret key');
  return { qrUri, secret: new URL(qrUri).searchParams.get('secret'), shownSecret: shown[1].replaceAll(' ', '') };
}

// Tries the ways past the setup step at `url` (its page `page`, shown to `browser`) with the
// member's `secret`, and asserts each answers 401 or leads back to the step, without a redirect
// and without a session: no code, a wrong code, the right code posted as method=totp (an
// authenticator the member has not registered), a recovery code, ?method=totp, /login.
// Spends no code: the caller can complete the step with the current one afterwards.
export async function assertSetupCannotBeSkipped(browser, ks, url, page, secret) {
  const flow = url.searchParams.get('flow');
  const refused = (res, what) => {
    assert.equal(res.status, 401, `${what}: ${res.body}`);
    assert.equal(res.location, null, `${what}: no redirect`);
    assert.equal(browser.cookie('ks_session'), undefined, `${what}: no session`);
  };

  const empty = await submitForm(browser, url, page, '/login/second-factor', { code: '' });
  refused(empty, 'Continue without a code');
  assert.match(alertText(empty.body), /not valid/);
  assert.match(empty.body, SETUP_HEADING);

  const code = await totpCode(secret);
  refused(await submitForm(browser, url, page, '/login/second-factor', { code: otherCode(code) }),
          'a wrong code');
  refused(await submitForm(browser, url, page, '/login/second-factor', { method: 'totp', code }),
          'the code posted as method=totp');
  refused(await submitForm(browser, url, page, '/login/second-factor',
                           { method: 'recovery_code', code: 'ABCDE-FGHJK' }),
          'a recovery code');

  const totpPage = await browser.get(`${ks.issuer}/login/second-factor?flow=${flow}&method=totp`);
  assert.equal(totpPage.status, 200);
  assert.match(totpPage.body, SETUP_HEADING, '?method=totp shows the setup step');
  const loginAgain = await browser.get(`${ks.issuer}/login?flow=${flow}`);
  assert.equal(loginAgain.status, 302);
  assert.equal(pathOf(loginAgain.location), `${ks.issuer}/login/second-factor`, '/login leads back to it');
  assert.equal(browser.cookie('ks_session'), undefined);
}
