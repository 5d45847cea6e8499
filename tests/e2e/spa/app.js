// A browser single-page app signing in with Keystep through oauth4webapi, as
// docs/integrating.md shows it: a public client (no secret), the code flow with PKCE, the
// id_token checked against the JWKS, userinfo, and a refresh. Every call goes from the
// browser to Keystep cross-origin (CORS). tests/e2e/spa.test.mjs serves it from
// http://127.0.0.1:<port>/ with /config.json and oauth4webapi's browser build beside it.

import * as oauth from './oauth4webapi.js';

const { issuer, clientId, redirectUri } = await (await fetch('./config.json')).json();
// The test's issuer is plain http on loopback; a real deployment's is https and needs none.
const options = { [oauth.allowInsecureRequests]: true };

const issuerUrl = new URL(issuer);
export const as = await oauth.processDiscoveryResponse(
  issuerUrl, await oauth.discoveryRequest(issuerUrl, options));
const client = { client_id: clientId };
const clientAuth = oauth.None();

// Sends the browser to Keystep's sign-in, keeping the PKCE verifier, state and nonce for the
// way back.
export async function signIn() {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem('keystep-login', JSON.stringify({ verifier, state, nonce }));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid email profile offline_access');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  location.assign(url.href);
}

// On the redirect URI: redeems the code, checks the id_token's signature, reads userinfo and
// refreshes once. Returns what the app learnt.
export async function finish() {
  const { verifier, state, nonce } = JSON.parse(sessionStorage.getItem('keystep-login'));
  sessionStorage.removeItem('keystep-login');
  const params = oauth.validateAuthResponse(as, client, new URL(location.href), state);
  const response = await oauth.authorizationCodeGrantRequest(
    as, client, clientAuth, params, redirectUri, verifier, options);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: nonce,
    requireIdToken: true,
  });
  await oauth.validateApplicationLevelSignature(as, response, options);
  const claims = oauth.getValidatedIdTokenClaims(tokens);

  const userinfo = await oauth.processUserInfoResponse(
    as, client, claims.sub, await oauth.userInfoRequest(as, client, tokens.access_token, options));

  const refreshed = await oauth.processRefreshTokenResponse(
    as, client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, options));

  const result = {
    claims,
    userinfo,
    refreshed: {
      access_token_changed: refreshed.access_token !== tokens.access_token,
      refresh_token_rotated: refreshed.refresh_token !== tokens.refresh_token,
    },
  };
  document.getElementById('result').textContent = JSON.stringify(result, null, 2);
  return result;
}
