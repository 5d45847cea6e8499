// Records the WebAuthn fixtures of the provider's unit tests and of the cross-check with
// @simplewebauthn/server (tests/fixtures/webauthn/fixtures.json) from Chromium's DevTools
// virtual authenticators: real registrations and assertions as a browser posts them
// (PublicKeyCredential.toJSON()), and the negative variants built from them.
//
//   cd tests/e2e && node webauthn/record_fixtures.mjs [OUT]
//
// Every case carries the verdict both verifiers must reach: "accept", or the Keystep error
// code name the provider answers ("denied", "cloned", "replayed", ...). Variants that change
// signed bytes are re-signed with the credential's own private key, which the virtual
// authenticator exports, so that the property under test (crossOrigin, type) is what refuses
// them and not a broken signature. Packed self attestation is made the same way from a
// Chromium registration, as a self-attesting key does (Chromium's authenticators always
// attest with their batch certificate).
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = process.argv[2] ?? path.join(HERE, '../../fixtures/webauthn/fixtures.json');
const CHROMIUM = '/usr/bin/chromium';
const RP_ID = 'localhost';
const USER_ID = 'AAAAAAAAACo'; // the user handle Keystep derives from user id 42

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const unb64url = (text) => Buffer.from(text, 'base64url');
const sha256 = (data) => createHash('sha256').update(data).digest();
const signCount = (response) => unb64url(response.response.authenticatorData).readUInt32BE(33);

let challengeSeed = 0;
// Distinct, reproducible 32-byte challenges: the fixtures stay stable between recordings.
function nextChallenge() {
  challengeSeed += 1;
  return b64url(sha256(`keystep webauthn fixture challenge ${challengeSeed}`));
}

function privateKeyOf(credential) {
  return createPrivateKey({ key: Buffer.from(credential.privateKey, 'base64'), format: 'der',
                            type: 'pkcs8' });
}

function signWith(key, data) {
  return sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key);
}

// clientDataJSON with `change` applied, as a browser would have serialised it.
function editedClientData(response, change) {
  const client = JSON.parse(unb64url(response.response.clientDataJSON).toString('utf8'));
  return Buffer.from(JSON.stringify({ ...client, ...change }), 'utf8');
}

// An assertion whose clientDataJSON or authenticatorData changed, signed again by the key.
function resignedAssertion(response, key, { clientData, authenticatorData }) {
  const client = clientData ?? unb64url(response.response.clientDataJSON);
  const auth = authenticatorData ?? unb64url(response.response.authenticatorData);
  const signature = signWith(key, Buffer.concat([auth, sha256(client)]));
  return { ...response, response: { ...response.response, clientDataJSON: b64url(client),
                                     authenticatorData: b64url(auth),
                                     signature: b64url(signature) } };
}

// A registration re-made as packed self attestation: the credential key signs
// authData || SHA-256(clientDataJSON), attStmt holds alg and sig and no x5c.
function selfAttested(response, key, alg, clientData) {
  const client = clientData ?? unb64url(response.response.clientDataJSON);
  const attestation = isoCBOR.decodeFirst(unb64url(response.response.attestationObject));
  const authData = attestation.get('authData');
  const sig = signWith(key, Buffer.concat([authData, sha256(client)]));
  const attStmt = new Map([['alg', alg], ['sig', new Uint8Array(sig)]]);
  const object = new Map([['fmt', 'packed'], ['attStmt', attStmt], ['authData', authData]]);
  return { ...response, response: { ...response.response, clientDataJSON: b64url(client),
                                     attestationObject: b64url(isoCBOR.encode(object)) } };
}

class Recorder {
  constructor(page, cdp, origin) {
    Object.assign(this, { page, cdp, origin });
  }

