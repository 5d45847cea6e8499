// Shared pieces of the side-by-side benchmark (bench/compare.mjs): a minimal browser, RFC 6238
// codes, the relying party that drives a full login against either server, and helpers to
// start processes on loopback.

import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

import * as jose from 'jose';
import * as client from 'openid-client';

export { sleep, startServer } from './server_process.mjs';

// A port that was free a moment ago on loopback (the e2e tests' helper).
export { freePort } from '../tests/e2e/lib/keystep.mjs';

// HTTP/1.1 client over persistent loopback connections, written for a low CPU cost per request
// (about a fifth of node:http's or fetch's), so the load driver takes as little as possible
// of the CPU the servers share with it. One request at a time per connection; idle
// connections are reused per host. Understands Content-Length and chunked bodies.
const idle = new Map();  // "host:port" -> [Connection]

class Connection {
  constructor(url) {
    this.key = url.host;
    this.socket = net.connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true });
    this.pending = null;  // { resolve, reject, reused, got }
    this.buffer = Buffer.alloc(0);
    this.socket.on('data', (chunk) => this.onData(chunk));
    const fail = (err) => this.onClose(err);
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(head, body, pending) {
    this.pending = pending;
    this.socket.write(body === undefined ? head : head + body);
  }

  onClose(err) {
    this.closed = true;
    const list = idle.get(this.key);
    if (list && list.includes(this)) list.splice(list.indexOf(this), 1);
    const p = this.pending;
    this.pending = null;
    if (p) p.reject(Object.assign(err, { retryable: p.reused && !p.got }));
  }

  onData(chunk) {
    const p = this.pending;
    if (!p) return;  // nothing asked; a server closing an idle connection says nothing
    p.got = true;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    if (!p.head) {
      const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        const name = lines[i].slice(0, colon).trim().toLowerCase();
        const value = lines[i].slice(colon + 1).trim();
        if (name === 'set-cookie') (headers[name] ??= []).push(value);
        else headers[name] = value;
      }
      p.head = { status: Number(lines[0].split(' ')[1]), headers, bodyStart: end + 4 };
    }
    const { headers, bodyStart } = p.head;
    let body;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts = [];
      let at = bodyStart;
      for (;;) {
        const eol = this.buffer.indexOf('\r\n', at);
        if (eol < 0) return;
        const size = parseInt(this.buffer.toString('latin1', at, eol), 16);
        if (size === 0) {
          if (this.buffer.indexOf('\r\n\r\n', eol) < 0 && this.buffer.length < eol + 4) return;
          break;
        }
        if (this.buffer.length < eol + 2 + size + 2) return;
        parts.push(this.buffer.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (this.buffer.length < bodyStart + length) return;
      body = this.buffer.toString('utf8', bodyStart, bodyStart + length);
    }
    this.pending = null;
    this.buffer = Buffer.alloc(0);
    if (headers.connection?.toLowerCase() === 'close') this.socket.destroy();
    else {
      if (!idle.has(this.key)) idle.set(this.key, []);
      idle.get(this.key).push(this);
    }
    p.resolve({ status: p.head.status, headers, body });
  }
}

// Returns { status, headers (lower-case names; set-cookie is an array), body (string) }.
export async function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  head += '\r\n';
  for (let attempt = 0; ; attempt++) {
    const conn = idle.get(url.host)?.pop() ?? new Connection(url);
    try {
      return await new Promise((resolve, reject) => {
        conn.send(head, body, { resolve, reject, reused: conn.used === true, got: false });
        conn.used = true;
      });
    } catch (err) {
      // A kept-alive connection the server had closed: nothing was processed, send again.
      if (!err.retryable || attempt > 0) throw err;
    }
  }
}

