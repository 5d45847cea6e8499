// The server's log never carries a secret: a run that signs in with a password and TOTP,
// enrolls TOTP (the secret is shown), uses a recovery code, exchanges codes and refreshes
// tokens (public and confidential client), then searches every line keystep wrote to standard
// error for each password, secret, code, token and cookie value it used. Every line must be
// a JSON object with a request id. One wait for the next 30-second TOTP step.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';

import { otherCode, totpCode, waitForStepAfter } from './lib/authenticator.mjs';
import { Browser, pathOf, submitSecondFactor } from './lib/browser.mjs';
import {
  CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, Keystep, PUBLIC_CLIENT_ID, USER,
} from './lib/keystep.mjs';
import { enableTwoFactorOnProfile } from './lib/profile.mjs';
import { discover, signInWithPassword } from './lib/rp.mjs';

describe('the log never carries a secret', { timeout: 120000 }, () => {
  let ks;
  const used = new Map();  // what → value, every secret the run handled
  const browsers = [];
  const requestIds = [];

  const remember = (what, value) => {
    assert.ok(typeof value === 'string' && value.length >= 6, `${what}: ${value}`);
    used.set(what, value);
  };

  before(async () => {
    ks = await Keystep.start();
  });

  after(async () => {
    await ks?.stop();
    await ks?.cleanup();
  });

  it('signs in, enrolls TOTP, uses a recovery code and exchanges tokens', async () => {
    const publicRp = await discover(ks, PUBLIC_CLIENT_ID);
    const confidentialRp = await discover(ks, CONFIDENTIAL_CLIENT_ID,
                                          client.ClientSecretBasic(CONFIDENTIAL_CLIENT_SECRET));
    remember('password', USER.password);
    remember('client secret', CONFIDENTIAL_CLIENT_SECRET);

    // A wrong password first.
    const wrongPassword = 'not the password 4711';
    remember('wrong password', wrongPassword);
    const failed = new Browser();
    await assert.rejects(signInWithPassword(failed, publicRp, ks, { ...USER, password: wrongPassword }),
                         /POST \/login answered 401/);

    // Enrollment: the secret and the recovery codes are shown.
    const enrolled = await enableTwoFactorOnProfile(ks, USER);
    browsers.push(enrolled.browser);
    remember('TOTP secret', enrolled.secret);
    remember('enrollment code', await totpCode(enrolled.secret, enrolled.step * 30));
    enrolled.recoveryCodes.forEach((code, i) => remember(`recovery code ${i}`, code));

    // Password + a wrong code + the right code, public client; then the tokens and a refresh.
    const rp = new Browser();
    browsers.push(rp);
    const first = await signInWithPassword(rp, publicRp, ks, USER);
    assert.equal(pathOf(first.callback), `${ks.issuer}/login/second-factor`);
    await waitForStepAfter(enrolled.step);
    const code = await totpCode(enrolled.secret);
    remember('TOTP code', code);
    remember('wrong TOTP code', otherCode(code));
    const refused = await submitSecondFactor(rp, first.callback, otherCode(code));
    assert.equal(refused.response.status, 401);
    requestIds.push(refused.response.headers.get('x-request-id'));
    const accepted = await submitSecondFactor(rp, first.callback, code);
    assert.equal(accepted.response.status, 302, accepted.response.body);
    const codeUrl = accepted.response.location;
    remember('authorization code', codeUrl.searchParams.get('code'));
    const tokens = await client.authorizationCodeGrant(publicRp, codeUrl, first.checks);
    remember('access token', tokens.access_token);
    remember('refresh token', tokens.refresh_token);
    remember('id token', tokens.id_token);
    await client.fetchUserInfo(publicRp, tokens.access_token, tokens.claims().sub);
    const refreshed = await client.refreshTokenGrant(publicRp, tokens.refresh_token);
    remember('refreshed access token', refreshed.access_token);
    remember('rotated refresh token', refreshed.refresh_token);

    // A recovery code, confidential client.
    const other = new Browser();
    browsers.push(other);
    const second = await signInWithPassword(other, confidentialRp, ks, USER);
    const recoveryUrl = new URL(second.callback);
    recoveryUrl.searchParams.set('method', 'recovery_code');
    const recovered = await submitSecondFactor(other, recoveryUrl, enrolled.recoveryCodes[0]);
    assert.equal(recovered.response.status, 302, recovered.response.body);
    requestIds.push(recovered.response.headers.get('x-request-id'));
    remember('second authorization code', recovered.response.location.searchParams.get('code'));
    const confidential = await client.authorizationCodeGrant(confidentialRp, recovered.response.location,
                                                             second.checks);
    remember('confidential access token', confidential.access_token);
    remember('confidential refresh token', confidential.refresh_token);

    for (const browser of [failed, ...browsers])
      for (const cookie of browser.cookies.values()) remember(`cookie ${cookie.name}`, cookie.value);
    for (const id of requestIds) assert.match(id ?? '', /^[A-Za-z0-9_-]{22}$/);
  });

  it('every log line is JSON with a request id, and none holds a secret', async () => {
    await ks.stop();
    const lines = ks.stderr.split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 20, `only ${lines.length} log lines:\n${ks.stderr}`);
    const parsed = lines.map((line) => {
      let json;
      assert.doesNotThrow(() => (json = JSON.parse(line)), `not JSON: ${line}`);
      assert.equal(typeof json, 'object', line);
      assert.match(json.request_id ?? '', /^[A-Za-z0-9_-]{22}$/, `no request id: ${line}`);
      assert.ok(json.time && json.level && json.msg, line);
      return json;
    });
    for (const line of lines)
      for (const [what, value] of used)
        assert.ok(!line.includes(value), `the log holds the ${what}: ${line}`);
    // Also in the encodings a careless log would use.
    for (const line of lines)
      for (const [what, value] of used) {
        assert.ok(!line.includes(encodeURIComponent(value)), `the log holds the ${what} (URL-encoded)`);
        assert.ok(!line.includes(Buffer.from(value).toString('base64')), `the log holds the ${what} (base64)`);
      }

    // The lines say what happened, under the request ids the answers carried.
    const events = parsed.filter((l) => l.msg === 'security').map((l) => l.event);
    for (const event of ['signin.password_failed', 'signin.password_ok', 'mfa.enabled', 'mfa.code_refused',
                         'mfa.code_accepted', 'mfa.recovery_code_used', 'token.issued'])
      assert.ok(events.includes(event), `no ${event} line; events: ${events.join(', ')}`);
    const [refusedId, recoveredId] = requestIds;
    assert.ok(parsed.some((l) => l.request_id === refusedId && l.event === 'mfa.code_refused'));
    assert.ok(parsed.some((l) => l.request_id === refusedId && l.msg === 'request' && l.status === 401 &&
                                 l.route === '/login/second-factor' && l.method === 'POST'));
    assert.ok(parsed.some((l) => l.request_id === recoveredId && l.event === 'mfa.recovery_code_used'));
    const routes = new Set(parsed.filter((l) => l.msg === 'request').map((l) => l.route));
    for (const route of ['/authorize', '/login', '/login/second-factor', '/token', '/userinfo', '/profile'])
      assert.ok(routes.has(route), `no request line for ${route}: ${[...routes].join(', ')}`);
    // The audit rows carry the same ids.
    const audited = await ks.sql("SELECT event, request_id FROM audit_log WHERE event = 'mfa.code_refused'");
    assert.deepEqual(audited, [{ event: 'mfa.code_refused', request_id: refusedId }]);
  });
});
