// Back-channel logout notices with two nodes on one PostgreSQL database (issue 14): both
// nodes run their logout worker, and a notice is claimed (LogoutStore::claim_logout_notices)
// before it is sent, so each reaches the application exactly once. Logouts
// go through both nodes; the application answers slowly, so while one node's worker is
// still delivering, the other's next pass finds notices due: without the claim both would
// send them.
//
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test two_nodes_logout.test.mjs

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { Browser, signIn } from './lib/browser.mjs';
import { freePort, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { Postgres } from './lib/postgres.mjs';
import { discover, startAuthorization } from './lib/rp.mjs';

// The application's back-channel logout endpoint: records the jti of every logout token it
// is sent, answering 200 after `delayMs`.
async function logoutReceiver(delayMs) {
  const jtis = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}');
      jtis.push(claims.jti);
      setTimeout(() => res.end(), delayMs);
    });
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { jtis, uri: `http://127.0.0.1:${port}/bc`, close: () => new Promise((r) => server.close(r)) };
}

describe('back-channel logouts with two nodes on one PostgreSQL database', { timeout: 180000 }, () => {
  let pg;
  let receiver;
  let a;
  let b;

  before(async () => {
    pg = await Postgres.start();
    receiver = await logoutReceiver(300);
    const { name, url } = await pg.createDatabase();
    a = await Keystep.start({ database: url });
    a.databaseName = name;
    await a.cli(['client', 'update', '--client-id', PUBLIC_CLIENT_ID, '--backchannel-logout-uri', receiver.uri]);
    b = new Keystep({ dataDir: a.dataDir, port: await freePort(), rpPort: 0, issuer: a.issuer });
    b.redirectUri = a.redirectUri;
    b.postLogoutRedirectUri = a.postLogoutRedirectUri;
    await b.serve();
  });

  after(async () => {
    const exits = [await b?.stop(), await a?.stop()];
    await a?.cleanup();
    await receiver?.close();
    await pg?.stop();
    for (const exit of exits)
      assert.deepEqual(exit, { code: 0, signal: null }, `a node did not shut down cleanly:\n${a?.output}${b?.output}`);
  });

  it('sends each notice once although both nodes\' workers deliver', async () => {
    const nodes = [a, b];
    const via = (url, node) => {
      const target = new URL(url);
      target.host = new URL(node.url).host;
      return target;
    };
    const sessions = 16;
    const signedIn = [];
    for (let i = 0; i < sessions; i++) {
      const config = await discover(a, PUBLIC_CLIENT_ID);
      const auth = await startAuthorization(config, a);
      const browser = new Browser();
      const { callback } = await signIn(browser, auth.url, USER);
      const tokens = await client.authorizationCodeGrant(config, callback, auth.checks);
      signedIn.push({ browser, config, tokens });
    }
    // Every session ends at once, half of them through each node, so both workers are woken.
    await Promise.all(signedIn.map(async ({ browser, config, tokens }, i) => {
      const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token,
                                                     post_logout_redirect_uri: a.postLogoutRedirectUri });
      const res = await browser.get(via(url, nodes[i % 2]));
      assert.equal(res.status, 302, res.body);
    }));
    const deadline = Date.now() + 60000;
    while (new Set(receiver.jtis).size < sessions && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    // Both workers poll every 5 s: a second copy would have come by now.
    await new Promise((r) => setTimeout(r, 7000));
    assert.equal(new Set(receiver.jtis).size, sessions, receiver.jtis.join('\n'));
    assert.equal(receiver.jtis.length, sessions, `sent twice:\n${receiver.jtis.sort().join('\n')}`);
    const [[pending]] = await pg.sql(a.databaseName, 'SELECT COUNT(*) FROM backchannel_logouts WHERE delivered_at = 0');
    assert.equal(pending, '0');
  });
});
