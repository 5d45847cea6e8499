#include "storage/postgres/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "idp/store/read_memo.h"
#include "idp/store/rules.h"
#include "storage/postgres/postgres_rows.h"

namespace keystep::postgres {
namespace {

// Any constant shared by every Keystep node: the key of the advisory lock migrations run
// under ("keystep" in ASCII).
constexpr int64_t kMigrationLock = 0x6b65797374657000;

constexpr int kMaxAuditPage = 500;

// dump() throws on strings that are not valid UTF-8: the caller's bad input, not ours.
Result<std::string> json_text(const nlohmann::json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": " + e.what());
  }
}

// Locks the user's row for the rest of the transaction, so changes to one user's
// credentials (caps, "last second factor") are serialised across nodes. kNotFound for an
// unknown user. NO KEY UPDATE: inserts referencing the user (sessions) are not blocked.
Status lock_user(Connection& c, int64_t user_id) {
  auto rows = c.query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", {user_id});
  if (!rows) return rows.error();
  if (rows->empty()) return not_found("user " + std::to_string(user_id));
  return {};
}

Status delete_credentials_of_provider(Connection& c, int64_t user_id,
                                      const std::string& provider_id) {
  auto rows = c.query("DELETE FROM mfa_credentials WHERE user_id = $1 AND provider_id = $2",
                      {user_id, provider_id});
  if (!rows) return rows.error();
  return {};
}

Status set_two_factor_flag(Connection& c, int64_t user_id, bool enabled) {
  auto rows =
      c.query("UPDATE users SET two_factor_enabled = $1 WHERE id = $2", {enabled, user_id});
  if (!rows) return rows.error();
  if (rows->affected() == 0) return not_found("user " + std::to_string(user_id));
  return {};
}

// kDenied when the user already holds max_of_provider confirmed credentials of provider_id
// other than except_id.
Status enforce_cap(Connection& c, int64_t user_id, const std::string& provider_id,
                   int64_t except_id, int max_of_provider) {
  auto rows = c.query(
      "SELECT COUNT(*) FROM mfa_credentials WHERE user_id = $1 AND provider_id = $2 AND "
      "confirmed AND id <> $3",
      {user_id, provider_id, except_id});
  if (!rows) return rows.error();
  if (rows->int64(0, 0) >= max_of_provider) {
    return make_error(ErrorCode::kDenied, "at most " + std::to_string(max_of_provider) + " " +
                                              provider_id + " credentials per user");
  }
  return {};
}

// Compare-and-set of one credential (see MfaStore::update_credential); `confirmed` is what
// is stored.
Status cas_credential(Connection& c, const MfaCredential& updated, int64_t expected_version,
                      bool confirmed) {
  auto params = json_text(updated.params, "MFA credential params");
  if (!params) return params.error();
  auto state = json_text(updated.state, "MFA credential state");
  if (!state) return state.error();
  auto rows = c.query(
      "UPDATE mfa_credentials SET counter = $1, state = $2, params = $3, confirmed = $4, "
      "last_used_at = $5, label = $9, lookup_key = $10, version = version + 1 "
      "WHERE id = $6 AND user_id = $7 AND version = $8",
      {updated.counter, *state, *params, confirmed, updated.last_used_at, updated.id,
       updated.user_id, expected_version, updated.label, updated.lookup_key});
  if (!rows) return store_rules::credential_write_error(rows.error(), updated);
  if (rows->affected() > 0) return {};
  auto exists = c.query("SELECT 1 FROM mfa_credentials WHERE id = $1 AND user_id = $2",
                        {updated.id, updated.user_id});
  if (!exists) return exists.error();
  if (exists->empty()) return not_found("MFA credential " + std::to_string(updated.id));
  return make_error(ErrorCode::kConflict, "MFA credential was updated concurrently");
}

// Inserts a credential with version 0; on success returns its id.
Result<int64_t> insert_credential(Connection& c, const MfaCredential& credential) {
  auto params = json_text(credential.params, "MFA credential params");
  if (!params) return params.error();
  auto state = json_text(credential.state, "MFA credential state");
  if (!state) return state.error();
  auto rows = c.query(
      "INSERT INTO mfa_credentials (user_id, provider_id, secret, params, state, counter, "
      "version, confirmed, created_at, last_used_at, label, lookup_key) "
      "VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11) RETURNING id",
      {credential.user_id, credential.provider_id, Param::bytea(credential.secret), *params,
       *state, credential.counter, credential.confirmed, credential.created_at,
       credential.last_used_at, credential.label, credential.lookup_key});
  if (!rows) {
    if (rows.error().code == ErrorCode::kNotFound)
      return not_found("user " + std::to_string(credential.user_id));
    return store_rules::credential_write_error(rows.error(), credential);
  }
  return rows->int64(0, 0);
}

// Replaces the user's unconfirmed credentials of pending.provider_id with `pending`; on
// success returns its id. The caller holds the user's lock (lock_user).
Result<int64_t> put_pending(Connection& c, const MfaCredential& pending) {
  auto drop = c.query(
      "DELETE FROM mfa_credentials WHERE user_id = $1 AND provider_id = $2 AND NOT confirmed",
      {pending.user_id, pending.provider_id});
  if (!drop) return drop.error();
  return insert_credential(c, pending);
}

// Marks the grant and every token of it revoked; returns how many grants changed (0: none).
Result<int64_t> revoke_grant_in(Connection& c, const std::string& grant_id) {
  auto tokens = c.query("UPDATE tokens SET revoked = TRUE WHERE grant_id = $1", {grant_id});
  if (!tokens) return tokens.error();
  auto grant = c.query("UPDATE grants SET revoked = TRUE WHERE id = $1", {grant_id});
  if (!grant) return grant.error();
  return grant->affected();
}

// Queues a back-channel logout (idp/store/logout_store.h) for each client with a
// backchannel_logout_uri holding an unrevoked grant that `grants_where` (a condition on
// grants g, its parameters from $2) selects, one per client, user and session; $1 is now. A
// notice queued before for the same client, user and session is not queued again.
std::string queue_logouts_sql(std::string_view grants_where) {
  return std::string(
             "INSERT INTO backchannel_logouts (client_id, uri, user_id, sid, jti, created_at, "
             "next_attempt_at) SELECT g.client_id, c.backchannel_logout_uri, g.user_id, g.sid, "
             "replace(gen_random_uuid()::text, '-', ''), $1::bigint, $1::bigint FROM grants g "
             "JOIN clients c ON c.client_id = g.client_id WHERE NOT g.revoked AND "
             "c.backchannel_logout_uri <> '' AND ") +
         std::string(grants_where) +
         " GROUP BY g.client_id, c.backchannel_logout_uri, g.user_id, g.sid "
         "ON CONFLICT DO NOTHING";
}

