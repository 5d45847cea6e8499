// SqliteStore as a ConsentStore: the consents and consent_requests tables of
// migrations/012_grant_policy_and_consent.sql.

#include <sqlite3.h>

#include <string_view>

#include "idp/store/rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

using Mode = Transaction::Mode;

constexpr std::string_view kConsentColumns =
    "SELECT user_id, client_id, scope, granted_at FROM consents ";

Consent read_consent(const Statement& st) {
  return Consent{st.column_int64(0), st.column_text(1), st.column_text(2), st.column_int64(3)};
}

constexpr std::string_view kRequestColumns =
    "SELECT id, sid, user_id, request_json, expires_at FROM consent_requests ";

ConsentRequest read_request(const Statement& st) {
  return ConsentRequest{st.column_text(0), st.column_text(1), st.column_int64(2),
                        st.column_text(3), st.column_int64(4)};
}

Result<ConsentRequest> request_locked(sqlite3* db, const std::string& id) {
  auto st = Statement::prepare(db, sql(kRequestColumns, "WHERE id = ?1"));
  if (!st) return st.error();
  st->bind_text(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("consent request");
  return read_request(*st);
}

}  // namespace

Result<Consent> SqliteStore::consent(int64_t user_id, const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, sql(kConsentColumns, "WHERE user_id = ?1 AND client_id = ?2"));
  if (!st) return st.error();
  st->bind_int64(1, user_id).bind_text(2, client_id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("consent");
  return read_consent(*st);
}

Status SqliteStore::put_consent(const Consent& consent) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "INSERT INTO consents (user_id, client_id, scope, granted_at) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, client_id) DO "
                               "UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at");
  if (!st) return st.error();
  st->bind_int64(1, consent.user_id)
      .bind_text(2, consent.client_id)
      .bind_text(3, consent.scope)
      .bind_int64(4, consent.granted_at);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound) return not_found("user or client of the consent");
    return s;
  }
  return {};
}

Result<std::vector<Consent>> SqliteStore::consents_of_user(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, sql(kConsentColumns, "WHERE user_id = ?1 ORDER BY client_id"));
  if (!st) return st.error();
  st->bind_int64(1, user_id);
  std::vector<Consent> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read_consent(*st));
  }
}

Status SqliteStore::revoke_consent(int64_t user_id, const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto del = Statement::prepare(db_, "DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2");
  if (!del) return del.error();
  del->bind_int64(1, user_id).bind_text(2, client_id);
  if (Status s = del->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("consent");
  // What the consent allowed ends with it: every grant of the user to the client, and their
  // tokens.
  for (const char* text :
       {"UPDATE tokens SET revoked = 1 WHERE grant_id IN (SELECT id FROM grants WHERE user_id = "
        "?1 AND client_id = ?2)",
        "UPDATE grants SET revoked = 1 WHERE user_id = ?1 AND client_id = ?2"}) {
    auto st = Statement::prepare(db_, text);
    if (!st) return st.error();
    st->bind_int64(1, user_id).bind_text(2, client_id);
    if (Status s = st->run(); !s) return s;
  }
  return tx->commit();
}

Status SqliteStore::create_consent_request(const ConsentRequest& request) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "INSERT INTO consent_requests (id, sid, user_id, request_json, "
                               "expires_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return st.error();
  st->bind_text(1, request.id)
      .bind_text(2, request.sid)
      .bind_int64(3, request.user_id)
      .bind_text(4, request.request_json)
      .bind_int64(5, request.expires_at);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound) return not_found("user of the consent request");
    return s;
  }
  return {};
}

Result<ConsentRequest> SqliteStore::consent_request(const std::string& id, int64_t now) {
  std::lock_guard lock(mu_);
  auto request = request_locked(db_, id);
  if (!request) return request.error();
  if (Status s = store_rules::usable(*request, now); !s) return s.error();
  return request;
}

Result<ConsentRequest> SqliteStore::take_consent_request(const std::string& id, int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto request = request_locked(db_, id);
  if (!request) return request.error();
  auto del = Statement::prepare(db_, "DELETE FROM consent_requests WHERE id = ?1");
  if (!del) return del.error();
  del->bind_text(1, id);
  if (Status s = del->run(); !s) return s.error();
  if (Status s = tx->commit(); !s) return s.error();
  if (Status s = store_rules::usable(*request, now); !s) return s.error();
  return request;
}

}  // namespace keystep::sqlite