  async authenticator(options) {
    const { authenticatorId } = await this.cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { transport: 'usb', hasResidentKey: false, automaticPresenceSimulation: true,
                 ...options } });
    this.id = authenticatorId;
  }

  async remove() {
    await this.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: this.id });
  }

  async overrideBits(bits) {
    await this.cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId: this.id,
                                                              isBogusSignature: false,
                                                              isBadUV: false, isBadUP: false,
                                                              ...bits });
  }

  async credential(id) {
    const { credentials } = await this.cdp.send('WebAuthn.getCredentials',
                                                { authenticatorId: this.id });
    return credentials.find((c) => Buffer.from(c.credentialId, 'base64').equals(unb64url(id)));
  }

  async create({ alg = -7, attestation = 'direct', userVerification = 'discouraged' }) {
    const challenge = nextChallenge();
    const options = {
      rp: { name: 'Keystep fixtures', id: RP_ID },
      user: { id: USER_ID, name: 'ada@example.com', displayName: 'ada@example.com' },
      challenge, pubKeyCredParams: [{ type: 'public-key', alg }], attestation, timeout: 60000,
      authenticatorSelection: { residentKey: 'discouraged', userVerification } };
    const response = await this.page.evaluate(async (json) => {
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json);
      return (await navigator.credentials.create({ publicKey })).toJSON();
    }, options);
    return { challenge, response };
  }

  async get(credentialId, userVerification = 'discouraged') {
    const challenge = nextChallenge();
    const options = { challenge, rpId: RP_ID, timeout: 60000, userVerification,
                      allowCredentials: [{ type: 'public-key', id: credentialId }] };
    const response = await this.page.evaluate(async (json) => {
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
      return (await navigator.credentials.get({ publicKey })).toJSON();
    }, options);
    return { challenge, response };
  }
}

