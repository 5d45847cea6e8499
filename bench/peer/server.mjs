// The benchmark's peer: panva's oidc-provider (OpenID Certified) on loopback with one public
// client (PKCE S256 required), RS256 id_tokens and its development interactions for login
// (any login name, no password hashing). Usage:
//   node server.mjs --port PORT --redirect-uri URI
// Prints "peer serving ISSUER" once listening; exits on SIGTERM/SIGINT.

import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'redirect-uri': { type: 'string' },
    'client-id': { type: 'string', default: 'bench' },
  },
});
if (!values.port || !values['redirect-uri']) {
  console.error('usage: node server.mjs --port PORT --redirect-uri URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${values.port}`;
const clientId = values['client-id'];

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench-rs256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    redirect_uris: [values['redirect-uri']],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['keystep-bench-peer-cookie-key-0123456789'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // Keystep puts the scope's claims into the id_token too; do the same here.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  // PKCE is required for public clients by default (S256 only); state it anyway.
  pkce: { required: () => true },
  // Keystep has no consent step for its own clients: grant the requested scopes on login
  // (oidc-provider's documented "skip consent" recipe), so both run the same steps.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email offline_access');
    await grant.save();
    return grant;
  },
  // oidc-provider drops offline_access unless prompt=consent; Keystep issues a refresh token
  // for offline_access without it. Issue one whenever the client may refresh, like Keystep.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@bench.test`, email_verified: false };
      },
    };
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Interaction: 15 * 60,
    Session: 12 * 3600,
  },
});
provider.on('server_error', (ctx, err) => console.error('peer: server_error', err));

const server = provider.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`peer serving ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
