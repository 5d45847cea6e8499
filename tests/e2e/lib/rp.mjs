// The relying party side: openid-client configured against a running keystep.

import * as client from 'openid-client';

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
