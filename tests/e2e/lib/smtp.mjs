// The members' mail server: tests/smtp/server.py (Debian's python3-aiosmtpd) on a loopback port,
// keeping every message it accepts as DIR/<n>.eml with its envelope in DIR/<n>.json, and
// mailparser to read the messages, so the MIME is parsed by code that does not share keystep's.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { simpleParser } from 'mailparser';

import { sleep } from './wait.mjs';

const SERVER_SCRIPT = fileURLToPath(new URL('../../smtp/server.py', import.meta.url));
// Debian's interpreter, where apt installs aiosmtpd (a python3 first on PATH may not see it);
// the same convention as tests/unit/mailer_test.cc.
const PYTHON = process.env.KEYSTEP_PYTHON ?? '/usr/bin/python3';

// The sender keystep is configured with by smtpConf().
export const MAIL_FROM_ADDRESS = 'no-reply@id.keystep.test';
export const MAIL_FROM = `Keystep Test <${MAIL_FROM_ADDRESS}>`;

// keystep.conf's mail object for plain SMTP to the test server on loopback `port`, for
// Keystep.start({ conf }).
export function smtpConf(port) {
  return { mail: { from: MAIL_FROM, smtp: { host: '127.0.0.1', port, security: 'none' } } };
}

export class SmtpServer {
  constructor(dir) {
    this.dir = dir;
    this.port = null;
    this.process = null;
    this.output = '';
  }

  // Creates a fresh message directory; the server is not listening until listen().
  static async create() {
    return new SmtpServer(await mkdtemp(path.join(os.tmpdir(), 'keystep-smtp-')));
  }

  // Starts server.py on 127.0.0.1:`port` (0: a free one) and resolves once it listens, with the
  // port. Listening again after stop() keeps the directory and continues its numbering.
  async listen(port = 0) {
    if (this.process) throw new Error('the SMTP server is already running');
    const child = spawn(PYTHON, [SERVER_SCRIPT, '--dir', this.dir, '--port', String(port)],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', (err) => resolve({ error: err.message }));  // e.g. no such interpreter
    });
    let stdout = '';
    const outputStart = this.output.length;
    child.stdout.on('data', (d) => {
      stdout += d;
      this.output += d;
    });
    child.stderr.on('data', (d) => (this.output += d));
    let timer;
    const started = new Promise((resolve, reject) => {
      child.stdout.on('data', () => {
        const m = /^PORT (\d+)$/m.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      this.exited.then((e) => reject(new Error(
          `tests/smtp/server.py exited (${JSON.stringify(e)}) before listening:\n` +
          this.output.slice(outputStart))));
      timer = setTimeout(() => reject(new Error(
          `tests/smtp/server.py did not listen within 10 s:\n${this.output.slice(outputStart)}`)), 10000);
    });
    try {
      this.port = await started;
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return this.port;
  }

  // SIGTERM; resolves with { code, signal } once the server has exited (null if not running).
  async stop() {
    const child = this.process;
    if (!child) return null;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  async cleanup() {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  // Every accepted message in the order received: [{ n, envelope: { mail_from, rcpt_tos }, raw }].
  // The server writes the envelope before the message, atomically, so both are complete.
  // With { notices: false }, without the security notices (isNotice).
  async messages({ notices = true } = {}) {
    const names = (await readdir(this.dir)).filter((n) => /^\d+\.eml$/.test(n));
    const ns = names.map((n) => Number(n.slice(0, -4))).sort((a, b) => a - b);
    const all = await Promise.all(ns.map(async (n) => ({
      n,
      envelope: JSON.parse(await readFile(path.join(this.dir, `${n}.json`), 'utf8')),
      raw: await readFile(path.join(this.dir, `${n}.eml`)),
    })));
    return notices ? all : all.filter((m) => !isNotice(m.raw));
  }

  // The accepted messages whose envelope is addressed to `recipient`, in the order received.
  async messagesTo(recipient, options) {
    return (await this.messages(options)).filter((m) => m.envelope.rcpt_tos.includes(recipient));
  }

  // Resolves with the messages once there are at least `count`; rejects after `timeoutMs`
  // saying how many arrived.
  async waitForMessages(count, { timeoutMs = 20000, notices = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = await this.messages({ notices });
      if (messages.length >= count) return messages;
      if (Date.now() > deadline)
        throw new Error(`${messages.length} of ${count} messages arrived within ${timeoutMs} ms`);
      await sleep(200);
    }
  }
}

// Whether a message (its raw bytes or text) is a security notice, "A second factor was added"
// or "… removed", which keystep sends whenever a member's second factors change: tests of the
// other emails leave them out.
export function isNotice(raw) {
  return /^Subject: A second factor was /m.test(raw.toString('latin1').split('\r\n\r\n')[0]);
}

// The SQL condition on mail_outbox that leaves the security notices out.
export const NOT_A_NOTICE = "subject NOT LIKE 'A second factor was %'";

// Parses a received message with mailparser. `cid:` links in the HTML are kept as sent (by
// default mailparser would inline the attachments as data URIs).
export function parseMail(raw) {
  return simpleParser(raw, { keepCidLinks: true });
}
