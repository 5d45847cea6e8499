// Does a burst of password sign-ins starve the rest of the server? Measures the latency of
// discovery and of the refresh_token grant, one request at a time each, first with the server
// otherwise idle, then while SIGNINS password sign-ins run at once in a closed loop (GET
// /authorize → GET /login → POST /login, until the code comes back), and reports p50/p99 for
// both plus the sign-ins per second. With --baseline BIN the same run is made against another
// keystep binary (e.g. one built before the password pool), with the same Argon2id cost.
// See docs/performance.md ("Password sign-ins under load").
//
//   node bench/password_load.mjs --keystep BIN [--baseline BIN] [--duration S] [--signins N]
//                                [--argon2 '{"t_cost":2,"m_cost_kib":19456,"parallelism":1}']
//                                [--write-doc FILE]
// Needs bench/node_modules (bench/run installs it: npm ci in bench/peer).

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import * as L from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    keystep: { type: 'string' },
    baseline: { type: 'string' },
    duration: { type: 'string', default: '10' },
    signins: { type: 'string', default: '50' },
    argon2: { type: 'string' },  // JSON; default: the binary's own defaults
    'write-doc': { type: 'string' },
    'time-limit': { type: 'string', default: '600' },
  },
});
if (!opt.keystep) {
  console.error('usage: node bench/password_load.mjs --keystep BIN [--baseline BIN] [--duration S] [--signins N] [--argon2 JSON] [--write-doc FILE]');
  process.exit(2);
}
const DURATION_MS = Number(opt.duration) * 1000;
const SIGNINS = Number(opt.signins);
const PROBE_GAP_MS = 5;  // between two probe requests, so the probes themselves are no load
const CLIENT_ID = 'bench';
const PASSWORD = 'bench-password-0123';
const log = (...args) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...args);

const servers = [];
const dirs = [];
async function cleanup() {
  await Promise.all(servers.map((s) => s.stop().catch(() => {})));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
setTimeout(async () => {
  console.error(`password_load: time limit of ${opt['time-limit']} s reached, stopping`);
  await cleanup();
  process.exit(1);
}, Number(opt['time-limit']) * 1000).unref();

async function provision(bin, port, redirectUri) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-pwload-'));
  dirs.push(dir);
  const d = ['--data-dir', dir];
  await L.run(bin, ['init', ...d, '--issuer', `http://127.0.0.1:${port}`]);
  const confPath = path.join(dir, 'keystep.conf');
  const conf = JSON.parse(await readFile(confPath, 'utf8'));
  if (opt.argon2) conf.argon2 = JSON.parse(opt.argon2);
  await writeFile(confPath, JSON.stringify(conf, null, 2) + '\n');
  await L.run(bin, ['account', 'create', ...d, '--name', 'bench', '--issuer-label', 'Bench']);
  await L.run(bin, ['client', 'create', ...d, '--client-id', CLIENT_ID, '--redirect-uri', redirectUri, '--public']);
  const users = Array.from({ length: SIGNINS + 1 }, (_, i) => ({ login: `u${i}@bench.test`, password: PASSWORD }));
  for (const u of users)
    await L.run(bin, ['user', 'create', ...d, '--account', 'bench', '--email', u.login, '--password-stdin'], { input: `${u.password}\n` });
  return { dir, users, argon2: conf.argon2 };
}

// The password step only: authorize → login page → POST /login → the redirect with a code.
async function passwordSignIn(rp, user) {
  const browser = new L.Browser();
  const url = new URL(rp.metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: rp.clientId, response_type: 'code', redirect_uri: rp.redirectUri, scope: 'openid',
    code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
    code_challenge_method: 'S256', state: 's', nonce: 'n',
  }).toString();
  let res = await browser.request(url);
  if (res.status !== 302 || !res.location) throw new Error(`/authorize answered ${res.status}`);
  const loginUrl = res.location;
  res = await browser.request(loginUrl);
  const form = L.parseForms(res.body).find((f) => 'password' in f.inputs);
  if (!form) throw new Error(`no login form (${res.status})`);
  res = await browser.request(new URL(form.action || loginUrl.href, loginUrl), {
    method: 'POST', form: { ...form.inputs, email: user.login, password: user.password },
  });
  if (res.status === 503) return 'refused';
  if (res.status !== 302 || !res.location?.href.startsWith(rp.redirectUri) || !res.location.searchParams.get('code'))
    throw new Error(`POST /login answered ${res.status}: ${res.body.slice(0, 200)}`);
  return 'ok';
}

// One request at a time until `stop()` says so; latencies in ms, sorted.
async function probe(request, stop) {
  const latencies = [];
  let errors = 0;
  while (!stop()) {
    const t = performance.now();
    try {
      await request();
      latencies.push(performance.now() - t);
    } catch {
      errors++;
    }
    await L.sleep(PROBE_GAP_MS);
  }
  latencies.sort((a, b) => a - b);
  return { latencies, errors };
}