// SessionStore::end_session for the sessions whose sid `sids` selects (an SQL list or
// subquery using parameters from $2 and `params`); $1 is now. Returns how many sessions
// were deleted.
Result<int64_t> end_sessions(Connection& c, std::string_view sids, int64_t now,
                             const std::vector<Param>& params) {
  // The notices first: they are queued for the grants that are still unrevoked. By sid, not
  // through the sessions table: a grant outlives its session, which may be purged already.
  const std::string in = " IN " + std::string(sids);
  const std::string statements[] = {
      queue_logouts_sql("g.sid" + in),
      "UPDATE tokens SET revoked = TRUE WHERE grant_id IN (SELECT id FROM grants WHERE sid" +
          in + ") AND $1::bigint IS NOT NULL",
      "UPDATE grants SET revoked = TRUE WHERE sid" + in + " AND $1::bigint IS NOT NULL",
      "DELETE FROM sessions WHERE sid" + in + " AND $1::bigint IS NOT NULL"};
  int64_t deleted = 0;
  for (const auto& statement : statements) {
    Params all{now};
    all.insert(all.end(), params.begin(), params.end());
    auto rows = c.query(statement, all);
    if (!rows) return rows.error();
    deleted = rows->affected();
  }
  return deleted;
}

// Advances the flow to `progress_json`, or deletes it when null, if its version is still
// `expected_version` (FlowStore::update_flow's compare-and-set): kConflict when it moved on,
// kNotFound when it is gone.
Status cas_flow(Connection& c, const std::string& id, int64_t expected_version,
                const std::string* progress_json) {
  auto rows = progress_json
                  ? c.query("UPDATE login_flows SET progress_json = $3, version = version + 1 "
                            "WHERE id = $1 AND version = $2",
                            {id, expected_version, *progress_json})
                  : c.query("DELETE FROM login_flows WHERE id = $1 AND version = $2",
                            {id, expected_version});
  if (!rows) return rows.error();
  if (rows->affected() > 0) return {};
  auto exists = c.query("SELECT 1 FROM login_flows WHERE id = $1", {id});
  if (!exists) return exists.error();
  if (exists->empty()) return not_found("login flow");
  return make_error(ErrorCode::kConflict, "login flow was updated concurrently");
}

Status insert_session(Connection& c, const Session& session) {
  auto rows = c.query(
      "INSERT INTO sessions (id_hash, sid, user_id, auth_time, acr, amr, created_at, "
      "expires_at, password_time, mfa_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {session.id_hash, session.sid, session.user_id, session.auth_time, session.acr,
       session.amr, session.created_at, session.expires_at, session.password_time,
       session.mfa_time});
  if (!rows) return rows.error();
  return {};
}

Status update_session_auth_in(Connection& c, const Session& session) {
  auto rows = c.query(
      "UPDATE sessions SET auth_time = $1, acr = $2, amr = $3, password_time = $4, "
      "mfa_time = $5 WHERE id_hash = $6",
      {session.auth_time, session.acr, session.amr, session.password_time, session.mfa_time,
       session.id_hash});
  if (!rows) return rows.error();
  if (rows->affected() == 0) return not_found("session");
  return {};
}

Status insert_grant_with_code(Connection& c, const Grant& grant, const AuthCode& code) {
  if (Status s = store_rules::code_of_grant(grant, code); !s) return s;
  auto g = c.query(
      "INSERT INTO grants (id, client_id, user_id, sid, scope, nonce, auth_time, acr, amr, "
      "revoked, created_at, requested_claims) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      {grant.id, grant.client_id, grant.user_id, grant.sid, grant.scope, grant.nonce,
       grant.auth_time, grant.acr, grant.amr, grant.revoked, grant.created_at,
       grant.requested_claims});
  if (!g) {
    if (g.error().code == ErrorCode::kNotFound) return not_found("client or user of the grant");
    return g.error();
  }
  auto code_row = c.query(
      "INSERT INTO auth_codes (code_hash, grant_id, redirect_uri, code_challenge, used, "
      "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
      {code.code_hash, grant.id, code.redirect_uri, code.code_challenge, code.used,
       code.expires_at});
  if (!code_row) return code_row.error();
  return {};
}

// The tokens in one INSERT: one round trip for the access and refresh tokens a grant issues
// together (the statement is prepared once per row count).
Status insert_tokens(Connection& c, const std::vector<Token>& tokens) {
  if (tokens.empty()) return {};
  constexpr int kColumns = 8;
  std::string text =
      "INSERT INTO tokens (token_hash, grant_id, kind, used, revoked, created_at, expires_at, "
      "scope) VALUES ";
  Params params;
  params.reserve(tokens.size() * kColumns);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    text += i == 0 ? "(" : ", (";
    for (int col = 1; col <= kColumns; ++col)
      text += "$" + std::to_string(i * kColumns + col) + (col < kColumns ? ", " : ")");
    for (Param p :
         {Param(token.token_hash), Param(token.grant_id), Param(static_cast<int64_t>(token.kind)),
          Param(token.used), Param(token.revoked), Param(token.created_at), Param(token.expires_at),
          Param(token.scope)})
      params.push_back(std::move(p));
  }
  auto rows = c.query(text, params);
  if (!rows) return rows.error();
  return {};
}

Status reset_attempts_in(Connection& c, const std::string& key) {
  auto rows = c.query("DELETE FROM attempts WHERE key = $1", {key});
  if (!rows) return rows.error();
  return {};
}

Status append_audit_in(Connection& c, const AuditEvent& event) {
  auto rows = c.query(
      "INSERT INTO audit_log (at, account_id, user_id, event, address, detail, request_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {event.at, event.account_id, event.user_id, event.event, event.address, event.detail,
       event.request_id});
  if (!rows) return rows.error();
  return {};
}

}  // namespace

Result<SignedOut> sign_out_user(Connection& c, int64_t user_id, int64_t now) {
  // By user, not through sessions: a grant (and its 30-day refresh token) outlives the
  // session it was made in, which expires after 12 hours and is then purged.
  auto queued = c.query(queue_logouts_sql("g.user_id = $2"), {now, user_id});
  if (!queued) return queued.error();
  SignedOut out;
  const std::pair<const char*, int64_t*> statements[] = {
      {"UPDATE tokens SET revoked = TRUE WHERE NOT revoked AND grant_id IN (SELECT id FROM "
       "grants WHERE user_id = $1)",
       nullptr},
      {"UPDATE grants SET revoked = TRUE WHERE user_id = $1 AND NOT revoked",
       &out.grants_revoked},
      {"DELETE FROM sessions WHERE user_id = $1", &out.sessions_ended}};
  for (const auto& [statement, changes] : statements) {
    auto rows = c.query(statement, {user_id});
    if (!rows) return rows.error();
    if (changes) *changes = rows->affected();
  }
  return out;
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& url, int pool_size) {
  return open(url, pool_size, kMigrations);
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(
    const std::string& url, int pool_size, const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return make_error(ErrorCode::kInternal, "migrations are not in increasing version order");
    }
  }
  std::unique_ptr<PostgresStore> store(new PostgresStore(url, pool_size));
  if (Status s = store->migrate(migrations); !s) return s.error();
  return store;
}

