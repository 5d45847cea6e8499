// The side-by-side benchmark: Keystep and panva's oidc-provider on loopback, driven by the
// same tools in the same run (wrk for discovery, JWKS and refresh grants; bench/lib.mjs for
// full logins), then a table of Keystep / peer ratios; then the same refresh grants and
// logins against Keystep on PostgreSQL, with one node and with two nodes behind HAProxy, for a
// second table by store. Started by bench/run, which installs and builds first; see
// docs/performance.md.
//
//   node bench/compare.mjs --keystep BIN [--totp-bench BIN] [--duration S] [--postgres 1,2|none]
//                          [--write-doc FILE]

import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { HAProxy } from '../tests/e2e/lib/haproxy.mjs';
import { Postgres } from '../tests/e2e/lib/postgres.mjs';
import * as L from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    keystep: { type: 'string' },
    'totp-bench': { type: 'string' },
    duration: { type: 'string', default: '10' },        // seconds per wrk run and per login run
    concurrency: { type: 'string', default: '8' },      // full logins in flight
    'users-fast': { type: 'string' },                   // TOTP users, protocol-only Keystep
    'users-prod': { type: 'string' },                   // TOTP users, production-defaults Keystep
    'refresh-chains': { type: 'string', default: '64' },
    'write-doc': { type: 'string' },
    perf: { type: 'string' },                           // directory: perf profiles of Keystep per phase
    postgres: { type: 'string', default: '1,2' },       // PostgreSQL modes: node counts, or none
    'time-limit': { type: 'string', default: '1800' },  // seconds; then everything is stopped
  },
});
if (!opt.keystep) {
  console.error('usage: node bench/compare.mjs --keystep BIN [--totp-bench BIN] [--duration S] [--write-doc FILE]');
  process.exit(2);
}
const KEYSTEP = path.resolve(opt.keystep);
const DURATION = Number(opt.duration);
const CONCURRENCY = Number(opt.concurrency);
// Each TOTP user signs in once per run (Keystep refuses a code twice for a user), so the pools
// are sized to the duration: more than this machine's rates times the duration. A run that
// exhausts a pool is shorter and says so.
const USERS_FAST = Number(opt['users-fast'] ?? 400 * DURATION);
const USERS_PROD = Number(opt['users-prod'] ?? 15 * DURATION);
const CHAINS = Number(opt['refresh-chains']);
const WRK = ['-t2', '-c32', `-d${DURATION}s`, '--latency'];
const CLIENT_ID = 'bench';
const PASSWORD = 'bench-password-0123';
const FAST_ARGON2 = { t_cost: 1, m_cost_kib: 8, parallelism: 1 };
const PG_NODES = opt.postgres === 'none' ? [] : opt.postgres.split(',').map(Number);
if (PG_NODES.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`--postgres takes node counts such as 1,2 or none, not ${opt.postgres}`);
  process.exit(2);
}
const log = (...args) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...args);

const servers = [];
let root;
let pg;
async function cleanup() {
  await Promise.all(servers.map((s) => s.stop().catch(() => {})));
  if (pg) await pg.stop();
  pg = null;
  if (root) await rm(root, { recursive: true, force: true });
}
const watchdog = setTimeout(async () => {
  console.error(`bench: time limit of ${opt['time-limit']} s reached, stopping`);
  await cleanup();
  process.exit(1);
}, Number(opt['time-limit']) * 1000);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

// Runs `task` over `items` with at most `limit` at once.
async function pool(items, limit, task) {
  let next = 0;
  const out = new Array(items.length);
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i], i);
    }
  }));
  return out;
}

// ---- Keystep provisioning, only through its CLI ----

