// PostgresStore as a MailStore and a LogoutStore: the mail_outbox and backchannel_logouts
// tables. Notices are queued by the calls that end sessions (postgres_store.cc).

#include <algorithm>
#include <string_view>

#include "idp/store/rules.h"
#include "storage/postgres/postgres_rows.h"
#include "storage/postgres/postgres_store.h"

namespace keystep::postgres {
namespace {

constexpr int kMaxPage = 500;

constexpr std::string_view kMailFields =
    "id, dedupe_key, recipient, subject, mime, created_at, attempts, next_attempt_at, sent_at, "
    "last_error";
// SELECT kMailFields FROM mail_outbox `rest`.
std::string select_mail(std::string_view rest) {
  return sql("SELECT ", kMailFields).append(" FROM mail_outbox ").append(rest);
}

OutgoingMail read_mail(const Row& r) {
  return OutgoingMail{r.int64(0), r.text(1),  r.text(2),  r.text(3),  r.text(4),
                      r.int64(5), r.int64(6), r.int64(7), r.int64(8), r.text(9)};
}

constexpr std::string_view kLogoutFields =
    "id, client_id, uri, user_id, sid, jti, created_at, attempts, next_attempt_at, "
    "delivered_at, last_error";
// SELECT kLogoutFields FROM backchannel_logouts `rest`.
std::string select_notices(std::string_view rest) {
  return sql("SELECT ", kLogoutFields).append(" FROM backchannel_logouts ").append(rest);
}

LogoutNotice read_notice(const Row& r) {
  return LogoutNotice{r.int64(0), r.text(1),  r.text(2),  r.int64(3), r.text(4), r.text(5),
                      r.int64(6), r.int64(7), r.int64(8), r.int64(9), r.text(10)};
}

// Records a failed attempt on row `id` of `table` (whose done-column is `done`) unless it was
// done meanwhile: kConflict then, kNotFound for an unknown id. One conditional statement.
Status mark_attempt_failed(Connection& c, std::string_view table, std::string_view done,
                           const std::string& what, int64_t id, int64_t next_attempt_at,
                           const std::string& error) {
  auto rows = c.query(std::string("UPDATE ") + std::string(table) +
                          " SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 "
                          "WHERE id = $1 AND " + std::string(done) + " = 0",
                      {id, next_attempt_at, error});
  if (!rows) return rows.error();
  if (rows->affected() > 0) return {};
  auto exists = c.query(std::string("SELECT 1 FROM ") + std::string(table) + " WHERE id = $1",
                        {id});
  if (!exists) return exists.error();
  if (exists->empty()) return not_found(what + " " + std::to_string(id));
  return make_error(ErrorCode::kConflict,
                    what + " " + std::to_string(id) + " was already delivered");
}

// The claim of MailStore::claim_mail and LogoutStore::claim_logout_notices on `table`, whose
// rows are pending while `done` is 0: the due rows' next_attempt_at becomes now + lease, and
// they come back (`fields`, read with `read`) ordered by id. SKIP LOCKED: a worker on another
// node claiming at this moment holds its rows locked; this one takes the next ones instead
// of waiting and then finding them claimed.
template <class T, class Read>
Result<std::vector<T>> claim_due(Connection& c, std::string_view table, std::string_view done,
                                 std::string_view fields, int64_t now, int limit, int64_t lease,
                                 Read read) {
  const std::string t(table);
  auto rows = c.query("WITH due AS (SELECT id AS claimed FROM " + t + " WHERE " +
                          std::string(done) +
                          " = 0 AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2 "
                          "FOR UPDATE SKIP LOCKED) UPDATE " + t +
                          " SET next_attempt_at = $3 FROM due WHERE id = due.claimed RETURNING " +
                          std::string(fields),
                      {now, std::clamp(limit, 1, kMaxPage), now + lease});
  if (!rows) return rows.error();
  auto claimed = read_all<T>(*rows, read);
  // RETURNING gives no order; the delivery order is by id (all now share next_attempt_at).
  std::sort(claimed.begin(), claimed.end(), [](const T& a, const T& b) { return a.id < b.id; });
  return claimed;
}

}  // namespace

Result<bool> insert_mail(Connection& c, const OutgoingMail& mail) {
  if (mail.dedupe_key.empty() || mail.to.empty() || mail.mime.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "mail needs a dedupe_key, a recipient and a body");
  }
  // DO NOTHING rather than failing: inside a caller's transaction a duplicate must not
  // abort the change that is repeated.
  auto rows = c.query(
      "INSERT INTO mail_outbox (dedupe_key, recipient, subject, mime, created_at, attempts, "
      "next_attempt_at, sent_at, last_error) VALUES ($1, $2, $3, $4, $5, 0, $6, 0, '') "
      "ON CONFLICT (dedupe_key) DO NOTHING",
      {mail.dedupe_key, mail.to, mail.subject, mail.mime, mail.created_at,
       mail.next_attempt_at});
  if (!rows) return rows.error();
  return rows->affected() == 1;
}

