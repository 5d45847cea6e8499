// Authlib (Debian python3-authlib) as a real confidential relying party of a third-party
// application, with a secret from `keystep client create --generate-secret`: the code flow
// with PKCE through the consent page, the id_token checked against the JWKS, userinfo, a
// refresh (offline_access), introspection (RFC 7662) and revocation (RFC 7009), after which
// the tokens are dead. The RP is tests/e2e/authlib/rp.py; this file plays the user's browser.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { Browser, signIn, submitForm } from './lib/browser.mjs';
import { Keystep, USER } from './lib/keystep.mjs';

const RP_SCRIPT = fileURLToPath(new URL('./authlib/rp.py', import.meta.url));
// Debian's interpreter, where apt installs Authlib (a python3 first on PATH may not see it).
const PYTHON = process.env.KEYSTEP_PYTHON ?? '/usr/bin/python3';
const CLIENT_ID = 'authlib-app';

// Runs rp.py: `lines` yields its JSON lines, `send` writes a line to it, `exited` resolves
// with its exit code and standard error.
function startRp(env) {
  const child = spawn(PYTHON, [RP_SCRIPT], { env: { ...process.env, ...env },
                                            stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`rp.py ended early: ${JSON.stringify(await exited)}`);
    return JSON.parse(value);
  };
  return { child, next, send: (line) => child.stdin.write(line + '\n'), exited };
}

describe('Authlib confidential client', { timeout: 60000 }, () => {
  let ks;
  let rp;

  before(async () => {
    ks = await Keystep.start();
  });

  after(async () => {
    if (rp && rp.child.exitCode === null) rp.child.kill();
    const exit = await ks?.stop();
    await ks?.cleanup();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  it('signs in through the consent page, refreshes, introspects and revokes', async () => {
    const redirectUri = `${ks.rpOrigin}/authlib/cb`;
    const { stdout } = await ks.cli(['client', 'create', '--client-id', CLIENT_ID,
                                     '--redirect-uri', redirectUri, '--generate-secret',
                                     '--third-party']);
    const secret = stdout.trimEnd().split('\n').at(-1);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);

    rp = startRp({ KEYSTEP_ISSUER: ks.issuer, CLIENT_ID, CLIENT_SECRET: secret,
                   REDIRECT_URI: redirectUri });
    const { authorize_url: authorizeUrl } = await rp.next();
    assert.ok(authorizeUrl.startsWith(`${ks.issuer}/authorize?`), authorizeUrl);

    // The user signs in, then allows the third-party application what it asks for.
    const browser = new Browser();
    const { callback: consentUrl } = await signIn(browser, authorizeUrl, USER);
    assert.equal(consentUrl.pathname, '/consent', consentUrl.href);
    const page = await browser.get(consentUrl);
    assert.equal(page.status, 200);
    for (const text of ['See your email address', 'See your name', 'Keep access while you are not using it'])
      assert.ok(page.body.includes(text), text);
    const allowed = await submitForm(browser, consentUrl, page, '/consent', { decision: 'allow' });
    assert.equal(allowed.status, 302, allowed.body);
    assert.equal(`${allowed.location.origin}${allowed.location.pathname}`, redirectUri);
    rp.send(allowed.location.href);

    const steps = {};
    for (let line = await rp.next(); !line.done; line = await rp.next()) steps[line.step] = line;
    const { code, stderr } = await rp.exited;
    assert.equal(code, 0, stderr);

    assert.equal(steps.token.email, USER.email);
    assert.equal(steps.token.scope, 'openid email profile offline_access');
    assert.equal(steps.token.has_refresh_token, true);
    assert.equal(steps.userinfo.sub, steps.token.sub);
    assert.equal(steps.userinfo.email, USER.email);
    assert.equal(steps.refresh.rotated, true);
    assert.equal(steps.refresh.new_access_token, true);
    assert.equal(steps.introspect_access.active, true);
    assert.equal(steps.introspect_access.client_id, CLIENT_ID);
    assert.equal(steps.introspect_access.username, USER.email);
    assert.equal(steps.introspect_access.sub, steps.token.sub);
    assert.equal(steps.revoke.status, 200);
    assert.deepEqual(steps.introspect_after_revoke, { step: 'introspect_after_revoke', active: false });
    assert.equal(steps.refresh_after_revoke.error, 'invalid_grant');

    // The consent is remembered: signing in again goes straight back with a code.
    const again = await browser.get(authorizeUrl.replace(/state=[^&]*/, 'state=again'));
    assert.equal(again.status, 302);
    assert.equal(`${again.location.origin}${again.location.pathname}`, redirectUri);
    assert.ok(again.location.searchParams.get('code'));
  });
});