async function provisionKeystep(dir, { port, redirectUri, argon2, users, extraUsers = [] }) {
  const issuer = `http://127.0.0.1:${port}`;
  const d = ['--data-dir', dir];
  await L.run(KEYSTEP, ['init', ...d, '--issuer', issuer]);
  if (argon2) {
    const confPath = path.join(dir, 'keystep.conf');
    const conf = JSON.parse(await readFile(confPath, 'utf8'));
    conf.argon2 = argon2;
    await writeFile(confPath, JSON.stringify(conf, null, 2) + '\n');
  }
  await L.run(KEYSTEP, ['account', 'create', ...d, '--name', 'bench', '--issuer-label', 'Keystep bench']);
  await L.run(KEYSTEP, ['client', 'create', ...d, '--client-id', CLIENT_ID, '--redirect-uri', redirectUri, '--public']);
  const all = [...extraUsers, ...users];
  await pool(all, 2, (u) => L.run(KEYSTEP, ['user', 'create', ...d, '--account', 'bench', '--email', u.login, '--password-stdin'],
                                  { input: `${u.password}\n` }));
  return issuer;
}

// `issuer` and `database` (a postgresql:// URL) override the data directory's configuration:
// the PostgreSQL nodes share the protocol-only instance's directory (configuration, master key).
function startKeystep(name, dir, port, { issuer, database } = {}) {
  const args = ['serve', '--data-dir', dir, '--listen', `127.0.0.1:${port}`];
  if (issuer) args.push('--issuer', issuer);
  const env = database ? { ...process.env, KEYSTEP_DATABASE_URL: database } : process.env;
  return L.startServer(name, KEYSTEP, args,
                       { ready: 'keystep serving', probe: `http://127.0.0.1:${port}/healthz`, env });
}

function startPeer(port, redirectUri) {
  return L.startServer('peer', process.execPath,
                       [path.join(HERE, 'peer', 'server.mjs'), '--port', String(port), '--redirect-uri', redirectUri,
                        '--client-id', CLIENT_ID],
                       { ready: 'peer serving', probe: `http://127.0.0.1:${port}/.well-known/openid-configuration`,
                         env: { ...process.env, NODE_ENV: 'production' } });
}

// ---- wrk ----

function wrk(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { env: { ...process.env, BENCH_WRK_DIR: path.join(HERE, 'wrk') } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk ${args.join(' ')} failed (${code}):\n${out}`));
      const r = JSON.parse(line.slice('WRK_JSON '.length));
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      resolve({
        rps: r.requests / (r.duration_us / 1e6),
        p50: r.p50_us / 1000,
        p99: r.p99_us / 1000,
        requests: r.requests,
        errors,
        detail: r.errors,
      });
    });
  });
}

// Runs `measure` and adds the server's CPU time per completed request (ms) to its result.
// With --perf DIR, Keystep is sampled meanwhile (perf record, DWARF call graphs) and
// DIR/NAME.txt gets the functions by inclusive and by self time.
async function withCpu(server, measure, name) {
  const profile = opt.perf && name && server.name.startsWith('keystep') ? await startPerf(server, name) : null;
  const before = L.cpuSeconds(server.pid);
  const r = await measure();
  r.cpuMs = ((L.cpuSeconds(server.pid) - before) * 1000) / r.requests;
  if (profile) await profile.stop();
  return r;
}

async function startPerf(server, name) {
  const dir = path.resolve(opt.perf);
  await mkdir(dir, { recursive: true });
  const data = path.join(dir, `${name}.data`);
  const child = spawn('perf', ['record', '-q', '-F', '499', '--call-graph', 'dwarf,16384', '-o', data, '-p', String(server.pid)],
                      { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await L.sleep(300);
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const report = (extra) => execFileSync('sh', ['-c', `perf report -i '${data}' --stdio -g none --percent-limit 0.5 ${extra} 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -v '] 0x0000' | cut -c1-160`],
                                             { encoding: 'utf8', maxBuffer: 64 << 20 });
      await writeFile(path.join(dir, `${name}.txt`),
                      `# ${name}: Keystep (${server.name}), perf record -F 499 --call-graph dwarf\n\n## by library (self)\n` +
                      report('--no-children --sort dso') + '\n## by function, inclusive (children)\n' +
                      report('--children --sort symbol') + '\n## by function, self\n' + report('--no-children --sort dso,symbol'));
      log(`perf profile of ${name}: ${path.join(dir, `${name}.txt`)}`);
    },
  };
}

