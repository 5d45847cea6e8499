// Issue 15, items 2 and 5, with a relying party nobody here wrote: Apache httpd with
// mod_auth_openidc (Debian), started by the test on loopback (lib/apache.mjs).
// - Step-up as mod_auth_openidc documents it (`Require claim acr:…` with
//   `OIDCUnAutzAction auth`), the claims parameter making the acr essential: a member without
//   a second factor is offered to set one up on the spot and reaches the page with acr 2fa;
//   declining sends the RP unmet_authentication_requirements, which it shows. No loop through
//   /authorize, and no grant left behind by the refused round.
// - Back-channel logout: after an administrator's 2FA reset of the member (and after the
//   member's removal), Keystep POSTs a
//   logout token to mod_auth_openidc, and the protected page asks for a new sign-in.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { AdminApi } from './lib/admin_api.mjs';
import { Apache, follow, PROTECTED_TEXT } from './lib/apache.mjs';
import { totpCode } from './lib/authenticator.mjs';
import { Browser, formByAction, formFields, readLoginForm } from './lib/browser.mjs';
import { ACR_MFA, Keystep, USER } from './lib/keystep.mjs';
import { eventually } from './lib/wait.mjs';

const ESSENTIAL_2FA = JSON.stringify({
  id_token: { acr: { essential: true, values: [ACR_MFA] } },
  userinfo: { acr: { essential: true, values: [ACR_MFA] } },
});
const STEP_UP = `Require claim acr:${ACR_MFA}
  OIDCUnAutzAction auth
  OIDCPathAuthRequestParams claims=${encodeURIComponent(ESSENTIAL_2FA)}`;

// Registers a confidential client for `apache` with a generated secret; returns the secret.
async function registerApacheClient(ks, apache, clientId, extra = []) {
  const { stdout } = await ks.cli(['client', 'create', '--client-id', clientId,
                                   '--redirect-uri', apache.redirectUri, '--generate-secret',
                                   ...extra]);
  return stdout.trimEnd().split('\n').at(-1);
}

// From the Apache-protected page through Keystep's sign-in page (email and password);
// returns the answer after the password: { response, url, authorizeVisits }.
async function signInThroughApache(browser, apache, ks, user = USER) {
  const toLogin = await follow(browser, apache.protectedUrl);
  assert.equal(toLogin.url.origin + toLogin.url.pathname, `${ks.issuer}/login`,
               `the protected page leads to Keystep's sign-in:\n${toLogin.hops.join('\n')}`);
  const { form } = readLoginForm(toLogin.response.body);
  const posted = await browser.post(new URL(form.attrs.action, toLogin.url),
                                    formFields(form, { email: user.email, password: user.password }));
  assert.equal(posted.status, 302, posted.body);
  const after = await follow(browser, posted.location);
  const authorizeVisits = [...toLogin.hops, ...after.hops]
    .filter((h) => new URL(h).origin === ks.issuer && new URL(h).pathname === '/authorize').length;
  return { ...after, authorizeVisits };
}

// A browser navigating: mod_auth_openidc answers 401 rather than redirecting a client that
// does not accept HTML (an API call).
function htmlBrowser() {
  return new Browser({ headers: { accept: 'text/html,application/xhtml+xml' } });
}

async function grantsOf(ks, clientId) {
  return ks.sql(`SELECT id, acr, revoked FROM grants WHERE client_id = '${clientId}'`);
}

