// Two keystep nodes on one PostgreSQL database behind HAProxy (issue 14), the way
// docs/operations.md runs several nodes: HAProxy (lib/haproxy.mjs) is the issuer and sends
// every request round robin to node a or b; each node has its own data directory holding a
// copy of keystep.conf and master.key. Headless chromium signs in, openid-client is the
// relying party, tests/smtp/server.py receives the mail, PostgreSQL is started for real.
//
// Which node answered a request is read from the nodes themselves: every answer carries
// X-Request-Id, and only the node that handled it has that id in its log.
//
// 1. A sign-in with TOTP whose every request (chromium's pages, then the relying party's
//    /token) lands on the other node than the one before.
// 2. The node that took the password is killed with SIGKILL before the code is typed; the
//    code, the redirect and /token are served by the other node.
// 3. `keystep key rotate` run on node a's data directory: both nodes publish the new key
//    before either signs with it, both sign with it within the reload bound, and tokens
//    either node signed verify against the other's JWKS.
// 4. Enforcement with both nodes' mail workers running and the SMTP server down: every
//    email is attempted and kept; SMTP back on the same port, each member gets the email
//    exactly once, and the nodes' counters add up to one delivery per email.
// A TOTP code raced against both nodes is two_nodes.test.mjs's. About two minutes (a TOTP
// step, the key reload bound, the mailer's first retry). Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test ha.test.mjs

import assert from 'node:assert/strict';
import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as client from 'openid-client';

import { AdminApi } from './lib/admin_api.mjs';
import { totpCode, totpStep, waitForStepAfter } from './lib/authenticator.mjs';
import { Browser, signIn } from './lib/browser.mjs';
import { launchChromium, serveRpCallback } from './lib/chromium.mjs';
import { HAProxy } from './lib/haproxy.mjs';
import { freePort, Keystep, PUBLIC_CLIENT_ID, USER } from './lib/keystep.mjs';
import { Postgres } from './lib/postgres.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, jwtHeader, startAuthorization } from './lib/rp.mjs';
import { smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually, sleep } from './lib/wait.mjs';

// SigningKeys::kReloadSeconds, the bound docs/operations.md promises for a rotation.
const KEY_RELOAD_SECONDS = 30;
// MailerOptions::poll: a worker's pass interval.
const MAIL_POLL_SECONDS = 5;

const ADMIN = { email: 'admin@example.com', password: 'admin staple battery', admin: true };
const TOTP_USERS = [1, 2].map((i) => ({ email: `totp${i}@example.com`, password: `totp user ${i} password` }));
// The members without a second factor when the admin enforces 2FA: these and USER.
const MEMBERS = [1, 2, 3].map((i) => ({ email: `member${i}@example.com`, password: `member ${i} password` }));