async function wrkGet(server, url, keepAliveHeader, name) {
  const args = [...WRK, '-s', path.join(HERE, 'wrk', 'report.lua')];
  if (keepAliveHeader) args.push('-H', 'Connection: keep-alive');
  return withCpu(server, () => wrk([...args, url]), name);
}

// ---- refresh grants and logins, for any server ----

// Seeds CHAINS refresh chains with full logins of `user` and writes them to a file for
// bench/wrk/refresh.lua; returns its path.
async function seedRefreshChains(rpx, user, name) {
  const tokens = await pool(Array.from({ length: CHAINS }), 4, async () => (await L.fullLogin(rpx, user)).tokens.refresh_token);
  // The grant the load runs: one checked by hand, as an RP would (a new refresh token and a
  // valid signed id_token).
  const checked = await L.tokenRequest(rpx, { grant_type: 'refresh_token', refresh_token: tokens[0] });
  await L.validateIdToken(rpx, checked.id_token);
  if (!checked.refresh_token || checked.refresh_token === tokens[0]) throw new Error(`${name} did not rotate the refresh token`);
  tokens[0] = checked.refresh_token;
  const file = path.join(root, `refresh-${name}.txt`);
  await writeFile(file, tokens.join('\n') + '\n');
  return file;
}

const refreshLoad = (rpx, file) => wrk([...WRK, '-s', path.join(HERE, 'wrk', 'refresh.lua'), rpx.metadata.token_endpoint, '--',
                                        file, CLIENT_ID, '2']);

// Full logins at CONCURRENCY for DURATION against `rpx`, by `userOf(i)`, at most `users.length`.
async function logins(label, rpx, users, userOf) {
  log(`full logins: ${label}, concurrency ${CONCURRENCY}, ${DURATION} s${users ? `, at most ${users.length} users` : ''}`);
  const driverBefore = process.cpuUsage();
  const r = await L.closedLoop({
    concurrency: CONCURRENCY,
    durationMs: DURATION * 1000,
    limit: users ? users.length : Infinity,
    task: (i) => L.fullLogin(rpx, userOf(i)),
  });
  if (r.failed) notes.push(`${label}: ${r.failed} logins failed, e.g. ${r.errors[0]}`);
  if (users && r.ok + r.failed >= users.length && r.elapsedMs < DURATION * 1000 - 500)
    notes.push(`${label}: the pool of ${users.length} TOTP users ran out after ${(r.elapsedMs / 1000).toFixed(1)} s; the rate is over that time`);
  const driver = process.cpuUsage(driverBefore);
  return { rps: r.ok / (r.elapsedMs / 1000), p50: L.percentile(r.latencies, 50), p99: L.percentile(r.latencies, 99),
           requests: r.ok, errors: r.failed, driverCpuMs: (driver.user + driver.system) / 1000 / r.ok };
}

// ---- Keystep on PostgreSQL ----

