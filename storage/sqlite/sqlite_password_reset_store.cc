// SqliteStore as a PasswordResetStore: the password_resets table of
// migrations/014_password_resets.sql.

#include <sqlite3.h>

#include <string_view>

#include "idp/store/rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

using Mode = Transaction::Mode;

constexpr std::string_view kResetColumns =
    "SELECT token_hash, user_id, created_at, expires_at, used_at, verified_at, verified_by "
    "FROM password_resets ";

// The reset with this token hash, read inside the caller's lock.
Result<PasswordReset> reset_locked(sqlite3* db, const std::string& token_hash) {
  auto st = Statement::prepare(db, sql(kResetColumns, "WHERE token_hash = ?1"));
  if (!st) return st.error();
  st->bind_text(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("password reset");
  return PasswordReset{st->column_text(0),  st->column_int64(1), st->column_int64(2),
                       st->column_int64(3), st->column_int64(4), st->column_int64(5),
                       st->column_text(6)};
}

// The reset, if still usable at `now`: kReplayed when used, kExpired past expires_at.
Result<PasswordReset> usable_reset_locked(sqlite3* db, const std::string& token_hash,
                                          int64_t now) {
  auto reset = reset_locked(db, token_hash);
  if (!reset) return reset.error();
  if (Status s = store_rules::usable(*reset, now); !s) return s.error();
  return reset;
}

}  // namespace

Status SqliteStore::create_password_resets(const std::vector<PasswordReset>& resets,
                                           const std::vector<OutgoingMail>& mail) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  for (const auto& reset : resets) {
    auto st = Statement::prepare(
        db_,
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!st) return st.error();
    st->bind_text(1, reset.token_hash)
        .bind_int64(2, reset.user_id)
        .bind_int64(3, reset.created_at)
        .bind_int64(4, reset.expires_at);
    if (Status s = st->run(); !s) {
      if (s.error().code == ErrorCode::kNotFound)
        return not_found("user " + std::to_string(reset.user_id));
      return s;
    }
  }
  for (const auto& message : mail) {
    if (auto queued = insert_mail_locked(message); !queued) return queued.error();
  }
  return tx->commit();
}

Result<PasswordReset> SqliteStore::password_reset(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  return reset_locked(db_, token_hash);
}

Status SqliteStore::verify_password_reset(const std::string& token_hash,
                                          const std::string& verified_by, int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (auto reset = usable_reset_locked(db_, token_hash, now); !reset) return reset.error();
  auto st = Statement::prepare(
      db_, "UPDATE password_resets SET verified_at = ?1, verified_by = ?2 WHERE token_hash = ?3");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_text(2, verified_by).bind_text(3, token_hash);
  if (Status s = st->run(); !s) return s;
  return tx->commit();
}

Result<int64_t> SqliteStore::complete_password_reset(const std::string& token_hash,
                                                     const std::string& password_hash,
                                                     int64_t now,
                                                     const std::vector<OutgoingMail>& mail) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto reset = usable_reset_locked(db_, token_hash, now);
  if (!reset) return reset.error();
  // Every link of the user dies with this one: an older email must not reset the password
  // just chosen.
  auto used = Statement::prepare(
      db_, "UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at = 0");
  if (!used) return used.error();
  used->bind_int64(1, now).bind_int64(2, reset->user_id);
  if (Status s = used->run(); !s) return s.error();
  auto password = Statement::prepare(db_, "UPDATE users SET password_hash = ?1 WHERE id = ?2");
  if (!password) return password.error();
  password->bind_text(1, password_hash).bind_int64(2, reset->user_id);
  if (Status s = password->run(); !s) return s.error();
  auto signed_out = sign_out_user_locked(reset->user_id, now);
  if (!signed_out) return signed_out.error();
  for (const auto& message : mail) {
    if (auto queued = insert_mail_locked(message); !queued) return queued.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  return signed_out->sessions_ended;
}

}  // namespace keystep::sqlite