Status PostgresStore::migrate(const std::vector<Migration>& migrations) {
  const int known = migrations.empty() ? 0 : migrations.back().version;
  return with_connection(pool_, [&](Connection& c) -> Status {
    SystemClock clock;
    // One migration per transaction, each under a transaction-scoped advisory lock taken
    // before the version is read: a second node starting now waits, then finds it applied.
    // Transaction-scoped (not session) so a pooler in transaction mode (PgBouncer) keeps the
    // lock and the work on one server connection.
    for (;;) {
      auto tx = Transaction::begin(c);
      if (!tx) return tx.error();
      if (Status s = c.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
                            "); CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                            "PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
          !s)
        return s;
      auto current = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!current) return current.error();
      const int64_t applied = current->int64(0, 0);
      if (applied > known) {
        return make_error(ErrorCode::kInternal,
                          "database schema version " + std::to_string(applied) +
                              " is newer than this binary supports (" + std::to_string(known) +
                              "); upgrade keystep before opening it");
      }
      auto next = std::find_if(migrations.begin(), migrations.end(),
                               [&](const Migration& m) { return m.version > applied; });
      if (next == migrations.end()) return tx->commit();
      if (Status s = c.exec(std::string(next->sql)); !s) {
        return make_error(s.error().code == ErrorCode::kUnavailable ? ErrorCode::kUnavailable
                                                                    : ErrorCode::kInternal,
                          "migration " + std::string(next->name) + ": " + s.error().message);
      }
      auto record = c.query(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
          {next->version, next->name, clock.now()});
      if (!record) return record.error();
      if (Status s = tx->commit(); !s) return s;
    }
  });
}

Result<int> PostgresStore::schema_version() {
  return with_connection(pool_, [&](Connection& c) -> Result<int> {
    auto rows = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!rows) return rows.error();
    return static_cast<int>(rows->int64(0, 0));
  });
}

// ---- AccountStore

Result<Account> PostgresStore::create_account(const Account& account) {
  return with_connection(pool_, [&](Connection& c) -> Result<Account> {
    auto rows = c.query(
        "INSERT INTO accounts (name, issuer_label, created_at, enforce_two_factor, "
        "mfa_settings_json) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        {account.name, account.issuer_label, account.created_at, account.enforce_two_factor,
         account.mfa_settings_json});
    if (!rows) return rows.error();
    Account created = account;
    created.id = rows->int64(0, 0);
    return created;
  });
}

Result<Account> PostgresStore::account_by_name(const std::string& name) {
  return with_connection(pool_, [&](Connection& c) -> Result<Account> {
    auto rows = c.query(sql(kAccountColumns, "WHERE name = $1"), {name});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("account '" + name + "'");
    return read_account(Row{*rows, 0});
  });
}

Result<Account> PostgresStore::account_by_id(int64_t id) {
  return remembered(&ReadMemo::accounts, id, [&] {
    return with_connection(pool_, [&](Connection& c) -> Result<Account> {
      auto rows = c.query(sql(kAccountColumns, "WHERE id = $1"), {id});
      if (!rows) return rows.error();
      if (rows->empty()) return not_found("account " + std::to_string(id));
      return read_account(Row{*rows, 0});
    });
  });
}

// ---- UserStore

Result<User> insert_user(Connection& c, const User& user) {
  // Both the role and the account are foreign keys: the role is checked first to tell the
  // caller's two mistakes apart in the contract's order.
  auto role = c.query("SELECT 1 FROM roles WHERE name = $1", {user.role});
  if (!role) return role.error();
  if (role->empty())
    return make_error(ErrorCode::kInvalidArgument, "unknown role '" + user.role + "'");
  auto rows = c.query(
      "INSERT INTO users (account_id, email, password_hash, role, created_at, "
      "two_factor_enabled, display_name, email_verified) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
      {user.account_id, user.email, user.password_hash, user.role, user.created_at,
       user.two_factor_enabled, user.display_name, user.email_verified});
  if (!rows) {
    if (rows.error().code == ErrorCode::kNotFound)
      return not_found("account " + std::to_string(user.account_id));
    return rows.error();
  }
  User created = user;
  created.id = rows->int64(0, 0);
  return created;
}

Result<User> PostgresStore::create_user(const User& user) {
  return with_connection(pool_, [&](Connection& c) { return insert_user(c, user); });
}

Result<User> PostgresStore::user_by_id(int64_t id) {
  return remembered(&ReadMemo::users, id, [&] {
    return with_connection(pool_, [&](Connection& c) -> Result<User> {
      auto rows = c.query(sql(kUserColumns, "WHERE id = $1"), {id});
      if (!rows) return rows.error();
      if (rows->empty()) return not_found("user " + std::to_string(id));
      return read_user(Row{*rows, 0});
    });
  });
}

Result<User> PostgresStore::user_by_email(int64_t account_id, const std::string& email) {
  return with_connection(pool_, [&](Connection& c) -> Result<User> {
    auto rows = c.query(sql(kUserColumns, "WHERE account_id = $1 AND email = $2"),
                        {account_id, email});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("user");
    return read_user(Row{*rows, 0});
  });
}

Result<std::vector<User>> PostgresStore::users_by_email(const std::string& email) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<User>> {
    auto rows = c.query(sql(kUserColumns, "WHERE email = $1 ORDER BY id"), {email});
    if (!rows) return rows.error();
    return read_all<User>(*rows, read_user);
  });
}

Status PostgresStore::update_password_hash(int64_t user_id, const std::string& password_hash) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows =
        c.query("UPDATE users SET password_hash = $1 WHERE id = $2", {password_hash, user_id});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("user " + std::to_string(user_id));
    return {};
  });
}

Status PostgresStore::update_display_name(int64_t user_id, const std::string& display_name) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows =
        c.query("UPDATE users SET display_name = $1 WHERE id = $2", {display_name, user_id});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("user " + std::to_string(user_id));
    return {};
  });
}

Result<std::vector<std::string>> PostgresStore::role_permissions(const std::string& role) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<std::string>> {
    auto rows = c.query(
        "SELECT permission FROM role_permissions WHERE role = $1 ORDER BY permission", {role});
    if (!rows) return rows.error();
    return read_all<std::string>(*rows, [](const Row& r) { return r.text(0); });
  });
}

// ---- ClientStore

Status PostgresStore::create_client(const Client& client) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "INSERT INTO clients (client_id, is_public, secret_hash, created_at, refresh_tokens, "
        "refresh_idle_ttl, refresh_absolute_ttl, first_party, require_two_factor, "
        "backchannel_logout_uri, backchannel_logout_session_required, display_name, "
        "logo_uri, home_uri) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        {client.client_id, client.is_public, client.secret_hash, client.created_at,
         static_cast<int64_t>(client.grants.refresh_tokens), client.grants.refresh_idle_ttl,
         client.grants.refresh_absolute_ttl, client.grants.first_party,
         client.require_two_factor, client.backchannel_logout_uri,
         client.backchannel_logout_session_required, client.display_name, client.logo_uri,
         client.home_uri});
    if (!rows) return rows.error();
    for (const auto& [kind, list] :
         {std::pair{kRedirectUri, &client.redirect_uris},
          std::pair{kPostLogoutRedirectUri, &client.post_logout_redirect_uris}}) {
      for (size_t i = 0; i < list->size(); ++i) {
        auto uri = c.query(
            "INSERT INTO client_redirect_uris (client_id, kind, position, uri) "
            "VALUES ($1, $2, $3, $4)",
            {client.client_id, kind, static_cast<int64_t>(i), (*list)[i]});
        if (!uri) return uri.error();
      }
    }
    for (size_t i = 0; i < client.allowed_origins.size(); ++i) {
      auto origin = c.query(
          "INSERT INTO client_allowed_origins (client_id, position, origin) VALUES ($1, $2, $3)",
          {client.client_id, static_cast<int64_t>(i), client.allowed_origins[i]});
      if (!origin) return origin.error();
    }
    return {};
  });
}

