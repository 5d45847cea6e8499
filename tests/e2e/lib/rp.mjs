// The relying party side: openid-client configured against a running keystep.

import * as client from 'openid-client';

import { signIn } from './browser.mjs';

// Discovers the issuer and returns an openid-client Configuration. `auth` is an openid-client
// ClientAuth (None() for the public client). Plain http is allowed: everything is on loopback.
// `fetch` optionally replaces the RP's fetch, e.g. to record requests.
export function discover(ks, clientId, auth = client.None(), { fetch } = {}) {
  const options = { execute: [client.allowInsecureRequests] };
  if (fetch) options[client.customFetch] = fetch;
  return client.discovery(new URL(ks.issuer), clientId, undefined, auth, options);
}

// Builds an authorization URL with PKCE (S256), state and nonce; returns it with the checks
// the RP must keep for the callback.
export async function startAuthorization(config, ks, extra = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: ks.redirectUri,
    scope: 'openid email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState: state, expectedNonce: nonce } };
}

// Starts an OIDC sign-in in `browser` and submits `user`'s password: signIn()'s result plus
// the checks the RP keeps for the callback.
export async function signInWithPassword(browser, config, ks, user, extra = {}) {
  const auth = await startAuthorization(config, ks, extra);
  return { ...(await signIn(browser, auth.url, user)), checks: auth.checks };
}

// Records every request the RP makes, for asserting how it authenticated.
export function recordingFetch() {
  const requests = [];
  const fetchFn = async (url, options) => {
    requests.push({ url: String(url), method: options.method, headers: new Headers(options.headers),
                    body: options.body === undefined ? '' : String(options.body) });
    return fetch(url, options);
  };
  return { fetch: fetchFn, requests };
}

// Decodes a JWT's protected header without verifying it.
export function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}
