// A user turning on two-factor authentication from their profile, the way two_factor.test.mjs
// checks it step by step: sign in to /profile, toggle, read the secret key, confirm with
// oathtool's current code. For tests that need a user with 2FA as their starting point.

import { totpCode, totpStep } from './authenticator.mjs';
import { Browser, signIn, submitForm } from './browser.mjs';

// Signs `user` in to /profile in a new browser and toggles Two-Factor Authentication on, which
// leaves a pending enrollment. Returns { browser, secret (base32), enableUrl, enablePage }.
// Throws showing the page when a step answers unexpectedly.
export async function startTwoFactorOnProfile(ks, user) {
  const browser = new Browser();
  const profileUrl = new URL('/profile', ks.issuer);
  const { callback } = await signIn(browser, profileUrl, user);
  if (callback.href !== profileUrl.href) throw new Error(`signing in to /profile led to ${callback}`);

  return { browser, ...(await toggleOnAndReadSecret(browser, profileUrl)) };
}

// On a signed-in browser: selects the Two-Factor Authentication switch of the profile and
// reads the secret key the enable page shows. Throws showing the page when a step answers
// unexpectedly.
export async function toggleOnAndReadSecret(browser, profileUrl) {
  const profile = await browser.get(profileUrl);
  const toggled = await submitForm(browser, profileUrl, profile, '/profile/two-factor');
  if (toggled.status !== 302) throw new Error(`the toggle answered ${toggled.status}:\n${toggled.body}`);
  const enablePage = await browser.get(toggled.location);
  const shown = enablePage.body.match(/<p class="secret" id="secret-key">([A-Z2-7 ]+)<\/p>/);
  if (!shown) throw new Error(`no secret key on the enable page:\n${enablePage.body}`);
  return { secret: shown[1].replaceAll(' ', ''), enableUrl: toggled.location, enablePage };
}

// startTwoFactorOnProfile(), then confirms with the current code. Returns { browser (signed in
// to the profile), secret, step (the TOTP step of the code that turned it on: that code is
// spent), recoveryCodes }.
export async function enableTwoFactorOnProfile(ks, user) {
  const { browser, secret, enableUrl, enablePage } = await startTwoFactorOnProfile(ks, user);
  const at = Math.floor(Date.now() / 1000);
  const res = await submitForm(browser, enableUrl, enablePage, '/profile/two-factor/enable',
                               { code: await totpCode(secret, at) });
  if (res.status !== 200) throw new Error(`enabling answered ${res.status}:\n${res.body}`);
  const recoveryCodes = [...res.body.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]);
  return { browser, secret, step: totpStep(at), recoveryCodes };
}
