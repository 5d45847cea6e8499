// An independent verifier agrees with the webauthn provider: every registration and assertion
// of tests/fixtures/webauthn/fixtures.json goes through @simplewebauthn/server with the same
// expectations (challenge, origin, rp id, user verification, stored counter), and it must
// accept exactly the cases whose verdict is "accept", the verdict the provider's unit tests
// (tests/unit/providers/webauthn/) hold the provider to. Where the library checks less than
// WebAuthn Level 3 §7 asks (crossOrigin), the case says so in `unchecked_by_simplewebauthn`
// and the test requires the library to accept it: the day it starts checking, this test says so.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = JSON.parse(readFileSync(path.join(HERE, '../fixtures/webauthn/fixtures.json'),
                                         'utf8'));

// simplewebauthn reads neither clientDataJSON.crossOrigin nor topOrigin.
const unchecked = (clientDataJSON) =>
  JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')).crossOrigin === true;

async function register(c) {
  return verifyRegistrationResponse({
    response: c.response, expectedChallenge: c.challenge,
    expectedOrigin: c.origin ?? FIXTURES.origin, expectedRPID: c.rp_id ?? FIXTURES.rp_id,
    requireUserVerification: c.user_verification === 'required' });
}

async function verdict(promise) {
  try {
    const result = await promise;
    return result.verified ? 'accept' : 'refuse';
  } catch (e) {
    return `refuse (${e.message})`;
  }
}

const credentials = new Map();
for (const c of FIXTURES.registrations) {
  if (c.expect !== 'accept' || credentials.has(c.name)) continue;
  const result = await register(c);
  credentials.set(c.name, result.registrationInfo.credential);
}

describe('@simplewebauthn/server agrees with the webauthn provider', () => {
  for (const c of FIXTURES.registrations) {
    it(`registration ${c.name}: ${c.expect}`, async () => {
      const got = await verdict(register(c));
      const want = c.expect === 'accept' || unchecked(c.response.response.clientDataJSON);
      assert.equal(got.startsWith('accept'), want, got);
    });
  }
  for (const c of FIXTURES.assertions) {
    it(`assertion ${c.name}: ${c.expect}`, async () => {
      const credential = credentials.get(c.registration);
      assert.ok(credential, `no accepted registration ${c.registration}`);
      const got = await verdict(verifyAuthenticationResponse({
        response: c.response, expectedChallenge: c.challenge,
        expectedOrigin: c.origin ?? FIXTURES.origin, expectedRPID: c.rp_id ?? FIXTURES.rp_id,
        requireUserVerification: c.user_verification === 'required',
        credential: { ...credential, counter: c.stored_count } }));
      const want = c.expect === 'accept' || unchecked(c.response.response.clientDataJSON);
      assert.equal(got.startsWith('accept'), want, got);
    });
  }
});