Status PostgresStore::update_client(const Client& client) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "UPDATE clients SET refresh_tokens = $2, refresh_idle_ttl = $3, "
        "refresh_absolute_ttl = $4, first_party = $5, require_two_factor = $6, "
        "backchannel_logout_uri = $7, backchannel_logout_session_required = $8, "
        "display_name = $9, logo_uri = $10, home_uri = $11 WHERE client_id = $1",
        {client.client_id, static_cast<int64_t>(client.grants.refresh_tokens),
         client.grants.refresh_idle_ttl, client.grants.refresh_absolute_ttl,
         client.grants.first_party, client.require_two_factor, client.backchannel_logout_uri,
         client.backchannel_logout_session_required, client.display_name, client.logo_uri,
         client.home_uri});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("client '" + client.client_id + "'");
    return {};
  });
}

Result<std::vector<std::string>> PostgresStore::clients_requiring_two_factor(int64_t account_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<std::string>> {
    auto rows = c.query(
        "SELECT client_id FROM account_client_policies WHERE account_id = $1 ORDER BY client_id",
        {account_id});
    if (!rows) return rows.error();
    return read_all<std::string>(*rows, [](const Row& r) { return r.text(0); });
  });
}

Status PostgresStore::set_client_requires_two_factor(int64_t account_id,
                                                     const std::string& client_id,
                                                     bool required) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    // Named rows must exist (the foreign keys would only say "constraint failed"); FOR SHARE
    // keeps them until the insert.
    auto account = c.query("SELECT 1 FROM accounts WHERE id = $1 FOR SHARE", {account_id});
    if (!account) return account.error();
    if (account->empty()) return not_found("account " + std::to_string(account_id));
    auto client = c.query("SELECT 1 FROM clients WHERE client_id = $1 FOR SHARE", {client_id});
    if (!client) return client.error();
    if (client->empty()) return not_found("client '" + client_id + "'");
    auto rows = c.query(
        required ? "INSERT INTO account_client_policies (account_id, client_id) VALUES ($1, $2) "
                   "ON CONFLICT DO NOTHING"
                 : "DELETE FROM account_client_policies WHERE account_id = $1 AND client_id = $2",
        {account_id, client_id});
    if (!rows) return rows.error();
    return {};
  });
}

// The clients `where` selects, with their lists (kClientColumns: one statement).
Result<std::vector<Client>> read_clients(Pool& pool, std::string_view where,
                                         const std::vector<Param>& params) {
  return with_connection(pool, [&](Connection& c) -> Result<std::vector<Client>> {
    auto rows = c.query(sql(kClientColumns, where), params);
    if (!rows) return rows.error();
    std::vector<Client> clients;
    clients.reserve(static_cast<size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) {
      auto client = read_client(Row{*rows, i});
      if (!client) return client.error();
      clients.push_back(std::move(*client));
    }
    return clients;
  });
}

Result<Client> PostgresStore::client_by_id(const std::string& client_id) {
  return remembered(&ReadMemo::clients, client_id, [&]() -> Result<Client> {
    auto clients = read_clients(pool_, "WHERE client_id = $1", {Param(client_id)});
    if (!clients) return clients.error();
    if (clients->empty()) return not_found("client '" + client_id + "'");
    return std::move(clients->front());
  });
}

Result<std::vector<Client>> PostgresStore::clients() {
  return read_clients(pool_, "ORDER BY client_id", {});
}

// ---- KeyStore

Status PostgresStore::add_signing_key(const SigningKey& key) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    // Two nodes rotating at once: the second waits, then demotes the first's key.
    if (Status s = c.exec("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"); !s) return s;
    if (key.active) {
      auto off = c.query("UPDATE signing_keys SET active = FALSE WHERE active");
      if (!off) return off.error();
    }
    auto rows = c.query(
        "INSERT INTO signing_keys (kid, alg, sealed_private_key, public_jwk, active, retired, "
        "created_at) VALUES ($1, $2, $3, $4, $5, FALSE, $6)",
        {key.kid, key.alg, Param::bytea(key.sealed_private_key), key.public_jwk, key.active,
         key.created_at});
    if (!rows) return rows.error();
    return {};
  });
}

Result<std::vector<SigningKey>> PostgresStore::signing_keys() {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<SigningKey>> {
    auto rows = c.query(
        "SELECT kid, alg, sealed_private_key, public_jwk, active, created_at FROM signing_keys "
        "WHERE NOT retired ORDER BY active DESC, created_at DESC, seq DESC");
    if (!rows) return rows.error();
    return read_all<SigningKey>(*rows, [](const Row& r) {
      return SigningKey{r.text(0), r.text(1), r.bytea(2), r.text(3), r.boolean(4), r.int64(5)};
    });
  });
}

Status PostgresStore::retire_signing_key(const std::string& kid) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto rows = c.query("SELECT active FROM signing_keys WHERE kid = $1 FOR UPDATE", {kid});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("signing key '" + kid + "'");
    if (rows->boolean(0, 0))
      return make_error(ErrorCode::kConflict, "signing key '" + kid + "' is the active key");
    auto retire = c.query("UPDATE signing_keys SET retired = TRUE WHERE kid = $1", {kid});
    if (!retire) return retire.error();
    return {};
  });
}

// ---- FlowStore

Status PostgresStore::create_flow(const LoginFlow& flow) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "INSERT INTO login_flows (id, browser_binding_hash, csrf_token, request_json, "
        "progress_json, version, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        {flow.id, flow.browser_binding_hash, flow.csrf_token, flow.request_json,
         flow.progress_json, flow.version, flow.created_at, flow.expires_at});
    if (!rows) return rows.error();
    return {};
  });
}

Result<LoginFlow> PostgresStore::flow_by_id(const std::string& id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<LoginFlow> {
    auto rows = c.query(
        "SELECT id, browser_binding_hash, csrf_token, request_json, progress_json, version, "
        "created_at, expires_at FROM login_flows WHERE id = $1",
        {id});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("login flow");
    const Row r{*rows, 0};
    LoginFlow flow{r.text(0),  r.text(1),  r.text(2),  r.text(3),
                   r.text(4),  r.int64(5), r.int64(6), r.int64(7)};
    if (flow.expires_at <= now) return make_error(ErrorCode::kExpired, "login flow expired");
    return flow;
  });
}

Status PostgresStore::update_flow(const std::string& id, int64_t expected_version,
                                  const std::string& progress_json) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    return cas_flow(c, id, expected_version, &progress_json);
  });
}

Status PostgresStore::delete_flow(const std::string& id) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query("DELETE FROM login_flows WHERE id = $1", {id});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("login flow");
    return {};
  });
}

Status PostgresStore::commit_flow_step(const FlowStep& step, int64_t now) {
  if (Status s = store_rules::flow_step(step); !s) return s;
  return in_transaction(pool_, [&](Connection& c) -> Status {
    // The flow's and the credential's compare-and-set statements take their rows' locks, so
    // a second node committing the same step waits and then finds the version moved on.
    if (!step.flow_id.empty()) {
      const std::string* progress = step.progress_json ? &*step.progress_json : nullptr;
      if (Status s = cas_flow(c, step.flow_id, step.expected_version, progress); !s) return s;
    }
    if (step.credential) {
      Status s = cas_credential(c, *step.credential, step.credential_version,
                                step.credential->confirmed);
      if (!s && s.error().code == ErrorCode::kConflict)
        return make_error(ErrorCode::kReplayed, "the credential was used meanwhile");
      if (!s) return s;
    }
    for (const auto& key : step.reset_attempts) {
      if (Status s = reset_attempts_in(c, key); !s) return s;
    }
    for (const auto& event : step.audit) {
      if (Status s = append_audit_in(c, event); !s) return s;
    }
    if (!step.end_sid.empty()) {
      auto ended = end_sessions(c, "($2)", now, {Param(step.end_sid)});
      if (!ended) return ended.error();
    }
    if (step.session) {
      Status s = step.session_exists ? update_session_auth_in(c, *step.session)
                                     : insert_session(c, *step.session);
      if (!s) return s;
    }
    if (step.grant) {
      if (Status s = insert_grant_with_code(c, *step.grant, step.code); !s) return s;
    }
    return {};
  });
}

