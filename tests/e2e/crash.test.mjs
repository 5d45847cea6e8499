// Crash safety (issue 9 §3): the real keystep server is killed with SIGKILL at random moments,
// KEYSTEP_CRASH_KILLS times (default 50), and restarted each time on the same port, while
//   - two sign-in loops sign users in to /profile with password and TOTP (oathtool's codes),
//   - an enrollment loop has users turn TOTP on from /profile (toggle, secret, code),
//   - an administrator turns account-wide enforcement on and off through the admin API, so
//     every enforcement emails each member without 2FA over SMTP to tests/smtp/server.py
//     (aiosmtpd), which keeps running throughout.
// After each kill the crashed database (keystep.db plus its -wal, copied as the dead process
// left them) passes PRAGMA integrity_check and foreign_key_check, and a code accepted before
// the kill and still inside the TOTP window is refused as already used by the new process.
// After the last restart:
//   - no confirmed credential or counter is lost or rolled back: every enrollment the client
//     saw confirmed is a confirmed TOTP credential with recovery codes, every credential's
//     counter is at least the step of every code the client saw accepted, the latest accepted
//     codes still in the window are refused as replays, the session of every user's latest
//     confirmed sign-in still opens the profile, and one recovery code of every enrollment
//     confirmed during the run signs in;
//   - every sign-in either completed or can be restarted: every user with TOTP signs in afresh
//     (an enrollment whose answer was lost is found either done or not started);
//   - every queued email is delivered exactly once as the recipient sees it: one distinct
//     Message-ID received per outbox row (per recipient too), no row left unsent or failed, and
//     every copy of a Message-ID byte-identical. SMTP is at least once (a kill between the
//     server's 250 and the outbox's UPDATE sends the same message again), so raw copies beyond
//     the first are counted and allowed only up to one per kill; docs/security.md says why.
//
// Random choices (kill moments, users, pauses) come from a seeded generator; the seed is
// printed, and KEYSTEP_CRASH_SEED=N repeats the same choices (the interleaving with the server
// still depends on timing). About 2 minutes. Alone:
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test crash.test.mjs

import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { AdminApi } from './lib/admin_api.mjs';
import { totpCode, totpStep, TOTP_PERIOD } from './lib/authenticator.mjs';
import { alertText, Browser, pathOf, signIn, submitForm } from './lib/browser.mjs';
import { Keystep } from './lib/keystep.mjs';
import { enableTwoFactorOnProfile, toggleOnAndReadSecret } from './lib/profile.mjs';
import { smtpConf, SmtpServer } from './lib/smtp.mjs';
import { eventually, sleep } from './lib/wait.mjs';

const run = promisify(execFile);

const SEED = Number(process.env.KEYSTEP_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 32));
const KILLS = Number(process.env.KEYSTEP_CRASH_KILLS ?? 50);
const KILL_DELAY_MS = [150, 1300];  // time the server runs before each kill, uniform
const SIGNIN_USERS = 24;             // TOTP on before the first kill
const ENROLL_USERS = 40;             // turn TOTP on during the run
const MAIL_MEMBERS = 6;              // members of the enforcing account without 2FA
const ADMIN = { email: 'admin@example.com', password: 'admin staple battery', admin: true };

// mulberry32: small, seedable, good enough to pick moments and users.
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seededRandom(SEED);
const between = (lo, hi) => lo + random() * (hi - lo);

const nowSeconds = () => Math.floor(Date.now() / 1000);
const currentStep = () => totpStep(nowSeconds());
const codeAt = (secret, step) => totpCode(secret, step * TOTP_PERIOD + 1);

// What a dead server looks like to fetch: refused, reset or cut off mid-answer.
function isNetworkError(err) {
  return err instanceof TypeError && /fetch failed|terminated/.test(err.message);
}

const REPLAY_TEXT = /already used/;