describe('mod_auth_openidc step-up to a required second factor', () => {
  let ks;
  let apache;
  const clientId = 'apache-step-up';

  before(async () => {
    ks = await Keystep.start();
    apache = await Apache.prepare();
    const secret = await registerApacheClient(ks, apache, clientId);
    await apache.start({ ks, clientId, secret, location: STEP_UP });
  });
  after(async () => {
    await apache?.stop();
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  test('declining the setup shows the RP\'s error after one round trip, with no grant', async () => {
    const browser = htmlBrowser();
    const { response, url, authorizeVisits } = await signInThroughApache(browser, apache, ks);
    assert.equal(url.pathname, '/login/second-factor');
    assert.match(response.body, /This application requires two-factor authentication/);
    const declined = await browser.post(url, formFields(
      formByAction(response.body.slice(response.body.lastIndexOf('<form')), '/login/second-factor'),
      { method: 'decline' }));
    assert.equal(declined.status, 302);
    assert.equal(declined.location.searchParams.get('error'), 'unmet_authentication_requirements');
    assert.equal(declined.location.searchParams.get('state') !== null, true);
    const shown = await follow(browser, declined.location);
    // mod_auth_openidc shows an error page instead of starting another sign-in. (2.4.12 takes
    // the error response's iss, RFC 9207, for a third-party-initiated login and names that
    // instead of the error: docs/integrating.md.)
    assert.equal(shown.hops.length, 1, shown.hops.join('\n'));
    assert.match(shown.response.body, /<title>Error<\/title>/);
    assert.doesNotMatch(shown.response.body, new RegExp(PROTECTED_TEXT));
    const visits = authorizeVisits + shown.hops.filter((h) => h.includes('/authorize')).length;
    assert.equal(visits, 1, 'one authorization request, no loop');
    assert.deepEqual(await grantsOf(ks, clientId), []);
  });

  test('setting up an authenticator on the spot reaches the page with acr 2fa', async () => {
    const browser = htmlBrowser();
    const { response, url, authorizeVisits } = await signInThroughApache(browser, apache, ks);
    assert.equal(url.pathname, '/login/second-factor');
    const secret = response.body.match(/<p class="secret" id="secret-key">([A-Z2-7 ]+)<\/p>/)[1]
      .replaceAll(' ', '');
    const form = formByAction(response.body, '/login/second-factor');
    const posted = await browser.post(url, formFields(form, { code: await totpCode(secret) }));
    assert.equal(posted.status, 302, posted.body);
    const page = await follow(browser, posted.location);
    assert.equal(page.response.status, 200, `${page.hops.join('\n')}\n${page.response.body}`);
    assert.match(page.response.body, new RegExp(PROTECTED_TEXT));
    assert.equal(authorizeVisits, 1);
    const grants = await grantsOf(ks, clientId);
    assert.equal(grants.length, 1);
    assert.equal(grants[0].acr, ACR_MFA);
    // The session is at 2fa now: the page stays reachable without another sign-in.
    const again = await browser.get(apache.protectedUrl);
    assert.equal(again.status, 200);
  });
});

describe('mod_auth_openidc back-channel logout', () => {
  let ks;
  let apache;
  const clientId = 'apache-backchannel';
  const boss = { email: 'boss@example.com', password: 'boss horse battery staple' };

  before(async () => {
    ks = await Keystep.start();
    apache = await Apache.prepare();
    const secret = await registerApacheClient(ks, apache, clientId, [
      '--backchannel-logout-uri', apache.backchannelLogoutUri,
      '--backchannel-logout-session-required']);
    await apache.start({ ks, clientId, secret });
    await ks.addUser({ ...boss, admin: true });
  });
  after(async () => {
    await apache?.stop();
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  test('after an administrator resets the member\'s 2FA, the page asks for a new sign-in', async () => {
    const browser = htmlBrowser();
    const signedIn = await signInThroughApache(browser, apache, ks);
    assert.equal(signedIn.response.status, 200, signedIn.response.body);
    assert.match(signedIn.response.body, new RegExp(PROTECTED_TEXT));
    assert.equal((await browser.get(apache.protectedUrl)).status, 200, 'the RP session works');

    const admin = new AdminApi(ks, await ks.apiToken(boss.email));
    const alice = (await admin.membersByEmail())[USER.email];
    const reset = await admin.request('POST', `/members/${alice.id}/two-factor/reset`);
    assert.equal(reset.status, 200, JSON.stringify(reset.body));

    const notices = () => ks.sql(
      `SELECT delivered_at, attempts, last_error FROM backchannel_logouts WHERE client_id = '${clientId}'`);
    try {
      await eventually(async () => (await notices()).some((n) => n.delivered_at > 0),
                       'the logout token delivered to mod_auth_openidc');
    } catch (err) {
      err.message += `\n${JSON.stringify(await notices())}\n${ks.stderr}\n${await apache.errorLog()}`;
      throw err;
    }
    assert.equal((await notices()).length, 1);
    const afterReset = await browser.get(apache.protectedUrl);
    assert.equal(afterReset.status, 302, afterReset.body);
    assert.equal(afterReset.location.origin, ks.issuer);
    assert.equal(afterReset.location.pathname, '/authorize');
  });

  // Runs after the reset above: alice signs in again with her password, then is removed.
  test('after an administrator removes the member, the page asks for a sign-in she cannot pass', async () => {
    const browser = htmlBrowser();
    const signedIn = await signInThroughApache(browser, apache, ks);
    assert.equal(signedIn.response.status, 200, signedIn.response.body);
    assert.equal((await browser.get(apache.protectedUrl)).status, 200, 'the RP session works');

    const admin = new AdminApi(ks, await ks.apiToken(boss.email));
    const alice = (await admin.membersByEmail())[USER.email];
    const removed = await admin.request('DELETE', `/members/${alice.id}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.logouts_queued, 1, JSON.stringify(removed.body));

    const delivered = () => ks.sql(
      `SELECT count(*) AS n FROM backchannel_logouts WHERE client_id = '${clientId}' AND delivered_at > 0`);
    try {
      await eventually(async () => (await delivered())[0].n === 2,
                       'the removal\'s logout token delivered to mod_auth_openidc');
    } catch (err) {
      err.message += `\n${ks.stderr}\n${await apache.errorLog()}`;
      throw err;
    }
    const afterRemoval = await browser.get(apache.protectedUrl);
    assert.equal(afterRemoval.status, 302, afterRemoval.body);
    assert.equal(afterRemoval.location.origin, ks.issuer);
    assert.equal(afterRemoval.location.pathname, '/authorize');
    // She cannot sign in again: the member is gone.
    const toLogin = await follow(browser, apache.protectedUrl);
    assert.equal(toLogin.url.origin + toLogin.url.pathname, `${ks.issuer}/login`);
    const { form } = readLoginForm(toLogin.response.body);
    const refused = await browser.post(new URL(form.attrs.action, toLogin.url),
                                       formFields(form, { email: USER.email, password: USER.password }));
    assert.notEqual(refused.status, 302);
    assert.match(refused.body, /Incorrect email or password/);
  });
});
