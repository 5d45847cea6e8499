// Starting a server under test for the benchmarks (bench/lib.mjs re-exports it). No npm
// package: tests/tools/bench_server_output_test.sh runs it before any is installed.

import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A long-running server process: resolves once `ready` appears in its output and `probe`
// answers 200. stop() sends SIGTERM (SIGKILL after 5 s), then removes the output.
// The process writes its output (Keystep's access log: a line per request) to a file, as a
// deployment writes it to a file or the journal, and `server.output` reads that file. Through
// a pipe, the load driver, which shares the CPUs with the servers, would read and keep every
// line: at a few hundred sign-ins per second that was about a fifth of its CPU per sign-in,
// charged to the server that logs and not to the one that does not.
export async function startServer(name, bin, args, { ready, probe, env, timeoutMs = 20000 }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-server-'));
  const file = path.join(dir, 'output.log');
  const fd = openSync(file, 'w', 0o600);
  let child;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  } finally {
    closeSync(fd);
  }
  const server = {
    name,
    child,
    pid: child.pid,
    get output() {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';  // removed by stop()
      }
    },
  };
  server.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  server.exited.then((e) => (exit = e));
  server.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const result = await server.exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
    return result;
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exit) {
    if (server.output.includes(ready)) {
      try {
        if ((await fetch(probe)).status === 200) return server;
      } catch {
        // not answering yet
      }
    }
    await sleep(50);
  }
  const output = server.output;
  await server.stop();
  throw new Error(`${name} did not start (exit ${JSON.stringify(exit)}):\n${output}`);
}
