#pragma once
// The back-channel logout outbox (OpenID Connect Back-Channel Logout 1.0): the applications
// to tell that a user's session here ended. Rows are queued by the store calls that end
// sessions (SessionStore::end_session, end_other_sessions, AdminStore::reset_two_factor), in
// their own transaction, one per client with a backchannel_logout_uri that holds an
// unrevoked grant of the session, so a notice is queued if and only if the session's end
// commits. BackchannelLogouts (idp/oidc/backchannel_logout.h) delivers them; a delivered
// notice is marked and never delivered again, also across restarts.
//
// Same contract as idp/store/store.h: thread-safe, each method atomic, kNotFound when a named
// row is absent, kUnavailable when busy, kInternal otherwise.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep {

// next_attempt_at of a notice the worker has given up on: it is never due again.
inline constexpr int64_t kLogoutNever = std::numeric_limits<int64_t>::max();

struct LogoutNotice {
  int64_t id = 0;  // increasing, never reused
  std::string client_id;
  std::string uri;  // the client's backchannel_logout_uri when the notice was queued
  int64_t user_id = 0;  // the logout token's sub
  std::string sid;      // the ended session's sid
  std::string jti;      // unique per notice: the logout token's jti, the same at every attempt
  int64_t created_at = 0;
  int64_t attempts = 0;         // failed attempts so far
  int64_t next_attempt_at = 0;  // due when <= now; kLogoutNever once given up
  int64_t delivered_at = 0;     // 0 while pending
  std::string last_error;       // of the latest failed attempt
};

class LogoutStore {
 public:
  virtual ~LogoutStore() = default;
  // Pending notices with next_attempt_at <= now, earliest first (then by id), at most `limit`
  // (clamped to [1, 500]).
  virtual Result<std::vector<LogoutNotice>> due_logout_notices(int64_t now, int limit) = 0;
  // Claims for one delivering worker the notices due_logout_notices(now, limit) would return,
  // less those another worker is claiming at this moment, in one atomic step (as
  // MailStore::claim_mail): each is returned with next_attempt_at = now + lease (also
  // stored), so no other worker (another node sharing the database) gets it until the lease
  // runs out. mark_logout_delivered and mark_logout_failed end the claim; a worker that dies
  // holding one leaves the notice due again at now + lease. lease must be positive
  // (kInvalidArgument).
  virtual Result<std::vector<LogoutNotice>> claim_logout_notices(int64_t now, int limit,
                                                                 int64_t lease) = 0;
  // Records delivery: delivered_at = now (marking again keeps the first). kNotFound for an
  // unknown id.
  virtual Status mark_logout_delivered(int64_t id, int64_t now) = 0;
  // Records a failed attempt: attempts + 1, next_attempt_at, last_error. kConflict if it was
  // delivered meanwhile (nothing changes); kNotFound for an unknown id.
  virtual Status mark_logout_failed(int64_t id, int64_t next_attempt_at,
                                    const std::string& error) = 0;
  // Every notice ever queued for `client_id`, oldest first (tests and operators).
  virtual Result<std::vector<LogoutNotice>> logout_notices_of(const std::string& client_id) = 0;
};

}  // namespace keystep
