// `keystep client update` (issue 15 leftovers, issue 16's wording) with the real binary: the
// grant policy fields and how people see the application change on a running server, bad
// values are refused with a clear message and change nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Browser } from './lib/browser.mjs';
import { Keystep, PUBLIC_CLIENT_ID } from './lib/keystep.mjs';

describe('keystep client update', { timeout: 60000 }, () => {
  let ks;

  before(async () => {
    ks = await Keystep.start();
  });
  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  async function signInPage() {
    const url = new URL('/authorize', ks.issuer);
    url.search = new URLSearchParams({
      client_id: PUBLIC_CLIENT_ID, redirect_uri: ks.redirectUri, response_type: 'code',
      scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256', state: 's',
    }).toString();
    const browser = new Browser();
    const toLogin = await browser.get(url);
    assert.equal(toLogin.status, 302, toLogin.body);
    return (await browser.get(toLogin.location)).body;
  }

  test('changes the grant policy and the display fields, and prints the client', async () => {
    assert.match(await signInPage(), /to continue to <strong>rp<\/strong>/);
    const { stdout } = await ks.cli([
      'client', 'update', '--client-id', PUBLIC_CLIENT_ID, '--display-name', 'Acme Shop',
      '--home-uri', 'https://shop.example/', '--logo-uri', 'https://shop.example/logo.png',
      '--refresh-tokens', 'never', '--refresh-max-ttl', '3600', '--third-party']);
    assert.match(stdout, /Client rp \("Acme Shop"\), logo https:\/\/shop\.example\/logo\.png, home page https:\/\/shop\.example\//);
    assert.match(stdout, /refresh tokens never, idle ttl 0 s, max ttl 3600 s; third-party/);
    const rows = await ks.sql(
      "SELECT display_name, home_uri, logo_uri, refresh_tokens, refresh_absolute_ttl, first_party FROM clients WHERE client_id = 'rp'");
    assert.deepEqual(rows[0], {
      display_name: 'Acme Shop', home_uri: 'https://shop.example/', logo_uri: 'https://shop.example/logo.png',
      refresh_tokens: 0, refresh_absolute_ttl: 3600, first_party: 0,
    });
    assert.match(await signInPage(),
                 /to continue to <a class="link" href="https:\/\/shop\.example\/"><strong>Acme Shop<\/strong><\/a>/);
    // Only what is given changes; "" removes a display field.
    const { stdout: again } = await ks.cli(['client', 'update', '--client-id', PUBLIC_CLIENT_ID,
                                            '--home-uri', '', '--first-party']);
    assert.match(again, /Client rp \("Acme Shop"\), logo https:\/\/shop\.example\/logo\.png: /);
    assert.match(again, /refresh tokens never, idle ttl 0 s, max ttl 3600 s; first-party/);
  });

  for (const [flags, message] of [
    [['--logo-uri', 'http://shop.example/logo.png'], /a logo URI is not valid: http is allowed only for loopback hosts; use https/],
    [['--home-uri', 'javascript:alert(1)'], /home page URI must be https/],
    [['--display-name', '   '], /display name must not be only spaces/],
    [['--refresh-idle-ttl', '5'], /refresh token lifetime must be 60 seconds to 10 years/],
    [['--refresh-tokens', 'sometimes'], /refresh tokens must be never, offline_access or always/],
    [['--third-party', '--first-party'], /give one of --third-party and --first-party/],
  ]) {
    test(`refuses ${flags.join(' ')} and changes nothing`, async () => {
      const before = await ks.sql("SELECT * FROM clients WHERE client_id = 'rp'");
      await assert.rejects(ks.cli(['client', 'update', '--client-id', PUBLIC_CLIENT_ID, ...flags]),
                           (err) => message.test(err.message) && /exited with 2/.test(err.message));
      assert.deepEqual(await ks.sql("SELECT * FROM clients WHERE client_id = 'rp'"), before);
    });
  }

  test('an unknown client is named', async () => {
    await assert.rejects(ks.cli(['client', 'update', '--client-id', 'nope', '--display-name', 'X']),
                         /client 'nope'/);
  });
});
