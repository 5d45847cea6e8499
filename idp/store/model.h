#pragma once
// Plain records of the IdP's domain, as the store keeps them. No behaviour here.
// Secrets never appear in clear: passwords, client secrets and tokens are hashes; private keys
// and MFA secrets are sealed (AES-256-GCM, base/crypto/secret_box.h) before they reach a store.

#include <cstdint>
#include <string>
#include <vector>

namespace keystep {

struct Account {
  int64_t id = 0;
  std::string name;          // unique, used on the command line and in URLs
  std::string issuer_label;  // shown in authenticator apps ("Harness-Inc")
  int64_t created_at = 0;
  // The account-level 2FA setting of the seed. It never changes a user's own setting.
  bool enforce_two_factor = false;
  std::string mfa_settings_json = "{}";  // per-provider settings, e.g. {"totp":{"digits":8}}
};

// Permission names, as stored in role_permissions. The seed names the three
// Authentication Settings permissions.
inline constexpr const char* kPermViewAuthSettings = "auth_settings.view";
inline constexpr const char* kPermEditAuthSettings = "auth_settings.edit";
inline constexpr const char* kPermDeleteAuthSettings = "auth_settings.delete";

// Role names seeded by the first migration.
inline constexpr const char* kRoleAdmin = "admin";
inline constexpr const char* kRoleMember = "member";

struct User {
  int64_t id = 0;
  int64_t account_id = 0;
  std::string email;          // stored lower-cased; unique per account
  std::string password_hash;  // Argon2id encoded string
  std::string role;           // kRoleAdmin or kRoleMember
  int64_t created_at = 0;
  // The user-level 2FA setting of the seed: a flag of its own, separate from the user's
  // enrolled credentials, toggled only by the user (or an admin reset).
  bool two_factor_enabled = false;
  std::string display_name{};   // the name the user goes by; "" when none was given
  bool email_verified = false;  // the address is known to reach the user (email_verified)
};

// When a client's code exchange yields a refresh token (stored as clients.refresh_tokens).
enum class RefreshTokens {
  kNever = 0,
  kOfflineAccess = 1,  // when the granted scope holds offline_access
  kAlways = 2,
};

// How a client's grants are made and last (issue 15 items 3 and 4).
struct GrantPolicy {
  RefreshTokens refresh_tokens = RefreshTokens::kOfflineAccess;
  // Seconds a refresh token lives unused (each rotation starts a new one); 0: the server's
  // refresh_token_ttl.
  int64_t refresh_idle_ttl = 0;
  // Seconds after the sign-in (the grant's creation) past which nothing refreshes; 0: none.
  int64_t refresh_absolute_ttl = 0;
  // First-party clients (the operator's own) get codes without a consent page; third-party
  // ones only for scopes the user allowed (Consent).
  bool first_party = true;
};

struct Client {
  std::string client_id;
  bool is_public = false;
  std::string secret_hash;  // salted SHA-256 (see directory.h); empty for public clients
  std::vector<std::string> redirect_uris;              // exact match
  std::vector<std::string> post_logout_redirect_uris;  // exact match
  int64_t created_at = 0;
  // Web origins allowed to call /token and /userinfo from script (CORS) besides those of the
  // redirect URIs (idp/directory/origin.h), normalized: scheme://host[:port].
  std::vector<std::string> allowed_origins{};
  GrantPolicy grants{};
  // Every sign-in to this client needs two-factor authentication (acr urn:keystep:loa:2fa),
  // whatever the user's and the account's settings.
  bool require_two_factor = false;
  // OpenID Connect Back-Channel Logout 1.0: where logout tokens are POSTed when a session of
  // a user of this client ends ("" for none), and whether the client needs their sid.
  std::string backchannel_logout_uri{};
  bool backchannel_logout_session_required = false;
  // How people see the application (sign-in, consent and admin pages): its name ("" shows
  // client_id), its logo and its home page ("" for none; https, or http on localhost).
  std::string display_name{};
  std::string logo_uri{};
  std::string home_uri{};
};

struct SigningKey {
  std::string kid;
  std::string alg;                 // "RS256" or "ES256"
  std::string sealed_private_key;  // SecretBox-sealed PEM
  std::string public_jwk;          // JSON object text
  bool active = false;             // exactly one key signs; the others only verify
  int64_t created_at = 0;
};

// A login in progress: the validated authorization request plus how far the user got.
// The store treats request_json and progress_json as opaque text owned by idp/.
struct LoginFlow {
  std::string id;                    // random, appears in the login page URL
  std::string browser_binding_hash;  // SHA-256 of the flow cookie given to the browser
  std::string csrf_token;            // random, carried by every form of this flow
  std::string request_json;          // the authorization request
  std::string progress_json;         // user, factors done, failures; owned by the flow
  int64_t version = 0;               // compare-and-set counter, bumped by every update
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

// A browser session at the IdP.
struct Session {
  std::string id_hash;   // SHA-256 of the cookie value; the cookie itself is never stored
  std::string sid;       // public session id, the id_token's "sid" claim
  int64_t user_id = 0;
  int64_t auth_time = 0;   // when the user last authenticated interactively
  std::string acr;         // the level reached
  std::string amr;         // space-separated RFC 8176 values, e.g. "pwd" or "pwd otp mfa"
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t password_time = 0;  // when each factor was last passed (0: never in this session)
  int64_t mfa_time = 0;
};

// What one authorization code grants; codes, access and refresh tokens hang off a grant so
// that a replayed code can revoke everything it issued.
struct Grant {
  std::string id;
  std::string client_id;
  int64_t user_id = 0;
  std::string sid;
  std::string scope;
  std::string nonce;
  int64_t auth_time = 0;
  std::string acr;
  std::string amr;
  bool revoked = false;
  int64_t created_at = 0;
  // The claims the request's `claims` parameter named (OIDC Core §5.5), as JSON text
  // {"id_token":[names],"userinfo":[names]}; owned by idp/oidc.
  std::string requested_claims = "{}";
};

// The scopes a user allowed a third-party client (the consent page), remembered per user and
// client until the user revokes them.
struct Consent {
  int64_t user_id = 0;
  std::string client_id;
  std::string scope;  // space-separated
  int64_t granted_at = 0;
};

// An authorization request waiting on the consent page of the session `sid`. The store treats
// request_json as opaque text owned by idp/.
struct ConsentRequest {
  std::string id;  // random, in the consent page's URL and form
  std::string sid;
  int64_t user_id = 0;
  std::string request_json;
  int64_t expires_at = 0;
};

struct AuthCode {
  std::string code_hash;
  std::string grant_id;
  std::string redirect_uri;
  std::string code_challenge;  // empty when the client sent none (confidential only)
  bool used = false;
  int64_t expires_at = 0;
};

enum class TokenKind { kAccess = 1, kRefresh = 2 };

struct Token {
  std::string token_hash;
  std::string grant_id;
  TokenKind kind = TokenKind::kAccess;
  bool used = false;     // refresh tokens: rotated away
  bool revoked = false;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  // Access tokens of a refresh request that narrowed the scope (RFC 6749 §6): the narrower
  // scope. Empty: the grant's.
  std::string scope;
};

// One page of a list: at most `limit` rows after skipping `offset`, and how many rows the
// whole list has.
struct PageRequest {
  int64_t offset = 0;
  int64_t limit = 50;
};
template <class T>
struct Page {
  std::vector<T> items;
  int64_t total = 0;
};

}  // namespace keystep