// Runs a program to completion; rejects with its output unless it exits 0.
export function run(bin, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${bin} ${args.join(' ')} exited with ${code ?? signal}\n${stdout}${stderr}`));
    });
    child.stdin.end(input ?? '');
  });
}

// Peak resident set size (VmHWM) and current RSS of a process, in KiB.
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1]);
  return { hwm: kib('VmHWM'), rss: kib('VmRSS') };
}

// CPU time (user + system, all threads) a process has used so far, in seconds.
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime in clock ticks (USER_HZ)
}

// CPU time (user + system) of a process and all its descendants, living and reaped, in seconds:
// PostgreSQL's postmaster with its backends, which come and go with the connections.
export function treeCpuSeconds(pid) {
  const children = new Map();  // ppid -> [pid]
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;  // exited meanwhile
    }
    const ppid = Number(stat.split(') ')[1].split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(entry));
  }
  const total = (p) => {
    let fields;
    try {
      fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
    } catch {
      return 0;
    }
    // utime, stime, and cutime, cstime: the children it has waited for (clock ticks, USER_HZ).
    const own = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
    return own + (children.get(p) ?? []).reduce((sum, c) => sum + total(c), 0);
  };
  return total(pid);
}

// ---- RFC 6238 ----

export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of clean) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export const TOTP_PERIOD = 30;
export const currentStep = (nowMs = Date.now()) => Math.floor(nowMs / 1000 / TOTP_PERIOD);

// HMAC-SHA-1, 6 digits (RFC 6238 defaults, what Keystep enrolls).
export function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, '0');
}

// ---- a minimal browser ----

function decodeEntities(text) {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, n) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[n]);
}

// The forms of a page: [{ action, inputs: { name: value } }] (hidden inputs keep their value,
// visible ones are listed with '').
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = decodeEntities(m[1].match(/action="([^"]*)"/i)?.[1] ?? '');
    const inputs = {};
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const name = i[1].match(/name="([^"]*)"/i)?.[1];
      if (!name) continue;
      const hidden = /type="hidden"/i.test(i[1]);
      inputs[name] = hidden ? decodeEntities(i[1].match(/value="([^"]*)"/i)?.[1] ?? '') : '';
    }
    forms.push({ action, inputs });
  }
  return forms;
}

function pathMatches(cookiePath, requestPath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export class Browser {
  constructor() {
    this.cookies = new Map(); // "name path" -> { name, value, path }
  }

  cookieHeader(pathname) {
    const out = [];
    for (const c of this.cookies.values()) if (pathMatches(c.path, pathname)) out.push(`${c.name}=${c.value}`);
    return out.join('; ');
  }

  // Returns { status, location (URL or null), body }.
  async request(url, { method = 'GET', form } = {}) {
    const headers = {};
    const cookie = this.cookieHeader(url.pathname);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await httpRequest(url, { method, headers, body });
    for (const header of res.headers['set-cookie'] ?? []) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      const c = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: '/' };
      let expired = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path' && v.trim().startsWith('/')) c.path = v.trim();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) < Date.now()) expired = true;
      }
      const key = `${c.name} ${c.path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, c);
    }
    const location = res.headers.location;
    return { status: res.status, location: location === undefined ? null : new URL(location, url), body: res.body };
  }
}

// ---- the relying party ----

// A server under test as the RP sees it: discovery, the JWKS for signature checks, the
// client. `kind` is 'keystep' or 'peer'.
export async function relyingParty({ kind, issuer, clientId, redirectUri, scope }) {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(),
                                        { execute: [client.allowInsecureRequests] });
  const metadata = config.serverMetadata();
  if (!metadata.code_challenge_methods_supported?.includes('S256')) throw new Error(`${issuer} lacks PKCE S256`);
  const jwks = jose.createLocalJWKSet(await (await fetch(metadata.jwks_uri)).json());
  return { kind, issuer, clientId, redirectUri, scope, metadata, jwks, tokenUrl: new URL(metadata.token_endpoint) };
}

const random = () => randomBytes(32).toString('base64url');

// Posts a form to the token endpoint as a public client; returns the parsed JSON body or throws.
export async function tokenRequest(rp, fields) {
  const res = await httpRequest(rp.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ ...fields, client_id: rp.clientId }).toString(),
  });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body);
  if (String(body.token_type).toLowerCase() !== 'bearer' || !body.access_token || !body.id_token)
    throw new Error(`unexpected token response: ${res.body.slice(0, 300)}`);
  return body;
}

// What an RP checks on an id_token: RS256 signature against the JWKS, iss, aud, exp and iat
// (jose), and the nonce it sent.
export async function validateIdToken(rp, idToken, nonce) {
  const { payload } = await jose.jwtVerify(idToken, rp.jwks,
                                           { issuer: rp.issuer, audience: rp.clientId, algorithms: ['RS256'] });
  if (typeof payload.sub !== 'string' || !payload.sub) throw new Error('id_token without sub');
  if (nonce !== undefined && payload.nonce !== nonce) throw new Error('id_token nonce mismatch');
  return payload;
}

