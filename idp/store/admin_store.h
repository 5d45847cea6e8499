#pragma once
// Storage for account administration: API tokens, the member list with each member's 2FA
// state, the admin's "lost device" reset and the account's 2FA settings. Same contract as
// idp/store/store.h: thread-safe, each method atomic, kNotFound / kAlreadyExists / kConflict /
// kUnavailable / kInternal.

#include <cstdint>
#include <string>
#include <vector>

#include "idp/store/mail_store.h"
#include "idp/store/model.h"
#include "idp/store/onboarding_store.h"
#include "base/result.h"
#include "plugin/mfa_provider.h"

namespace keystep {

// An API token acts for its user within its account. Only the hash is stored.
struct ApiToken {
  int64_t id = 0;
  int64_t account_id = 0;
  int64_t user_id = 0;
  std::string name;
  std::string token_hash;  // SHA-256 (base64url) of the token
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0 while not revoked
  int64_t expires_at = 0;  // 0: never expires; else refused from this time on

  bool expired(int64_t now) const { return expires_at != 0 && expires_at <= now; }
};

struct Member {
  User user;
  // The providers of the member's confirmed credentials (fallbacks too), each once, whether or
  // not the server still has them: TwoFactor::second_factors decides which count.
  std::vector<std::string> confirmed_providers;
};

// What a lost-device reset ended, for the admin's summary.
struct TwoFactorReset {
  int64_t sessions_ended = 0;
  int64_t grants_revoked = 0;        // OIDC grants, with every access and refresh token
  std::vector<ApiToken> api_tokens;  // the member's API tokens it revoked (revoked_at set)
};

// What removing a member ended, for the admin's summary.
struct MemberRemoval {
  int64_t sessions_ended = 0;
  int64_t grants_revoked = 0;   // OIDC grants, with every access and refresh token
  int64_t logouts_queued = 0;   // back-channel logout notices to the member's applications
};

// A change of an account's 2FA settings (idp/admin/admin_api.h) with what it causes: when it
// turns enforcement on, the emails to members without a second factor and the pending secrets
// or enrollment links those emails carry.
struct AccountMfaChange {
  int64_t account_id = 0;
  bool was_enforced = false;  // the account-level setting the change was decided on
  bool enforce_two_factor = false;
  std::string mfa_settings_json;  // the per-provider settings, as Account::mfa_settings_json
  std::vector<MfaCredential> pending_credentials;  // secrets sealed, as MfaStore takes them
  std::vector<EnrollmentLink> links;
  std::vector<OutgoingMail> mail;
};

class AdminStore {
 public:
  virtual ~AdminStore() = default;
  // kNotFound when the user is not in the account. On success returns the token with its id.
  virtual Result<ApiToken> create_api_token(const ApiToken& token) = 0;
  // kNotFound when absent or revoked.
  virtual Result<ApiToken> api_token_by_hash(const std::string& token_hash) = 0;
  // The account's tokens, oldest first, revoked and expired ones too.
  virtual Result<std::vector<ApiToken>> api_tokens(int64_t account_id) = 0;
  virtual Result<Page<ApiToken>> api_tokens_page(int64_t account_id, PageRequest page) = 0;
  // kNotFound when the token is not in the account or already revoked.
  virtual Status revoke_api_token(int64_t account_id, int64_t token_id, int64_t now) = 0;
  // The account's users, by email (then id).
  virtual Result<std::vector<Member>> members(int64_t account_id) = 0;
  virtual Result<Page<Member>> members_page(int64_t account_id, PageRequest page) = 0;
  // Lost device, in one transaction: removes every credential of the user, turns the
  // user-level setting off, revokes every grant of the user with all its access and refresh
  // tokens (by user, not through sessions: a grant outlives its session), queues a
  // back-channel logout for each of those grants' clients and sessions (as
  // SessionStore::end_session does), ends every session of the user, revokes the user's API
  // tokens at `now` and queues `mail` (outbox dedupe keys make a repeat queue nothing). kNotFound for an unknown user (nothing changes).
  virtual Result<TwoFactorReset> reset_two_factor(int64_t user_id, int64_t now,
                                                  const std::vector<OutgoingMail>& mail) = 0;
  // Removes a member, in one transaction: queues a back-channel logout for each client and
  // session of the user's unrevoked grants (as reset_two_factor does), then deletes the user
  // with everything that hangs off them (sessions, grants and their codes and tokens,
  // credentials, API tokens, consents, enrollment links) and queues `mail` (outbox dedupe
  // keys make a repeat queue nothing). The audit log keeps its events. kNotFound for an
  // unknown user; kConflict when the user is the account's last admin (nothing changes).
  virtual Result<MemberRemoval> remove_member(int64_t user_id, int64_t now,
                                              const std::vector<OutgoingMail>& mail) = 0;
  // Sets the account-level setting and the per-provider settings of change.account_id and
  // stores what the change causes, in one transaction: the change and the messages it causes,
  // with the secrets and links they carry, are stored together or not at all.
  // - Compare-and-set on the account-level setting: kConflict (nothing changes) unless it is
  //   still change.was_enforced, so two requests racing to enforce cannot both send emails,
  //   and the one that loses leaves no secret, link or message behind.
  // - Each of change.pending_credentials replaces its user's unconfirmed credentials of its
  //   provider (as MfaStore::put_pending_credential does); it must be unconfirmed and belong
  //   to a user of the account (kInvalidArgument otherwise).
  // - change.links are stored, change.mail is queued (a message whose dedupe_key was ever
  //   queued is skipped, see idp/store/mail_store.h).
  // kNotFound for an unknown account; kInvalidArgument when mfa_settings_json, a credential's
  // params or state is not JSON text. On any error nothing changes.
  virtual Status update_account_mfa(const AccountMfaChange& change) = 0;
};

}  // namespace keystep
