// The data directory at rest: after `keystep init`, the administration commands and while
// `keystep serve` runs, the directory is 0700 and every file in it (keystep.conf, which may
// hold the SMTP password; master.key; keystep.db with its -wal and -shm) is 0600, under the
// usual umask 022 that would otherwise make them readable by everyone.

import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Keystep } from './lib/keystep.mjs';

describe('files at rest', () => {
  let ks;
  let umask;

  before(async () => {
    umask = process.umask(0o022);  // the children inherit it
    ks = await Keystep.start();
  });

  after(async () => {
    process.umask(umask);
    const exit = await ks?.shutdown();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  const mode = async (name) => (await stat(path.join(ks.dataDir, name))).mode & 0o777;

  it('the data directory is 0700', async () => {
    assert.equal(await mode('.'), 0o700);
  });

  it('every file in it is 0600 while the server runs', async () => {
    const names = (await readdir(ks.dataDir)).sort();
    assert.deepEqual(names, ['keystep.conf', 'keystep.db', 'keystep.db-shm', 'keystep.db-wal', 'master.key']);
    for (const name of names) assert.equal((await mode(name)).toString(8), '600', name);
  });
});
