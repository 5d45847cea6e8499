#pragma once
// Store interfaces the IdP core needs. storage/sqlite implements them; a PostgreSQL
// implementation is meant to follow and pass the same conformance suite
// (tests/unit/idp/store/, run on every backend of store_backend.h).
//
// Contract common to every method of every store interface (idp/store/*.h), whatever the
// backend; the conformance suite checks it:
// - Thread-safe: a store may be called from any number of threads at once, and several
//   stores (processes) may share one database.
// - Each method is atomic: it fully happens or not at all. Nothing throws.
// - kNotFound when a named row is absent (also when a field names an absent row, e.g. a
//   user's account), kAlreadyExists on a uniqueness violation, kUnavailable when the
//   database is busy past its timeout, kInternal otherwise (with the database's message).
// - "Expired" means expires_at <= now, everywhere.
// - Account::mfa_settings_json and MfaCredential params/state must be valid JSON text:
//   kInvalidArgument otherwise (also for JSON holding invalid UTF-8).

#include <optional>
#include <string>
#include <vector>

#include "idp/store/admin_store.h"
#include "idp/store/logout_store.h"
#include "idp/store/mfa_store.h"
#include "idp/store/model.h"
#include "idp/store/onboarding_store.h"
#include "idp/store/password_reset_store.h"
#include "base/result.h"