describe('two nodes behind HAProxy on one PostgreSQL (chromium, openid-client)', { timeout: 300000 }, () => {
  let pg;
  let databaseName;
  let smtp;
  let lb;
  let nodes;           // [a, b]: Keystep objects with .name, the HAProxy server name
  let chromium;
  let rpServer;
  let totp;            // enableTwoFactorOnProfile() results of TOTP_USERS
  let admin;           // { api, step }

  const ks = () => nodes[0];  // for the helpers that take a Keystep: they use .issuer (HAProxy)

  before(async () => {
    pg = await Postgres.start();
    smtp = await SmtpServer.create();
    const smtpPort = await smtp.listen();
    const { name, url: database } = await pg.createDatabase();
    databaseName = name;
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const conf = { ...smtpConf(smtpPort), trusted_proxies: ['127.0.0.1'] };

    const dirA = await mkdtemp(path.join(os.tmpdir(), 'keystep-e2e-'));
    const dirB = await mkdtemp(path.join(os.tmpdir(), 'keystep-e2e-'));
    const rpPort = await freePort();
    const a = new Keystep({ dataDir: dirA, port: await freePort(), rpPort, issuer });
    const b = new Keystep({ dataDir: dirB, port: await freePort(), rpPort, issuer });
    [a.name, b.name] = ['a', 'b'];
    nodes = [a, b];
    await a.provision(conf, database);
    // The second node is set up as docs/operations.md says: the first one's files, copied.
    for (const file of ['keystep.conf', 'master.key']) await copyFile(path.join(dirA, file), path.join(dirB, file));
    await a.serve();
    await b.serve();
    lb = await HAProxy.start({ port: Number(new URL(issuer).port), servers: nodes.map((n) => ({ name: n.name, port: n.port })) });

    rpServer = await serveRpCallback(a);
    chromium = await launchChromium();

    for (const user of [ADMIN, ...TOTP_USERS, ...MEMBERS]) await a.addUser(user);
    totp = [];
    for (const user of TOTP_USERS) totp.push(await enableTwoFactorOnProfile(ks(), user));
    const { step } = await enableTwoFactorOnProfile(ks(), ADMIN);
    admin = { api: new AdminApi(ks(), await a.apiToken(ADMIN.email)), step };
  });

  after(async () => {
    await chromium?.close();
    rpServer?.close();
    await lb?.stop();
    const exits = [];
    for (const node of nodes ?? []) {
      exits.push([node.name, await node.stop()]);
      await node.cleanup();
    }
    await smtp?.cleanup();
    await pg?.stop();
    for (const [name, exit] of exits)
      assert.deepEqual(exit, { code: 0, signal: null }, `node ${name} did not shut down cleanly:\n${nodes.find((n) => n.name === name).output}`);
  });

  // The node whose log has the request id `id` (the X-Request-Id of an answer).
  function nodeOf(id) {
    assert.ok(id, 'the answer carries X-Request-Id');
    return nodes.find((n) => n.stderr.includes(`"request_id":"${id}"`))?.name;
  }

  // Waits until the nodes have logged every request of `answers` ([{ id }]); returns the node
  // of each, in order.
  async function servedBy(answers) {
    return eventually(() => {
      const names = answers.map((r) => nodeOf(r.id));
      return names.every(Boolean) && names;
    }, `the nodes' log lines of ${answers.length} requests`, 5000);
  }

  // Records the answers the issuer gives the page: [{ method, path, status, id }].
  function recordAnswers(page) {
    const answers = [];
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.origin !== lb.url) return;
      answers.push({ method: r.request().method(), path: url.pathname, status: r.status(), id: r.headers()['x-request-id'] });
    });
    return answers;
  }

  // An openid-client configuration on the issuer (HAProxy) whose requests other than
  // discovery are recorded like recordAnswers().
  async function relyingParty() {
    const answers = [];
    const recording = async (url, options) => {
      const res = await fetch(url, options);
      answers.push({ method: options.method, path: new URL(url).pathname, status: res.status, id: res.headers.get('x-request-id') });
      return res;
    };
    const logStart = lb.requests().length;
    const config = await discover(ks(), PUBLIC_CLIENT_ID, client.None(), { fetch: recording });
    answers.length = 0;
    await loggedSince(logStart, 1);  // HAProxy's line of the discovery, so it comes before the next
    return { config, answers };
  }

  // A code of `user`'s app (an enableTwoFactorOnProfile() result) not used yet.
  async function nextCode(user) {
    const at = await waitForStepAfter(user.step);
    user.step = totpStep(at);
    return totpCode(user.secret, at);
  }

  // HAProxy's log lines from the `start`th on, once there are `count` of them.
  function loggedSince(start, count) {
    return eventually(() => {
      const lines = lb.requests().slice(start);
      return lines.length >= count && lines.slice(0, count);
    }, `${count} HAProxy log lines`, 5000);
  }

  async function clickThrough(page, selector) {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  }

  // Chromium through the RP's sign-in up to the second step: returns { page, answers, auth }.
  async function passwordStep(context, config, user) {
    const page = await context.newPage();
    const answers = recordAnswers(page);
    const auth = await startAuthorization(config, ks());
    await page.goto(auth.url.href);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('#email', user.email);
    await page.fill('#password', user.password);
    await clickThrough(page, 'button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/login/second-factor', await page.content());
    return { page, answers, auth };
  }

  async function codeStep(page, code) {
    await page.fill('#code', code);
    await clickThrough(page, 'button:has-text("Verify")');
    assert.ok(page.url().startsWith(ks().redirectUri), `back at the RP, not ${page.url()}:\n${await page.content()}`);
  }

  it('serves a TOTP sign-in whose every request lands on the other node', async () => {
    const { config, answers: rpAnswers } = await relyingParty();
    const logStart = lb.requests().length;
    const context = await chromium.newContext();
    try {
      const { page, answers, auth } = await passwordStep(context, config, TOTP_USERS[0]);
      await codeStep(page, await nextCode(totp[0]));
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
      assert.equal(tokens.claims().email, TOTP_USERS[0].email);
      assert.deepEqual(tokens.claims().amr, ['pwd', 'otp', 'mfa']);

      const all = [...answers, ...rpAnswers];
      const route = all.map((r) => `${r.method} ${r.path} ${r.status}`);
      assert.deepEqual(route, ['GET /authorize 302', 'GET /login 200', 'POST /login 302',
                               'GET /login/second-factor 200', 'POST /login/second-factor 302',
                               'POST /token 200']);
      const served = await servedBy(all);
      for (let i = 1; i < served.length; i++)
        assert.notEqual(served[i], served[i - 1], `${route[i]} on the node before's: ${served}`);
      // HAProxy's log names the same nodes for the same requests.
      const logged = await loggedSince(logStart, all.length);
      assert.deepEqual(logged.map((r) => `${r.method} ${r.path} ${r.server}`),
                       all.map((r, i) => `${r.method} ${r.path} ${served[i]}`));
    } finally {
      await context.close();
    }
  });

  it('completes a sign-in on the other node when the one that took the password is killed', async () => {
    const { config, answers: rpAnswers } = await relyingParty();
    const context = await chromium.newContext();
    try {
      const { page, answers, auth } = await passwordStep(context, config, TOTP_USERS[1]);
      const password = answers.find((r) => r.method === 'POST' && r.path === '/login');
      const victim = nodes.find((n) => n.name === nodeOf(password.id));
      const survivor = nodes.find((n) => n !== victim);
      // The code is at hand before the kill, so it reaches HAProxy before its checks notice.
      const code = await nextCode(totp[1]);
      assert.deepEqual(await victim.kill(), { code: null, signal: 'SIGKILL' });
      const before = answers.length;
      const logStart = lb.requests().length;
      await codeStep(page, code);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), auth.checks);
      assert.equal(tokens.claims().email, TOTP_USERS[1].email);
      assert.deepEqual(tokens.claims().amr, ['pwd', 'otp', 'mfa']);
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
      assert.equal(userinfo.email, TOTP_USERS[1].email);

      const after = [...answers.slice(before), ...rpAnswers];
      assert.deepEqual(after.map((r) => `${r.method} ${r.path} ${r.status}`),
                       ['POST /login/second-factor 302', 'POST /token 200', 'GET /userinfo 200']);
      assert.deepEqual(await servedBy(after), after.map(() => survivor.name));
      // HAProxy sent the code to the survivor: straight away if its checks had seen the
      // victim down, else after the victim refused the connection (redispatched: retries +1).
      const logged = await loggedSince(logStart, after.length);
      assert.deepEqual(logged.map((r) => `${r.method} ${r.path} ${r.server}`),
                       after.map((r) => `${r.method} ${r.path} ${survivor.name}`));
      await lb.waitFor([victim.name], 'DOWN');
      // Back for the next tests: restarted on its port, HAProxy takes it in again.
      await victim.serve();
      await lb.waitFor([victim.name], 'UP');
    } finally {
      await context.close();
    }
  });

  it('signs with a key rotated on node a on both nodes within the bound; each verifies the other\'s tokens', async () => {
    const [a, b] = nodes;
    const { config } = await relyingParty();
    // A sign-in as the relying party sees it, through HAProxy; the /token request goes to `node`.
    const tokensFrom = async (node) => {
      const auth = await startAuthorization(config, a);
      const { callback } = await signIn(new Browser(), auth.url, USER);
      const direct = new URL(callback);
      const res = await fetch(`${node.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: PUBLIC_CLIENT_ID,
                                    code: direct.searchParams.get('code'), redirect_uri: a.redirectUri,
                                    code_verifier: auth.checks.pkceCodeVerifier }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()).id_token;
    };
    const verifyOn = (node, idToken) =>
      jose.jwtVerify(idToken, jose.createRemoteJWKSet(new URL(`${node.url}/jwks.json`)), { issuer: lb.url });

    const old = await tokensFrom(a);
    const oldKid = jwtHeader(old).kid;
    const { stdout } = await a.cli(['key', 'rotate']);
    const newKid = stdout.match(/New active signing key (\S+)/)?.[1];
    assert.ok(newKid, stdout);
    const rotatedAt = Date.now();
    const signed = {};  // node name -> an id_token it signed with the new key
    while (Object.keys(signed).length < nodes.length) {
      for (const node of nodes) {
        if (signed[node.name]) continue;
        const idToken = await tokensFrom(node);
        if (jwtHeader(idToken).kid === newKid) {
          signed[node.name] = idToken;
          // Published before signing: a relying party fetching the JWKS from either node
          // through the balancer can verify this token.
          for (const other of nodes) await verifyOn(other, idToken);
        } else {
          assert.equal(jwtHeader(idToken).kid, oldKid);
        }
      }
      const seconds = (Date.now() - rotatedAt) / 1000;
      assert.ok(seconds <= KEY_RELOAD_SECONDS + 3, `not every node signs with ${newKid} after ${seconds} s: ${Object.keys(signed)}`);
      await sleep(500);
    }
    for (const node of nodes) {
      const kids = (await (await fetch(`${node.url}/jwks.json`)).json()).keys.map((k) => k.kid);
      assert.ok(kids.includes(newKid) && kids.includes(oldKid), `${node.name} publishes ${kids}`);
    }
    await verifyOn(b, signed.a);
    await verifyOn(a, signed.b);
    await verifyOn(b, old);
  });

  it('enforcement with SMTP down, then up: each member is emailed exactly once by the two mail workers', async () => {
    const sentCount = async () => {
      let sum = 0;
      for (const node of nodes) {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        sum += Number(text.match(/^keystep_email_delivery_attempts_total\{result="sent"\} (\d+)$/m)?.[1] ?? 0);
      }
      return sum;
    };
    const recipients = [USER, ...MEMBERS].map((u) => u.email).sort();
    const rows = () => pg.sql(databaseName, 'SELECT recipient, attempts, sent_at FROM mail_outbox ' +
                                            "WHERE subject LIKE 'Set up two-factor%' ORDER BY recipient");
    // The 2FA notices of the set-up are out, so the counters below count enforcement alone.
    await eventually(async () => (await pg.sql(databaseName, 'SELECT id FROM mail_outbox WHERE sent_at = 0')).length === 0,
                     'the outbox to be empty');
    const sentBefore = await sentCount();
    const receivedBefore = (await smtp.messages()).length;
    const port = smtp.port;
    await smtp.stop();

    const res = await admin.api.putSettings({ enforce_two_factor: true, confirm: true });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const audit = await admin.api.auditEvents({ event: 'account.two_factor_enforced' });
    assert.deepEqual(audit.body.events.map((e) => e.detail), [`${recipients.length} emails queued`]);
    // Each email is tried, fails and stays queued (attempts counted, not sent).
    await eventually(async () => {
      const r = await rows();
      return r.length === recipients.length && r.every(([, attempts, sentAt]) => Number(attempts) >= 1 && sentAt === '0');
    }, 'a failed attempt of every email', 20000);
    assert.deepEqual((await rows()).map(([recipient]) => recipient), recipients);

    await smtp.listen(port);
    // The first retry comes 30 s after the failure (MailerOptions::base_backoff).
    await smtp.waitForMessages(receivedBefore + recipients.length, { timeoutMs: 60000 });
    await eventually(async () => (await rows()).every(([, , sentAt]) => sentAt !== '0'), 'every email marked sent');
    // Both workers pass every MAIL_POLL_SECONDS: a second copy would have come by now.
    await sleep((2 * MAIL_POLL_SECONDS + 1) * 1000);
    const received = (await smtp.messages()).slice(receivedBefore);
    assert.deepEqual(received.map((m) => m.envelope.rcpt_tos.join(',')).sort(), recipients);
    assert.equal(await sentCount() - sentBefore, recipients.length, 'one successful delivery per email, over both nodes');
  });
});
