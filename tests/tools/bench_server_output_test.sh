#!/usr/bin/env bash
# bench/server_process.mjs's startServer: the server's output goes to a file, not through a
# pipe to the load driver (which would read and keep every access-log line on the CPUs the
# servers share with it); `output` still shows it, ready detection still works, and stop()
# removes the file.
#
#   tests/tools/bench_server_output_test.sh     (tools/test.sh runs it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
command -v node >/dev/null || { echo "FAIL: node is missing (tools/install-deps.sh installs it)"; exit 1; }

node --input-type=module - "$ROOT" <<'JS'
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';

const { startServer } = await import(path.join(process.argv[2], 'bench', 'server_process.mjs'));

// A server that answers 200, says it is ready, then writes 2,000 log lines.
const script = `
  const http = require('node:http');
  const s = http.createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', () => {
    console.log('ready on ' + s.address().port);
    for (let i = 0; i < 2000; i++) console.error('access line ' + i);
  });`;
const probePort = await new Promise((resolve) => {
  const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
// The probe is answered by a server of this test, the server under test's port being random.
const probe = http.createServer((q, r) => r.end('ok')).listen(probePort, '127.0.0.1');
const server = await startServer('fake', process.execPath, ['-e', script],
                                 { ready: 'ready on', probe: `http://127.0.0.1:${probePort}/` });
probe.close();

// Its standard output and error are a regular file, not a pipe to this process.
const out = readlinkSync(`/proc/${server.pid}/fd/1`);
const err = readlinkSync(`/proc/${server.pid}/fd/2`);
assert.equal(out, err, 'stdout and stderr share one file');
assert.ok(statSync(`/proc/${server.pid}/fd/1`).isFile(), `stdout is ${out}, not a file`);
assert.equal(statSync(out).mode & 0o777, 0o600, 'the output file is private');
for (let i = 0; i < 100 && !server.output.includes('access line 1999'); i++) await new Promise((r) => setTimeout(r, 20));
assert.match(server.output, /^ready on \d+\n/);
assert.match(server.output, /access line 1999\n/);

const exit = await server.stop();
assert.equal(exit.signal, 'SIGTERM');
assert.equal(existsSync(out), false, 'stop() removes the output file');
assert.equal(existsSync(path.dirname(out)), false, 'and its directory');
assert.equal(server.output, '');

// A server that never becomes ready: the error carries its output, and nothing is left.
const outputs = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith('bench-server-')).sort();
const before = outputs();
await assert.rejects(
  startServer('silent', process.execPath, ['-e', 'console.log("starting"); setTimeout(() => {}, 60000)'],
              { ready: 'never printed', probe: 'http://127.0.0.1:1/', timeoutMs: 500 }),
  /silent did not start[\s\S]*starting/);
assert.deepEqual(outputs(), before, 'the output of a server that did not start is removed');
console.log('bench_server_output_test: ok');
JS
