#pragma once
// Storage the second login step needs: MFA credentials, the user-level 2FA flag, failed
// attempt counters (lockout) and the security audit log. Same contract as idp/store/store.h:
// thread-safe, each method atomic, kNotFound / kAlreadyExists / kConflict / kUnavailable.
//
// MfaCredential::secret is stored exactly as given: callers pass it sealed (SecretBox) and
// unseal it after reading; the store never sees key material in clear.
//
// A non-empty MfaCredential::lookup_key names one credential among all users' credentials
// of its provider (a token ID names one key): every method that would store a second
// credential of the same provider with the same non-empty lookup_key fails with
// kAlreadyExists and changes nothing.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "idp/store/model.h"
#include "base/result.h"
#include "plugin/mfa_provider.h"

namespace keystep {

// The member of a pending credential's state that holds when it expires (unix seconds),
// for pending registrations that must not wait forever (an administrator's tool that died
// between drawing a key and confirming it). Store::purge_expired deletes pending credentials
// past it; pending credentials without it (a member's own enrollment) never expire.
inline constexpr const char* kPendingExpiresAt = "pending_expires_at";

struct AttemptState {
  int64_t failures = 0;
  int64_t last_failure_at = 0;
};

struct AuditEvent {
  int64_t id = 0;
  int64_t at = 0;
  int64_t account_id = 0;
  int64_t user_id = 0;  // 0 when no user is known
  std::string event;    // e.g. "mfa.enabled", "mfa.code_refused", "mfa.locked_out"
  std::string address;  // client address
  std::string detail;   // short, never a secret
  std::string request_id;  // of the HTTP request that caused it ("" for the CLI, workers)
};

class MfaStore {
 public:
  virtual ~MfaStore() = default;

  // Confirmed and pending credentials of a user, ordered by created_at then id; empty for a
  // user without credentials (also an unknown user). kInternal when a stored params or state
  // no longer parses.
  virtual Result<std::vector<MfaCredential>> credentials_of_user(int64_t user_id) = 0;
  // Replaces the user's unconfirmed credentials of the same provider with `pending`.
  // kInvalidArgument if `pending` is confirmed; kNotFound for an unknown user. On success
  // returns it with its new id and version 0. Credential ids are never reused, so a stale
  // (id, version) can never match a replacement credential.
  virtual Result<MfaCredential> put_pending_credential(const MfaCredential& pending) = 0;
  // Compare-and-set: stores counter, state, params, confirmed, last_used_at, label and
  // lookup_key of `updated` with version expected_version + 1, only if the stored version is
  // expected_version; else kConflict (another request used the credential first). The
  // credential is found by id and user_id: kNotFound if it is gone or another user's.
  // secret, provider_id and created_at never change. Renaming a credential is this call
  // with a new label.
  virtual Status update_credential(const MfaCredential& updated, int64_t expected_version) = 0;
  // In one transaction: CAS-confirms `confirmed` (see update_credential: kNotFound,
  // kConflict), keeping every other credential of the user, also confirmed ones of the same
  // provider; when `recovery_codes` is given, replaces the user's credentials of
  // recovery_codes->provider_id with it; and turns the user-level flag on unless
  // `user_setting_on` is false (a setup forced by the account's setting must not flip the
  // user's own, as the seed says). kDenied ("at most N ...") when the user already holds
  // `max_of_provider` confirmed credentials of confirmed.provider_id besides this one.
  // `confirmed` is stored confirmed whatever its `confirmed` says. kInvalidArgument when
  // max_of_provider < 1 or the recovery codes name another user or the same provider. On
  // any error nothing changes.
  virtual Status enable_two_factor(const MfaCredential& confirmed, int64_t expected_version,
                                   const std::optional<MfaCredential>& recovery_codes,
                                   bool user_setting_on, int max_of_provider) = 0;
  // Inserts a credential registered already confirmed (by an administrator or the
  // enrollment tool), with version 0; leaves the user-level flag and the other credentials
  // alone. On success returns it with its new id. kInvalidArgument if it is not confirmed
  // or max_of_provider < 1; kNotFound for an unknown user; kDenied ("at most N ...") when
  // the user already holds max_of_provider confirmed credentials of its provider.
  virtual Result<MfaCredential> add_credential(const MfaCredential& confirmed,
                                               int max_of_provider) = 0;
  // What remove_credential does when the credential is the user's last second factor.
  enum class LastFactor {
    kRefuse,   // kConflict, nothing changes (the account enforces 2FA)
    kTurnOff,  // two-factor goes off: as disable_two_factor
  };
  // In one transaction removes credential `credential_id` of user `user_id` if its version
  // is still expected_version (else kConflict); kNotFound when it is gone or another
  // user's. It is the user's last second factor when it is confirmed, its provider is in
  // `factor_providers` and no other confirmed credential of a provider in factor_providers
  // remains; then `when_last` decides: kRefuse -> kConflict ("... last second factor") and
  // nothing changes; kTurnOff -> every credential of the user (recovery codes, pending
  // ones) is removed and the user-level flag is turned off. On any error nothing changes.
  virtual Status remove_credential(int64_t user_id, int64_t credential_id,
                                   int64_t expected_version,
                                   const std::vector<std::string>& factor_providers,
                                   LastFactor when_last) = 0;
  // Replaces the user's credentials of replacement.provider_id with `replacement` (e.g.
  // regenerated recovery codes), inserted with version 0. kNotFound for an unknown user.
  virtual Status replace_credentials(const MfaCredential& replacement) = 0;
  // Turns the user-level setting on or off alone, for a user whose credential already exists
  // (set up because the account required it). kNotFound for an unknown user.
  virtual Status set_two_factor_setting(int64_t user_id, bool on) = 0;
  // In one transaction: removes every credential of the user and turns the flag off.
  // kNotFound for an unknown user.
  virtual Status disable_two_factor(int64_t user_id) = 0;

  // Failed second-step attempts, keyed by e.g. "user:42" or "addr:127.0.0.1".
  virtual Result<AttemptState> attempts(const std::string& key) = 0;
  // Atomically counts one more failure, last_failure_at = now; returns the new state.
  virtual Result<AttemptState> record_failure(const std::string& key, int64_t now) = 0;
  // Compare-and-set: counts one more failure (last_failure_at = now) only if the key's
  // state still equals `expected` (both fields; a key with no failures is AttemptState{}). True when counted,
  // false when another request changed the state first (nothing is changed then).
  virtual Result<bool> record_failure_if(const std::string& key, const AttemptState& expected,
                                         int64_t now) = 0;
  // Clears the key's failures; succeeds for a key that has none.
  virtual Status reset_attempts(const std::string& key) = 0;

  // Events outlive the users and accounts they name.
  virtual Status append_audit(const AuditEvent& event) = 0;
  // Newest first; at most `limit` (clamped to [1, 500]) events with id < before_id
  // (before_id <= 0: from the newest).
  virtual Result<std::vector<AuditEvent>> audit_events(int64_t account_id, int64_t before_id,
                                                       int limit) = 0;
};

}  // namespace keystep
