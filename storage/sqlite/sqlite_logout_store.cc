// SqliteStore as a LogoutStore: the back-channel logout outbox of
// migrations/011_client_two_factor_and_backchannel_logout.sql. Notices are queued by the
// calls that end sessions (sqlite_store.cc, queue_logouts_sql).

#include <sqlite3.h>

#include <algorithm>
#include <string_view>

#include "idp/store/rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

constexpr std::string_view kLogoutColumns =
    "SELECT id, client_id, uri, user_id, sid, jti, created_at, attempts, next_attempt_at, "
    "delivered_at, last_error FROM backchannel_logouts ";

Result<std::vector<LogoutNotice>> read_notices(Statement& st) {
  std::vector<LogoutNotice> notices;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return notices;
    notices.push_back(LogoutNotice{st.column_int64(0), st.column_text(1), st.column_text(2),
                                   st.column_int64(3), st.column_text(4), st.column_text(5),
                                   st.column_int64(6), st.column_int64(7), st.column_int64(8),
                                   st.column_int64(9), st.column_text(10)});
  }
}

}  // namespace

Result<std::vector<LogoutNotice>> SqliteStore::due_logout_notices(int64_t now, int limit) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, std::string(kLogoutColumns) +
                                        "WHERE delivered_at = 0 AND next_attempt_at <= ?1 "
                                        "ORDER BY next_attempt_at, id LIMIT ?2");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, std::clamp(limit, 1, 500));
  return read_notices(*st);
}

Result<std::vector<LogoutNotice>> SqliteStore::claim_logout_notices(int64_t now, int limit,
                                                                   int64_t lease) {
  if (Status s = store_rules::claim_lease(lease); !s) return s.error();
  std::lock_guard lock(mu_);
  // One statement: atomic across connections (processes) sharing the file, as claim_mail.
  auto st = Statement::prepare(
      db_,
      "UPDATE backchannel_logouts SET next_attempt_at = ?3 WHERE id IN (SELECT id FROM "
      "backchannel_logouts WHERE delivered_at = 0 AND next_attempt_at <= ?1 ORDER BY "
      "next_attempt_at, id LIMIT ?2) RETURNING id, client_id, uri, user_id, sid, jti, "
      "created_at, attempts, next_attempt_at, delivered_at, last_error");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, std::clamp(limit, 1, 500)).bind_int64(3, now + lease);
  auto claimed = read_notices(*st);
  if (!claimed) return claimed.error();
  // RETURNING gives no order; the delivery order is by id (all now share next_attempt_at).
  std::sort(claimed->begin(), claimed->end(),
            [](const LogoutNotice& a, const LogoutNotice& b) { return a.id < b.id; });
  return claimed;
}

Status SqliteStore::mark_logout_delivered(int64_t id, int64_t now) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "UPDATE backchannel_logouts SET delivered_at = CASE WHEN "
                               "delivered_at = 0 THEN ?2 ELSE delivered_at END WHERE id = ?1");
  if (!st) return st.error();
  st->bind_int64(1, id).bind_int64(2, now);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("logout notice " + std::to_string(id));
  return {};
}

Status SqliteStore::mark_logout_failed(int64_t id, int64_t next_attempt_at,
                                       const std::string& error) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_,
                               "UPDATE backchannel_logouts SET attempts = attempts + 1, "
                               "next_attempt_at = ?2, last_error = ?3 "
                               "WHERE id = ?1 AND delivered_at = 0");
  if (!st) return st.error();
  st->bind_int64(1, id).bind_int64(2, next_attempt_at).bind_text(3, error);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) {
    auto exists = Statement::prepare(db_, "SELECT 1 FROM backchannel_logouts WHERE id = ?1");
    if (!exists) return exists.error();
    exists->bind_int64(1, id);
    auto row = exists->step();
    if (!row) return row.error();
    if (!*row) return not_found("logout notice " + std::to_string(id));
    return make_error(ErrorCode::kConflict,
                      "logout notice " + std::to_string(id) + " was already delivered");
  }
  return tx->commit();
}

Result<std::vector<LogoutNotice>> SqliteStore::logout_notices_of(const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, std::string(kLogoutColumns) + "WHERE client_id = ?1 ORDER BY id");
  if (!st) return st.error();
  st->bind_text(1, client_id);
  return read_notices(*st);
}

}  // namespace keystep::sqlite
