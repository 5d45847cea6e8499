// Starts the real keystep binary for a test file: a fresh data directory, an account, a user,
// a public and a confidential client, and `keystep serve` on a free loopback port.
// The binary comes from KEYSTEP_BIN (set by run.sh).

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const USER = { email: 'alice@example.com', password: 'correct horse battery' };
export const PUBLIC_CLIENT_ID = 'rp';
export const CONFIDENTIAL_CLIENT_ID = 'rp-confidential';
// 40 characters with '+', '/' and '=' like `openssl rand -base64`, so client_secret_basic's
// form-encoding before Base64 (RFC 6749 §2.3.1) is exercised.
export const CONFIDENTIAL_CLIENT_SECRET = 'e2e+Secret/With=Base64+Chars/0123456789=';
export const ACR_PASSWORD = 'urn:keystep:loa:1fa';
export const ACR_MFA = 'urn:keystep:loa:2fa';
// The account's --issuer-label: what an authenticator app shows for the account.
export const ISSUER_LABEL = 'Acme Inc';

// Keeps the suite fast; production costs are irrelevant to what these tests check.
const FAST_ARGON2 = { t_cost: 1, m_cost_kib: 1024, parallelism: 1 };

export function keystepBinary() {
  const bin = process.env.KEYSTEP_BIN;
  if (!bin) throw new Error('KEYSTEP_BIN is not set; run the suite with tests/e2e/run.sh PATH_TO_KEYSTEP');
  return bin;
}