async function measure(bin, label) {
  const [port, rpPort] = [await L.freePort(), await L.freePort()];
  const redirectUri = `http://127.0.0.1:${rpPort}/cb`;
  log(`${label}: provisioning ${SIGNINS + 1} users with ${bin}`);
  const { dir, users, argon2 } = await provision(bin, port, redirectUri);
  const server = await L.startServer(label, bin, ['serve', '--data-dir', dir, '--listen', `127.0.0.1:${port}`],
                                     { ready: 'keystep serving', probe: `http://127.0.0.1:${port}/healthz` });
  servers.push(server);
  const issuer = `http://127.0.0.1:${port}`;
  const rp = await L.relyingParty({ kind: 'keystep', issuer, clientId: CLIENT_ID, redirectUri, scope: 'openid offline_access' });
  let refreshToken = (await L.fullLogin(rp, users[SIGNINS])).tokens.refresh_token;
  const discoveryUrl = new URL('/.well-known/openid-configuration', issuer);
  const discovery = async () => {
    const r = await L.httpRequest(discoveryUrl);
    if (r.status !== 200) throw new Error(`discovery ${r.status}`);
  };
  const refresh = async () => {
    const body = await L.tokenRequest(rp, { grant_type: 'refresh_token', refresh_token: refreshToken });
    refreshToken = body.refresh_token;
  };
  const phase = async (withLoad) => {
    const end = performance.now() + DURATION_MS;
    const stop = () => performance.now() >= end;
    let refused = 0;
    const load = withLoad
      ? L.closedLoop({
        concurrency: SIGNINS, durationMs: DURATION_MS,
        task: async (i) => {
          if ((await passwordSignIn(rp, users[i % SIGNINS])) === 'refused') {
            refused++;
            await L.sleep(1000);  // as Retry-After: 1 asks
          }
        },
      })
      : null;
    const [d, r, l] = await Promise.all([probe(discovery, stop), probe(refresh, stop), load]);
    const stats = (p) => ({ n: p.latencies.length, errors: p.errors, p50: L.percentile(p.latencies, 50),
                            p99: L.percentile(p.latencies, 99), max: p.latencies.at(-1) });
    return {
      discovery: stats(d), refresh: stats(r),
      signins: l && { ok: l.ok - refused, refused, failed: l.failed, perSecond: (l.ok - refused) / (l.elapsedMs / 1000),
                      p50: L.percentile(l.latencies, 50), p99: L.percentile(l.latencies, 99), errors: l.errors },
    };
  };
  log(`${label}: idle, ${DURATION_MS / 1000} s`);
  const idle = await phase(false);
  log(`${label}: ${SIGNINS} concurrent password sign-ins, ${DURATION_MS / 1000} s`);
  const loaded = await phase(true);
  await server.stop();
  servers.splice(servers.indexOf(server), 1);
  return { label, bin, argon2, idle, loaded };
}

const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function table(runs) {
  const lines = [
    '| server | endpoint | idle p50 (ms) | idle p99 (ms) | under load p50 (ms) | under load p99 (ms) | under load max (ms) | requests under load |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const run of runs) {
    for (const key of ['discovery', 'refresh']) {
      const i = run.idle[key];
      const l = run.loaded[key];
      lines.push(`| ${run.label} | ${key === 'refresh' ? 'refresh_token grant' : 'discovery'} | ${fmt(i.p50, 2)} | ${fmt(i.p99, 2)} | ${fmt(l.p50, 2)} | ${fmt(l.p99, 2)} | ${fmt(l.max, 0)} | ${l.n}${l.errors ? ` (${l.errors} failed)` : ''} |`);
    }
  }
  lines.push('', '| server | sign-ins/s | sign-in p50 (ms) | sign-in p99 (ms) | answered 503 (queue full) | failed |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const run of runs) {
    const s = run.loaded.signins;
    lines.push(`| ${run.label} | ${fmt(s.perSecond)} | ${fmt(s.p50, 0)} | ${fmt(s.p99, 0)} | ${s.refused} | ${s.failed} |`);
  }
  return lines.join('\n');
}

const BEGIN = '<!-- bench/password_load.mjs: begin (generated) -->';
const END = '<!-- bench/password_load.mjs: end -->';

async function main() {
  const loadBefore = os.loadavg()[0];
  const runs = [await measure(path.resolve(opt.keystep), 'Keystep (password pool)')];
  if (opt.baseline) runs.push(await measure(path.resolve(opt.baseline), 'baseline (hashing on the HTTP workers)'));
  const loadAfter = os.loadavg()[0];
  const a = runs[0].argon2;
  const section = [
    `Run of ${new Date().toISOString().slice(0, 10)}: ${SIGNINS} concurrent sign-ins, ${DURATION_MS / 1000} s per phase, ` +
      `Argon2id t=${a.t_cost}, m=${a.m_cost_kib} KiB, p=${a.parallelism}; \`nproc\` = ${os.cpus().length}, ` +
      `load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after (shared machine).`,
    '',
    table(runs),
  ].join('\n');
  console.log(`\n${section}\n`);
  for (const run of runs) if (run.loaded.signins.errors.length) console.log(`${run.label}: sign-in errors, e.g. ${run.loaded.signins.errors[0]}`);
  if (opt['write-doc']) {
    const file = path.resolve(opt['write-doc']);
    const text = await readFile(file, 'utf8');
    const from = text.indexOf(BEGIN);
    const to = text.indexOf(END);
    if (from < 0 || to < from) throw new Error(`${file} lacks the markers ${BEGIN} … ${END}`);
    await writeFile(file, text.slice(0, from) + `${BEGIN}\n${section}\n` + text.slice(to));
    log(`wrote ${file}`);
  }
}

main().then(cleanup, async (err) => {
  console.error(err);
  await cleanup();
  process.exit(1);
});
