#pragma once
// The outbox: email waiting to be delivered, kept in the same database as the change that
// causes it, so a message is queued if and only if its cause commits. The Mailer
// (idp/mail/mailer.h) delivers it at least once; a delivered message is marked sent and never
// delivered again, also across restarts.
//
// Same contract as idp/store/store.h: thread-safe, each method atomic, kNotFound when a named
// row is absent, kAlreadyExists on a uniqueness violation, kUnavailable when busy,
// kInternal otherwise.
//
// Queueing mail together with another change: store methods that cause mail (enforcing
// 2FA, resetting a member's 2FA) take the messages as a std::vector<OutgoingMail> and insert
// them inside their own transaction; a message whose dedupe_key is already queued is
// skipped there, not an error, so repeating the request sends nothing twice. After such a
// method succeeds, the caller calls Mailer::notify() to deliver without waiting.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep {

// next_attempt_at of a message the Mailer has given up on: it is never due again.
inline constexpr int64_t kMailNever = std::numeric_limits<int64_t>::max();

struct OutgoingMail {
  int64_t id = 0;          // assigned by the store; increasing, never reused
  std::string dedupe_key;  // unique, e.g. "enforce:<account>:<user>:<epoch>"
  std::string to;          // the envelope recipient, a bare address
  std::string subject;     // for operators and listings; the message has its own
  std::string mime;        // the complete RFC 5322 message (idp/mail/mail.h build_message)
  int64_t created_at = 0;
  int64_t attempts = 0;         // failed delivery attempts so far
  int64_t next_attempt_at = 0;  // due when <= now; kMailNever once given up
  int64_t sent_at = 0;          // 0 while pending
  std::string last_error;       // of the latest failed attempt
};

// What the outbox holds now (for metrics). Delivered messages stay kSentMailRetention.
struct OutboxSummary {
  int64_t sent = 0;      // delivered, not yet purged
  int64_t pending = 0;   // neither delivered nor given up
  int64_t given_up = 0;  // failed MailerOptions::max_attempts times
  int64_t oldest_pending_created_at = 0;  // created_at of the oldest pending message; 0: none
};

class MailStore {
 public:
  virtual ~MailStore() = default;

  // Queues `mail` (its id, attempts, sent_at and last_error are ignored: a new message has
  // none). kAlreadyExists if a message with the same dedupe_key was ever queued (callers
  // treat it as already queued); kInvalidArgument for an empty dedupe_key, to or mime.
  virtual Status enqueue_mail(const OutgoingMail& mail) = 0;
  // Pending messages with next_attempt_at <= now, earliest next_attempt_at first (then by
  // id), at most `limit` (clamped to [1, 500]).
  virtual Result<std::vector<OutgoingMail>> due_mail(int64_t now, int limit) = 0;
  // Claims for one delivering worker the messages due_mail(now, limit) would return, less
  // those another worker is claiming at this moment, in one atomic step: each is returned
  // with next_attempt_at = now + lease (also stored), so no other worker (another node
  // sharing the database) gets it until the lease runs out. mark_sent and mark_failed end the
  // claim; a worker that dies holding one leaves the message due again at now + lease. lease
  // must be positive (kInvalidArgument).
  virtual Result<std::vector<OutgoingMail>> claim_mail(int64_t now, int limit, int64_t lease) = 0;
  // Records delivery: sent_at = now. Marking an already sent message again keeps the
  // first sent_at and succeeds. kNotFound for an unknown id.
  virtual Status mark_sent(int64_t id, int64_t now) = 0;
  // Records a failed attempt: attempts + 1, next_attempt_at, last_error. kConflict if the
  // message was sent meanwhile (nothing changes); kNotFound for an unknown id.
  virtual Status mark_failed(int64_t id, int64_t next_attempt_at, const std::string& error) = 0;
  // Every message ever queued for `to`, sent or not, oldest first (tests and operators). A
  // message outlives the user it was written to.
  virtual Result<std::vector<OutgoingMail>> mail_for(const std::string& to) = 0;
  // The outbox's counts, read in one statement (a consistent snapshot).
  virtual Result<OutboxSummary> outbox_summary() = 0;
};

}  // namespace keystep
