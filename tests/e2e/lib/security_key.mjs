// Security keys in Debian's chromium: the DevTools WebAuthn virtual authenticator stands in
// for the key, and the helpers walk Keystep's pages with it the way a member does (the
// profile's Add, the second step's button). Used by the webauthn*.test.mjs suites and the
// a11y walk.

import assert from 'node:assert/strict';

import { AdminApi } from './admin_api.mjs';
import { launchChromium, serveRpCallback } from './chromium.mjs';
import { Keystep, PUBLIC_CLIENT_ID } from './keystep.mjs';
import { discover } from './rp.mjs';
import { SmtpServer, smtpConf } from './smtp.mjs';

// A USB security key with a PIN, as Chromium's virtual authenticator plays it.
export const KEY = { protocol: 'ctap2', transport: 'usb', hasResidentKey: false,
                     hasUserVerification: true, isUserVerified: true,
                     automaticPresenceSimulation: true };
// An old U2F (CTAP1) key: no PIN, no model (its AAGUID is zero).
export const U2F = { protocol: 'u2f', transport: 'usb', hasResidentKey: false,
                     hasUserVerification: false, isUserVerified: false };

// A credential id as the server stores and the options carry it (base64url), from the
// virtual authenticator's export (base64).
export const idOf = (credential) => Buffer.from(credential.credentialId, 'base64').toString('base64url');

// A virtual authenticator (`options` over KEY) in the page of `cdp` holding `credentials`.
export async function addAuthenticator(cdp, options = KEY, credentials = []) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator',
                                              { options: { ...KEY, ...options } });
  for (const c of credentials)
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: c });
  return {
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    overrideBits(bits) {
      return cdp.send('WebAuthn.setResponseOverrideBits',
                      { authenticatorId, isBogusSignature: false, isBadUV: false,
                        isBadUP: false, ...bits });
    },
    remove() {
      return cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

// A fresh context of `browser` (`contextOptions`, e.g. a viewport) and a page with a virtual
// authenticator holding `credentials`. Returns { context, page, cdp, key }.
export async function withKey(browser, options = KEY, credentials = [], contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const key = await addAuthenticator(cdp, options, credentials);
  return { context, page, cdp, key };
}

// Fills the sign-in page `page` shows with `user`'s email and password and sends it.
export async function submitPassword(page, user) {
  await page.fill('#email', user.email);
  await page.fill('#password', user.password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
}

// The second step's "Use your Security key": the page's key answers.
export async function useKey(page) {
  await Promise.all([page.waitForNavigation(),
                     page.click('button:has-text("Use your Security key")')]);
}

// Signs `user` in to the profile of `ks` on `page`, with the page's key when 2FA is on.
export async function signInToProfile(ks, page, user) {
  await page.goto(`${ks.issuer}/profile`);
  await submitPassword(page, user);
  if (new URL(page.url()).pathname === '/login/second-factor') await useKey(page);
  assert.equal(new URL(page.url()).pathname, '/profile', await page.content());
}

// From the profile `page` shows, opens the Add Security key page: the server's own script
// runs its ceremony, and no inline script (CSP script-src 'self').
export async function openAddKey(page) {
  await page.selectOption('select[name=method]', 'webauthn');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Add a second factor")')]);
  assert.equal(new URL(page.url()).pathname, '/profile/two-factor/enable');
  assert.equal(await page.locator('script[src="/assets/webauthn.js"]').count(), 1);
  assert.equal(await page.locator('script:not([src])').count(), 0);
}

// On the Add Security key page: names the key `label` and touches it.
export async function touchNewKey(page, label) {
  await page.fill('#label', label);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Touch your key")')]);
}

// Adds the page's key as `label` from the profile `page` shows.
export async function addKey(page, label) {
  await openAddKey(page);
  await touchNewKey(page, label);
  // The first key turns two-factor authentication on; a further one is added to it.
  assert.match(await page.locator('main').innerText(),
               new RegExp(`Two-factor authentication is on|${label} added\\.`));
}

// The ceremony options the server rendered for the page's script (form#ceremony).
export async function ceremonyOptions(page) {
  return JSON.parse(await page.locator('form#ceremony').getAttribute('data-options'));
}

// Replaces the ceremony options of the page, as a browser (or its user) may answer otherwise
// than the server asked: `change` maps the server's options to the ones the script uses.
export async function changeCeremonyOptions(page, change) {
  const options = change(await ceremonyOptions(page));
  await page.locator('form#ceremony').evaluate(
      (form, json) => { form.dataset.options = json; }, JSON.stringify(options));
}

// Signs `user` in to the profile on `page` and adds the page's key as `label`.
export async function addKeyOnProfile(ks, page, user, label) {
  await signInToProfile(ks, page, user);
  await addKey(page, label);
}

// What a suite of sign-ins with security keys runs against, all on loopback: the test SMTP
// server, keystep on localhost (WebAuthn refuses an IP address as relying-party id) with
// `admin` (an administrator) and an admin API client acting for them, the relying party's
// configuration (the public client) and callback page, and chromium. Returns { smtp, ks,
// api, config, browser, stop }; stop() ends what started and resolves with keystep's exit.
export async function startKeySuite(admin) {
  const suite = {};
  suite.stop = async () => {
    await suite.browser?.close();
    suite.rpServer?.close();
    const exit = await suite.ks?.shutdown();
    await suite.smtp?.stop();
    await suite.smtp?.cleanup();
    return exit;
  };
  try {
    suite.smtp = await SmtpServer.create();
    suite.ks = await Keystep.start({ host: 'localhost', conf: smtpConf(await suite.smtp.listen()) });
    await suite.ks.addUser({ ...admin, admin: true });
    suite.api = new AdminApi(suite.ks, await suite.ks.apiToken(admin.email));
    suite.config = await discover(suite.ks, PUBLIC_CLIENT_ID);
    suite.rpServer = await serveRpCallback(suite.ks);
    suite.browser = await launchChromium();
  } catch (err) {
    await suite.stop();
    throw err;
  }
  return suite;
}
