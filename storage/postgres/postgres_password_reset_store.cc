// PostgresStore as a PasswordResetStore: the password_resets table of
// migrations/002_client_display_policies_password_resets.sql.

#include <string_view>

#include "idp/store/rules.h"
#include "storage/postgres/postgres_rows.h"
#include "storage/postgres/postgres_store.h"

namespace keystep::postgres {
namespace {

constexpr std::string_view kResetColumns =
    "SELECT token_hash, user_id, created_at, expires_at, used_at, verified_at, verified_by "
    "FROM password_resets ";

// The reset with this token hash; `lock` appends FOR UPDATE, so a second node using the same
// link waits and then reads it used.
Result<PasswordReset> read_reset(Connection& c, const std::string& token_hash, bool lock) {
  auto rows = c.query(sql(kResetColumns, lock ? "WHERE token_hash = $1 FOR UPDATE"
                                              : "WHERE token_hash = $1"),
                      {token_hash});
  if (!rows) return rows.error();
  if (rows->empty()) return not_found("password reset");
  const Row r{*rows, 0};
  return PasswordReset{r.text(0),  r.int64(1), r.int64(2), r.int64(3),
                       r.int64(4), r.int64(5), r.text(6)};
}

// The reset, locked, if still usable at `now`: kReplayed when used, kExpired past expires_at.
Result<PasswordReset> usable_reset(Connection& c, const std::string& token_hash, int64_t now) {
  auto reset = read_reset(c, token_hash, true);
  if (!reset) return reset.error();
  if (Status s = store_rules::usable(*reset, now); !s) return s.error();
  return reset;
}

}  // namespace

Status PostgresStore::create_password_resets(const std::vector<PasswordReset>& resets,
                                             const std::vector<OutgoingMail>& mail) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    for (const auto& reset : resets) {
      auto rows = c.query(
          "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) "
          "VALUES ($1, $2, $3, $4)",
          {reset.token_hash, reset.user_id, reset.created_at, reset.expires_at});
      if (!rows) {
        if (rows.error().code == ErrorCode::kNotFound)
          return not_found("user " + std::to_string(reset.user_id));
        return rows.error();
      }
    }
    for (const auto& message : mail) {
      if (auto queued = insert_mail(c, message); !queued) return queued.error();
    }
    return {};
  });
}

Result<PasswordReset> PostgresStore::password_reset(const std::string& token_hash) {
  return with_connection(pool_, [&](Connection& c) { return read_reset(c, token_hash, false); });
}

Status PostgresStore::verify_password_reset(const std::string& token_hash,
                                            const std::string& verified_by, int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    if (auto reset = usable_reset(c, token_hash, now); !reset) return reset.error();
    auto rows = c.query(
        "UPDATE password_resets SET verified_at = $1, verified_by = $2 WHERE token_hash = $3",
        {now, verified_by, token_hash});
    if (!rows) return rows.error();
    return {};
  });
}

Result<int64_t> PostgresStore::complete_password_reset(const std::string& token_hash,
                                                       const std::string& password_hash,
                                                       int64_t now,
                                                       const std::vector<OutgoingMail>& mail) {
  return in_transaction(pool_, [&](Connection& c) -> Result<int64_t> {
    auto reset = usable_reset(c, token_hash, now);
    if (!reset) return reset.error();
    // Every link of the user dies with this one: an older email must not reset the password
    // just chosen.
    auto used = c.query(
        "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at = 0",
        {now, reset->user_id});
    if (!used) return used.error();
    auto password = c.query("UPDATE users SET password_hash = $1 WHERE id = $2",
                            {password_hash, reset->user_id});
    if (!password) return password.error();
    auto signed_out = sign_out_user(c, reset->user_id, now);
    if (!signed_out) return signed_out.error();
    for (const auto& message : mail) {
      if (auto queued = insert_mail(c, message); !queued) return queued.error();
    }
    return signed_out->sessions_ended;
  });
}

}  // namespace keystep::postgres
