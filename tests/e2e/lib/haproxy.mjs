// Debian's HAProxy in front of several keystep nodes, for a test file: one loopback
// frontend (the nodes' shared issuer), round robin over the nodes, HTTP health checks, and a
// log line per request naming the node that answered it. A missing haproxy binary fails the
// test; it is never skipped.
//
//   const lb = await HAProxy.start({ port, servers: [{ name: 'a', port: 8081 }, …] });
//   … lb.url is the issuer; lb.requests() says which node served what …
//   await lb.stop();

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { freePort } from './keystep.mjs';
import { sleep } from './wait.mjs';

const HAPROXY = '/usr/sbin/haproxy';

// A node is taken out after FALL failed checks CHECK_INTERVAL_MS apart and back in after one
// good one: a killed node is out within about a second.
const CHECK_INTERVAL_MS = 500;
const FALL = 2;

// The configuration: the example of docs/operations.md plus what a test needs (loopback,
// the log on standard output, the admin socket). A connection a node refuses (killed,
// restarting) is retried once on another node (`option redispatch 1`), which is safe for
// every method since the node never saw the request; nothing is retried once a node has it.
function config({ port, servers, check, socket }) {
  return `global
    log stdout format raw local0 info
    stats socket ${socket} mode 600 level admin
    maxconn 512

defaults
    mode http
    log global
    log-format "request %b/%s %ST %HM %HP retries=%rc"
    option forwardfor
    option redispatch 1
    retries 1
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s

frontend keystep
    bind 127.0.0.1:${port}
    default_backend keystep

backend keystep
    balance roundrobin
    option httpchk GET ${check}
    http-check expect status 200
    default-server check inter ${CHECK_INTERVAL_MS} fall ${FALL} rise 1
${servers.map((s) => `    server ${s.name} ${s.host ?? '127.0.0.1'}:${s.port}`).join('\n')}
`;
}

export class HAProxy {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.socket = path.join(dir, 'admin.sock');
    this.process = null;
    this.output = '';  // standard output and error: the log lines and HAProxy's own messages
  }

  // Starts HAProxy on 127.0.0.1:`port` (default: a free one) in front of `servers`
  // ([{ name, port, host = '127.0.0.1' }]), checking each with `GET check` (by default the
  // readiness check operations.md names); resolves once it listens and every server passed
  // its check (`waitUp`; false when the nodes start later).
  static async start({ servers, port, check = '/readyz', waitUp = true }) {
    if (!existsSync(HAPROXY)) throw new Error(`${HAPROXY} is missing: install haproxy (tools/install-deps.sh)`);
    if (!servers?.length) throw new Error('HAProxy.start needs at least one server');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-haproxy-'));
    const lb = new HAProxy(dir, port ?? (await freePort()));
    lb.servers = servers.map((s) => s.name);
    lb.configText = config({ port: lb.port, servers, check, socket: lb.socket });
    const file = path.join(dir, 'haproxy.cfg');
    try {
      await writeFile(file, lb.configText);
      await lb.spawn(file);
      if (waitUp) await lb.waitFor(lb.servers, 'UP');
    } catch (err) {
      await lb.stop();
      throw err;
    }
    return lb;
  }

  async spawn(file) {
    // -db: foreground, no daemon; the process is ours to signal.
    const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', (err) => resolve({ error: err.message }));
    });
    child.stdout.on('data', (d) => (this.output += d));
    child.stderr.on('data', (d) => (this.output += d));
    let exit = null;
    this.exited.then((e) => (exit = e));
    const deadline = Date.now() + 10000;
    while (!exit && Date.now() < deadline) {
      if (await this.answers()) return;
      await sleep(50);
    }
    throw new Error(`haproxy did not start (exit: ${JSON.stringify(exit)}):\n${this.output}`);
  }

  // Whether the admin socket answers, i.e. HAProxy has read its configuration and bound.
  async answers() {
    try {
      await this.command('show info');
      return true;
    } catch {
      return false;
    }
  }

  // Sends one command to the admin socket; resolves with the answer's text.
  command(line) {
    return new Promise((resolve, reject) => {
      const conn = net.createConnection(this.socket);
      let text = '';
      conn.on('connect', () => conn.end(`${line}\n`));
      conn.on('data', (d) => (text += d));
      conn.on('end', () => resolve(text));
      conn.on('error', reject);
    });
  }

  // The check state of each server of the backend: { name: 'UP' | 'DOWN' | 'MAINT' … }.
  async serverStates() {
    const csv = (await this.command('show stat')).split('\n');
    const columns = csv[0].replace(/^# /, '').split(',');
    const [px, sv, status] = ['pxname', 'svname', 'status'].map((c) => columns.indexOf(c));
    const states = {};
    for (const row of csv.slice(1).map((l) => l.split(','))) {
      if (row[px] === 'keystep' && this.servers.includes(row[sv])) states[row[sv]] = row[status].split(' ')[0];
    }
    return states;
  }

  // Resolves once every server in `names` is in `state` ('UP', 'DOWN'); rejects after
  // `timeoutMs` with the states seen.
  async waitFor(names, state, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await this.serverStates();
      if (names.every((n) => states[n] === state)) return;
      if (Date.now() > deadline)
        throw new Error(`HAProxy servers not ${state} within ${timeoutMs} ms: ${JSON.stringify(states)}\n${this.output}`);
      await sleep(100);
    }
  }

  // The requests HAProxy has logged so far, in the order they completed:
  // [{ server, status, method, path, retries }]; server is the node that answered, or
  // '<NOSRV>' when none could. `retries` is a string: '+1' when redispatched.
  requests() {
    return [...this.output.matchAll(/^request keystep\/(\S+) (-?\d+) (\S+) (\S+) retries=(\S+)$/gm)]
      .map(([, server, status, method, p, retries]) => ({ server, status: Number(status), method, path: p, retries }));
  }

  // SIGTERM; resolves with { code, signal } once HAProxy has exited (null if it was not
  // running), and removes its directory.
  async stop() {
    const child = this.process;
    this.process = null;
    let result = null;
    if (child) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      result = await this.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
    return result;
  }
}
