// A YubiKey enrolled by keystep-enroll, then used to sign in, end to end (issue 12). The key is
// the tests' fake (tests/tools/fake_yubikey): keystep-enroll-testing programs it through the
// real libykpers configuration building and registers it through the admin API of the real
// keystep binary; keystep-fake-yubikey "touches" it, typing the identifier, the next HOTP code
// and Enter, as the key types into a terminal or a browser field.
//
// The administrator enrolls a key for himself and one for alice with the tool (typing the
// touch into the tool's standard input, as the key would), enforces two-factor for the
// account, and alice signs in to a relying party (openid-client, code + PKCE) in Debian's
// chromium by typing her key's output at the second step; the id_token's amr has hwk. The
// same output typed again in a fresh sign-in is refused.
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test yubikey.test.mjs
// keystep-enroll-testing and keystep-fake-yubikey are taken from KEYSTEP_BIN's directory.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as client from 'openid-client';

import { AdminApi } from './lib/admin_api.mjs';
import { launchChromium, serveRpCallback } from './lib/chromium.mjs';
import { Keystep, keystepBinary, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

const run = promisify(execFile);
const ADMIN = { email: 'boss@example.com', password: 'boss staple battery' };

const sibling = (name) => path.join(path.dirname(keystepBinary()), name);
const ENROLL = sibling('keystep-enroll-testing');
const FAKE_KEY = sibling('keystep-fake-yubikey');

// What the fake key types when touched: "ubhe<serial><code>\n".
async function touch(state) {
  const { stdout } = await run(FAKE_KEY, ['touch', state]);
  return stdout;
}

// Runs keystep-enroll-testing with the fake key `state`; each time it asks for a touch, the
// key's output is typed into its standard input. Resolves with its exit and output.
function enrollTool(args, state, tokenFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(ENROLL, [...args, '--token-file', tokenFile], {
      env: { ...process.env, KEYSTEP_FAKE_YUBIKEY: state },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let touches = 0;
    child.stdout.on('data', async (data) => {
      stdout += data;
      // One touch per prompt: the prompt ends without a newline and waits for the key.
      while (stdout.split('Touch the key').length - 1 > touches) {
        touches++;
        child.stdin.write(await touch(state));
      }
    });
    child.stderr.on('data', (data) => (stderr += data));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, touches }));
  });
}

describe('a YubiKey enrolled by keystep-enroll signs in (chromium)', { timeout: 120000 }, () => {
  let ks;
  let api;
  let dir;
  let tokenFile;
  let config;
  let browser;
  let rpServer;
  const keys = {};  // by email: the fake key's state file

  before(async () => {
    ks = await Keystep.start();
    await ks.addUser({ ...ADMIN, admin: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-yubikey-'));
    tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${await ks.apiToken(ADMIN.email)}\n`, { mode: 0o600 });
    api = new AdminApi(ks, (await ks.apiToken(ADMIN.email)));
    const allowed = await api.putSettings({ allowed_providers: ['totp', 'yubikey_hotp'] });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    config = await discover(ks, PUBLIC_CLIENT_ID);
    rpServer = await serveRpCallback(ks);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    rpServer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    const exit = await ks?.shutdown();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  async function enroll(email, serial) {
    const state = path.join(dir, `key-${serial}.json`);
    await run(FAKE_KEY, ['create', state, '--serial', String(serial)]);
    const result = await enrollTool(['yubikey', '--issuer', ks.issuer, '--account', 'acme',
                                     '--user', email], state, tokenFile);
    assert.equal(result.code, 0, `keystep-enroll failed:\n${result.stdout}${result.stderr}`);
    assert.equal(result.touches, 1);
    assert.match(result.stdout, new RegExp(`Registered YubiKey ${serial} for ${email} as credential \\d+ ` +
                                           `\\(token identifier ubhe${String(serial).padStart(8, '0')}\\)`));
    keys[email] = state;
  }

  it('keystep-enroll programs a key, the touch confirms it, and the server lists it', async () => {
    await enroll(ADMIN.email, 23456789);
    await enroll(USER.email, 12345678);
    const members = await api.membersByEmail();
    const { status, body } = await api.request('GET', `/members/${members[USER.email].id}/credentials`);
    assert.equal(status, 200);
    const yubikeys = body.credentials.filter((c) => c.provider === 'yubikey_hotp');
    assert.equal(yubikeys.length, 1);
    assert.equal(yubikeys[0].confirmed, true);
    assert.equal(yubikeys[0].label, 'YubiKey 12345678');
    // Its public details: the identifier it types, never its secret.
    assert.equal(yubikeys[0].details.token_id, 'ubhe12345678');
  });

  it('the account enforces two-factor authentication', async () => {
    const { status, body } = await api.putSettings({ enforce_two_factor: true, confirm: true });
    assert.equal(status, 200, JSON.stringify(body));
  });

  // A relying party's sign-in in a fresh browser context: the password, then `typed` into the
  // second step's field as the key types it (its Enter submits). Returns the page.
  async function signIn(context, typed) {
    const page = await context.newPage();
    const auth = await startAuthorization(config, ks);
    await page.goto(auth.url.href);
    await page.fill('#email', USER.email);
    await page.fill('#password', USER.password);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    assert.equal(new URL(page.url()).pathname, '/login/second-factor');
    await page.locator('main form input:visible').first().focus();
    await Promise.all([page.waitForNavigation(), page.keyboard.type(typed)]);
    return { page, auth };
  }

  let used;  // the key output that signed alice in

  it("alice signs in by touching her key: the second step takes its output, amr has hwk", async () => {
    used = await touch(keys[USER.email]);
    assert.match(used, /^ubhe12345678\d{6}\n$/);
    const context = await browser.newContext();
    try {
      const { page, auth } = await signIn(context, used);
      assert.ok(page.url().startsWith(ks.redirectUri), `back at the RP, not ${page.url()}`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
      const claims = tokens.claims();
      assert.equal(claims.email, USER.email);
      assert.ok(claims.amr.includes('hwk'), `amr ${JSON.stringify(claims.amr)} has hwk`);
    } finally {
      await context.close();
    }
  });

  it('the same output typed again is refused', async () => {
    const context = await browser.newContext();
    try {
      const { page } = await signIn(context, used);
      assert.equal(new URL(page.url()).pathname, '/login/second-factor', 'still at the second step');
      assert.match(await page.locator('main').innerText(),
                   /That code was already used\. Touch your key for a new one\./);
    } finally {
      await context.close();
    }
  });
});