// ---- SessionStore

Status PostgresStore::create_session(const Session& session) {
  return with_connection(pool_, [&](Connection& c) { return insert_session(c, session); });
}

Result<Session> PostgresStore::session_by_id_hash(const std::string& id_hash, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<Session> {
    auto rows = c.query(sql(kSessionColumns, "WHERE id_hash = $1 AND expires_at > $2"),
                        {id_hash, now});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("session");
    return read_session(Row{*rows, 0});
  });
}

Result<Session> PostgresStore::session_by_sid(const std::string& sid, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<Session> {
    auto rows =
        c.query(sql(kSessionColumns, "WHERE sid = $1 AND expires_at > $2"), {sid, now});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("session");
    return read_session(Row{*rows, 0});
  });
}

Status PostgresStore::update_session_auth(const Session& session) {
  return with_connection(pool_,
                         [&](Connection& c) { return update_session_auth_in(c, session); });
}

Status PostgresStore::end_session(const std::string& sid, int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto ended = end_sessions(c, "($2)", now, {Param(sid)});
    if (!ended) return ended.error();
    return {};
  });
}

Result<int64_t> PostgresStore::end_other_sessions(int64_t user_id, const std::string& keep_sid,
                                                  int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Result<int64_t> {
    return end_sessions(c, "(SELECT sid FROM sessions WHERE user_id = $2 AND sid <> $3)", now,
                        {Param(user_id), Param(keep_sid)});
  });
}

// ---- GrantStore

Status PostgresStore::create_grant_with_code(const Grant& grant, const AuthCode& code) {
  return in_transaction(pool_,
                        [&](Connection& c) { return insert_grant_with_code(c, grant, code); });
}

Result<GrantStore::Redeemed> PostgresStore::redeem_code(const std::string& code_hash,
                                                        int64_t now) {
  auto lease = pool_.acquire();
  if (!lease) return lease.error();
  Connection& c = **lease;
  auto tx = Transaction::begin(c);
  if (!tx) return tx.error();
  // FOR UPDATE OF c: a second redemption racing on another node waits here and then reads
  // the code as used.
  auto rows = c.query(std::string("SELECT c.code_hash, c.grant_id, c.redirect_uri, "
                                  "c.code_challenge, c.used, c.expires_at, ") +
                          kGrantColumns +
                          " FROM auth_codes c JOIN grants g ON g.id = c.grant_id "
                          "WHERE c.code_hash = $1 FOR UPDATE OF c",
                      {code_hash});
  if (!rows) return rows.error();
  if (rows->empty()) return not_found("authorization code");
  const Row r{*rows, 0};
  Redeemed redeemed{AuthCode{r.text(0), r.text(1), r.text(2), r.text(3), r.boolean(4),
                             r.int64(5)},
                    read_grant(r, 6)};
  if (redeemed.code.used) {
    // RFC 6749 4.1.2: a code used twice revokes what it issued. The revocation must persist
    // even though the call fails, hence the commit before returning the error.
    auto revoked = revoke_grant_in(c, redeemed.grant.id);
    if (!revoked) return revoked.error();
    if (Status s = tx->commit(); !s) return s.error();
    return make_error(ErrorCode::kReplayed, "authorization code already used; grant revoked");
  }
  if (Status s = store_rules::redeemable(redeemed, now); !s) return s.error();
  auto use = c.query("UPDATE auth_codes SET used = TRUE WHERE code_hash = $1", {code_hash});
  if (!use) return use.error();
  if (Status s = tx->commit(); !s) return s.error();
  redeemed.code.used = true;
  return redeemed;
}

Result<Grant> PostgresStore::grant_by_id(const std::string& id) {
  return with_connection(pool_, [&](Connection& c) -> Result<Grant> {
    auto rows =
        c.query(std::string("SELECT ") + kGrantColumns + " FROM grants g WHERE g.id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("grant");
    return read_grant(Row{*rows, 0}, 0);
  });
}

Status PostgresStore::add_tokens(const std::vector<Token>& tokens) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    std::set<std::string> checked;  // the tokens of one call usually share their grant
    for (const Token& token : tokens) {
      if (!checked.insert(token.grant_id).second) continue;
      // FOR SHARE: a revocation racing on another node waits for this insert, or this insert
      // sees the grant revoked.
      auto grant =
          c.query("SELECT revoked FROM grants WHERE id = $1 FOR SHARE", {token.grant_id});
      if (!grant) return grant.error();
      if (grant->empty()) return not_found("grant");
      if (grant->boolean(0, 0)) return make_error(ErrorCode::kConflict, "grant is revoked");
    }
    return insert_tokens(c, tokens);
  });
}

Result<GrantStore::ActiveToken> PostgresStore::active_token(const std::string& token_hash,
                                                            TokenKind kind, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<ActiveToken> {
    auto rows = c.query(kTokenWithGrant, {token_hash, static_cast<int64_t>(kind)});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("token");
    const Row r{*rows, 0};
    ActiveToken found{read_token(r), read_grant(r, 7)};
    if (Status s = store_rules::active(found, now); !s) return s.error();
    return found;
  });
}

Status PostgresStore::rotate_refresh_token(const std::string& old_hash, const Token& replacement,
                                           const std::vector<Token>& issued, int64_t now) {
  if (Status s = store_rules::rotation(replacement, issued); !s) return s;
  auto lease = pool_.acquire();
  if (!lease) return lease.error();
  Connection& c = **lease;
  auto tx = Transaction::begin(c);
  if (!tx) return tx.error();
  // FOR UPDATE OF t: two nodes rotating the same token serialise here; the second reads it
  // used and takes the replay path.
  auto rows = c.query(kTokenWithGrant + " FOR UPDATE OF t",
                      {old_hash, static_cast<int64_t>(TokenKind::kRefresh)});
  if (!rows) return rows.error();
  if (rows->empty()) return not_found("refresh token");
  const Row r{*rows, 0};
  const Token old = read_token(r);
  const bool grant_revoked = read_grant(r, 7).revoked;
  if (old.used) {
    // A rotated-away refresh token came back: one of its two holders is an attacker
    // (RFC 9700 4.14.2), so everything the grant issued dies, and that must persist.
    auto revoked = revoke_grant_in(c, old.grant_id);
    if (!revoked) return revoked.error();
    if (Status s = tx->commit(); !s) return s;
    return make_error(ErrorCode::kReplayed, "refresh token already used; grant revoked");
  }
  if (Status s = store_rules::rotatable(old, grant_revoked, replacement, now); !s) return s;
  auto use = c.query("UPDATE tokens SET used = TRUE WHERE token_hash = $1", {old_hash});
  if (!use) return use.error();
  std::vector<Token> inserted{replacement};
  inserted.front().used = false;
  inserted.front().revoked = false;
  inserted.front().scope.clear();
  inserted.insert(inserted.end(), issued.begin(), issued.end());
  if (Status s = insert_tokens(c, inserted); !s) return s;
  return tx->commit();
}

