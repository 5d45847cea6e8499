// Takes the screenshots of docs/user-guide.md: starts the real keystep binary on a fresh data
// directory, walks the two-factor set-up, sign-in and the adding of a second authenticator app
// in Debian's chromium (then the adding of a YubiKey, played by oathtool, and a sign-in with
// it), and writes PNGs to docs/images/. Along the way it checks what the guide says (the QR code's issuer label and
// secret, the ten recovery codes, acr and amr in the id_token), so a changed flow fails here
// rather than in the guide.
//
// Usage: node take.mjs PATH_TO_KEYSTEP [OUTPUT_DIR]   (take.sh installs what this needs)

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { freePort } from '../../tests/e2e/lib/keystep.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];
const VIEWPORT = { width: 900, height: 900 };
const MAX_PNG_BYTES = 150 * 1024;

const ACCOUNT = { name: 'harness', issuerLabel: 'Harness-Inc' };
const USER = { email: 'jane.doe@harness.example', password: 'correct horse battery staple' };
const CLIENT_ID = 'timesheets';
const ACR_MFA = 'urn:keystep:loa:2fa';
// The guide's screenshots need no production password cost.
const FAST_ARGON2 = { t_cost: 1, m_cost_kib: 1024, parallelism: 1 };

const here = path.dirname(fileURLToPath(import.meta.url));
const [binArg, outArg] = process.argv.slice(2);
if (!binArg) {
  console.error('usage: node take.mjs PATH_TO_KEYSTEP [OUTPUT_DIR]');
  process.exit(2);
}
const BIN = path.resolve(binArg);
const OUT = path.resolve(outArg ?? path.join(here, '..', 'images'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function keystep(args, input = '') {
  return execFileSync(BIN, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

// The current code of an authenticator app holding `secret` (base32, spaces allowed).
function totp(secret) {
  const base32 = secret.replace(/\s+/g, '');
  return execFileSync('oathtool', ['--totp', '-b', base32], { encoding: 'utf8' }).trim();
}

const totpStep = () => Math.floor(Date.now() / 30000);

// The code a YubiKey holding `secret` (base32, spaces allowed) types at its touch number
// `counter` (0 for the first), without an identifier.
function hotp(secret, counter) {
  const base32 = secret.replace(/\s+/g, '');
  return execFileSync('oathtool', ['--hotp', '-b', '-c', String(counter), '-d', '6', base32],
                      { encoding: 'utf8' }).trim();
}

async function provision(dataDir, issuer, redirectUri) {
  const d = ['--data-dir', dataDir];
  keystep(['init', ...d, '--issuer', issuer]);
  const confPath = path.join(dataDir, 'keystep.conf');
  const conf = JSON.parse(await readFile(confPath, 'utf8'));
  conf.argon2 = FAST_ARGON2;
  await writeFile(confPath, JSON.stringify(conf, null, 2) + '\n');
  keystep(['account', 'create', ...d, '--name', ACCOUNT.name,
           '--issuer-label', ACCOUNT.issuerLabel]);
  keystep(['user', 'create', ...d, '--account', ACCOUNT.name, '--email', USER.email,
           '--password-stdin'], USER.password + '\n');
  keystep(['client', 'create', ...d, '--client-id', CLIENT_ID, '--redirect-uri', redirectUri,
           '--public']);
}

// Starts `keystep serve` and resolves once the banner is printed and /healthz answers.
async function serve(dataDir, port, issuer) {
  const child = spawn(BIN, ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`,
                            '--issuer', issuer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = null;
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.on('exit', (code, signal) => (exited = { code, signal }));
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline && !exited) {
    if (output.includes(`keystep serving ${issuer}`)) {
      try {
        const res = await fetch(`${issuer}/healthz`);
        if (res.status === 200) return child;
      } catch {
        // Not answering yet.
      }
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`keystep serve did not start (${JSON.stringify(exited)}):\n${output}`);
}

function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function shoot(page, name) {
  const file = path.join(OUT, name);
  await page.screenshot({ path: file, fullPage: true });
  const { size } = await stat(file);
  check(size < MAX_PNG_BYTES, `${name} is ${size} bytes, over ${MAX_PNG_BYTES}`);
  console.log(`  ${name} (${Math.round(size / 1024)} KB)`);
}

async function alertText(page) {
  const alert = page.locator('[role=alert]');
  return (await alert.count()) ? (await alert.innerText()).trim() : null;
}

// Starts an authorization request as a relying party would and returns what it must keep.
function authorizationRequest(issuer, redirectUri) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    state,
    nonce: b64url(randomBytes(12)),
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.href, verifier, state };
}

// Exchanges the code the browser brought back and returns the id_token's claims.
async function redeem(issuer, redirectUri, request, callbackUrl) {
  const callback = new URL(callbackUrl);
  check(callback.searchParams.get('state') === request.state, `bad state in ${callbackUrl}`);
  const code = callback.searchParams.get('code');
  check(code, `no code in ${callbackUrl}`);
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri,
                                client_id: CLIENT_ID, code_verifier: request.verifier }),
  });
  const body = await res.json();
  check(res.status === 200, `/token answered ${res.status}: ${JSON.stringify(body)}`);
  return JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString('utf8'));
}

// The relying party's redirect URI: a loopback server that records what arrives.
function callbackServer(port) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    seen.push(url.href);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('signed in\n');
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, seen }));
  });
}

const pathOf = (page) => new URL(page.url()).pathname;

// Selects the page's submit button and waits for the answer (or for `url` when given).
async function submit(page, url) {
  const arrival = url ? page.waitForURL(url) : page.waitForLoadState('load');
  await Promise.all([arrival, page.click('button[type=submit]')]);
}

async function signInWithPassword(page) {
  check(pathOf(page) === '/login', `expected the sign-in page, got ${page.url()}`);
  await page.fill('#email', USER.email);
  await page.fill('#password', USER.password);
  await submit(page);
}

// The QR code in a screenshot, read as an authenticator app's camera would.
function readQr(file) {
  const raw = execFileSync('zbarimg', ['-q', '--raw', file],
                           { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return new URL(raw.trim());
}

async function main() {
  await mkdir(OUT, { recursive: true });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'keystep-docs-'));
  const profileDir = await mkdtemp(path.join(os.tmpdir(), 'keystep-docs-chromium-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const rpPort = await freePort();
  const redirectUri = `http://127.0.0.1:${rpPort}/callback`;
  const atRp = (url) => url.href.startsWith(redirectUri);
  let server = null;
  let context = null;
  let rp = null;
  try {
    rp = await callbackServer(rpPort);
    await provision(dataDir, issuer, redirectUri);
    server = await serve(dataDir, port, issuer);
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: VIEWPORT,
      deviceScaleFactor: 1,
      locale: 'en-US',
    });
    const page = context.pages()[0] ?? (await context.newPage());
    console.log(`keystep ${issuer}; screenshots to ${OUT}`);

    // Steps 1-2: open the profile, sign in, see the Profile page with two-factor off.
    await page.goto(`${issuer}/profile`);
    check(pathOf(page) === '/login', `expected the sign-in page, got ${page.url()}`);
    await page.fill('#email', USER.email);
    await shoot(page, 'sign-in.png');
    await page.fill('#password', USER.password);
    await submit(page, `${issuer}/profile`);
    check(await page.locator('[role=switch][aria-checked=false]').count() === 1,
          'the switch is not off');
    await shoot(page, 'profile-two-factor-off.png');

    // Steps 3-4: the switch opens the Enable page with the QR code and the secret key.
    await Promise.all([page.waitForURL(`${issuer}/profile/two-factor/enable`),
                       page.click('[role=switch]')]);
    check((await page.locator('h1').innerText()).includes('Enable Two-Factor Authentication'),
          'not the Enable page');
    check((await page.locator('p.sub').innerText()).includes(ACCOUNT.issuerLabel),
          'the Enable page does not name the issuer label');
    const secret = (await page.locator('#secret-key').innerText()).trim();
    check(/^[A-Z2-7 ]{16,}$/.test(secret), `unexpected secret key "${secret}"`);
    await shoot(page, 'enable-two-factor.png');
    const otpauth = readQr(path.join(OUT, 'enable-two-factor.png'));
    check(otpauth.searchParams.get('issuer') === ACCOUNT.issuerLabel &&
          otpauth.searchParams.get('secret') === secret.replace(/\s+/g, ''),
          `the QR code holds ${otpauth.href}`);

    // Step 5: the app's code and Enable; the recovery codes; the profile with two-factor on.
    const stepBefore = totpStep();
    await page.fill('#code', totp(secret));
    // The step the code belongs to, unless oathtool ran across a step boundary.
    const enrolledStep = totpStep() === stepBefore ? stepBefore : stepBefore + 1;
    await submit(page);
    check((await page.locator('h1').innerText()).includes('recovery codes'),
          `enabling failed: ${await alertText(page)}`);
    const recoveryCodes = await page.locator('.codes li').allInnerTexts();
    check(recoveryCodes.length === 10, `expected 10 recovery codes, got ${recoveryCodes.length}`);
    await shoot(page, 'recovery-codes.png');
    await page.goto(`${issuer}/profile`);
    check(await page.locator('[role=switch][aria-checked=true]').count() === 1,
          'the switch is not on');
    await shoot(page, 'profile-two-factor-on.png');

    // Step 6: a relying party's sign-in in a fresh browser session: the password, then the
    // code page; a wrong code; the recovery-code variant, whose code finishes the sign-in.
    await context.clearCookies();
    const first = authorizationRequest(issuer, redirectUri);
    await page.goto(first.url);
    await signInWithPassword(page);
    check(pathOf(page) === '/login/second-factor', `expected the code page, got ${page.url()}`);
    await shoot(page, 'sign-in-code.png');
    await page.fill('#code', totp(secret) === '000000' ? '111111' : '000000');
    await submit(page);
    check(await alertText(page), 'a wrong code showed no error');
    await shoot(page, 'sign-in-code-wrong.png');
    await Promise.all([page.waitForLoadState('load'),
                       page.click('ul.methods a[href$="method=recovery_code"]')]);
    check(new URL(page.url()).searchParams.get('method') === 'recovery_code',
          'not the recovery code page');
    await shoot(page, 'sign-in-recovery-code.png');
    await page.fill('#code', recoveryCodes[0]);
    await submit(page, atRp);
    const byRecovery = await redeem(issuer, redirectUri, first, rp.seen.at(-1));
    console.log(`  recovery code sign-in: acr ${byRecovery.acr}, amr ${byRecovery.amr}`);
    check(byRecovery.acr === ACR_MFA && byRecovery.amr.join() === 'pwd,otp,mfa',
          `acr ${byRecovery.acr}, amr ${byRecovery.amr}`);

    // The authenticator app's code, in a later step than the one that enabled it (each
    // step's code is accepted once).
    await context.clearCookies();
    while (totpStep() <= enrolledStep) await sleep(1000);
    const second = authorizationRequest(issuer, redirectUri);
    await page.goto(second.url);
    await signInWithPassword(page);
    await page.fill('#code', totp(secret));
    await submit(page, atRp);
    const byApp = await redeem(issuer, redirectUri, second, rp.seen.at(-1));
    console.log(`  authenticator app sign-in: acr ${byApp.acr}, amr ${byApp.amr}`);
    check(byApp.acr === ACR_MFA && byApp.amr.join() === 'pwd,otp,mfa',
          `acr ${byApp.acr}, amr ${byApp.amr}`);

    // Your second factors: a spare authenticator app added from the profile, whose session
    // (the sign-in just made) is recent enough, and renamed; the list shows both.
    await page.goto(`${issuer}/profile`);
    await page.selectOption('select#method', 'totp');
    await Promise.all([page.waitForURL(`${issuer}/profile/two-factor/enable?method=totp`),
                       page.click('form[action="/profile/two-factor/add"] button[type=submit]')]);
    check((await page.locator('h1').innerText()) === 'Add Authenticator app', 'not the Add page');
    const spare = (await page.locator('#secret-key').innerText()).trim();
    check(spare !== secret, 'the spare app got the same secret');
    await page.fill('#code', totp(spare));
    await submit(page);
    check((await page.locator('[role=status]').innerText()).trim() === 'Authenticator app 2 added.',
          `adding the spare failed: ${await alertText(page)}`);
    // Renamed to tell them apart (the default name does not fit the field at this width).
    await page.fill('input[aria-label="Name of Authenticator app 2"]', 'Spare phone');
    await Promise.all([page.waitForLoadState('load'),
                       page.click('form:has(input[aria-label="Name of Authenticator app 2"]) button')]);
    check((await page.locator('[role=status]').innerText()).trim() === 'Renamed.',
          `renaming failed: ${await alertText(page)}`);
    await page.goto(`${issuer}/profile`);
    const names = await page.locator('#factors ~ table input[name=label]').evaluateAll(
        (inputs) => inputs.map((i) => i.value));
    check(names.join() === 'Authenticator app,Spare phone', `the list shows ${names}`);
    await shoot(page, 'profile-second-factors.png');

    // Add a YubiKey: the profile's Add page shows the ykman command and the secret; the key
    // (played by oathtool, programmed without an identifier) types two codes, one per touch.
    await page.selectOption('select#method', 'yubikey_hotp');
    await Promise.all([
      page.waitForURL(`${issuer}/profile/two-factor/enable?method=yubikey_hotp`),
      page.click('form[action="/profile/two-factor/add"] button[type=submit]')]);
    check((await page.locator('h1').innerText()) === 'Add YubiKey', 'not the Add YubiKey page');
    const command = (await page.locator('#program-command').innerText()).trim();
    const keySecret = (await page.locator('#secret-key').innerText()).trim();
    check(command.startsWith('ykman otp hotp 2 ') &&
          command.includes(keySecret.replace(/\s+/g, '')),
          `the command "${command}" does not program the secret "${keySecret}"`);
    await shoot(page, 'add-yubikey.png');
    await page.fill('#code', `${hotp(keySecret, 0)}\n${hotp(keySecret, 1)}`);
    await submit(page);
    const keyAdded = (await page.locator('[role=status]').innerText()).trim();
    check(/^YubiKey.* added\.$/.test(keyAdded), `adding the YubiKey failed: ${await alertText(page)}`);

    // Signing in with the YubiKey: the code page asks for what the key types; its next code
    // finishes the sign-in.
    await context.clearCookies();
    const third = authorizationRequest(issuer, redirectUri);
    await page.goto(third.url);
    await signInWithPassword(page);
    check(pathOf(page) === '/login/second-factor', `expected the code page, got ${page.url()}`);
    if ((await page.locator('input[name=method]').inputValue()) !== 'yubikey_hotp') {
      await Promise.all([page.waitForLoadState('load'),
                         page.click('ul.methods a[href$="method=yubikey_hotp"]')]);
    }
    check((await page.locator('p.sub').innerText()).includes('YubiKey'),
          'the code page does not ask for the YubiKey');
    await shoot(page, 'sign-in-yubikey.png');
    await page.fill('#code', hotp(keySecret, 2));
    await submit(page, atRp);
    const byKey = await redeem(issuer, redirectUri, third, rp.seen.at(-1));
    console.log(`  YubiKey sign-in: acr ${byKey.acr}, amr ${byKey.amr}`);
    check(byKey.acr === ACR_MFA, `acr ${byKey.acr}, amr ${byKey.amr}`);
  } finally {
    if (context) await context.close();
    if (rp) rp.server.close();
    await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
    await rm(profileDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