describe(`crash safety: ${KILLS} SIGKILLs during sign-ins, enrollments and enforcement mail (seed ${SEED})`,
         { timeout: 300000 }, () => {
  let ks;
  let smtp;
  let api;
  let profileUrl;
  const users = [];      // every user of the sign-in and enrollment loops (see newUser)
  const failures = [];   // unexpected answers, each stops the run
  const figures = { kills: 0, signIns: 0, uncertainSignIns: 0, enrollments: 0,
                    uncertainEnrollments: 0, foundEnrolled: 0, replaysRefused: 0,
                    enforcements: 0, resumedFlows: 0, sessionsKept: 0, restartMs: [] };
  let done = false;
  let up = Promise.resolve();  // resolves when the server answers again after a kill
  let markUp = () => {};

  // A user of the loops. secret: the confirmed TOTP secret (null until enrolled);
  // maxStep: the highest step whose code may have been accepted (confirmed or not), so the
  // next code is always new; accepted: steps of codes the client saw accepted, with the
  // code; maybeSecret: the secret of an enrollment whose confirmation got no answer.
  function newUser(email, password) {
    const n = users.length;
    const u = { email, password, secret: null, maxStep: -1, accepted: [], recoveryCodes: [],
                enrolledDuringRun: false, maybeSecret: null, busy: false, replayedStep: -1,
                session: null,  // the browser of the latest confirmed sign-in
                // Each user has a client address of their own (behind the trusted loopback
                // proxy), so the refused replays of one never throttle another's sign-ins.
                headers: { 'x-forwarded-for': `10.9.${n >> 8}.${n & 255}` } };
    users.push(u);
    return u;
  }

  function fail(what) {
    failures.push(`${what} (seed ${SEED})`);
    done = true;
  }

  // Runs `step` until the run is done; a network error means the server is down: wait for it.
  async function loop(name, step) {
    while (!done) {
      try {
        if (!(await step())) await sleep(100);
      } catch (err) {
        if (!isNetworkError(err)) {
          fail(`${name}: ${err.stack ?? err}`);
          return;
        }
        await up;
      }
    }
  }

  function take(filter) {
    const free = users.filter((u) => !u.busy && filter(u));
    if (free.length === 0) return null;
    const u = free[Math.floor(random() * free.length)];
    u.busy = true;
    return u;
  }

  // The step a fresh TOTP sign-in of `u` may use now, or null when its codes of this step
  // and the next are spent.
  function usableStep(u) {
    const step = Math.max(u.maxStep + 1, currentStep());
    return step <= currentStep() + 1 ? step : null;
  }

  // Password, then the second step with `code` (for `method`, default the app's code).
  // Returns the answer to the code; throws a network error as it comes.
  async function signInWithCode(u, code, { method = null } = {}) {
    const browser = new Browser({ headers: u.headers });
    const { callback } = await signIn(browser, profileUrl, u);
    if (pathOf(callback) !== `${ks.issuer}/login/second-factor`)
      throw new Error(`${u.email} with 2FA was sent to ${callback} after the password`);
    const url = new URL(callback);
    if (method) url.searchParams.set('method', method);
    const page = await browser.get(url);
    if (page.status !== 200) throw new Error(`${url} answered ${page.status}:\n${page.body}`);
    const response = await submitForm(browser, url, page, '/login/second-factor', { code });
    return { browser, response };
  }

  function isSignedIn(response) {
    return response.status === 302 && response.location?.href === profileUrl.href;
  }

  // The second step of `u`'s sign-in flow at `url`, in `browser`, with the next usable code.
  // Throws unless it signs in.
  async function secondStep(u, browser, url, step, onCodeSent = () => {}) {
    const code = await codeAt(u.secret, step);
    const page = await browser.get(url);
    if (page.status !== 200) throw new Error(`${url} answered ${page.status}:\n${page.body}`);
    onCodeSent();
    u.maxStep = Math.max(u.maxStep, step);
    const response = await submitForm(browser, url, page, '/login/second-factor', { code });
    if (!isSignedIn(response))
      throw new Error(`${u.email}'s code of step ${step} (last known ${u.accepted.at(-1)?.step}) ` +
                      `answered ${response.status} ${alertText(response.body) ?? response.body}`);
    u.accepted.push({ step, code });
    u.session = browser;
    figures.signIns++;
  }

  // One fresh TOTP sign-in of `u`; false when none of its codes is usable now. The user takes
  // a moment to type the code. When the server dies after the password was accepted and before
  // the code was sent, the same flow is continued in the same browser once the next process
  // answers: the flow is in the database, so the sign-in completes. (After the code was sent
  // the outcome is unknown; the loop then starts a fresh sign-in.)
  async function totpSignIn(u) {
    const step = usableStep(u);
    if (step === null) return false;
    let flow = null;
    let sent = false;
    try {
      const browser = new Browser({ headers: u.headers });
      const { callback } = await signIn(browser, profileUrl, u);
      if (pathOf(callback) !== `${ks.issuer}/login/second-factor`)
        throw new Error(`${u.email} with 2FA was sent to ${callback} after the password`);
      flow = { browser, url: new URL(callback) };
      await sleep(between(0, 400));
      await secondStep(u, browser, flow.url, step, () => (sent = true));
      return true;
    } catch (err) {
      if (isNetworkError(err) && sent) figures.uncertainSignIns++;
      if (!isNetworkError(err) || !flow || sent) throw err;
    }
    await up;
    const next = usableStep(u);
    if (next === null) return true;  // its codes are spent until the next step: a fresh one then
    await secondStep(u, flow.browser, flow.url, next);
    figures.resumedFlows++;
    return true;
  }

  // The latest code `u` saw accepted, refused as a replay by whatever process serves now;
  // false when that code is out of the TOTP window (a refusal would prove nothing) or was
  // replayed already (each refusal counts as a failure against the user until a success).
  const replayable = (u) =>
    u.accepted.at(-1)?.step >= currentStep() && u.accepted.at(-1).step > u.replayedStep;
  async function replayRefused(u) {
    if (!replayable(u)) return false;
    const last = u.accepted.at(-1);
    u.replayedStep = last.step;
    const { response } = await signInWithCode(u, last.code);
    if (response.status !== 401 || !REPLAY_TEXT.test(alertText(response.body) ?? ''))
      throw new Error(`the replayed code of step ${last.step} for ${u.email} answered ` +
                      `${response.status} ${alertText(response.body) ?? response.body}`);
    figures.replaysRefused++;
    return true;
  }

  // Turns TOTP on from the profile, or finds out that an earlier attempt whose answer was lost
  // did. Returns true when `u` has a confirmed secret afterwards.
  async function enroll(u) {
    const browser = new Browser({ headers: u.headers });
    const { callback } = await signIn(browser, profileUrl, u);
    if (pathOf(callback) === `${ks.issuer}/login/second-factor`) {
      // Only a confirmation the client sent but got no answer to can have done this.
      if (!u.maybeSecret) throw new Error(`${u.email} has 2FA though no enrollment was confirmed`);
      u.secret = u.maybeSecret;
      u.enrolledDuringRun = true;
      figures.foundEnrolled++;
      return true;
    }
    if (callback.href !== profileUrl.href) throw new Error(`signing ${u.email} in led to ${callback}`);
    if (u.maybeSecret) u.maybeSecret = null;  // that confirmation did not commit
    const { secret, enableUrl, enablePage } = await toggleOnAndReadSecret(browser, profileUrl);
    const step = Math.max(u.maxStep + 1, currentStep());
    const code = await codeAt(secret, step);
    u.maybeSecret = secret;
    u.maxStep = step;
    let res;
    try {
      res = await submitForm(browser, enableUrl, enablePage, '/profile/two-factor/enable', { code });
    } catch (err) {
      if (isNetworkError(err)) figures.uncertainEnrollments++;
      throw err;
    }
    if (res.status !== 200) throw new Error(`confirming ${u.email}'s code answered ${res.status}:\n${res.body}`);
    u.recoveryCodes = [...res.body.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]);
    if (u.recoveryCodes.length !== 10) throw new Error(`not 10 recovery codes:\n${res.body}`);
    u.secret = secret;
    u.maybeSecret = null;
    u.accepted.push({ step, code });
    u.enrolledDuringRun = true;
    figures.enrollments++;
    return true;
  }

  // A copy of the files the dead process left (database and WAL, no -shm: it is rebuilt), so
  // checking it cannot checkpoint or otherwise tidy up what the next process recovers from.
  async function checkCrashImage() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keystep-crash-image-'));
    try {
      const db = path.join(dir, 'keystep.db');
      await copyFile(path.join(ks.dataDir, 'keystep.db'), db);
      await copyFile(path.join(ks.dataDir, 'keystep.db-wal'), `${db}-wal`).catch((err) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return await checkDatabase(db);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function checkDatabase(db) {
    const { stdout } = await run('sqlite3', [db, 'PRAGMA integrity_check; PRAGMA foreign_key_check;']);
    return stdout.trim();
  }

  before(async () => {
    console.log(`crash test seed ${SEED} (repeat with KEYSTEP_CRASH_SEED=${SEED})`);
    smtp = await SmtpServer.create();
    await smtp.listen();
    // A kill during a delivery leaves the messages of its claim to the next process once the
    // claim's lease runs out (mail.claim_lease_seconds, 300 s by default): 10 s here, with
    // SMTP timeouts short enough for it, so the outbox can be checked within a minute.
    const conf = smtpConf(smtp.port);
    conf.mail.claim_lease_seconds = 10;
    Object.assign(conf.mail.smtp, { connect_timeout_ms: 2000, timeout_ms: 2000 });
    ks = await Keystep.start({ conf: { ...conf, trusted_proxies: ['127.0.0.1'] } });
    profileUrl = new URL('/profile', ks.issuer);
    // The enforcing account "acme": the admin (2FA on, below) and members without 2FA, who
    // are emailed at every enforcement. alice@example.com is Keystep.start's user.
    await ks.addUser(ADMIN);
    for (let i = 1; i < MAIL_MEMBERS; i++)
      await ks.addUser({ email: `member${i}@example.com`, password: `member ${i} battery staple` });
    // The account "beta" never enforces: its users sign in and enroll.
    await ks.cli(['account', 'create', '--name', 'beta', '--issuer-label', 'Beta']);
    const create = (email, password) =>
      ks.cli(['user', 'create', '--account', 'beta', '--email', email, '--password-stdin'],
             { input: password + '\n' });
    for (let i = 0; i < SIGNIN_USERS + ENROLL_USERS; i++) {
      const email = `${i < SIGNIN_USERS ? 's' : 'e'}${i}@beta.example.com`;
      const password = `beta user ${i} staple`;
      await create(email, password);
      newUser(email, password);
    }
    await enableTwoFactorOnProfile(ks, ADMIN);
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
    for (const u of users.slice(0, SIGNIN_USERS)) {
      const { secret, step, recoveryCodes } = await enableTwoFactorOnProfile(ks, u);
      Object.assign(u, { secret, maxStep: step, recoveryCodes });
    }
  });

  after(async () => {
    done = true;
    await ks?.stop();
    await ks?.cleanup();
    await smtp?.cleanup();
  });

  it(`survives ${KILLS} SIGKILLs: nothing confirmed is lost, every email arrives once, everyone can sign in`,
     async () => {
    const started = Date.now();
    const signInSomeone = async () => {
      const u = take((x) => x.secret && usableStep(x) !== null);
      if (!u) return false;
      try {
        return await totpSignIn(u);
      } finally {
        u.busy = false;
      }
    };
    const workers = [
      loop('sign-in 1', signInSomeone),
      loop('sign-in 2', signInSomeone),
      loop('enrollment', async () => {
        const u = take((x) => !x.secret && x.recoveryCodes.length === 0 && usableStep(x) !== null);
        if (!u) return false;
        try {
          await enroll(u);
        } finally {
          u.busy = false;
        }
        await sleep(between(200, 1200));
        return true;
      }),
      loop('enforcement', async () => {
        for (const enforce of [true, false]) {
          const res = await api.putSettings(enforce ? { enforce_two_factor: true, confirm: true }
                                                    : { enforce_two_factor: false });
          if (res.status !== 200)
            throw new Error(`PUT enforce=${enforce} answered ${res.status} ${JSON.stringify(res.body)}`);
          if (enforce) figures.enforcements++;
          await sleep(between(300, 900));
        }
        return true;
      }),
    ];

    for (let i = 0; i < KILLS && !done; i++) {
      await sleep(between(...KILL_DELAY_MS));
      up = new Promise((resolve) => (markUp = resolve));
      const exit = await ks.kill();
      assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, `keystep died on its own:\n${ks.output}`);
      figures.kills++;
      assert.equal(await checkCrashImage(), 'ok', `the database after kill ${i + 1} (seed ${SEED})`);
      const restartAt = Date.now();
      await ks.serve();
      figures.restartMs.push(Date.now() - restartAt);
      markUp();
      // The new process must know every code the old one accepted.
      for (let n = 0; n < 2; n++) {
        const u = take(replayable);
        if (!u) break;
        try {
          await replayRefused(u);
        } catch (err) {
          if (!isNetworkError(err)) fail(`replay after kill ${i + 1}: ${err.stack ?? err}`);
        } finally {
          u.busy = false;
        }
      }
    }
    done = true;
    await Promise.all(workers);
    const chaosSeconds = (Date.now() - started) / 1000;
    assert.deepEqual(failures, []);

    // Nothing confirmed was lost: the credentials as the last process stored them.
    const rows = await ks.sql(
        "SELECT u.email, c.provider_id, c.counter, c.confirmed FROM mfa_credentials c " +
        "JOIN users u ON u.id = c.user_id WHERE u.email LIKE '%@beta.example.com'");
    const totp = new Map(rows.filter((r) => r.provider_id === 'totp' && r.confirmed === 1)
                             .map((r) => [r.email, r]));
    for (const u of users.filter((x) => x.accepted.length > 0)) {
      const stored = totp.get(u.email);
      assert.ok(stored, `${u.email}'s confirmed TOTP credential is stored`);
      const highest = Math.max(...u.accepted.map((a) => a.step));
      assert.ok(stored.counter >= highest,
                `${u.email}'s counter ${stored.counter} is below the accepted step ${highest} (seed ${SEED})`);
      if (u.recoveryCodes.length > 0)
        assert.ok(rows.some((r) => r.email === u.email && r.provider_id === 'recovery_code' && r.confirmed === 1),
                  `${u.email}'s recovery codes are stored`);
    }

    // The session of every user's latest confirmed sign-in still opens the profile.
    for (const u of users.filter((x) => x.session)) {
      const page = await u.session.get(profileUrl);
      assert.equal(page.status, 200, `${u.email}'s session after the kills: ${page.status} ${page.location ?? ''}`);
      figures.sessionsKept++;
    }

    // Enrollments whose confirmation got no answer: either done (then with the secret the client
    // sent a code for, which the sign-ins below prove) or not at all, never half.
    for (const u of users.filter((x) => x.maybeSecret && !x.secret)) {
      if (!totp.has(u.email)) continue;
      u.secret = u.maybeSecret;
      figures.foundEnrolled++;
    }
    // Users without TOTP whose enrollment was interrupted sign in with their password alone.
    for (const u of users.filter((x) => !x.secret && x.maxStep >= 0)) {
      const { callback } = await signIn(new Browser({ headers: u.headers }), profileUrl, u);
      assert.equal(callback.href, profileUrl.href, `${u.email} signs in with the password alone`);
    }

    // Every user with TOTP: the latest accepted code is refused if still in the window, and a
    // fresh sign-in works (which also resets the failure the replay counted).
    const withTotp = users.filter((x) => x.secret);
    const later = [];
    for (const u of withTotp) {
      await replayRefused(u);
      if (!(await totpSignIn(u))) later.push(u);
    }
    if (later.length > 0) {
      const step = Math.max(...later.map((u) => u.maxStep));
      await sleep(Math.max(0, step * TOTP_PERIOD * 1000 + 200 - Date.now()));  // step - 1 ends
      for (const u of later) assert.ok(await totpSignIn(u), `${u.email} signs in`);
    }
    // One recovery code of every enrollment confirmed during the run.
    for (const u of users.filter((x) => x.enrolledDuringRun && x.recoveryCodes.length > 0)) {
      const { response } = await signInWithCode(u, u.recoveryCodes[0], { method: 'recovery_code' });
      assert.ok(isSignedIn(response), `${u.email}'s recovery code answered ${response.status} ` +
                                      (alertText(response.body) ?? response.body));
    }

    // Every queued email delivered: nothing pending or failed, one Message-ID per row.
    let pending = [];
    const outbox = await eventually(async () => {
      const r = await ks.sql('SELECT id, recipient, sent_at, attempts, next_attempt_at, last_error FROM mail_outbox');
      pending = r.filter((m) => m.sent_at === 0);
      return pending.length === 0 && r;
    }, 'the outbox to be sent', 60000).catch((e) => {
      throw new Error(`${e.message}; unsent at ${Math.floor(Date.now() / 1000)}: ${JSON.stringify(pending)}`);
    });
    await sleep(1000);  // the SMTP server writes a message before it answers 250: none in flight
    const exit = await ks.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks.output}`);
    assert.equal(await checkDatabase(path.join(ks.dataDir, 'keystep.db')), 'ok');
    assert.ok(outbox.length >= KILLS, `only ${outbox.length} emails were queued in ${KILLS} kills`);
    assert.deepEqual(outbox.filter((m) => m.attempts > 0 || m.last_error !== ''), [],
                     'no delivery failed: the SMTP server was up all along');

    const received = await smtp.messages();
    const byId = new Map();
    for (const m of received) {
      const header = m.raw.toString('latin1').split('\r\n\r\n')[0];
      const id = header.match(/^Message-ID: (\S+)\r?$/m)?.[1];
      assert.ok(id, `message ${m.n} has a Message-ID`);
      const first = byId.get(id);
      if (first) {
        assert.ok(first.raw.equals(m.raw), `the copies of ${id} are identical`);
        assert.deepEqual(first.envelope, m.envelope);
      } else {
        byId.set(id, m);
      }
    }
    const count = (list, key) => list.reduce((acc, x) => acc.set(key(x), (acc.get(key(x)) ?? 0) + 1), new Map());
    assert.deepEqual(count([...byId.values()], (m) => m.envelope.rcpt_tos.join(',')),
                     count(outbox, (m) => m.recipient),
                     'one distinct message per outbox row, for every recipient');
    assert.equal(byId.size, outbox.length);
    const duplicates = received.length - byId.size;
    assert.ok(duplicates <= figures.kills, `${duplicates} copies beyond the first, more than one per kill`);

    const restart = figures.restartMs.sort((a, b) => a - b);
    console.log(JSON.stringify({
      seed: SEED, chaos_seconds: chaosSeconds, ...figures,
      restartMs: { median: restart[restart.length >> 1], max: restart.at(-1) },
      users_with_totp: withTotp.length, emails_queued: outbox.length,
      smtp_messages_received: received.length, duplicate_copies: duplicates,
    }));
    assert.ok(figures.signIns > 0 && figures.enrollments > 0 && figures.enforcements > 0);
  });
});