Status PostgresStore::revoke_grant(const std::string& grant_id) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto revoked = revoke_grant_in(c, grant_id);
    if (!revoked) return revoked.error();
    if (*revoked == 0) return not_found("grant");
    return {};
  });
}

Status PostgresStore::revoke_token(const std::string& token_hash, const std::string& client_id) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "SELECT t.kind, t.grant_id, g.client_id FROM tokens t JOIN grants g ON "
        "g.id = t.grant_id WHERE t.token_hash = $1 FOR UPDATE OF t",
        {token_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("token");
    const auto kind = static_cast<TokenKind>(rows->int64(0, 0));
    const std::string grant_id = rows->text(0, 1);
    if (rows->text(0, 2) != client_id) {
      return make_error(ErrorCode::kDenied, "the token was issued to another client");
    }
    if (kind == TokenKind::kRefresh) {
      // RFC 7009 §2.1: the refresh token's grant, and so the access tokens it issued, go too.
      if (auto revoked = revoke_grant_in(c, grant_id); !revoked) return revoked.error();
      return {};
    }
    auto one = c.query("UPDATE tokens SET revoked = TRUE WHERE token_hash = $1", {token_hash});
    if (!one) return one.error();
    return {};
  });
}

// ---- MfaStore

Result<std::vector<MfaCredential>> PostgresStore::credentials_of_user(int64_t user_id) {
  return remembered(&ReadMemo::credentials, user_id, [&] {
    return with_connection(pool_, [&](Connection& c) -> Result<std::vector<MfaCredential>> {
      auto rows = c.query(sql(kCredentialColumns, "WHERE user_id = $1 ORDER BY created_at, id"),
                          {user_id});
      if (!rows) return rows.error();
      std::vector<MfaCredential> credentials;
      for (int i = 0; i < rows->size(); ++i) {
        auto credential = read_credential(Row{*rows, i});
        if (!credential) return credential.error();
        credentials.push_back(std::move(credential).value());
      }
      return credentials;
    });
  });
}

Result<MfaCredential> PostgresStore::put_pending_credential(const MfaCredential& pending) {
  if (Status s = store_rules::pending_credential(pending); !s) return s.error();
  return in_transaction(pool_, [&](Connection& c) -> Result<MfaCredential> {
    if (Status s = lock_user(c, pending.user_id); !s) return s.error();
    auto id = put_pending(c, pending);
    if (!id) return id.error();
    MfaCredential stored = pending;
    stored.id = *id;
    stored.version = 0;
    return stored;
  });
}

Status PostgresStore::update_credential(const MfaCredential& updated, int64_t expected_version) {
  return with_connection(pool_, [&](Connection& c) {
    return cas_credential(c, updated, expected_version, updated.confirmed);
  });
}

Status PostgresStore::enable_two_factor(const MfaCredential& confirmed, int64_t expected_version,
                                        const std::optional<MfaCredential>& recovery_codes,
                                        bool user_setting_on, int max_of_provider) {
  if (Status s = store_rules::credential_cap(max_of_provider); !s) return s;
  if (Status s = store_rules::recovery_codes_for(confirmed, recovery_codes); !s) return s;
  return in_transaction(pool_, [&](Connection& c) -> Status {
    // An unknown user has no credential to confirm: kNotFound as the CAS would say.
    if (Status s = lock_user(c, confirmed.user_id); !s) {
      if (s.error().code == ErrorCode::kNotFound)
        return not_found("MFA credential " + std::to_string(confirmed.id));
      return s;
    }
    if (Status s = cas_credential(c, confirmed, expected_version, true); !s) return s;
    if (Status s = enforce_cap(c, confirmed.user_id, confirmed.provider_id, confirmed.id,
                               max_of_provider);
        !s)
      return s;
    if (recovery_codes) {
      if (Status s = delete_credentials_of_provider(c, confirmed.user_id,
                                                    recovery_codes->provider_id);
          !s)
        return s;
      if (auto id = insert_credential(c, *recovery_codes); !id) return id.error();
    }
    if (user_setting_on) return set_two_factor_flag(c, confirmed.user_id, true);
    return {};
  });
}

Result<MfaCredential> PostgresStore::add_credential(const MfaCredential& confirmed,
                                                    int max_of_provider) {
  if (Status s = store_rules::added_credential(confirmed); !s) return s.error();
  if (Status s = store_rules::credential_cap(max_of_provider); !s) return s.error();
  return in_transaction(pool_, [&](Connection& c) -> Result<MfaCredential> {
    if (Status s = lock_user(c, confirmed.user_id); !s) return s.error();
    auto id = insert_credential(c, confirmed);
    if (!id) return id.error();
    if (Status s = enforce_cap(c, confirmed.user_id, confirmed.provider_id, *id, max_of_provider);
        !s)
      return s.error();
    MfaCredential stored = confirmed;
    stored.id = *id;
    stored.version = 0;
    return stored;
  });
}

Status PostgresStore::remove_credential(int64_t user_id, int64_t credential_id,
                                        int64_t expected_version,
                                        const std::vector<std::string>& factor_providers,
                                        LastFactor when_last) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    if (Status s = lock_user(c, user_id); !s) {
      if (s.error().code == ErrorCode::kNotFound)
        return not_found("MFA credential " + std::to_string(credential_id));
      return s;
    }
    auto found = c.query(
        "SELECT provider_id, version, confirmed FROM mfa_credentials WHERE id = $1 AND "
        "user_id = $2",
        {credential_id, user_id});
    if (!found) return found.error();
    if (found->empty()) return not_found("MFA credential " + std::to_string(credential_id));
    const std::string provider_id = found->text(0, 0);
    if (found->int64(0, 1) != expected_version) {
      return make_error(ErrorCode::kConflict, "MFA credential was updated concurrently");
    }
    const bool is_factor = found->boolean(0, 2) &&
                           std::find(factor_providers.begin(), factor_providers.end(),
                                     provider_id) != factor_providers.end();
    bool last = false;
    if (is_factor) {
      int64_t others = 0;
      for (const std::string& factor : factor_providers) {
        auto count = c.query(
            "SELECT COUNT(*) FROM mfa_credentials WHERE user_id = $1 AND provider_id = $2 AND "
            "confirmed AND id <> $3",
            {user_id, factor, credential_id});
        if (!count) return count.error();
        others += count->int64(0, 0);
      }
      last = others == 0;
    }
    if (last && when_last == LastFactor::kRefuse) {
      return make_error(ErrorCode::kConflict, "it is the user's last second factor");
    }
    if (last) {
      auto drop = c.query("DELETE FROM mfa_credentials WHERE user_id = $1", {user_id});
      if (!drop) return drop.error();
      return set_two_factor_flag(c, user_id, false);
    }
    auto drop = c.query("DELETE FROM mfa_credentials WHERE id = $1", {credential_id});
    if (!drop) return drop.error();
    return {};
  });
}

