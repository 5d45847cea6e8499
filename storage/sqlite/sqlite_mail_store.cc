// SqliteStore as a MailStore: the outbox table of migrations/002_outbox.sql.

#include <sqlite3.h>

#include <algorithm>
#include <string_view>

#include "idp/store/rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

constexpr int kMaxMailPage = 500;

constexpr std::string_view kMailColumns =
    "SELECT id, dedupe_key, recipient, subject, mime, created_at, attempts, next_attempt_at, "
    "sent_at, last_error FROM mail_outbox ";

OutgoingMail read_mail(const Statement& st) {
  return OutgoingMail{st.column_int64(0), st.column_text(1),  st.column_text(2),
                      st.column_text(3),  st.column_text(4),  st.column_int64(5),
                      st.column_int64(6), st.column_int64(7), st.column_int64(8),
                      st.column_text(9)};
}

Result<std::vector<OutgoingMail>> read_all(Statement& st) {
  std::vector<OutgoingMail> mail;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return mail;
    mail.push_back(read_mail(st));
  }
}

Error mail_not_found(int64_t id) {
  return make_error(ErrorCode::kNotFound, "mail " + std::to_string(id) + " not found");
}

}  // namespace

Result<bool> SqliteStore::insert_mail_locked(const OutgoingMail& mail) {
  if (mail.dedupe_key.empty() || mail.to.empty() || mail.mime.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "mail needs a dedupe_key, a recipient and a body");
  }
  // DO NOTHING rather than failing: inside a caller's transaction a duplicate must not
  // abort the change that is repeated.
  auto st = Statement::prepare(
      db_,
      "INSERT INTO mail_outbox (dedupe_key, recipient, subject, mime, created_at, attempts, "
      "next_attempt_at, sent_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 0, '') "
      "ON CONFLICT (dedupe_key) DO NOTHING");
  if (!st) return st.error();
  st->bind_text(1, mail.dedupe_key)
      .bind_text(2, mail.to)
      .bind_text(3, mail.subject)
      .bind_text(4, mail.mime)
      .bind_int64(5, mail.created_at)
      .bind_int64(6, mail.next_attempt_at);
  if (Status s = st->run(); !s) return s.error();
  return sqlite3_changes64(db_) == 1;
}

Status SqliteStore::enqueue_mail(const OutgoingMail& mail) {
  std::lock_guard lock(mu_);
  auto inserted = insert_mail_locked(mail);
  if (!inserted) return inserted.error();
  if (!*inserted) {
    return make_error(ErrorCode::kAlreadyExists, "mail '" + mail.dedupe_key + "' already queued");
  }
  return {};
}

Result<std::vector<OutgoingMail>> SqliteStore::due_mail(int64_t now, int limit) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_, std::string(kMailColumns) +
               "WHERE sent_at = 0 AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, std::clamp(limit, 1, kMaxMailPage));
  return read_all(*st);
}

Result<std::vector<OutgoingMail>> SqliteStore::claim_mail(int64_t now, int limit, int64_t lease) {
  if (Status s = store_rules::claim_lease(lease); !s) return s.error();
  std::lock_guard lock(mu_);
  // One statement: atomic across connections (processes) sharing the file.
  auto st = Statement::prepare(
      db_,
      "UPDATE mail_outbox SET next_attempt_at = ?3 WHERE id IN (SELECT id FROM mail_outbox "
      "WHERE sent_at = 0 AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2) "
      "RETURNING id, dedupe_key, recipient, subject, mime, created_at, attempts, "
      "next_attempt_at, sent_at, last_error");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, std::clamp(limit, 1, kMaxMailPage)).bind_int64(3, now + lease);
  auto claimed = read_all(*st);
  if (!claimed) return claimed.error();
  // RETURNING gives no order; the delivery order is by id (all now share next_attempt_at).
  std::sort(claimed->begin(), claimed->end(),
            [](const OutgoingMail& a, const OutgoingMail& b) { return a.id < b.id; });
  return claimed;
}

Status SqliteStore::mark_sent(int64_t id, int64_t now) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_,
      "UPDATE mail_outbox SET sent_at = CASE WHEN sent_at = 0 THEN ?2 ELSE sent_at END "
      "WHERE id = ?1");
  if (!st) return st.error();
  st->bind_int64(1, id).bind_int64(2, now);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return mail_not_found(id);
  return {};
}

Status SqliteStore::mark_failed(int64_t id, int64_t next_attempt_at, const std::string& error) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kImmediate);
  if (!tx) return tx.error();
  auto st =
      Statement::prepare(db_,
                         "UPDATE mail_outbox SET attempts = attempts + 1, "
                         "next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND sent_at = 0");
  if (!st) return st.error();
  st->bind_int64(1, id).bind_int64(2, next_attempt_at).bind_text(3, error);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) {
    auto exists = Statement::prepare(db_, "SELECT 1 FROM mail_outbox WHERE id = ?1");
    if (!exists) return exists.error();
    exists->bind_int64(1, id);
    auto row = exists->step();
    if (!row) return row.error();
    if (!*row) return mail_not_found(id);
    return make_error(ErrorCode::kConflict, "mail " + std::to_string(id) + " was already sent");
  }
  return tx->commit();
}

Result<std::vector<OutgoingMail>> SqliteStore::mail_for(const std::string& to) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, std::string(kMailColumns) + "WHERE recipient = ?1 ORDER BY id");
  if (!st) return st.error();
  st->bind_text(1, to);
  return read_all(*st);
}

Result<OutboxSummary> SqliteStore::outbox_summary() {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_,
      "SELECT IFNULL(SUM(sent_at <> 0), 0), IFNULL(SUM(sent_at = 0 AND next_attempt_at < ?1), 0), "
      "IFNULL(SUM(sent_at = 0 AND next_attempt_at >= ?1), 0), "
      "IFNULL(MIN(CASE WHEN sent_at = 0 AND next_attempt_at < ?1 THEN created_at END), 0) "
      "FROM mail_outbox");
  if (!st) return st.error();
  st->bind_int64(1, kMailNever);
  auto row = st->step();
  if (!row) return row.error();
  return OutboxSummary{st->column_int64(0), st->column_int64(1), st->column_int64(2),
                       st->column_int64(3)};
}

}  // namespace keystep::sqlite
