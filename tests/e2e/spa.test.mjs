// A browser single-page app (tests/e2e/spa/: oauth4webapi, the browser build from npm) in
// Debian's headless chromium, driven by playwright-core, against the keystep binary: the app
// on its own origin discovers Keystep, sends the user to sign in, redeems the code, checks the
// id_token against the JWKS, reads userinfo and refreshes, every call cross-origin (CORS).
// A page on an origin the client does not allow can read none of it, and the code it posts
// to /token is refused before it is redeemed, so the app still redeems it.
// Also `keystep client create --generate-secret`: a URL-safe secret a confidential client
// uses at once.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { Browser, signIn } from './lib/browser.mjs';
import { freePort, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];
const SPA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'spa');
const OAUTH4WEBAPI = createRequire(import.meta.url).resolve('oauth4webapi');
const SAM = { email: 'sam@example.com', password: 'sam staple battery horse' };

// Serves `routes` (path -> [content type, body]) on 127.0.0.1:`port`; resolves with the server.
function serveStatic(port, routes) {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const route = routes[new URL(req.url, 'http://x').pathname];
      if (!route) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': route[0], 'cache-control': 'no-store' }).end(route[1]);
    });
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('browser SPA with oauth4webapi (CORS)', { timeout: 120000 }, () => {
  let ks;
  let browser;
  let spaServer;
  let evilServer;
  let evilOrigin;

  before(async () => {
    ks = await Keystep.start();
    await ks.cli(['user', 'create', '--account', 'acme', '--email', SAM.email, '--display-name',
                  'Sam', '--email-verified', '--password-stdin'], { input: SAM.password + '\n' });
    const html = await readFile(path.join(SPA_DIR, 'index.html'));
    const config = JSON.stringify({ issuer: ks.issuer, clientId: PUBLIC_CLIENT_ID,
                                    redirectUri: ks.redirectUri });
    // The public client "rp" redirects to <rpOrigin>/cb: the app's origin is allowed.
    spaServer = await serveStatic(Number(new URL(ks.rpOrigin).port), {
      '/': ['text/html', html],
      '/cb': ['text/html', html],
      '/app.js': ['text/javascript', await readFile(path.join(SPA_DIR, 'app.js'))],
      '/oauth4webapi.js': ['text/javascript', await readFile(OAUTH4WEBAPI)],
      '/config.json': ['application/json', config],
    });
    const evilPort = await freePort();
    evilOrigin = `http://127.0.0.1:${evilPort}`;
    evilServer = await serveStatic(evilPort, { '/': ['text/html', '<!doctype html><title>x</title>'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    spaServer?.close();
    evilServer?.close();
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // Opens the app, clicks "Sign in", signs in on Keystep's page; resolves on the app's
  // redirect URI, before the app redeems the code.
  async function signInToApp(page, user) {
    await page.goto(ks.rpOrigin + '/');
    await page.waitForSelector('body[data-ready=yes]');
    await Promise.all([page.waitForURL(`${ks.issuer}/login**`), page.click('#sign-in')]);
    await page.fill('#email', user.email);
    await page.fill('#password', user.password);
    await Promise.all([page.waitForURL(`${ks.redirectUri}?**`), page.click('button[type=submit]')]);
    await page.waitForSelector('body[data-ready=yes]');
  }

  it('signs in, redeems the code, checks the id_token, reads userinfo and refreshes', async () => {
    await ks.cli(['user', 'set-name', '--account', 'acme', '--email', SAM.email,
                  '--display-name', 'Sam Spade']);
    const page = await browser.newPage();
    try {
      await signInToApp(page, SAM);
      const result = await page.evaluate(() => window.app.finish());
      assert.equal(result.claims.iss, ks.issuer);
      assert.equal(result.claims.aud, PUBLIC_CLIENT_ID);
      assert.equal(result.claims.email, SAM.email);
      assert.equal(result.claims.email_verified, true);  // created with --email-verified
      assert.equal(result.claims.name, 'Sam Spade');     // set with `user set-name`
      assert.equal(result.userinfo.sub, result.claims.sub);
      assert.equal(result.userinfo.name, 'Sam Spade');
      assert.equal(result.userinfo.preferred_username, SAM.email);
      assert.equal(result.userinfo.email_verified, true);
      assert.deepEqual(result.refreshed, { access_token_changed: true, refresh_token_rotated: true });
    } finally {
      await page.close();
    }
  });

  it('another origin reads nothing, and the code it posts is refused before it is redeemed', async () => {
    const page = await browser.newPage();
    const evil = await browser.newPage();
    try {
      await signInToApp(page, USER);
      const code = new URL(page.url()).searchParams.get('code');
      const { verifier } = JSON.parse(
          await page.evaluate(() => sessionStorage.getItem('keystep-login')));
      await evil.goto(evilOrigin + '/');
      const attempt = await evil.evaluate(async ({ issuer, code, verifier, redirectUri, clientId }) => {
        const outcome = {};
        for (const [name, url] of [['discovery', `${issuer}/.well-known/openid-configuration`],
                                   ['jwks', `${issuer}/jwks.json`]]) {
          try {
            await fetch(url);
            outcome[name] = 'read';
          } catch {
            outcome[name] = 'blocked';
          }
        }
        // A form POST is a CORS "simple" request: the browser sends it without a preflight.
        // no-cors lets it go out without letting the page read the answer.
        const body = new URLSearchParams({ grant_type: 'authorization_code', code,
                                           code_verifier: verifier, redirect_uri: redirectUri,
                                           client_id: clientId });
        await fetch(`${issuer}/token`, { method: 'POST', body, mode: 'no-cors' });
        try {
          await fetch(`${issuer}/token`, { method: 'POST', body });
          outcome.token = 'read';
        } catch {
          outcome.token = 'blocked';
        }
        return outcome;
      }, { issuer: ks.issuer, code, verifier, redirectUri: ks.redirectUri, clientId: PUBLIC_CLIENT_ID });
      assert.deepEqual(attempt, { discovery: 'blocked', jwks: 'blocked', token: 'blocked' });

      // Had either POST redeemed the code, this would fail (and revoke the grant as a replay).
      const result = await page.evaluate(() => window.app.finish());
      assert.equal(result.claims.email, USER.email);
      assert.equal(result.userinfo.email_verified, false);
    } finally {
      await evil.close();
      await page.close();
    }
  });
});

describe('client create --generate-secret', { timeout: 60000 }, () => {
  let ks;

  before(async () => {
    ks = await Keystep.start();
  });

  after(async () => {
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('prints a URL-safe secret on the last line that the client signs in with (Basic)', async () => {
    const { stdout } = await ks.cli(['client', 'create', '--client-id', 'generated',
                                     '--redirect-uri', ks.redirectUri, '--generate-secret']);
    const secret = stdout.trimEnd().split('\n').at(-1);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    const config = await discover(ks, 'generated', client.ClientSecretBasic(secret));
    const start = await startAuthorization(config, ks);
    const { callback } = await signIn(new Browser(), start.url, USER);
    const tokens = await client.authorizationCodeGrant(config, callback, start.checks);
    assert.equal(tokens.claims().aud, 'generated');
  });

  it('refuses --generate-secret together with --public or --secret-stdin', async () => {
    for (const other of ['--public', '--secret-stdin']) {
      await assert.rejects(
          ks.cli(['client', 'create', '--client-id', 'both', '--redirect-uri', ks.redirectUri,
                  '--generate-secret', other], { input: 'x'.repeat(40) + '\n' }),
          /exited with 2[\s\S]*exactly one of --public, --generate-secret and --secret-stdin/);
    }
  });
});
