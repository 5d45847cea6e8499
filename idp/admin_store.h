#pragma once
// Storage for account administration: API tokens, the member list with each member's 2FA
// state, and the admin's "lost device" reset. Same contract as idp/store.h: thread-safe, each
// method atomic, kNotFound / kAlreadyExists / kUnavailable / kInternal.

#include <cstdint>
#include <string>
#include <vector>

#include "idp/mail_store.h"
#include "idp/model.h"
#include "idp/onboarding_store.h"
#include "idp/result.h"

namespace keystep {

// An API token acts for its user within its account. Only the hash is stored.
struct ApiToken {
  int64_t id = 0;
  int64_t account_id = 0;
  int64_t user_id = 0;
  std::string name;
  std::string token_hash;  // SHA-256 (base64url) of the token
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0 while valid
};

struct Member {
  User user;
  bool has_second_factor = false;  // a confirmed credential other than recovery codes
};

class AdminStore {
 public:
  virtual ~AdminStore() = default;
  // kNotFound when the user is not in the account. On success returns the token with its id.
  virtual Result<ApiToken> create_api_token(const ApiToken& token) = 0;
  // kNotFound when absent or revoked.
  virtual Result<ApiToken> api_token_by_hash(const std::string& token_hash) = 0;
  virtual Result<std::vector<ApiToken>> api_tokens(int64_t account_id) = 0;
  // kNotFound when the token is not in the account or already revoked.
  virtual Status revoke_api_token(int64_t account_id, int64_t token_id, int64_t now) = 0;
  // The account's users, by email.
  virtual Result<std::vector<Member>> members(int64_t account_id) = 0;
  // Lost device, in one transaction: removes every credential of the user, turns the
  // user-level setting off, revokes the grants of the user's sessions, ends the sessions and
  // queues `mail` (outbox dedupe keys make a repeat queue nothing).
  virtual Status reset_two_factor(int64_t user_id, const std::vector<OutgoingMail>& mail) = 0;
  // Sets the account-level setting and the per-provider settings, stores `links` (the
  // enrollment links the messages carry) and queues `mail`, in one transaction: the change
  // and the messages it causes are stored together or not at all. Compare-and-set on the
  // account-level setting: kConflict (nothing changes) unless it is still `was_enforced`, so
  // two requests racing to enforce cannot both send the emails.
  virtual Status update_account_mfa_with_mail(int64_t account_id, bool was_enforced,
                                              bool enforce_two_factor,
                                              const std::string& mfa_settings_json,
                                              const std::vector<OutgoingMail>& mail,
                                              const std::vector<EnrollmentLink>& links) = 0;
};

}  // namespace keystep