// A port that was free a moment ago: bind port 0 on loopback, read it, release it.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Runs one CLI command to completion; rejects with its output unless it exits 0.
export function cli(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(keystepBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(new Error(`keystep ${args.join(' ')} exited with ${code ?? signal}\n${stdout}${stderr}`));
    });
    // A command that reads no input may exit before its stdin is closed: the EPIPE says
    // nothing its exit code does not.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Keystep {
  // `issuer` defaults to this node's own address (on `host`); a second node of one issuer
  // (several nodes, one database) is given the first's.
  constructor({ dataDir, port, rpPort, host = '127.0.0.1', issuer }) {
    this.dataDir = dataDir;
    this.port = port;
    this.host = host;
    this.issuer = issuer ?? `http://${host}:${port}`;
    this.url = `http://127.0.0.1:${port}`;  // this node's own address
    this.rpOrigin = `http://127.0.0.1:${rpPort}`;
    this.redirectUri = `${this.rpOrigin}/cb`;
    this.postLogoutRedirectUri = `${this.rpOrigin}/bye`;
    this.process = null;
    this.output = '';  // standard output and error of every `serve`, interleaved
    this.stderr = '';  // standard error alone: the JSON log lines
  }

  // Initialises a data directory with one account, user and the two clients, then serves.
  // `conf` members replace those of the keystep.conf `init` writes (e.g. { mail: {…} }).
  // Cleans the directory up itself when that fails. `host` names the issuer's host (it always
  // listens on 127.0.0.1): 'localhost' for security keys, since WebAuthn refuses an IP
  // address as relying-party id. `database`: a postgresql:// URL for `init --database`
  // (default: SQLite in the directory).
  static async start({ conf = {}, host, database } = {}) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'keystep-e2e-'));
    const ks = new Keystep({ dataDir, port: await freePort(), rpPort: await freePort(), host });
    try {
      await ks.provision(conf, database);
      await ks.serve({ newPortOnConflict: true });
    } catch (err) {
      await ks.cleanup();
      throw err;
    }
    return ks;
  }

  async provision(confMembers = {}, database) {
    const { dataDir } = this;
    const d = ['--data-dir', dataDir];
    await cli(['init', ...d, '--issuer', this.issuer, ...(database ? ['--database', database] : [])]);
    const confPath = path.join(dataDir, 'keystep.conf');
    const conf = JSON.parse(await readFile(confPath, 'utf8'));
    conf.argon2 = FAST_ARGON2;
    Object.assign(conf, confMembers);
    await writeFile(confPath, JSON.stringify(conf, null, 2) + '\n');
    await cli(['account', 'create', ...d, '--name', 'acme', '--issuer-label', ISSUER_LABEL]);
    await cli(['user', 'create', ...d, '--account', 'acme', '--email', USER.email, '--password-stdin'],
              { input: USER.password + '\n' });
    const uris = ['--redirect-uri', this.redirectUri, '--post-logout-redirect-uri', this.postLogoutRedirectUri];
    await cli(['client', 'create', ...d, '--client-id', PUBLIC_CLIENT_ID, ...uris, '--public']);
    await cli(['client', 'create', ...d, '--client-id', CONFIDENTIAL_CLIENT_ID, ...uris, '--secret-stdin'],
              { input: CONFIDENTIAL_CLIENT_SECRET + '\n' });
  }

  // Creates another user in the account with `keystep user create`; `admin` gives the role
  // admin instead of member.
  addUser({ email, password, admin = false }) {
    return this.cli(['user', 'create', '--account', 'acme', '--email', email, '--password-stdin',
                     ...(admin ? ['--admin'] : [])],
                    { input: password + '\n' });
  }

  // An admin API token acting for `email`, made with `keystep token create`.
  async apiToken(email) {
    const { stdout } = await this.cli(['token', 'create', '--account', 'acme', '--user', email]);
    return stdout.trimEnd().split('\n').at(-1);
  }

  // Runs one SQL statement on the server's database with the sqlite3 shell (WAL: safe while
  // serving) and returns the rows as objects.
  async sql(statement) {
    const db = path.join(this.dataDir, 'keystep.db');
    const { stdout } = await run('sqlite3', ['-json', '-cmd', '.timeout 5000', db, statement]);
    return stdout.trim() === '' ? [] : JSON.parse(stdout);
  }

  // Runs a CLI command against this data directory (e.g. ['key', 'rotate']).
  cli(args, options) {
    return cli([...args, '--data-dir', this.dataDir], options);
  }

  // Starts `keystep serve` and waits until it has bound its port and /healthz answers.
  // Another test file may grab the same free port first; with `newPortOnConflict` the
  // server then moves to another port (and issuer) instead of failing.
  async serve({ newPortOnConflict = false } = {}) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.serveOnce();
      } catch (err) {
        if (!newPortOnConflict || !err.bindFailed || attempt >= 3) throw err;
        const ownIssuer = this.issuer === `http://${this.host}:${this.port}`;
        this.port = await freePort();
        this.url = `http://127.0.0.1:${this.port}`;
        if (ownIssuer) this.issuer = `http://${this.host}:${this.port}`;
      }
    }
  }

  async serveOnce() {
    if (this.process) throw new Error('keystep is already serving');
    const child = spawn(keystepBinary(),
                        ['serve', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`,
                         '--issuer', this.issuer],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const outputStart = this.output.length;
    child.stdout.on('data', (d) => (this.output += d));
    child.stderr.on('data', (d) => {
      this.output += d;
      this.stderr += d;
    });
    let exit = null;
    this.exited.then((e) => (exit = e));
    // The banner is printed once the port is bound, so /healthz is known to be ours.
    const banner = `keystep serving ${this.issuer} on 127.0.0.1:${this.port}`;
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !exit) {
      if (this.output.includes(banner, outputStart)) {
        try {
          const res = await fetch(`${this.url}/healthz`);
          if (res.status === 200 && (await res.text()) === 'ok\n') return;
        } catch {
          // Not answering yet.
        }
      }
      await sleep(50);
    }
    if (!exit) child.kill('SIGKILL');
    await this.exited;
    this.process = null;
    const err = new Error(`keystep serve did not become healthy (exit: ${JSON.stringify(exit)})\n` +
                          this.output.slice(outputStart));
    err.bindFailed = /cannot listen/.test(this.output.slice(outputStart));
    throw err;
  }

  // SIGTERM; resolves with { code, signal } once the server has exited.
  async stop() {
    const child = this.process;
    if (!child) return null;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  // SIGKILL, as a crash or the OOM killer would: no shutdown code runs. Resolves with
  // { code, signal } once the process is gone (null if not running).
  async kill() {
    const child = this.process;
    if (!child) return null;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return this.exited;
  }

  async restart() {
    const result = await this.stop();
    await this.serve();
    return result;
  }

  async cleanup() {
    await rm(this.dataDir, { recursive: true, force: true });
  }

  // stop() then cleanup(); resolves with stop()'s result, for the caller to assert a clean exit.
  async shutdown() {
    const exit = await this.stop();
    await this.cleanup();
    return exit;
  }
}
