#pragma once
// Storage of "Forgot your password?" (idp/reset/): the links emailed to a user who asked to
// reset their password. Same contract as idp/store/store.h: thread-safe, each method atomic,
// kNotFound / kAlreadyExists / kUnavailable / kInternal. Only the SHA-256 hash of a link's
// token is stored.

#include <cstdint>
#include <string>
#include <vector>

#include "idp/store/mail_store.h"
#include "base/result.h"

namespace keystep {

struct PasswordReset {
  std::string token_hash;
  int64_t user_id = 0;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t used_at = 0;  // 0 while unused
  // The user's second factor was passed for this reset: when, and by which browser (the
  // SHA-256 of its flow cookie). 0 and "" before.
  int64_t verified_at = 0;
  std::string verified_by;

  bool usable(int64_t now) const { return used_at == 0 && now < expires_at; }
};

class PasswordResetStore {
 public:
  virtual ~PasswordResetStore() = default;

  // In one transaction: stores each reset (used_at, verified_at and verified_by are ignored:
  // a new one has none) and queues `mail`. Both may be empty: the call then changes nothing,
  // and costs the same round trip (the unknown-address answer does not come back sooner).
  // kNotFound for an unknown user; kAlreadyExists for a taken token hash.
  virtual Status create_password_resets(const std::vector<PasswordReset>& resets,
                                        const std::vector<OutgoingMail>& mail) = 0;
  // kNotFound for an unknown token (used or expired ones are returned: callers check).
  virtual Result<PasswordReset> password_reset(const std::string& token_hash) = 0;
  // Compare-and-set: records that the browser `verified_by` passed the user's second factor
  // at `now`, if the reset is unused and unexpired. kNotFound unknown, kReplayed used,
  // kExpired past expires_at.
  virtual Status verify_password_reset(const std::string& token_hash,
                                       const std::string& verified_by, int64_t now) = 0;
  // The reset itself, in one transaction, if the reset is unused and unexpired: marks it and
  // every other unused reset of its user used, stores `password_hash`, ends every session of
  // the user and revokes all their grants (and so their tokens), queueing a back-channel
  // logout for each client that asks for one (idp/store/logout_store.h), and queues `mail`.
  // Returns how many sessions ended. kNotFound unknown, kReplayed used, kExpired past
  // expires_at (nothing changes then).
  virtual Result<int64_t> complete_password_reset(const std::string& token_hash,
                                                  const std::string& password_hash, int64_t now,
                                                  const std::vector<OutgoingMail>& mail) = 0;
};

}  // namespace keystep
