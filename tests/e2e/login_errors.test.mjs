// A failed sign-in says the same thing whether the email is unknown or the password wrong,
// so the page cannot be used to find out who has an account.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { alertText, Browser, readLoginForm } from './lib/browser.mjs';
import { Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

const MESSAGE = 'Incorrect email or password.';

describe('sign-in errors', { timeout: 60000 }, () => {
  let ks;
  let config;

  before(async () => {
    ks = await Keystep.start();
    config = await discover(ks, PUBLIC_CLIENT_ID);
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // Opens the sign-in page for a new authorization request; returns what is needed to submit it.
  async function openLoginPage() {
    const browser = new Browser();
    const auth = await startAuthorization(config, ks);
    const authorize = await browser.get(auth.url);
    assert.equal(authorize.status, 302);
    const page = await browser.get(authorize.location);
    assert.equal(page.status, 200);
    return { browser, auth, page, loginUrl: authorize.location };
  }

  async function submit({ browser, page, loginUrl }, email, password) {
    const { form } = readLoginForm(page.body);
    const fields = {};
    for (const input of form.inputs) if (input.type === 'hidden') fields[input.name] = input.value;
    return browser.post(new URL(form.attrs.action, loginUrl), { ...fields, email, password });
  }

  function assertRefused(res) {
    assert.equal(res.status, 401);
    assert.equal(res.location, null);
    assert.equal(res.setCookies.find((c) => c.name === 'ks_session'), undefined);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(alertText(res.body), MESSAGE);
  }

  it('a wrong password shows "Incorrect email or password." with status 401', async () => {
    const res = await submit(await openLoginPage(), USER.email, 'wrong horse battery');
    assertRefused(res);
    assert.match(res.body, /<input[^>]*name="email"[^>]*value="alice@example.com"/,
                 'the email is kept for the next attempt');
  });

  it('an unknown email shows the very same message and status', async () => {
    const wrongPassword = await submit(await openLoginPage(), USER.email, 'wrong horse battery');
    const unknownEmail = await submit(await openLoginPage(), 'mallory@example.com', USER.password);
    assertRefused(unknownEmail);
    assert.equal(alertText(unknownEmail.body), alertText(wrongPassword.body));
    assert.equal(unknownEmail.status, wrongPassword.status);
  });

  it('after a failed attempt the same page accepts the right password', async () => {
    const opened = await openLoginPage();
    const failed = await submit(opened, USER.email, 'wrong horse battery');
    assertRefused(failed);
    const ok = await submit({ ...opened, page: failed }, USER.email, USER.password);
    assert.equal(ok.status, 302, ok.body);
    assert.equal(ok.location.origin + ok.location.pathname, ks.redirectUri);
    const tokens = await client.authorizationCodeGrant(config, ok.location, opened.auth.checks);
    assert.deepEqual(tokens.claims().amr, ['pwd']);
  });
});
