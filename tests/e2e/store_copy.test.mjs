// `keystep store copy` (issue 14): an SQLite installation with a user who has TOTP and
// recovery codes, an admin, clients, keys and pending mail, copied into an empty PostgreSQL
// database (started for real, lib/postgres.mjs); the server then runs on PostgreSQL and the
// users sign in as before.
//
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test store_copy.test.mjs

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { totpCode, waitForStepAfter } from './lib/authenticator.mjs';
import { Browser, signIn, submitSecondFactor } from './lib/browser.mjs';
import { cli, freePort, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { Postgres } from './lib/postgres.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, jwtHeader, startAuthorization } from './lib/rp.mjs';
import { smtpConf } from './lib/smtp.mjs';

describe('keystep store copy', { timeout: 180000 }, () => {
  let pg;
  let ks;
  let database;
  let twoFactor;
  let sqliteCounts;
  let kid;

  before(async () => {
    pg = await Postgres.start();
    database = await pg.createDatabase();
    // Mail to a port nobody listens on: the notices and the invitation stay pending.
    ks = await Keystep.start({ conf: smtpConf(await freePort()) });
  });

  after(async () => {
    await ks?.stop();
    await ks?.cleanup();
    await pg?.stop();
  });

  it('copies an SQLite installation into PostgreSQL, counts verified', async () => {
    twoFactor = await enableTwoFactorOnProfile(ks, USER);
    const admin = { email: 'admin@example.com', password: 'admin password here' };
    await ks.addUser({ ...admin, admin: true });
    const token = await ks.apiToken(admin.email);
    const invited = await fetch(`${ks.issuer}/api/v1/accounts/acme/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'carol@example.com' }),
    });
    assert.equal(invited.status, 201);
    const first = new Browser();
    const config = await discover(ks, PUBLIC_CLIENT_ID);
    const auth = await startAuthorization(config, ks);
    const { callback } = await signIn(first, auth.url, { email: admin.email, password: admin.password });
    kid = jwtHeader((await client.authorizationCodeGrant(config, callback, auth.checks)).id_token).kid;
    assert.deepEqual(await ks.stop(), { code: 0, signal: null }, ks.output);

    sqliteCounts = Object.fromEntries(await Promise.all(
      ['users', 'mfa_credentials', 'mail_outbox', 'signing_keys', 'clients', 'api_tokens', 'invitations', 'grants']
        .map(async (t) => [t, (await ks.sql(`SELECT COUNT(*) AS n FROM ${t}`))[0].n])));
    const pending = (await ks.sql('SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at = 0'))[0].n;
    assert.ok(pending >= 2, `pending mail: ${pending}`);
    assert.equal(sqliteCounts.mfa_credentials, 2, 'TOTP and recovery codes');

    const { stdout } = await cli(['store', 'copy', '--from', ks.dataDir, '--to', database.url]);
    assert.match(stdout, /counts verified/);
    for (const [table, n] of Object.entries(sqliteCounts)) {
      assert.match(stdout, new RegExp(`  ${table}: ${n}\\n`), stdout);
      assert.equal(Number((await pg.sql(database.name, `SELECT COUNT(*) FROM ${table}`))[0][0]), n, table);
    }
    assert.equal(Number((await pg.sql(database.name, 'SELECT COUNT(*) FROM mail_outbox WHERE sent_at = 0'))[0][0]), pending);
  });

  it('refuses a target that is not empty', async () => {
    await assert.rejects(cli(['store', 'copy', '--from', ks.dataDir, '--to', database.url]),
                         /the target database is not empty \(accounts has rows\)/);
  });

  it('serves the copied users from PostgreSQL: password, TOTP and a recovery code', async () => {
    const confPath = path.join(ks.dataDir, 'keystep.conf');
    const conf = JSON.parse(await readFile(confPath, 'utf8'));
    conf.database = database.url;
    await writeFile(confPath, JSON.stringify(conf, null, 2) + '\n');
    // New ids continue after the copied ones.
    const created = await ks.cli(['user', 'create', '--account', 'acme', '--email', 'dave@example.com',
                                  '--password-stdin'], { input: 'dave password here\n' });
    assert.match(created.stdout, new RegExp(`\\(id ${sqliteCounts.users + 1},`));
    await ks.serve();

    const config = await discover(ks, PUBLIC_CLIENT_ID);
    let auth = await startAuthorization(config, ks);
    const browser = new Browser();
    let { callback } = await signIn(browser, auth.url, USER);
    assert.equal(callback.pathname, '/login/second-factor', 'the copied user still has 2FA');
    const at = await waitForStepAfter(twoFactor.step);
    let { response } = await submitSecondFactor(browser, callback, await totpCode(twoFactor.secret, at));
    assert.equal(response.status, 302, response.body);
    const tokens = await client.authorizationCodeGrant(config, response.location, auth.checks);
    assert.equal(tokens.claims().email, USER.email);
    assert.equal(jwtHeader(tokens.id_token).kid, kid, 'the copied signing key signs');

    const second = new Browser();
    auth = await startAuthorization(config, ks);
    ({ callback } = await signIn(second, auth.url, USER));
    const recovery = new URL(callback);
    recovery.searchParams.set('method', 'recovery_code');
    ({ response } = await submitSecondFactor(second, recovery, twoFactor.recoveryCodes[0]));
    assert.equal(response.status, 302, response.body);
  });
});