namespace keystep {

class AccountStore {
 public:
  virtual ~AccountStore() = default;
  // On success returns the account with its new id.
  virtual Result<Account> create_account(const Account& account) = 0;
  virtual Result<Account> account_by_name(const std::string& name) = 0;
  virtual Result<Account> account_by_id(int64_t id) = 0;
};
// (The account-level 2FA settings are written through AdminStore::update_account_mfa.)

class UserStore {
 public:
  virtual ~UserStore() = default;
  // Checks the role first: kInvalidArgument for an unknown role, then kNotFound if the
  // account does not exist.
  virtual Result<User> create_user(const User& user) = 0;
  virtual Result<User> user_by_id(int64_t id) = 0;
  virtual Result<User> user_by_email(int64_t account_id, const std::string& email) = 0;
  // Every user with this email, across accounts (login by email), ordered by id.
  virtual Result<std::vector<User>> users_by_email(const std::string& email) = 0;
  // kNotFound for an unknown user.
  virtual Status update_password_hash(int64_t user_id, const std::string& password_hash) = 0;
  // kNotFound for an unknown user.
  virtual Status update_display_name(int64_t user_id, const std::string& display_name) = 0;
  // (The user-level 2FA flag is written only through MfaStore, together with credentials.)
  // Permission names granted by a role (empty for an unknown role).
  virtual Result<std::vector<std::string>> role_permissions(const std::string& role) = 0;
};

class ClientStore {
 public:
  virtual ~ClientStore() = default;
  // Stores the client with its redirect URIs and allowed origins, each list in its order.
  virtual Status create_client(const Client& client) = 0;
  virtual Result<Client> client_by_id(const std::string& client_id) = 0;
  // Every client, ordered by client_id.
  virtual Result<std::vector<Client>> clients() = 0;
  // Stores what may change of `client` after its creation: grants, require_two_factor, the
  // back-channel logout fields, display_name, logo_uri and home_uri (client_id, is_public,
  // secret_hash, created_at, redirect URIs and allowed origins stay as they are). kNotFound
  // for an unknown client.
  virtual Status update_client(const Client& client) = 0;
  // An account's own policy (clients are server-level): the ids of the clients its members
  // need two-factor authentication for, besides those that require it themselves
  // (Client::require_two_factor), ordered by client_id. Empty for an unknown account.
  virtual Result<std::vector<std::string>> clients_requiring_two_factor(int64_t account_id) = 0;
  // Sets or clears the account's requirement for the client (setting it twice, or clearing
  // an absent one, succeeds). kNotFound for an unknown account or client.
  virtual Status set_client_requires_two_factor(int64_t account_id, const std::string& client_id,
                                                bool required) = 0;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Adds a key. When key.active, it becomes the only active key in the same transaction.
  virtual Status add_signing_key(const SigningKey& key) = 0;
  // All keys that are published in the JWKS, active first, then newest first.
  virtual Result<std::vector<SigningKey>> signing_keys() = 0;
  // Removes a non-active key from the JWKS. kConflict if it is the active key.
  virtual Status retire_signing_key(const std::string& kid) = 0;
};

// The writes of one step of a sign-in (idp/login), made together by
// FlowStore::commit_flow_step so that a step costs one write transaction.
struct FlowStep {
  // The flow, compare-and-set on its version: advanced to progress_json, or deleted when
  // progress_json is empty (the sign-in is complete). An empty flow_id writes no flow (a
  // sign-in that needed none stored).
  std::string flow_id;
  int64_t expected_version = 0;
  std::optional<std::string> progress_json;
  // The second factor's credential this step used, compare-and-set on credential_version as
  // MfaStore::update_credential.
  std::optional<MfaCredential> credential;
  int64_t credential_version = 0;
  std::vector<std::string> reset_attempts;  // throttle keys cleared (MfaStore::reset_attempts)
  std::vector<AuditEvent> audit;
  // A session ended first, as SessionStore::end_session (another user's, on this browser).
  std::string end_sid;
  // The session signed in: created, or with session_exists its authentication updated
  // (SessionStore::update_session_auth).
  std::optional<Session> session;
  bool session_exists = false;
  // The authorization code issued, as GrantStore::create_grant_with_code.
  std::optional<Grant> grant;
  AuthCode code;
};

class FlowStore {
 public:
  virtual ~FlowStore() = default;
  virtual Status create_flow(const LoginFlow& flow) = 0;
  // kNotFound when absent; an expired flow (expires_at <= now) is kExpired.
  virtual Result<LoginFlow> flow_by_id(const std::string& id, int64_t now) = 0;
  // Compare-and-set: stores flow.progress_json with version expected_version + 1 only if
  // the stored version is still expected_version; otherwise kConflict. kNotFound when absent.
  virtual Status update_flow(const std::string& id, int64_t expected_version,
                             const std::string& progress_json) = 0;
  // kNotFound when absent.
  virtual Status delete_flow(const std::string& id) = 0;
  // Makes every write of `step` in one transaction, in the order of FlowStep's fields, or
  // none: the flow's version is not expected_version -> kConflict (kNotFound when the flow
  // is gone); the credential's version changed -> kReplayed (another request used it
  // first); a grant naming another sid than step.session -> kInvalidArgument; otherwise the
  // errors of the methods named in FlowStep. `now` is end_session's.
  virtual Status commit_flow_step(const FlowStep& step, int64_t now) = 0;
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual Status create_session(const Session& session) = 0;
  // kNotFound when absent or expired at now.
  virtual Result<Session> session_by_id_hash(const std::string& id_hash, int64_t now) = 0;
  virtual Result<Session> session_by_sid(const std::string& sid, int64_t now) = 0;
  // Records a fresh interactive authentication on an existing session: stores auth_time,
  // acr, amr, password_time and mfa_time of `session`, found by its id_hash. kNotFound when
  // absent.
  virtual Status update_session_auth(const Session& session) = 0;
  // Ends the session `sid` (logout, another user signing in on its browser), in one
  // transaction: queues a back-channel logout at `now` for each client with a
  // backchannel_logout_uri holding an unrevoked grant made under it (idp/store/
  // logout_store.h), revokes those grants (and so their tokens) and deletes the session.
  // Succeeds when the session or its grants are gone already.
  virtual Status end_session(const std::string& sid, int64_t now) = 0;
  // end_session for every session of `user_id` except the one whose sid is `keep_sid` (may
  // be empty), in one transaction. Returns how many sessions ended (0 is a success).
  virtual Result<int64_t> end_other_sessions(int64_t user_id, const std::string& keep_sid,
                                             int64_t now) = 0;
};

class GrantStore {
 public:
  virtual ~GrantStore() = default;
  // Stores a grant and its code in one transaction; the code is stored under grant.id, so
  // code.grant_id must be empty or grant.id (kInvalidArgument otherwise). kNotFound for an
  // unknown client or user.
  virtual Status create_grant_with_code(const Grant& grant, const AuthCode& code) = 0;
  // Single use. On the first call with an unexpired, unused code: marks it used and returns
  // {code, grant}. Checks, in order: unknown code -> kNotFound; already used -> revokes the
  // grant and every token issued from it, kReplayed; grant revoked -> kReplayed; expired ->
  // kExpired.
  struct Redeemed {
    AuthCode code;
    Grant grant;
  };
  virtual Result<Redeemed> redeem_code(const std::string& code_hash, int64_t now) = 0;
  virtual Result<Grant> grant_by_id(const std::string& id) = 0;
  // Stores the tokens (e.g. a code exchange's access and refresh tokens) in one transaction,
  // all or none: kNotFound for an unknown grant, kConflict if a grant is revoked (so a token
  // is never minted for a grant a replay has just revoked), kAlreadyExists for a taken hash.
  virtual Status add_tokens(const std::vector<Token>& tokens) = 0;
  // Token and its grant, only if neither is revoked and the token is unexpired and unused:
  // kNotFound when absent or of the other kind; kDenied when the token or its grant is
  // revoked; kReplayed when the token was already used (rotated away; nothing changes here,
  // rotate_refresh_token revokes); kExpired past expires_at.
  struct ActiveToken {
    Token token;
    Grant grant;
  };
  virtual Result<ActiveToken> active_token(const std::string& token_hash, TokenKind kind,
                                           int64_t now) = 0;
  // Refresh rotation, compare-and-set: marks old_hash used and adds replacement and `issued`
  // (the access token the rotation answers with) in one transaction. replacement must be a
  // refresh token and every token of `issued` an access token, all of the old token's grant
  // (kInvalidArgument otherwise). Checks, in order: unknown refresh token -> kNotFound;
  // already used (a stolen token replayed) -> revokes the grant and its tokens, kReplayed;
  // token or grant revoked -> kDenied; expired -> kExpired.
  virtual Status rotate_refresh_token(const std::string& old_hash, const Token& replacement,
                                      const std::vector<Token>& issued, int64_t now) = 0;
  // kNotFound for an unknown grant.
  virtual Status revoke_grant(const std::string& grant_id) = 0;
  // Token revocation (RFC 7009) by the client the token was issued to: an access token
  // alone; a refresh token with its grant and every token of it. Revoking a token that is
  // already revoked, used or expired succeeds. kNotFound for an unknown token; kDenied when
  // it was issued to another client (nothing changes).
  virtual Status revoke_token(const std::string& token_hash, const std::string& client_id) = 0;
};

// What users allowed third-party clients (the consent page), and the authorization requests
// waiting on that page.
class ConsentStore {
 public:
  virtual ~ConsentStore() = default;
  // kNotFound when the user has allowed the client nothing.
  virtual Result<Consent> consent(int64_t user_id, const std::string& client_id) = 0;
  // Stores the consent, replacing the user's earlier one to that client. kNotFound for an
  // unknown user or client.
  virtual Status put_consent(const Consent& consent) = 0;
  // The user's consents, ordered by client_id.
  virtual Result<std::vector<Consent>> consents_of_user(int64_t user_id) = 0;
  // Deletes the user's consent to the client and revokes every grant the user made to it
  // (and so their tokens), in one transaction. kNotFound when there was no consent.
  virtual Status revoke_consent(int64_t user_id, const std::string& client_id) = 0;
  // kAlreadyExists for a taken id; kNotFound for an unknown user.
  virtual Status create_consent_request(const ConsentRequest& request) = 0;
  // kNotFound when absent; kExpired past expires_at.
  virtual Result<ConsentRequest> consent_request(const std::string& id, int64_t now) = 0;
  // Single use: deletes the request and returns it. kNotFound when absent (or taken
  // already); kExpired past expires_at (deleted all the same).
  virtual Result<ConsentRequest> take_consent_request(const std::string& id, int64_t now) = 0;
};

// How long a delivered message stays in the outbox (for operators to look up) before
// purge_expired deletes it: 30 days.
inline constexpr int64_t kSentMailRetention = 30 * 86400;

// Everything the IdP core needs from storage.
class Store : public AccountStore,
              public UserStore,
              public ClientStore,
              public KeyStore,
              public FlowStore,
              public SessionStore,
              public GrantStore,
              public ConsentStore,
              public MfaStore,
              public AdminStore,
              public OnboardingStore,
              public PasswordResetStore,
              public LogoutStore {
 public:
  // Deletes expired flows, sessions, codes (used or not), tokens, consent requests,
  // enrollment links and password resets, pending MFA credentials past their kPendingExpiresAt
  // (idp/store/mfa_store.h), and messages and logout notices delivered kSentMailRetention or
  // longer before now (never pending ones); returns how many rows went. Grants and their
  // revocation state stay, as do invitations (for the admin's list), other MFA credentials,
  // attempt counters and the audit log.
  virtual Result<int64_t> purge_expired(int64_t now) = 0;
  // Readiness (GET /readyz): succeeds when the database answers a trivial query now;
  // kUnavailable (or kInternal) with the reason while it does not. Reads nothing and writes
  // nothing.
  virtual Status ping() = 0;
};

}  // namespace keystep