// A PostgreSQL mode: a database of its own holding a copy of the protocol-only instance
// (`keystep store copy`), served by `count` nodes sharing that instance's data directory; with
// more than one node, HAProxy (tests/e2e/lib/haproxy.mjs, round robin) is the issuer.
async function postgresMode(count, dir) {
  const db = await pg.createDatabase();
  await L.run(KEYSTEP, ['store', 'copy', '--from', dir, '--to', db.url]);
  const ports = [];
  for (let i = 0; i < count; i++) ports.push(await L.freePort());
  const balancerPort = count > 1 ? await L.freePort() : null;
  const mode = { key: `pg${count}`, count, issuer: `http://127.0.0.1:${balancerPort ?? ports[0]}`, nodes: [], balancer: null };
  mode.start = async () => {
    mode.nodes = await Promise.all(ports.map((port, i) => startKeystep(`keystep (PostgreSQL, node ${i + 1})`, dir, port,
                                                                      { issuer: mode.issuer, database: db.url })));
    servers.push(...mode.nodes);
    if (count > 1) mode.balancer = await HAProxy.start({ port: balancerPort, servers: ports.map((port, i) => ({ name: `node${i + 1}`, port })) });
  };
  mode.stop = async () => {
    if (mode.balancer) await mode.balancer.stop();
    await Promise.all(mode.nodes.map((n) => n.stop()));
  };
  // Transaction IDs PostgreSQL has handed out: only a transaction that writes gets one, so the
  // difference over a measurement is its write transactions (plus this query's own).
  mode.xid = async () => Number((await pg.sql(db.name, 'SELECT txid_current()'))[0][0]);
  return mode;
}

