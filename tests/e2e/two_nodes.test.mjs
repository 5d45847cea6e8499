// Two Keystep nodes, one issuer, one PostgreSQL database (issue 14): two `keystep serve`
// processes share the first one's data directory (keystep.conf naming the database, the
// master key) and listen on two loopback ports; the test plays the load balancer, sending
// each request to the node it chooses. PostgreSQL is started for real (lib/postgres.mjs).
//
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test two_nodes.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as client from 'openid-client';

import { totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { Browser, signIn, submitSecondFactor } from './lib/browser.mjs';
import { freePort, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { Postgres } from './lib/postgres.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, jwtHeader, startAuthorization } from './lib/rp.mjs';
import { SmtpServer, smtpConf } from './lib/smtp.mjs';

// The bound documented in docs/admin-guide.md: a node reloads the signing keys every
// SigningKeys::kReloadSeconds (30 s).
const KEY_RELOAD_SECONDS = 30;

// A browser behind a round-robin balancer: every request to the issuer goes to the next node.
class BalancedBrowser extends Browser {
  constructor(issuer, nodes) {
    super();
    this.issuer = issuer;
    this.nodes = nodes;
    this.next = 0;
    this.visited = [];  // the node index of each request
  }

  request(url, options) {
    const target = new URL(url);
    if (target.origin === this.issuer) {
      const i = this.next++ % this.nodes.length;
      this.visited.push(i);
      const node = new URL(this.nodes[i].url);
      target.host = node.host;
    }
    return super.request(target, options);
  }
}

// fetch for openid-client that sends the issuer's requests to `node`.
function fetchVia(issuer, node) {
  return (url, options) => {
    const target = new URL(url);
    if (target.origin === issuer) target.host = new URL(node.url).host;
    return fetch(target, options);
  };
}

function tokenRequest(node, form) {
  return fetch(`${node.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: PUBLIC_CLIENT_ID, ...form }),
  });
}

describe('two nodes on one PostgreSQL database', { timeout: 240000 }, () => {
  let pg;
  let smtp;
  let a;
  let b;

  before(async () => {
    pg = await Postgres.start();
    smtp = await SmtpServer.create();
    const smtpPort = await smtp.listen();
    const { url } = await pg.createDatabase();
    // A short mail claim, so a message a dead node held is due again quickly.
    const conf = smtpConf(smtpPort);
    conf.mail.claim_lease_seconds = 4;
    a = await Keystep.start({ conf, database: url });
    b = new Keystep({ dataDir: a.dataDir, port: await freePort(), rpPort: 0, issuer: a.issuer });
    b.redirectUri = a.redirectUri;
    await b.serve();
  });

  after(async () => {
    const exits = [await b?.stop(), await a?.stop()];
    await a?.cleanup();
    await smtp?.stop();
    await smtp?.cleanup();
    await pg?.stop();
    for (const exit of exits)
      assert.deepEqual(exit, { code: 0, signal: null }, `a node did not shut down cleanly:\n${a?.output}${b?.output}`);
  });

  it('serves one sign-in whose requests alternate between the nodes', async () => {
    const browser = new BalancedBrowser(a.issuer, [a, b]);
    const config = await discover(a, PUBLIC_CLIENT_ID, client.None(), { fetch: fetchVia(a.issuer, b) });
    const auth = await startAuthorization(config, a);
    const { callback } = await signIn(browser, auth.url, USER);
    assert.ok(browser.visited.includes(0) && browser.visited.includes(1), String(browser.visited));
    // The code was made through one node and is redeemed through the other (config -> b).
    const tokens = await client.authorizationCodeGrant(config, callback, auth.checks);
    assert.equal(tokens.claims().email, USER.email);
    // The access token works on node a, the refresh token rotates on node a.
    const userinfo = await fetch(`${a.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200);
    const refreshed = await tokenRequest(a, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(refreshed.status, 200, await refreshed.clone().text());
  });

  // A code, and then a refresh token, sent to both nodes at the same moment. The loser is a
  // replay (RFC 6749 §4.1.2, RFC 9700 §4.14.2): it is refused and revokes what the grant
  // issued, so at most one request gets tokens, and tokens that got out stop working.
  it('never redeems a code or rotates a refresh token twice when both nodes race', async () => {
    const statuses = async (answers) =>
      Promise.all(answers.map(async (r) => `${r.status} ${await r.clone().text()}`));
    for (let round = 0; round < 5; round++) {
      const browser = new Browser();
      const config = await discover(a, PUBLIC_CLIENT_ID);
      const auth = await startAuthorization(config, a);
      const { callback } = await signIn(browser, auth.url, USER);
      const code = callback.searchParams.get('code');
      const form = { grant_type: 'authorization_code', code, redirect_uri: a.redirectUri,
                     code_verifier: auth.checks.pkceCodeVerifier };
      const answers = await Promise.all([tokenRequest(a, form), tokenRequest(b, form)]);
      const why = `round ${round}: ${await statuses(answers)}`;
      const won = answers.filter((r) => r.status === 200);
      assert.ok(won.length <= 1, why);
      assert.ok(answers.some((r) => r.status === 400), why);
      if (won.length === 0) continue;
      const tokens = await won[0].json();
      const userinfo = await fetch(`${b.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      // The replay came after the winner's tokens: they are revoked; or before: none issued.
      assert.equal(userinfo.status, 401, why);
    }
    // Rotation: a fresh grant whose refresh token both nodes rotate at once.
    for (let round = 0; round < 5; round++) {
      const config = await discover(a, PUBLIC_CLIENT_ID);
      const auth = await startAuthorization(config, a);
      const { callback } = await signIn(new Browser(), auth.url, USER);
      const tokens = await client.authorizationCodeGrant(config, callback, auth.checks);
      const form = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token };
      const answers = await Promise.all([tokenRequest(a, form), tokenRequest(b, form)]);
      const why = `round ${round}: ${await statuses(answers)}`;
      assert.ok(answers.filter((r) => r.status === 200).length <= 1, why);
      assert.ok(answers.some((r) => r.status === 400), why);
      // Whatever got out, the grant is dead now: the rotated-away token was replayed.
      for (const r of answers.filter((x) => x.status === 200)) {
        const again = await tokenRequest(a, { grant_type: 'refresh_token', refresh_token: (await r.json()).refresh_token });
        assert.equal(again.status, 400, why);
      }
    }
  });

  it('accepts a TOTP code raced against both nodes exactly once', async () => {
    const user = { email: 'totp@example.com', password: 'totp user password' };
    await a.addUser(user);
    const { secret, step } = await enableTwoFactorOnProfile(a, user);
    // Two sign-ins waiting on the second step, one through each node.
    const pending = [];
    for (const node of [a, b]) {
      const browser = new Browser();
      const config = await discover(a, PUBLIC_CLIENT_ID);
      const auth = await startAuthorization(config, a);
      const { callback } = await signIn(browser, auth.url, user);
      assert.equal(callback.pathname, '/login/second-factor', callback.href);
      const atNode = new URL(callback);
      atNode.host = new URL(node.url).host;
      pending.push({ browser, url: atNode });
    }
    const at = await waitForStepAfter(step);  // the code that turned 2FA on is spent
    const code = await totpCode(secret, at);
    assert.ok(totpStep(at) > step);
    const results = await Promise.all(pending.map((p) => submitSecondFactor(p.browser, p.url, code)));
    const accepted = results.filter(({ response }) =>
      response.status === 302 && response.location.href.startsWith(a.redirectUri));
    assert.equal(accepted.length, 1, results.map(({ response }) => `${response.status} ${response.location}`).join(', '));
  });

  it('delivers each queued email once with both nodes\' mail workers running', async () => {
    const admin = { email: 'admin@example.com', password: 'admin password here' };
    await a.addUser({ ...admin, admin: true });
    const token = await a.apiToken(admin.email);
    const before = (await smtp.messages()).length;
    const count = 20;
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const node = i % 2 ? b : a;
      const res = await fetch(`${node.url}/api/v1/accounts/acme/invitations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `invitee${i}@example.com` }),
      });
      assert.equal(res.status, 201, await res.text());
    }));
    await smtp.waitForMessages(before + count, { timeoutMs: 30000 });
    // Both workers poll every 5 s: a second copy would have arrived by now.
    await new Promise((r) => setTimeout(r, 7000));
    const invitations = (await smtp.messages()).slice(before);
    const recipients = invitations.map((m) => m.envelope.rcpt_tos.join(',')).sort();
    assert.equal(invitations.length, count, recipients.join('\n'));
    assert.equal(new Set(recipients).size, count);
  });

  it('serves a key rotated through one database from both JWKS within the reload bound', async () => {
    const browser = new Browser();
    const before = await client.authorizationCodeGrant(
      await discover(a, PUBLIC_CLIENT_ID),
      ...(await (async () => {
        const config = await discover(a, PUBLIC_CLIENT_ID);
        const auth = await startAuthorization(config, a);
        const { callback } = await signIn(browser, auth.url, USER);
        return [callback, auth.checks];
      })()));
    const oldKid = jwtHeader(before.id_token).kid;
    const { stdout } = await a.cli(['key', 'rotate']);
    const newKid = stdout.match(/New active signing key (\S+)/)?.[1];
    assert.ok(newKid, stdout);
    const rotatedAt = Date.now();
    const seen = {};
    while (Object.keys(seen).length < 2) {
      for (const [name, node] of [['a', a], ['b', b]]) {
        if (seen[name]) continue;
        const kids = (await (await fetch(`${node.url}/jwks.json`)).json()).keys.map((k) => k.kid);
        if (kids.includes(newKid)) {
          assert.ok(kids.includes(oldKid), `${name} still publishes the old key`);
          seen[name] = (Date.now() - rotatedAt) / 1000;
        }
      }
      assert.ok((Date.now() - rotatedAt) / 1000 <= KEY_RELOAD_SECONDS + 3, `not seen within the bound: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Once 30 s old the new key signs (published before it signs: SigningKeys). A token
    // signed by node b with it verifies against node a's JWKS, and the old token against
    // node b's.
    await new Promise((r) => setTimeout(r, Math.max(0, rotatedAt + (KEY_RELOAD_SECONDS + 1) * 1000 - Date.now())));
    const config = await discover(a, PUBLIC_CLIENT_ID, client.None(), { fetch: fetchVia(a.issuer, b) });
    const auth = await startAuthorization(config, a);
    const { callback } = await signIn(new Browser(), auth.url, USER);
    const after = await client.authorizationCodeGrant(config, callback, auth.checks);
    assert.equal(jwtHeader(after.id_token).kid, newKid);
    await jose.jwtVerify(after.id_token, jose.createRemoteJWKSet(new URL(`${a.url}/jwks.json`)), { issuer: a.issuer });
    await jose.jwtVerify(before.id_token, jose.createRemoteJWKSet(new URL(`${b.url}/jwks.json`)), { issuer: a.issuer });
  });
});
