// Trusted attestation of security keys in Debian's chromium (issue 13): the account policy
// "Only keys whose maker vouches for them" (webauthn.attestation trusted) and the AAGUID
// allow-list, against the attestation statements Chromium's DevTools virtual authenticators
// really make. Alice adds keys on her profile, one browser signed in throughout, plugging
// one virtual authenticator after another:
// - the page asks for attestation "direct", and a U2F (CTAP1) key's fido-u2f statement and a
//   CTAP2 key's packed one chain to the server's webauthn.attestation_roots: both are stored
//   as trusted, with the format received (the credential row);
// - a key whose browser answers with attestation "none" is refused with the page's plain
//   message, nothing is stored, and mfa.enable_refused is audited;
// - with an allow-list holding the CTAP2 key's model (AAGUID), another key of that model is
//   added, and a U2F key (no model) is refused;
// - the admin API shows each key's public details (issue 13's follow-up): the CTAP2 key's
//   AAGUID, Chromium's virtual authenticator's, and packed; the U2F key fido-u2f and no AAGUID;
//   both trusted; never the public key.
//
// The trust anchor: Chromium's virtual authenticators sign their attestation certificate
// with one fixed key (device/fido/virtual_fido_device.cc) and make that certificate self-
// signed, "CN=Batch Certificate, OU=Authenticator Attestation, O=Chromium", anew for each
// registration (its notAfter moves with the clock). The certificate recorded with the
// provider's fixtures (tests/fixtures/webauthn/fixtures.json, attestation_certificate) holds
// that key and name, so as the root of webauthn.attestation_roots it vouches for every
// certificate the authenticators make, the ones of this run included: the provider trusts a
// self-signed certificate issued again under a root's name and key (attestation.cc).
//   cd tests/e2e && KEYSTEP_BIN=$PWD/../../build/keystep node --test webauthn_attestation.test.mjs

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { AdminApi } from './lib/admin_api.mjs';
import { launchChromium } from './lib/chromium.mjs';
import { Keystep, USER } from './lib/keystep.mjs';
import { addAuthenticator, addKey, ceremonyOptions, changeCeremonyOptions, idOf, KEY,
         openAddKey, signInToProfile, touchNewKey, U2F, withKey } from './lib/security_key.mjs';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)),
                           '../fixtures/webauthn/fixtures.json');
const ADMIN = { email: 'boss@example.com', password: 'boss staple battery' };
const NO_MODEL = '00000000-0000-0000-0000-000000000000';
// The AAGUID of Chromium's CTAP2 virtual authenticator (kDeviceAaguid in
// device/fido/virtual_fido_device.cc).
const CHROMIUM_AAGUID = '01020304-0506-0708-0102-030405060708';
const NOT_VOUCHED = 'The security key was refused (your account accepts only security keys ' +
                    'whose maker vouches for them, and this key\'s attestation does not reach a ' +
                    'trusted authority). Try again.';
const NOT_ALLOWED = 'The security key was refused (this model of security key is not allowed ' +
                    'in your account). Try again.';

