// A real PostgreSQL 15 for an e2e test file, like tests/support/postgres (the C++ tests'):
// initdb + pg_ctl from /usr/lib/postgresql/15/bin in a fresh temporary directory, on a free
// loopback port, trust authentication for the superuser "postgres", durability off. As root
// (CI), PostgreSQL refuses to run, so the server runs as Debian's unprivileged "postgres"
// user through runuser. A missing PostgreSQL fails the test; it is never skipped.

import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePort } from './keystep.mjs';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export class Postgres {
  constructor(dir, port, asPostgres) {
    this.dir = dir;
    this.port = port;
    this.asPostgres = asPostgres;
    this.databases = 0;
  }

  static async start() {
    if (!existsSync(`${BIN}/initdb`))
      throw new Error(`${BIN}/initdb is missing: install postgresql-15 (tools/install-deps.sh)`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-pg-'));
    const asPostgres = process.getuid() === 0;
    if (asPostgres) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout), Number(gid));
    }
    const pg = new Postgres(dir, await freePort(), asPostgres);
    try {
      await pg.exec(`${BIN}/initdb`, ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8',
                                      '--locale=C', '--no-sync']);
      await pg.pgCtlStart();
    } catch (err) {
      await pg.stop();
      throw err;
    }
    return pg;
  }

  async pgCtlStart() {
    const { dir, port } = this;
    await this.exec(`${BIN}/pg_ctl`, ['-D', `${dir}/data`, '-l', `${dir}/server.log`, '-w', '-t', '60', '-o',
                                      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off ` +
                                      '-c synchronous_commit=off -c full_page_writes=off', 'start']);
    this.started = true;
  }

  // An outage: stops the server (pg_ctl stop -m fast ends every client's session), keeping its
  // data directory and port, so resume() brings the same databases back where clients expect them.
  async halt() {
    if (!this.started) return;
    await this.exec(`${BIN}/pg_ctl`, ['-D', `${this.dir}/data`, '-m', 'fast', '-w', 'stop']);
    this.started = false;
  }

  async resume() {
    if (!this.started) await this.pgCtlStart();
  }

  exec(file, args) {
    return this.asPostgres ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args);
  }

  url(database) {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  // Runs SQL on `database` with psql; returns the rows as arrays of strings (unaligned).
  async sql(database, statement) {
    const { stdout } = await run('psql', ['-X', '-q', '-t', '-A', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
                                          '-d', this.url(database), '-c', statement]);
    return stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  }

  // A new empty database; returns its URL.
  async createDatabase() {
    const name = `keystep_e2e_${++this.databases}`;
    await this.sql('postgres', `CREATE DATABASE ${name}`);
    return { name, url: this.url(name) };
  }

  async stop() {
    if (this.started) {
      this.started = false;
      await this.exec(`${BIN}/pg_ctl`, ['-D', `${this.dir}/data`, '-m', 'fast', '-w', 'stop']).catch(() => {});
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
