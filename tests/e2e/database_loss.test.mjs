// A node that loses its database (issue 14, readiness): PostgreSQL is stopped under a running
// `keystep serve` and started again on the same port and data directory (lib/postgres.mjs
// halt/resume). Meanwhile /readyz answers 503 while /healthz stays 200, and every page and
// endpoint that needs the database answers 503 with Retry-After, never 500: the error page
// for a browser, the JSON error for /token, /userinfo and the admin API. Once PostgreSQL is
// back the node serves again without a restart: /readyz is 200 at the first asking, a
// sign-in begun before the outage completes, and a new one runs through to the tokens.
//
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test database_loss.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { Browser, readLoginForm, signIn } from './lib/browser.mjs';
import { Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { Postgres } from './lib/postgres.mjs';
import { discover, signInWithPassword, startAuthorization } from './lib/rp.mjs';

describe('a node that loses its PostgreSQL database', { timeout: 120000 }, () => {
  let pg;
  let ks;

  before(async () => {
    pg = await Postgres.start();
    const { url } = await pg.createDatabase();
    ks = await Keystep.start({ database: url });
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    await pg?.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('is unready and answers 503 with Retry-After, never 500, until it is back', async () => {
    const ready = await fetch(`${ks.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');

    // What a user and an application hold when the database goes: a session with tokens,
    // a sign-in waiting on its password page, an admin API token.
    const admin = { email: 'admin@example.com', password: 'admin password here' };
    await ks.addUser({ ...admin, admin: true });
    const token = await ks.apiToken(admin.email);
    const config = await discover(ks, PUBLIC_CLIENT_ID);
    const signedIn = new Browser();
    const { callback, checks } = await signInWithPassword(signedIn, config, ks, USER);
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const waiting = new Browser();
    const pending = await startAuthorization(config, ks);
    const authorize = await waiting.get(pending.url);
    assert.equal(authorize.status, 302);
    const loginPage = await waiting.get(authorize.location);
    assert.equal(loginPage.status, 200);
    const later = await startAuthorization(config, ks);

    await pg.halt();
    const down = await fetch(`${ks.url}/readyz`);
    assert.equal(down.status, 503, await down.clone().text());
    assert.ok(Number(down.headers.get('retry-after')) > 0);
    assert.match(await down.text(), /not ready/);
    assert.equal((await fetch(`${ks.url}/healthz`)).status, 200);

    const { form, byName } = readLoginForm(loginPage.body);
    const fields = Object.fromEntries(form.inputs.filter((i) => i.name && i.type === 'hidden').map((i) => [i.name, i.value]));
    assert.ok(byName.email);
    const answers = {
      'GET /authorize': await new Browser().get(later.url),
      'GET /login': await waiting.get(authorize.location),
      'POST /login': await waiting.post(new URL(form.attrs.action || authorize.location.href, authorize.location),
                                        { ...fields, email: USER.email, password: USER.password }),
      'GET /profile': await signedIn.get(`${ks.url}/profile`),
      'POST /token (code)': await fetch(`${ks.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: PUBLIC_CLIENT_ID, code: 'x',
                                    redirect_uri: ks.redirectUri, code_verifier: checks.pkceCodeVerifier }),
      }),
      'POST /token (refresh)': await fetch(`${ks.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: PUBLIC_CLIENT_ID,
                                    refresh_token: tokens.refresh_token }),
      }),
      'GET /userinfo': await fetch(`${ks.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
      'GET admin API members': await fetch(`${ks.url}/api/v1/accounts/acme/members`,
                                           { headers: { authorization: `Bearer ${token}` } }),
    };
    const json = ['POST /token (code)', 'POST /token (refresh)', 'GET /userinfo', 'GET admin API members'];
    for (const [what, res] of Object.entries(answers)) {
      const body = typeof res.body === 'string' ? res.body : await res.text();
      assert.equal(res.status, 503, `${what}: ${res.status}\n${body}`);
      assert.ok(Number(res.headers.get('retry-after')) > 0, `${what}: no Retry-After`);
      // Nothing names the database to the client.
      assert.doesNotMatch(body, /postgres|port \d+|5432/i, what);
      if (json.includes(what)) {
        assert.match(res.headers.get('content-type'), /^application\/json/, what);
        assert.equal(JSON.parse(body).error, 'temporarily_unavailable', what);
      } else {
        assert.match(res.headers.get('content-type'), /^text\/html/, what);
        assert.match(body, /try again/i, `${what}: not the error page\n${body}`);
      }
    }

    await pg.resume();
    // The first requests after the outage succeed: the pool replaced its closed connections.
    const back = await fetch(`${ks.url}/readyz`);
    assert.equal(back.status, 200, await back.clone().text());
    const userinfo = await fetch(`${ks.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200, await userinfo.clone().text());
    // The sign-in begun before the outage completes; a new one runs through to the tokens.
    const resumed = await waiting.post(new URL(form.attrs.action || authorize.location.href, authorize.location),
                                       { ...fields, email: USER.email, password: USER.password });
    assert.equal(resumed.status, 302, resumed.body);
    const resumedTokens = await client.authorizationCodeGrant(config, resumed.location, pending.checks);
    assert.equal(resumedTokens.claims().email, USER.email);
    const fresh = await signIn(new Browser(), later.url, USER);
    const freshTokens = await client.authorizationCodeGrant(config, fresh.callback, later.checks);
    assert.equal(freshTokens.claims().email, USER.email);
    assert.doesNotMatch(ks.stderr, /"status":500/);
  });
});