Status PostgresStore::replace_credentials(const MfaCredential& replacement) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    if (Status s = lock_user(c, replacement.user_id); !s) return s;
    if (Status s =
            delete_credentials_of_provider(c, replacement.user_id, replacement.provider_id);
        !s)
      return s;
    if (auto id = insert_credential(c, replacement); !id) return id.error();
    return {};
  });
}

Status PostgresStore::set_two_factor_setting(int64_t user_id, bool on) {
  return with_connection(pool_, [&](Connection& c) { return set_two_factor_flag(c, user_id, on); });
}

Status PostgresStore::disable_two_factor(int64_t user_id) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    if (Status s = lock_user(c, user_id); !s) return s;
    auto drop = c.query("DELETE FROM mfa_credentials WHERE user_id = $1", {user_id});
    if (!drop) return drop.error();
    return set_two_factor_flag(c, user_id, false);
  });
}

Result<AttemptState> PostgresStore::attempts(const std::string& key) {
  return with_connection(pool_, [&](Connection& c) -> Result<AttemptState> {
    auto rows = c.query("SELECT failures, last_failure_at FROM attempts WHERE key = $1", {key});
    if (!rows) return rows.error();
    if (rows->empty()) return AttemptState{};
    return AttemptState{rows->int64(0, 0), rows->int64(0, 1)};
  });
}

Result<AttemptState> PostgresStore::record_failure(const std::string& key, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<AttemptState> {
    // One upsert: atomic across nodes without a transaction.
    auto rows = c.query(
        "INSERT INTO attempts (key, failures, last_failure_at) VALUES ($1, 1, $2) "
        "ON CONFLICT (key) DO UPDATE SET failures = attempts.failures + 1, "
        "last_failure_at = excluded.last_failure_at RETURNING failures, last_failure_at",
        {key, now});
    if (!rows) return rows.error();
    return AttemptState{rows->int64(0, 0), rows->int64(0, 1)};
  });
}

Result<bool> PostgresStore::record_failure_if(const std::string& key,
                                              const AttemptState& expected, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<bool> {
    // One statement either way, so the comparison and the count are atomic across nodes.
    auto rows = expected.failures == 0
                    ? c.query("INSERT INTO attempts (key, failures, last_failure_at) "
                              "VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING",
                              {key, now})
                    : c.query("UPDATE attempts SET failures = failures + 1, last_failure_at = $4 "
                              "WHERE key = $1 AND failures = $2 AND last_failure_at = $3",
                              {key, expected.failures, expected.last_failure_at, now});
    if (!rows) return rows.error();
    return rows->affected() == 1;
  });
}

Status PostgresStore::reset_attempts(const std::string& key) {
  return with_connection(pool_, [&](Connection& c) { return reset_attempts_in(c, key); });
}

Status PostgresStore::append_audit(const AuditEvent& event) {
  return with_connection(pool_, [&](Connection& c) { return append_audit_in(c, event); });
}

Result<std::vector<AuditEvent>> PostgresStore::audit_events(int64_t account_id, int64_t before_id,
                                                            int limit) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<AuditEvent>> {
    auto rows = c.query(
        "SELECT id, at, account_id, user_id, event, address, detail, request_id FROM audit_log "
        "WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        {account_id, before_id > 0 ? before_id : INT64_MAX,
         std::clamp(limit, 1, kMaxAuditPage)});
    if (!rows) return rows.error();
    return read_all<AuditEvent>(*rows, [](const Row& r) {
      return AuditEvent{r.int64(0), r.int64(1), r.int64(2), r.int64(3),
                        r.text(4),  r.text(5),  r.text(6),  r.text(7)};
    });
  });
}

// ---- Store

Status PostgresStore::ping() {
  return with_connection(pool_, [](Connection& c) -> Status {
    auto rows = c.query("SELECT 1");
    if (!rows) return rows.error();
    return {};
  });
}

Result<int64_t> PostgresStore::purge_expired(int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Result<int64_t> {
    const std::string pending_purge =
        std::string("DELETE FROM mfa_credentials WHERE NOT confirmed AND CASE WHEN "
                    "jsonb_typeof(state::jsonb -> '") +
        kPendingExpiresAt + "') = 'number' THEN (state::jsonb ->> '" + kPendingExpiresAt +
        "')::numeric <= $1 ELSE FALSE END";
    const std::pair<std::string, int64_t> purges[] = {
        {"DELETE FROM login_flows WHERE expires_at <= $1", now},
        {"DELETE FROM sessions WHERE expires_at <= $1", now},
        {"DELETE FROM auth_codes WHERE expires_at <= $1", now},
        {"DELETE FROM tokens WHERE expires_at <= $1", now},
        {"DELETE FROM enrollment_links WHERE expires_at <= $1", now},
        {pending_purge, now},
        {"DELETE FROM consent_requests WHERE expires_at <= $1", now},
        {"DELETE FROM password_resets WHERE expires_at <= $1", now},
        {"DELETE FROM mail_outbox WHERE sent_at > 0 AND sent_at <= $1", now - kSentMailRetention},
        {"DELETE FROM backchannel_logouts WHERE delivered_at > 0 AND delivered_at <= $1",
         now - kSentMailRetention}};
    int64_t deleted = 0;
    for (const auto& [statement, cutoff] : purges) {
      auto rows = c.query(statement, {cutoff});
      if (!rows) return rows.error();
      deleted += rows->affected();
    }
    return deleted;
  });
}

// ---- AdminStore

Result<ApiToken> PostgresStore::create_api_token(const ApiToken& token) {
  return in_transaction(pool_, [&](Connection& c) -> Result<ApiToken> {
    auto check = c.query("SELECT 1 FROM users WHERE id = $1 AND account_id = $2",
                         {token.user_id, token.account_id});
    if (!check) return check.error();
    if (check->empty())
      return not_found("user " + std::to_string(token.user_id) + " in the account");
    auto rows = c.query(
        "INSERT INTO api_tokens (account_id, user_id, name, token_hash, created_at, revoked_at, "
        "expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
        {token.account_id, token.user_id, token.name, token.token_hash, token.created_at,
         token.expires_at});
    if (!rows) return rows.error();
    ApiToken created = token;
    created.id = rows->int64(0, 0);
    created.revoked_at = 0;
    return created;
  });
}

Result<ApiToken> PostgresStore::api_token_by_hash(const std::string& token_hash) {
  return with_connection(pool_, [&](Connection& c) -> Result<ApiToken> {
    auto rows =
        c.query(sql(kApiTokenColumns, "WHERE token_hash = $1 AND revoked_at = 0"), {token_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return not_found("API token");
    return read_api_token(Row{*rows, 0});
  });
}

Result<std::vector<ApiToken>> PostgresStore::api_tokens(int64_t account_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<ApiToken>> {
    auto rows = c.query(sql(kApiTokenColumns, "WHERE account_id = $1 ORDER BY id"), {account_id});
    if (!rows) return rows.error();
    return read_all<ApiToken>(*rows, read_api_token);
  });
}

Result<Page<ApiToken>> PostgresStore::api_tokens_page(int64_t account_id, PageRequest page) {
  return with_connection(pool_, [&](Connection& c) -> Result<Page<ApiToken>> {
    // The total rides along with every row (a window count), so items and total are one
    // snapshot without a transaction.
    auto rows = c.query(
        "SELECT id, account_id, user_id, name, token_hash, created_at, revoked_at, expires_at, "
        "total FROM (SELECT *, COUNT(*) OVER () AS total FROM api_tokens WHERE account_id = $1) "
        "t ORDER BY id LIMIT $2 OFFSET $3",
        {account_id, page.limit, page.offset});
    if (!rows) return rows.error();
    return page_of<ApiToken>(c, *rows, read_api_token, 8,
                             "SELECT COUNT(*) FROM api_tokens WHERE account_id = $1", account_id);
  });
}

Status PostgresStore::revoke_api_token(int64_t account_id, int64_t token_id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND "
        "revoked_at = 0",
        {now, token_id, account_id});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("API token " + std::to_string(token_id));
    return {};
  });
}