// Runs `measure` on a PostgreSQL mode and adds per completed request: the Keystep nodes' CPU
// (cpuMs), PostgreSQL's (postmaster and backends, pgCpuMs), HAProxy's (lbCpuMs) and the write
// transactions (writes).
async function withModeCost(mode, measure) {
  const postmaster = Number((await readFile(path.join(pg.dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const cpu = () => ({
    keystep: mode.nodes.reduce((sum, n) => sum + L.cpuSeconds(n.pid), 0),
    postgres: L.treeCpuSeconds(postmaster),
    balancer: mode.balancer ? L.cpuSeconds(mode.balancer.process.pid) : 0,
  });
  const xid = await mode.xid();
  const before = cpu();
  const r = await measure();
  const after = cpu();
  r.writes = (await mode.xid() - xid - 1) / r.requests;
  const per = (k) => ((after[k] - before[k]) * 1000) / r.requests;
  return Object.assign(r, { cpuMs: per('keystep'), pgCpuMs: per('postgres'), lbCpuMs: per('balancer') });
}

// ---- the run ----

const results = {};   // metric key -> { keystep, peer }
const byStore = [];   // the PostgreSQL modes: { label, refresh, login }
const notes = [];

async function main() {
  const loadBefore = os.loadavg();
  root = await mkdtemp(path.join(os.tmpdir(), 'keystep-bench-'));
  const [peerPort, fastPort, prodPort, rpPort] = [await L.freePort(), await L.freePort(), await L.freePort(), await L.freePort()];
  const redirectUri = `http://127.0.0.1:${rpPort}/cb`;

  // Users: one without 2FA whose logins seed the refresh chains, and the TOTP pools.
  const refreshUser = { login: 'refresh@bench.test', password: PASSWORD };
  const mk = (prefix, n) => Array.from({ length: n }, (_, i) => ({ login: `${prefix}${i}@bench.test`, password: PASSWORD }));
  const fastUsers = mk('fast', USERS_FAST);
  const prodUsers = mk('prod', USERS_PROD);

  log(`provisioning Keystep with the CLI: protocol-only (${USERS_FAST} TOTP users), production defaults (${USERS_PROD})`);
  const fastDir = path.join(root, 'protocol-only');
  const prodDir = path.join(root, 'production');
  const [fastIssuer, prodIssuer] = await Promise.all([
    provisionKeystep(fastDir, { port: fastPort, redirectUri, argon2: FAST_ARGON2, users: fastUsers, extraUsers: [refreshUser] }),
    provisionKeystep(prodDir, { port: prodPort, redirectUri, argon2: null, users: prodUsers }),
  ]);

  log('starting the servers');
  const peer = await startPeer(peerPort, redirectUri);
  servers.push(peer);
  const fast = await startKeystep('keystep (protocol only)', fastDir, fastPort);
  servers.push(fast);
  const prod = await startKeystep('keystep (production defaults)', prodDir, prodPort);
  servers.push(prod);
  const peerIssuer = `http://127.0.0.1:${peerPort}`;
  const server = { keystep: fast, prod, peer };

  log('turning on two-factor authentication (TOTP) for every bench user through the profile pages');
  await pool(fastUsers, 4, async (u) => (u.totp = await L.enrollTotp(fastIssuer, u)));
  await pool(prodUsers, 2, async (u) => (u.totp = await L.enrollTotp(prodIssuer, u)));
  for (const u of fastUsers) u.enrolled = { ...u.totp };

  const postgresModes = [];
  if (PG_NODES.length) {
    log(`starting PostgreSQL 15; keystep store copy of the protocol-only instance for ${PG_NODES.join(' and ')} node(s)`);
    pg = await Postgres.start();
    for (const count of PG_NODES) postgresModes.push(await postgresMode(count, fastDir));
  }

  const scope = 'openid email offline_access';
  const rp = {
    keystep: await L.relyingParty({ kind: 'keystep', issuer: fastIssuer, clientId: CLIENT_ID, redirectUri, scope }),
    prod: await L.relyingParty({ kind: 'keystep', issuer: prodIssuer, clientId: CLIENT_ID, redirectUri, scope }),
    peer: await L.relyingParty({ kind: 'peer', issuer: peerIssuer, clientId: CLIENT_ID, redirectUri, scope }),
  };

  // 1. Discovery and JWKS (the JWKS URL comes from each discovery document).
  for (const [endpoint, urlOf] of [
    ['discovery', (r) => `${r.issuer}/.well-known/openid-configuration`],
    ['jwks', (r) => r.metadata.jwks_uri],
  ]) {
    // Warm-up (the peer's JIT), not measured.
    for (const side of ['keystep', 'peer']) await wrk(['-t1', '-c4', '-d1s', '-s', path.join(HERE, 'wrk', 'report.lua'), urlOf(rp[side])]);
    for (const keepAlive of [false, true]) {
      const key = `${endpoint}${keepAlive ? '_ka' : ''}`;
      log(`wrk ${endpoint}${keepAlive ? ' with Connection: keep-alive' : ''}`);
      results[key] = {};
      for (const side of ['keystep', 'peer']) results[key][side] = await wrkGet(server[side], urlOf(rp[side]), keepAlive, key);
    }
  }

  // 2. Token endpoint: refresh chains seeded by full logins, then wrk with bench/wrk/refresh.lua.
  log(`token endpoint: seeding ${CHAINS} refresh chains per server`);
  results.refresh = {};
  for (const side of ['keystep', 'peer']) {
    const user = side === 'keystep' ? refreshUser : { login: 'refresh', password: PASSWORD };
    const file = await seedRefreshChains(rp[side], user, side);
    log(`wrk refresh_token grant (${side})`);
    results.refresh[side] = await withCpu(server[side], () => refreshLoad(rp[side], file), 'refresh');
  }

  // 3. Full logins at fixed concurrency.
  const loginRun = (label, side, users, userOf) => withCpu(server[side], () => logins(label, rp[side], users, userOf),
                                                           `login_${side}`);
  const totpUser = (users, state = users.map((u) => u.totp)) => (i) => ({ ...users[i], code: () => L.nextCode(state[i]) });
  results.login_peer = await loginRun('peer (dev interactions)', 'peer', null,
                                      (i) => ({ login: `user${i}`, password: PASSWORD }));
  results.login_fast = await loginRun('Keystep protocol only', 'keystep', fastUsers, totpUser(fastUsers));
  results.login_prod = await loginRun('Keystep production defaults', 'prod', prodUsers, totpUser(prodUsers));

  // 4. The protocol-only instance's data on PostgreSQL (`keystep store copy`, made above while
  // every TOTP user had signed in only at enrollment), with one node and with several.
  for (const mode of postgresModes) {
    const label = `PostgreSQL, ${mode.count} node${mode.count > 1 ? 's' : ''}`;
    await mode.start();
    const rpx = await L.relyingParty({ kind: 'keystep', issuer: mode.issuer, clientId: CLIENT_ID, redirectUri, scope });
    log(`${label}: seeding ${CHAINS} refresh chains`);
    const file = await seedRefreshChains(rpx, refreshUser, mode.key);
    log(`wrk refresh_token grant (${label})`);
    const refresh = await withModeCost(mode, () => refreshLoad(rpx, file));
    const state = fastUsers.map((u) => ({ ...u.enrolled }));
    const login = await withModeCost(mode, () => logins(`Keystep protocol only, ${label}`, rpx, fastUsers, totpUser(fastUsers, state)));
    byStore.push({ label, refresh, login });
    await mode.stop();
  }

  // 5. Peak resident memory of each server over everything above.
  const mem = Object.fromEntries([['peer', peer], ['fast', fast], ['prod', prod]].map(([k, s]) => [k, L.memoryOf(s.pid).hwm]));
  await cleanup();
  servers.length = 0;

  // 6. TOTP verification micro-benchmark.
  let totp = null;
  if (opt['totp-bench']) {
    log('TOTP verification micro-benchmark');
    const out = execFileSync(path.resolve(opt['totp-bench']), [
      '--benchmark_filter=^(BM_ProviderVerify/valid|BM_RawOathTotpValidate4/valid)$',
      '--benchmark_repetitions=5', '--benchmark_min_time=0.2', '--benchmark_format=json',
      '--benchmark_report_aggregates_only=true'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const bm = JSON.parse(out).benchmarks;
    const median = (name) => bm.find((b) => b.run_name === name && b.aggregate_name === 'median')?.cpu_time;
    totp = { provider: median('BM_ProviderVerify/valid'), raw: median('BM_RawOathTotpValidate4/valid') };
  } else {
    notes.push('TOTP micro-benchmark: keystep_bench_totp was not built (Google Benchmark missing), skipped');
  }

  return { mem, totp, loadBefore, loadAfter: os.loadavg() };
}

// ---- the table ----

const fmt = (v, digits = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

function table({ mem, totp }) {
  const rows = [];
  const ratio = (k, p) => (Number.isFinite(k) && Number.isFinite(p) && p > 0 ? k / p : NaN);
  const target = (value, goal, higher) => (!Number.isFinite(value) ? '' : `${higher ? '≥' : '≤'} ${goal} ${((higher ? value >= goal : value <= goal) ? 'met' : '**not met**')}`);
  const wrkRows = (key, label, goalRps) => {
    const { keystep: k, peer: p } = results[key];
    const r = ratio(k.rps, p.rps);
    rows.push([`${label}: requests/s`, fmt(k.rps), fmt(p.rps), `${fmt(r, 2)}×`, goalRps ? target(r, goalRps, true) : '']);
    rows.push([`${label}: p50 latency (ms)`, fmt(k.p50, 2), fmt(p.p50, 2), `${fmt(ratio(k.p50, p.p50), 2)}×`, '']);
    const r99 = ratio(k.p99, p.p99);
    rows.push([`${label}: p99 latency (ms)`, fmt(k.p99, 2), fmt(p.p99, 2), `${fmt(r99, 2)}×`, goalRps === 3 ? target(r99, 1, false) : '']);
    rows.push([`${label}: server CPU per request (µs)`, fmt(k.cpuMs * 1000), fmt(p.cpuMs * 1000), `${fmt(ratio(k.cpuMs, p.cpuMs), 2)}×`, '']);
    for (const [side, x] of [['Keystep', k], ['peer', p]]) if (x.errors) notes.push(`${label}: ${side} had ${x.errors} errors/non-2xx (${JSON.stringify(x.detail ?? {})})`);
  };
  wrkRows('discovery', 'discovery', 3);
  wrkRows('discovery_ka', 'discovery, Connection: keep-alive', 3);
  wrkRows('jwks', 'JWKS', 3);
  wrkRows('jwks_ka', 'JWKS, Connection: keep-alive', 3);
  wrkRows('refresh', 'token (refresh_token grant)', 2);
  const lp = results.login_peer;
  for (const [key, label, goal] of [['login_fast', 'full logins, protocol only', 2], ['login_prod', 'full logins, production defaults', null]]) {
    const k = results[key];
    const r = ratio(k.rps, lp.rps);
    rows.push([`${label}: logins/s (c=${CONCURRENCY})`, fmt(k.rps, 1), fmt(lp.rps, 1), `${fmt(r, 2)}×`, goal ? target(r, goal, true) : '']);
    rows.push([`${label}: p50 / p99 per login (ms)`, `${fmt(k.p50, 1)} / ${fmt(k.p99, 1)}`, `${fmt(lp.p50, 1)} / ${fmt(lp.p99, 1)}`, '', '']);
    rows.push([`${label}: server CPU per login (ms)`, fmt(k.cpuMs, 2), fmt(lp.cpuMs, 2), `${fmt(ratio(k.cpuMs, lp.cpuMs), 2)}×`, '']);
    rows.push([`${label}: load driver CPU per login (ms)`, fmt(k.driverCpuMs, 2), fmt(lp.driverCpuMs, 2), `${fmt(ratio(k.driverCpuMs, lp.driverCpuMs), 2)}×`, '']);
  }
  const mib = (kib) => kib / 1024;
  rows.push(['peak RSS (VmHWM, MiB), protocol-only instance', fmt(mib(mem.fast), 1), fmt(mib(mem.peer), 1),
             `${fmt(ratio(mem.fast, mem.peer), 2)}×`, target(ratio(mem.fast, mem.peer), 0.33, false)]);
  rows.push(['peak RSS (VmHWM, MiB), production-defaults instance', fmt(mib(mem.prod), 1), fmt(mib(mem.peer), 1),
             `${fmt(ratio(mem.prod, mem.peer), 2)}×`, '']);
  if (totp)
    rows.push(['TOTP verify, ns/op (median CPU; "peer" = raw liboath)', fmt(totp.provider), fmt(totp.raw),
               `${fmt(ratio(totp.provider, totp.raw), 2)}×`, '']);
  const header = ['metric', 'Keystep', 'peer', 'ratio (Keystep / peer)', 'target'];
  return [header, ['---', '---:', '---:', '---:', '---'], ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

// Keystep's protocol-only instance on each store, against the same peer run: the SQLite rows
// are the main table's; SQLite's write transactions are counted inside the process
// (tests/http/write_count_test.cc), PostgreSQL's from transaction IDs.
function storeTable() {
  const lp = results.login_peer;
  const rp = results.refresh.peer;
  const modes = [{ label: 'SQLite, 1 node', login: results.login_fast, refresh: results.refresh.keystep }, ...byStore];
  const x = (k, p) => `${fmt(k / p, 2)}×`;
  const writes = (r) => (r.writes === undefined ? '—' : fmt(r.writes, 2));
  const pgCpu = (r, scale, digits) => (r.pgCpuMs === undefined ? '—' : fmt(r.pgCpuMs * scale, digits));
  const row = (cells) => `| ${cells.join(' | ')} |`;
  const logins = [
    row(['store', `sign-ins/s (c=${CONCURRENCY})`, '× peer', 'p50 / p99 (ms)', 'p99 × peer', 'Keystep CPU per sign-in (ms)',
         'PostgreSQL CPU per sign-in (ms)', 'write transactions per sign-in']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...modes.map(({ label, login: k }) => row([label, fmt(k.rps, 1), x(k.rps, lp.rps), `${fmt(k.p50, 1)} / ${fmt(k.p99, 1)}`,
                                               x(k.p99, lp.p99), fmt(k.cpuMs, 2), pgCpu(k, 1, 2), writes(k)])),
    row(['peer (in memory)', fmt(lp.rps, 1), '', `${fmt(lp.p50, 1)} / ${fmt(lp.p99, 1)}`, '', fmt(lp.cpuMs, 2), '', '']),
  ];
  const refresh = [
    row(['store', 'refresh grants/s', '× peer', 'p50 / p99 (ms)', 'Keystep CPU per grant (µs)', 'PostgreSQL CPU per grant (µs)',
         'write transactions per grant']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...modes.map(({ label, refresh: k }) => row([label, fmt(k.rps), x(k.rps, rp.rps), `${fmt(k.p50, 2)} / ${fmt(k.p99, 2)}`,
                                                 fmt(k.cpuMs * 1000), pgCpu(k, 1000, 0), writes(k)])),
    row(['peer (in memory)', fmt(rp.rps), '', `${fmt(rp.p50, 2)} / ${fmt(rp.p99, 2)}`, fmt(rp.cpuMs * 1000), '', '']),
  ];
  for (const { label, login, refresh: r } of byStore) {
    if (r.errors) notes.push(`refresh grants, ${label}: ${r.errors} errors/non-2xx (${JSON.stringify(r.detail ?? {})})`);
    if (login.lbCpuMs) notes.push(`${label}: HAProxy used ${fmt(login.lbCpuMs, 2)} ms of CPU per sign-in and ${fmt(r.lbCpuMs * 1000)} µs per refresh grant (not in the Keystep column)`);
  }
  return `${logins.join('\n')}\n\n${refresh.join('\n')}\n\nSQLite's write transactions: 6 per sign-in and 1 per refresh grant, ` +
         'counted in the process by tests/http/write_count_test.cc; PostgreSQL\'s: transaction IDs assigned during the run.';
}

function machine(extra) {
  const model = (() => {
    try {
      return execFileSync('lscpu', { encoding: 'utf8' }).match(/^Model name:\s*(.+)$/m)?.[1]?.trim();
    } catch {
      return os.cpus()[0]?.model;
    }
  })();
  const peerVersion = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./peer/node_modules/oidc-provider/package.json").version)'],
                                              { cwd: HERE, encoding: 'utf8' }));
  const wrkVersion = execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1'], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
  return [
    `- date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- machine: \`nproc\` = ${os.availableParallelism?.() ?? os.cpus().length}, \`lscpu\` model name = ${model}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    `- load average (1 min) before / after the run: ${fmt(extra.loadBefore[0], 2)} / ${fmt(extra.loadAfter[0], 2)}`,
    `- Keystep: Release build, ${2 * (os.availableParallelism?.() ?? os.cpus().length)} HTTP threads (the default, two per core); peer: oidc-provider ${peerVersion} on Node.js ${process.version}, NODE_ENV=production`,
    `- tools: ${wrkVersion} (-t2 -c32 -d${DURATION}s), login driver bench/lib.mjs (its own keep-alive HTTP/1.1 client, jose), concurrency ${CONCURRENCY}`,
  ].join('\n');
}

const BEGIN = '<!-- bench/run: begin (generated; edit bench/compare.mjs instead) -->';
const END = '<!-- bench/run: end -->';

async function writeDoc(file, section) {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = '# Performance\n';
  }
  const block = `${BEGIN}\n${section}\n${END}`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(file, text);
}

try {
  const extra = await main();
  const t = table(extra);
  const st = byStore.length ? `\n\n#### By store\n\n${storeTable()}\n` : '';
  const m = machine(extra);
  const noteText = notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : '';
  console.log(`\n${m}\n\n${t}\n${st}${noteText}`);
  if (opt['write-doc']) {
    await writeDoc(path.resolve(opt['write-doc']),
                   `### Latest run\n\n${m}\n\n${t}\n${st}${noteText}`);
    log(`wrote the table into ${opt['write-doc']}`);
  }
  clearTimeout(watchdog);
} catch (err) {
  console.error(`bench: ${err.stack ?? err}`);
  for (const s of servers) console.error(`--- ${s.name} output (last 2000 characters):\n${s.output.slice(-2000)}`);
  await cleanup();
  process.exit(1);
}