Status PostgresStore::enqueue_mail(const OutgoingMail& mail) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto inserted = insert_mail(c, mail);
    if (!inserted) return inserted.error();
    if (!*inserted)
      return make_error(ErrorCode::kAlreadyExists, "mail '" + mail.dedupe_key + "' already queued");
    return {};
  });
}

Result<std::vector<OutgoingMail>> PostgresStore::due_mail(int64_t now, int limit) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<OutgoingMail>> {
    auto rows = c.query(select_mail("WHERE sent_at = 0 AND next_attempt_at <= $1 "
                                          "ORDER BY next_attempt_at, id LIMIT $2"),
                        {now, std::clamp(limit, 1, kMaxPage)});
    if (!rows) return rows.error();
    return read_all<OutgoingMail>(*rows, read_mail);
  });
}

Result<std::vector<OutgoingMail>> PostgresStore::claim_mail(int64_t now, int limit,
                                                            int64_t lease) {
  if (Status s = store_rules::claim_lease(lease); !s) return s.error();
  return with_connection(pool_, [&](Connection& c) {
    return claim_due<OutgoingMail>(c, "mail_outbox", "sent_at", kMailFields, now, limit, lease,
                                   read_mail);
  });
}

Status PostgresStore::mark_sent(int64_t id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "UPDATE mail_outbox SET sent_at = CASE WHEN sent_at = 0 THEN $2 ELSE sent_at END "
        "WHERE id = $1",
        {id, now});
    if (!rows) return rows.error();
    if (rows->affected() == 0)
      return make_error(ErrorCode::kNotFound, "mail " + std::to_string(id) + " not found");
    return {};
  });
}

Status PostgresStore::mark_failed(int64_t id, int64_t next_attempt_at, const std::string& error) {
  return with_connection(pool_, [&](Connection& c) {
    return mark_attempt_failed(c, "mail_outbox", "sent_at", "mail", id, next_attempt_at, error);
  });
}

Result<std::vector<OutgoingMail>> PostgresStore::mail_for(const std::string& to) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<OutgoingMail>> {
    auto rows = c.query(select_mail("WHERE recipient = $1 ORDER BY id"), {to});
    if (!rows) return rows.error();
    return read_all<OutgoingMail>(*rows, read_mail);
  });
}

Result<OutboxSummary> PostgresStore::outbox_summary() {
  return with_connection(pool_, [&](Connection& c) -> Result<OutboxSummary> {
    auto rows = c.query(
        "SELECT COUNT(*) FILTER (WHERE sent_at <> 0), "
        "COUNT(*) FILTER (WHERE sent_at = 0 AND next_attempt_at < $1), "
        "COUNT(*) FILTER (WHERE sent_at = 0 AND next_attempt_at >= $1), "
        "COALESCE(MIN(created_at) FILTER (WHERE sent_at = 0 AND next_attempt_at < $1), 0) "
        "FROM mail_outbox",
        {kMailNever});
    if (!rows) return rows.error();
    return OutboxSummary{rows->int64(0, 0), rows->int64(0, 1), rows->int64(0, 2),
                         rows->int64(0, 3)};
  });
}

Result<std::vector<LogoutNotice>> PostgresStore::due_logout_notices(int64_t now, int limit) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<LogoutNotice>> {
    auto rows = c.query(select_notices("WHERE delivered_at = 0 AND next_attempt_at <= $1 "
                                            "ORDER BY next_attempt_at, id LIMIT $2"),
                        {now, std::clamp(limit, 1, kMaxPage)});
    if (!rows) return rows.error();
    return read_all<LogoutNotice>(*rows, read_notice);
  });
}

Result<std::vector<LogoutNotice>> PostgresStore::claim_logout_notices(int64_t now, int limit,
                                                                     int64_t lease) {
  if (Status s = store_rules::claim_lease(lease); !s) return s.error();
  return with_connection(pool_, [&](Connection& c) {
    return claim_due<LogoutNotice>(c, "backchannel_logouts", "delivered_at", kLogoutFields, now,
                                   limit, lease, read_notice);
  });
}

Status PostgresStore::mark_logout_delivered(int64_t id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "UPDATE backchannel_logouts SET delivered_at = CASE WHEN delivered_at = 0 THEN $2 "
        "ELSE delivered_at END WHERE id = $1",
        {id, now});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("logout notice " + std::to_string(id));
    return {};
  });
}

Status PostgresStore::mark_logout_failed(int64_t id, int64_t next_attempt_at,
                                         const std::string& error) {
  return with_connection(pool_, [&](Connection& c) {
    return mark_attempt_failed(c, "backchannel_logouts", "delivered_at", "logout notice", id,
                               next_attempt_at, error);
  });
}

Result<std::vector<LogoutNotice>> PostgresStore::logout_notices_of(const std::string& client_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<LogoutNotice>> {
    auto rows = c.query(select_notices("WHERE client_id = $1 ORDER BY id"), {client_id});
    if (!rows) return rows.error();
    return read_all<LogoutNotice>(*rows, read_notice);
  });
}

}  // namespace keystep::postgres