Result<std::vector<Member>> PostgresStore::members(int64_t account_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<Member>> {
    auto rows = c.query(sql(kMemberSelect, " FROM users u WHERE u.account_id = $1 ORDER BY u.email, u.id"),
                        {account_id});
    if (!rows) return rows.error();
    return read_all<Member>(*rows, read_member);
  });
}

Result<Page<Member>> PostgresStore::members_page(int64_t account_id, PageRequest page) {
  return with_connection(pool_, [&](Connection& c) -> Result<Page<Member>> {
    auto rows = c.query(sql(kMemberSelect, ", COUNT(*) OVER () FROM users u WHERE "
                                            "u.account_id = $1 ORDER BY u.email, u.id LIMIT $2 "
                                            "OFFSET $3"),
                        {account_id, page.limit, page.offset});
    if (!rows) return rows.error();
    return page_of<Member>(c, *rows, read_member, 10,
                           "SELECT COUNT(*) FROM users WHERE account_id = $1", account_id);
  });
}

Result<TwoFactorReset> PostgresStore::reset_two_factor(int64_t user_id, int64_t now,
                                                       const std::vector<OutgoingMail>& mail) {
  return in_transaction(pool_, [&](Connection& c) -> Result<TwoFactorReset> {
    if (Status s = lock_user(c, user_id); !s) return s.error();
    auto revoked_tokens = c.query(
        sql(kApiTokenColumns, "WHERE user_id = $1 AND revoked_at = 0 ORDER BY id FOR UPDATE"),
        {user_id});
    if (!revoked_tokens) return revoked_tokens.error();
    std::vector<ApiToken> api_tokens = read_all<ApiToken>(*revoked_tokens, read_api_token);
    TwoFactorReset reset;
    auto signed_out = sign_out_user(c, user_id, now);
    if (!signed_out) return signed_out.error();
    reset.grants_revoked = signed_out->grants_revoked;
    reset.sessions_ended = signed_out->sessions_ended;
    auto credentials = c.query("DELETE FROM mfa_credentials WHERE user_id = $1", {user_id});
    if (!credentials) return credentials.error();
    auto revoke = c.query(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at = 0",
        {user_id, now});
    if (!revoke) return revoke.error();
    if (Status s = set_two_factor_flag(c, user_id, false); !s) return s.error();
    for (const auto& message : mail) {
      if (auto inserted = insert_mail(c, message); !inserted) return inserted.error();
    }
    for (auto& token : api_tokens) token.revoked_at = now;
    reset.api_tokens = std::move(api_tokens);
    return reset;
  });
}

Result<MemberRemoval> PostgresStore::remove_member(int64_t user_id, int64_t now,
                                                    const std::vector<OutgoingMail>& mail) {
  return in_transaction(pool_, [&](Connection& c) -> Result<MemberRemoval> {
    auto user = c.query("SELECT account_id FROM users WHERE id = $1", {user_id});
    if (!user) return user.error();
    if (user->empty()) return not_found("user " + std::to_string(user_id));
    // The account's row serialises removals across nodes: two admins removed at once must
    // not both see the other still there.
    auto account = c.query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", {user->int64(0, 0)});
    if (!account) return account.error();
    auto admins = c.query(
        "SELECT u.role = $2, (SELECT count(*) FROM users o WHERE o.account_id = u.account_id "
        "AND o.role = $2) FROM users u WHERE id = $1 FOR UPDATE",
        {user_id, kRoleAdmin});
    if (!admins) return admins.error();
    if (admins->empty()) return not_found("user " + std::to_string(user_id));
    if (admins->boolean(0, 0) && admins->int64(0, 1) <= 1)
      return make_error(ErrorCode::kConflict, "the account's last administrator cannot be removed");
    MemberRemoval removal;
    // The notices first: they name the grants' clients and sessions, which the delete takes
    // with it, and they outlive the user (no foreign key), so the applications still hear.
    auto queued = c.query(queue_logouts_sql("g.user_id = $2"), {now, user_id});
    if (!queued) return queued.error();
    removal.logouts_queued = queued->affected();
    const std::pair<const char*, int64_t*> counts[] = {
        {"SELECT count(*) FROM grants WHERE user_id = $1 AND NOT revoked",
         &removal.grants_revoked},
        {"SELECT count(*) FROM sessions WHERE user_id = $1", &removal.sessions_ended}};
    for (const auto& [statement, count] : counts) {
      auto rows = c.query(statement, {user_id});
      if (!rows) return rows.error();
      *count = rows->int64(0, 0);
    }
    // Foreign keys cascade to sessions, grants (and their codes and tokens), credentials,
    // API tokens, consents, consent requests, enrollment links and password resets.
    auto removed = c.query("DELETE FROM users WHERE id = $1", {user_id});
    if (!removed) return removed.error();
    for (const auto& message : mail) {
      if (auto sent = insert_mail(c, message); !sent) return sent.error();
    }
    return removal;
  });
}

Status PostgresStore::update_account_mfa(const AccountMfaChange& change) {
  for (const auto& pending : change.pending_credentials) {
    if (Status s = store_rules::pending_credential(pending); !s) return s;
  }
  return in_transaction(pool_, [&](Connection& c) -> Status {
    // The conditional update is the compare-and-set: a second node racing to enforce waits
    // on the row and then matches nothing.
    auto rows = c.query(
        "UPDATE accounts SET enforce_two_factor = $1, mfa_settings_json = $2 WHERE id = $3 "
        "AND enforce_two_factor = $4",
        {change.enforce_two_factor, change.mfa_settings_json, change.account_id,
         change.was_enforced});
    if (!rows) return rows.error();
    if (rows->affected() == 0) {
      auto exists = c.query("SELECT 1 FROM accounts WHERE id = $1", {change.account_id});
      if (!exists) return exists.error();
      if (exists->empty()) return not_found("account " + std::to_string(change.account_id));
      return make_error(ErrorCode::kConflict, "the account's 2FA setting changed meanwhile");
    }
    for (const auto& pending : change.pending_credentials) {
      auto member = c.query(
          "SELECT 1 FROM users WHERE id = $1 AND account_id = $2 FOR NO KEY UPDATE",
          {pending.user_id, change.account_id});
      if (!member) return member.error();
      if (member->empty())
        return make_error(ErrorCode::kInvalidArgument,
                          "user " + std::to_string(pending.user_id) + " is not in the account");
      if (auto id = put_pending(c, pending); !id) return id.error();
    }
    for (const auto& link : change.links) {
      if (Status s = insert_enrollment_link(c, link); !s) return s;
    }
    for (const auto& message : change.mail) {
      if (auto inserted = insert_mail(c, message); !inserted) return inserted.error();
    }
    return {};
  });
}

}  // namespace keystep::postgres