describe('trusted attestation and the AAGUID allow-list (chromium)', { timeout: 120000 }, () => {
  let rootsDir;
  let ks;
  let api;
  let browser;
  let alice;   // her browser, signed in to her profile: { context, page, cdp, key }
  let model;   // the AAGUID of Chromium's CTAP2 virtual authenticator, as stored

  before(async () => {
    rootsDir = await mkdtemp(path.join(os.tmpdir(), 'keystep-roots-'));
    const roots = path.join(rootsDir, 'chromium-attestation.pem');
    const { attestation_certificate: pem } = JSON.parse(await readFile(FIXTURES, 'utf8'));
    await writeFile(roots, pem);
    ks = await Keystep.start({ host: 'localhost', conf: { webauthn: { attestation_roots: roots } } });
    await ks.addUser({ ...ADMIN, admin: true });
    api = new AdminApi(ks, await ks.apiToken(ADMIN.email));
    const { status, body } = await api.putSettings({ webauthn: { attestation: 'trusted' } });
    assert.equal(status, 200, JSON.stringify(body));
    browser = await launchChromium();
  });

  after(async () => {
    await alice?.context.close();
    await browser?.close();
    const exit = await ks?.shutdown();
    if (rootsDir) await rm(rootsDir, { recursive: true, force: true });
    assert.deepEqual(exit, { code: 0, signal: null }, `keystep did not shut down cleanly:\n${ks?.output}`);
  });

  // Alice's confirmed security keys as stored: [{ label, lookup_key, params (parsed) }].
  async function storedKeys() {
    const rows = await ks.sql("SELECT label, lookup_key, params FROM mfa_credentials " +
                              "WHERE provider_id = 'webauthn' AND confirmed = 1 ORDER BY id");
    return rows.map((r) => ({ ...r, params: JSON.parse(r.params) }));
  }

  // Alice's security key labelled `label` as the admin API shows it: the list's entry, which
  // GET …/credentials/{id} answers the same, after checking the stored public key is in
  // neither.
  async function shownKey(label) {
    const { [USER.email]: member } = await api.membersByEmail();
    const keys = (await api.credentials(member.id)).filter((c) => c.provider === 'webauthn');
    const key = keys.find((c) => c.label === label);
    assert.ok(key, JSON.stringify(keys));
    const { status, body } = await api.credential(member.id, key.id);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, key);
    const [row] = (await storedKeys()).filter((k) => k.label === label);
    assert.ok(!JSON.stringify(keys).includes(row.params.public_key), 'the public key is never shown');
    return key;
  }

  // The key alice's browser holds now is replaced by a new authenticator (`options`).
  async function plugIn(options) {
    await alice.key.remove();
    alice.key = await addAuthenticator(alice.cdp, options);
    await alice.page.goto(`${ks.issuer}/profile`);
  }

  // Alice tries to add the plugged-in key as `label` and is refused with `message`: the Add
  // page stays, nothing is stored, and the refusal is audited.
  async function assertAddRefused(label, message) {
    const before = await storedKeys();
    await touchNewKey(alice.page, label);
    assert.equal(new URL(alice.page.url()).pathname, '/profile/two-factor/enable');
    assert.equal(await alice.page.locator('[role=alert]').innerText(), message);
    assert.deepEqual(await storedKeys(), before);
    const { body } = await api.auditEvents({ event: 'mfa.enable_refused' });
    assert.ok(body.events.some((e) => e.detail === 'denied'), JSON.stringify(body));
  }

  it('the page asks for direct attestation; a U2F key\'s fido-u2f statement is trusted', async () => {
    alice = await withKey(browser, U2F);
    await signInToProfile(ks, alice.page, USER);
    await openAddKey(alice.page);
    assert.equal((await ceremonyOptions(alice.page)).attestation, 'direct');
    await touchNewKey(alice.page, 'Old U2F key');
    assert.match(await alice.page.locator('main').innerText(), /Two-factor authentication is on/);
    const [u2f] = await alice.key.credentials();
    const [row] = await storedKeys();
    assert.equal(row.lookup_key, idOf(u2f));
    assert.deepEqual([row.label, row.params.fmt, row.params.attestation, row.params.aaguid],
                     ['Old U2F key', 'fido-u2f', 'trusted', NO_MODEL]);
    const shown = await shownKey('Old U2F key');
    assert.deepEqual([shown.details.attestation_format, shown.details.attestation,
                      shown.details.aaguid, shown.possibly_cloned],
                     ['fido-u2f', 'trusted', null, false]);
  });

  it('a CTAP2 key\'s packed statement is trusted, and carries its model', async () => {
    await plugIn(KEY);
    await addKey(alice.page, 'Desk key');
    const [, row] = await storedKeys();
    assert.deepEqual([row.label, row.params.fmt, row.params.attestation],
                     ['Desk key', 'packed', 'trusted']);
    assert.notEqual(row.params.aaguid, NO_MODEL);
    model = row.params.aaguid;
    const shown = await shownKey('Desk key');
    assert.deepEqual([shown.details.attestation_format, shown.details.attestation,
                      shown.details.aaguid, shown.details.transports],
                     ['packed', 'trusted', CHROMIUM_AAGUID, ['usb']]);
    assert.equal(typeof shown.details.user_verified, 'boolean');
  });

  it('a key answering with attestation "none" is refused with a plain message', async () => {
    await plugIn(KEY);
    await openAddKey(alice.page);
    // The browser's user declined to show the key's make and model (or a browser replaced it).
    await changeCeremonyOptions(alice.page, (o) => ({ ...o, attestation: 'none' }));
    await assertAddRefused('Anonymous key', NOT_VOUCHED);
    assert.equal((await alice.key.credentials()).length, 1, 'the key did make a credential');
  });

  describe('the account allows only the CTAP2 key\'s model', () => {
    before(async () => {
      const { status, body } = await api.putSettings({ webauthn: { attestation: 'trusted',
                                                                   aaguids: [model] } });
      assert.equal(status, 200, JSON.stringify(body));
      assert.deepEqual(body.webauthn.aaguids, [model]);
    });

    it('another key of that model is added', async () => {
      await plugIn(KEY);
      await addKey(alice.page, 'Spare key');
      const keys = await storedKeys();
      assert.deepEqual(keys.map((k) => [k.label, k.params.fmt, k.params.aaguid]),
                       [['Old U2F key', 'fido-u2f', NO_MODEL], ['Desk key', 'packed', model],
                        ['Spare key', 'packed', model]]);
    });

    it('a U2F key, trusted but of no model, is refused', async () => {
      await plugIn(U2F);
      await openAddKey(alice.page);
      await assertAddRefused('Another U2F key', NOT_ALLOWED);
    });
  });
});