async function record(recorder) {
  const registrations = [];
  const assertions = [];
  const reg = (name, fields) => registrations.push({ name, user_verification: 'discouraged',
                                                    ...fields });
  const as = (name, fields) => assertions.push({ name, user_verification: 'discouraged',
                                                 ...fields });

  // A CTAP2 key with user verification: packed full attestation, ES256.
  await recorder.authenticator({ protocol: 'ctap2', hasUserVerification: true,
                                 isUserVerified: true });
  const packed = await recorder.create({});
  reg('packed_full', { ...packed, expect: 'accept', attestation: 'basic' });
  reg('wrong_challenge', { ...packed, challenge: nextChallenge(), expect: 'denied' });
  reg('origin_port', { ...packed, origin: recorder.origin.replace(/:(\d+)$/, (m, p) => `:${+p + 1}`),
                       expect: 'denied' });
  reg('rp_id_hash', { ...packed, rp_id: 'example.com', expect: 'denied' });
  const packedKey = privateKeyOf(await recorder.credential(packed.response.id));
  const packedCred = packed.response.id;
  const first = await recorder.get(packedCred);
  as('packed_ok', { registration: 'packed_full', ...first, stored_count: 0, expect: 'accept' });
  as('wrong_challenge', { registration: 'packed_full', ...first, challenge: nextChallenge(),
                          stored_count: 0, expect: 'denied' });
  as('origin_port', { registration: 'packed_full', ...first, stored_count: 0, expect: 'denied',
                      origin: recorder.origin.replace(/:(\d+)$/, (m, p) => `:${+p + 1}`) });
  as('rp_id_hash', { registration: 'packed_full', ...first, stored_count: 0,
                     rp_id: 'example.com', expect: 'denied' });
  as('cross_origin', { registration: 'packed_full', challenge: first.challenge, stored_count: 0,
                       expect: 'denied',
                       response: resignedAssertion(first.response, packedKey, {
                         clientData: editedClientData(first.response, { crossOrigin: true }) }) });
  as('type_create', { registration: 'packed_full', challenge: first.challenge, stored_count: 0,
                      expect: 'denied',
                      response: resignedAssertion(first.response, packedKey, {
                        clientData: editedClientData(first.response,
                                                     { type: 'webauthn.create' }) }) });
  // As stored after `first` was accepted: its count and its challenge.
  as('replay', { registration: 'packed_full', ...first, stored_count: signCount(first.response),
                 last_challenge: first.challenge, expect: 'replayed' });
  const second = await recorder.get(packedCred);
  as('counter_regression', { registration: 'packed_full', ...first,
                             stored_count: signCount(second.response), expect: 'cloned' });
  as('counter_advances', { registration: 'packed_full', ...second,
                           stored_count: signCount(first.response), expect: 'accept' });
  const verified = await recorder.get(packedCred, 'required');
  as('uv_required_with_uv', { registration: 'packed_full', ...verified, stored_count: signCount(second.response),
                              user_verification: 'required', expect: 'accept' });
  await recorder.overrideBits({ isBadUP: true });
  as('up_zero', { registration: 'packed_full', ...(await recorder.get(packedCred)),
                  stored_count: 0, expect: 'denied' });
  await recorder.overrideBits({ isBogusSignature: true });
  as('bad_signature', { registration: 'packed_full', ...(await recorder.get(packedCred)),
                        stored_count: 0, expect: 'denied' });
  await recorder.overrideBits({ isBadUV: true });
  as('uv_required_bad_uv', { registration: 'packed_full',
                             ...(await recorder.get(packedCred, 'required')), stored_count: 0,
                             user_verification: 'required', expect: 'denied' });
  await recorder.overrideBits({});
  // A packed_full assertion presented for the EdDSA credential: another key than the one stored.
  const another = await recorder.get(packedCred);
  as('unknown_credential', { registration: 'packed_eddsa', ...another, stored_count: 0,
                             expect: 'denied' });

  // The same key type with EdDSA and RS256 credentials.
  for (const [name, alg] of [['packed_eddsa', -8], ['packed_rs256', -257]]) {
    const made = await recorder.create({ alg });
    reg(name, { ...made, expect: 'accept', attestation: 'basic' });
    as(`${name}_ok`, { registration: name, ...(await recorder.get(made.response.id)),
                       stored_count: 0, expect: 'accept' });
  }
  await recorder.remove();

  // A CTAP2 key without user verification: attestation "none", and the same registration
  // made into packed self attestation.
  await recorder.authenticator({ protocol: 'ctap2', hasUserVerification: false });
  const none = await recorder.create({ attestation: 'none' });
  reg('none', { ...none, expect: 'accept', attestation: 'none' });
  reg('uv_required_without_uv', { ...none, user_verification: 'required', expect: 'denied' });
  const noneKey = privateKeyOf(await recorder.credential(none.response.id));
  reg('none_cross_origin', { challenge: none.challenge, expect: 'denied',
                             response: { ...none.response, response: { ...none.response.response,
                               clientDataJSON: b64url(editedClientData(none.response,
                                                                       { crossOrigin: true })) } } });
  reg('none_type_get', { challenge: none.challenge, expect: 'denied',
                         response: { ...none.response, response: { ...none.response.response,
                           clientDataJSON: b64url(editedClientData(none.response,
                                                                   { type: 'webauthn.get' })) } } });
  reg('packed_self', { challenge: none.challenge, expect: 'accept', attestation: 'self',
                       response: selfAttested(none.response, noneKey, -7) });
  // Signed over another clientDataJSON than the one sent.
  const forged = selfAttested(none.response, noneKey, -7,
                              editedClientData(none.response, { challenge: nextChallenge() }));
  reg('packed_self_bad_signature', { challenge: none.challenge, expect: 'denied',
                                     response: { ...forged, response: { ...forged.response,
                                       clientDataJSON: none.response.response.clientDataJSON } } });
  const noUv = await recorder.get(none.response.id, 'preferred');
  as('none_ok', { registration: 'none', ...noUv, stored_count: 0, expect: 'accept' });
  as('uv_required_without_uv', { registration: 'none', ...noUv, stored_count: 0,
                                 user_verification: 'required', expect: 'denied' });
  await recorder.remove();

  // A U2F key: fido-u2f attestation, counter-based assertions.
  await recorder.authenticator({ protocol: 'u2f', hasUserVerification: false });
  const u2f = await recorder.create({});
  reg('fido_u2f', { ...u2f, expect: 'accept', attestation: 'basic' });
  as('fido_u2f_ok', { registration: 'fido_u2f', ...(await recorder.get(u2f.response.id)),
                      stored_count: 0, expect: 'accept' });
  await recorder.remove();
  return { registrations, assertions };
}

const server = http.createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html' });
  response.end('<!doctype html><title>Keystep WebAuthn fixtures</title>');
});
await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
const origin = `http://localhost:${server.address().port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM,
                                        args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const recorded = await record(new Recorder(page, cdp, origin));
  const fixtures = { recorded_with: `Chromium ${browser.version()}`, origin, rp_id: RP_ID,
                     user_handle: USER_ID, ...recorded };
  // The virtual authenticators' attestation certificate, a trust anchor for the tests of
  // trusted attestation and AAGUID allow-lists.
  const packedFull = recorded.registrations.find((r) => r.name === 'packed_full');
  const statement = isoCBOR.decodeFirst(unb64url(packedFull.response.response.attestationObject));
  const der = Buffer.from(statement.get('attStmt').get('x5c')[0]);
  fixtures.attestation_certificate = `-----BEGIN CERTIFICATE-----\n${
    der.toString('base64').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
  await writeFile(OUT, `${JSON.stringify(fixtures, null, 1)}\n`);
  console.log(`wrote ${OUT}: ${recorded.registrations.length} registrations, ` +
              `${recorded.assertions.length} assertions`);
} finally {
  await browser.close();
  server.close();
}