// One full login: authorize (PKCE S256, state, nonce) → sign-in form → (second-factor form)
// → redirect back with code, state and iss → code exchange → id_token validation.
// `user` is { login, password, code() } where code() is called only if the server asks for
// a second factor. Returns { tokens, claims, requests }.
export async function fullLogin(rp, user) {
  const browser = new Browser();
  const verifier = random();
  const state = random();
  const nonce = random();
  let url = new URL(rp.metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: rp.clientId,
    response_type: 'code',
    redirect_uri: rp.redirectUri,
    scope: rp.scope,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce,
  }).toString();
  let res = await browser.request(url);
  let callback = null;
  let requests = 1;
  while (!callback) {
    if (requests > 12) throw new Error(`the login did not come back to the client (last: ${url} ${res.status})`);
    if (res.status >= 300 && res.status < 400 && res.location) {
      if (res.location.href.startsWith(rp.redirectUri)) {
        callback = res.location;
        break;
      }
      url = res.location;
    } else {
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${res.body.slice(0, 400)}`);
      const form = parseForms(res.body).find((f) => 'password' in f.inputs || 'code' in f.inputs);
      if (!form) throw new Error(`no sign-in form at ${url}: ${res.body.slice(0, 400)}`);
      const fields = { ...form.inputs };
      if ('password' in fields) {
        if ('email' in fields) fields.email = user.login;
        if ('login' in fields) fields.login = user.login;
        fields.password = user.password;
      } else {
        fields.code = user.code();
      }
      url = new URL(form.action || url.href, url);
      res = await browser.request(url, { method: 'POST', form: fields });
      requests++;
      continue;
    }
    res = await browser.request(url);
    requests++;
  }
  const params = callback.searchParams;
  if (params.get('error')) throw new Error(`the login failed: ${params.get('error')}: ${params.get('error_description')}`);
  if (params.get('state') !== state) throw new Error('state mismatch');
  if (params.get('iss') !== rp.issuer) throw new Error(`iss mismatch: ${params.get('iss')}`);
  const tokens = await tokenRequest(rp, {
    grant_type: 'authorization_code', code: params.get('code'), redirect_uri: rp.redirectUri, code_verifier: verifier,
  });
  const claims = await validateIdToken(rp, tokens.id_token, nonce);
  return { tokens, claims, requests: requests + 1 };
}

// Runs `task(i)` on `concurrency` workers until `durationMs` has passed or `limit` tasks were
// started. Returns { ok, failed, elapsedMs, latencies (ms, sorted), errors (first few) }.
export async function closedLoop({ concurrency, durationMs, limit = Infinity, task }) {
  const latencies = [];
  const errors = [];
  let started = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  async function worker() {
    while (performance.now() < end && started < limit) {
      const i = started++;
      const s = performance.now();
      try {
        await task(i);
        latencies.push(performance.now() - s);
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(String(err?.message ?? err).slice(0, 500));
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, failed, elapsedMs, latencies, errors };
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---- Keystep's profile pages ----

// Signs `user` in on Keystep's profile page and turns on two-factor authentication with an
// authenticator app (TOTP), as a person would: enable → read the secret key shown under the QR
// code → confirm with the current code. Returns { secret (Buffer), lastStep } where lastStep
// is the time step whose code was used (Keystep refuses it again for this user).
export async function enrollTotp(issuer, user) {
  const browser = new Browser();
  let url = new URL('/profile', issuer);
  let res = await browser.request(url);
  for (let i = 0; i < 8; i++) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      url = res.location;
      res = await browser.request(url);
      continue;
    }
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${res.body.slice(0, 300)}`);
    const login = parseForms(res.body).find((f) => 'password' in f.inputs && 'email' in f.inputs);
    if (!login) break;
    url = new URL(login.action, url);
    res = await browser.request(url, { method: 'POST', form: { ...login.inputs, email: user.login, password: user.password } });
  }
  const toggle = parseForms(res.body).find((f) => f.action === '/profile/two-factor' && f.inputs.action === 'enable');
  if (!toggle) throw new Error(`no "turn on two-factor" switch on ${url}: ${res.body.slice(0, 300)}`);
  res = await browser.request(new URL(toggle.action, url), { method: 'POST', form: toggle.inputs });
  if (res.status !== 302) throw new Error(`POST /profile/two-factor answered ${res.status}`);
  url = res.location;
  res = await browser.request(url);
  const shown = res.body.match(/id="secret-key">([^<]+)</)?.[1];
  if (!shown) throw new Error(`no secret key on ${url}: ${res.body.slice(0, 300)}`);
  const secret = base32Decode(shown);
  const confirm = parseForms(res.body).find((f) => f.action === '/profile/two-factor/enable');
  const step = currentStep();
  res = await browser.request(new URL(confirm.action, url),
                              { method: 'POST', form: { ...confirm.inputs, code: totp(secret, step) } });
  if (res.status !== 200 || !res.body.includes('Two-factor authentication is on'))
    throw new Error(`confirming the authenticator app answered ${res.status}: ${res.body.slice(0, 300)}`);
  return { secret, lastStep: step };
}

// The next code an authenticator app would give that Keystep has not seen for this user:
// the current step's, or the next step's (inside Keystep's ±1 step window) if the current
// one was already used.
export function nextCode(enrolled) {
  const step = Math.max(currentStep(), enrolled.lastStep + 1);
  if (step > currentStep() + 1) throw new Error('no unused TOTP code for this user in the window');
  enrolled.lastStep = step;
  return totp(enrolled.secret, step);
}
