#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "idp/store/read_memo.h"
#include "idp/store/rules.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// client_redirect_uris.kind
constexpr int64_t kRedirectUri = 1;
constexpr int64_t kPostLogoutRedirectUri = 2;

using Mode = Transaction::Mode;

// Row readers: the SELECTs using them start with the matching k*Columns, which list the
// columns in the struct's field order.
constexpr std::string_view kAccountColumns =
    "SELECT id, name, issuer_label, created_at, enforce_two_factor, mfa_settings_json "
    "FROM accounts ";

Account read_account(const Statement& st) {
  return Account{st.column_int64(0), st.column_text(1), st.column_text(2),
                 st.column_int64(3), st.column_bool(4), st.column_text(5)};
}

constexpr std::string_view kUserColumns =
    "SELECT id, account_id, email, password_hash, role, created_at, two_factor_enabled, "
    "display_name, email_verified FROM users ";

User read_user(const Statement& st) {
  return User{st.column_int64(0), st.column_int64(1), st.column_text(2), st.column_text(3),
              st.column_text(4),  st.column_int64(5), st.column_bool(6), st.column_text(7),
              st.column_bool(8)};
}

constexpr std::string_view kClientColumns =
    "SELECT client_id, is_public, secret_hash, created_at, refresh_tokens, refresh_idle_ttl, "
    "refresh_absolute_ttl, first_party, require_two_factor, backchannel_logout_uri, "
    "backchannel_logout_session_required, display_name, logo_uri, home_uri FROM clients ";

Client read_client(const Statement& st) {
  Client client;
  client.client_id = st.column_text(0);
  client.is_public = st.column_bool(1);
  client.secret_hash = st.column_text(2);
  client.created_at = st.column_int64(3);
  client.grants.refresh_tokens = static_cast<RefreshTokens>(st.column_int64(4));
  client.grants.refresh_idle_ttl = st.column_int64(5);
  client.grants.refresh_absolute_ttl = st.column_int64(6);
  client.grants.first_party = st.column_bool(7);
  client.require_two_factor = st.column_bool(8);
  client.backchannel_logout_uri = st.column_text(9);
  client.backchannel_logout_session_required = st.column_bool(10);
  client.display_name = st.column_text(11);
  client.logo_uri = st.column_text(12);
  client.home_uri = st.column_text(13);
  return client;
}

constexpr std::string_view kSessionColumns =
    "SELECT id_hash, sid, user_id, auth_time, acr, amr, created_at, expires_at, password_time, "
    "mfa_time FROM sessions ";

Session read_session(const Statement& st) {
  return Session{st.column_text(0),  st.column_text(1), st.column_int64(2), st.column_int64(3),
                 st.column_text(4),  st.column_text(5), st.column_int64(6), st.column_int64(7),
                 st.column_int64(8), st.column_int64(9)};
}

// dump() throws on strings that are not valid UTF-8: the caller's bad input, not ours.
Result<std::string> json_text(const nlohmann::json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": " + e.what());
  }
}

constexpr std::string_view kCredentialColumns =
    "SELECT id, user_id, provider_id, secret, params, state, counter, version, confirmed, "
    "created_at, last_used_at, label, lookup_key FROM mfa_credentials ";

// A stored params/state that does not parse means the database was changed behind our back.
Result<MfaCredential> read_credential(const Statement& st) {
  MfaCredential c;
  c.id = st.column_int64(0);
  c.user_id = st.column_int64(1);
  c.provider_id = st.column_text(2);
  c.secret = st.column_blob(3);
  c.params = nlohmann::json::parse(st.column_text(4), nullptr, /*allow_exceptions=*/false);
  c.state = nlohmann::json::parse(st.column_text(5), nullptr, /*allow_exceptions=*/false);
  if (c.params.is_discarded() || c.state.is_discarded()) {
    return make_error(ErrorCode::kInternal,
                      "MFA credential " + std::to_string(c.id) + " holds malformed JSON");
  }
  c.counter = st.column_int64(6);
  c.version = st.column_int64(7);
  c.confirmed = st.column_bool(8);
  c.created_at = st.column_int64(9);
  c.last_used_at = st.column_int64(10);
  c.label = st.column_text(11);
  c.lookup_key = st.column_text(12);
  return c;
}

// Deletes the user's credentials of one provider, keeping keep_id (0 keeps none).
Status delete_credentials_of_provider(sqlite3* db, int64_t user_id, const std::string& provider_id,
                                      int64_t keep_id) {
  auto st = Statement::prepare(
      db, "DELETE FROM mfa_credentials WHERE user_id = ?1 AND provider_id = ?2 AND id <> ?3");
  if (!st) return st.error();
  st->bind_int64(1, user_id).bind_text(2, provider_id).bind_int64(3, keep_id);
  return st->run();
}

Status set_two_factor_flag(sqlite3* db, int64_t user_id, bool enabled) {
  auto st = Statement::prepare(db, "UPDATE users SET two_factor_enabled = ?1 WHERE id = ?2");
  if (!st) return st.error();
  st->bind_bool(1, enabled).bind_int64(2, user_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db) == 0) return not_found("user " + std::to_string(user_id));
  return {};
}

// kDenied when the user already holds max_of_provider confirmed credentials of provider_id
// other than except_id.
Status enforce_cap(sqlite3* db, int64_t user_id, const std::string& provider_id,
                   int64_t except_id, int max_of_provider) {
  auto st = Statement::prepare(db,
                               "SELECT COUNT(*) FROM mfa_credentials WHERE user_id = ?1 AND "
                               "provider_id = ?2 AND confirmed = 1 AND id <> ?3");
  if (!st) return st.error();
  st->bind_int64(1, user_id).bind_text(2, provider_id).bind_int64(3, except_id);
  auto row = st->step();
  if (!row) return row.error();
  if (st->column_int64(0) >= max_of_provider) {
    return make_error(ErrorCode::kDenied, "at most " + std::to_string(max_of_provider) + " " +
                                              provider_id + " credentials per user");
  }
  return {};
}

Status delete_credentials_of_user(sqlite3* db, int64_t user_id) {
  auto st = Statement::prepare(db, "DELETE FROM mfa_credentials WHERE user_id = ?1");
  if (!st) return st.error();
  st->bind_int64(1, user_id);
  return st->run();
}

constexpr int kMaxAuditPage = 500;

// Grant columns starting at c: id, client_id, user_id, sid, scope, nonce, auth_time, acr,
// amr, revoked, created_at, requested_claims.
constexpr const char* kGrantColumns =
    "g.id, g.client_id, g.user_id, g.sid, g.scope, g.nonce, g.auth_time, g.acr, g.amr, "
    "g.revoked, g.created_at, g.requested_claims";
Grant read_grant(const Statement& st, int c) {
  return Grant{st.column_text(c),      st.column_text(c + 1),  st.column_int64(c + 2),
               st.column_text(c + 3),  st.column_text(c + 4),  st.column_text(c + 5),
               st.column_int64(c + 6), st.column_text(c + 7),  st.column_text(c + 8),
               st.column_bool(c + 9),  st.column_int64(c + 10), st.column_text(c + 11)};
}

// Token columns from 0: token_hash, grant_id, kind, used, revoked, created_at, expires_at.
// A row of kTokenWithGrant.
Token read_token(const Statement& st) {
  return Token{st.column_text(0),  st.column_text(1),  static_cast<TokenKind>(st.column_int64(2)),
               st.column_bool(3),  st.column_bool(4),  st.column_int64(5),
               st.column_int64(6), st.column_text(19)};
}

// A token with its grant by hash and kind: token columns from 0, grant columns from 7, the
// token's own scope last (19).
const std::string kTokenWithGrant =
    std::string("SELECT t.token_hash, t.grant_id, t.kind, t.used, t.revoked, t.created_at, "
                "t.expires_at, ") +
    kGrantColumns +
    ", t.scope FROM tokens t JOIN grants g ON g.id = t.grant_id "
    "WHERE t.token_hash = ?1 AND t.kind = ?2";

// Queues a back-channel logout (idp/store/logout_store.h) for each client with a
// backchannel_logout_uri holding an unrevoked grant that `grants_where` (a condition on
// grants g, its parameters from ?2) selects, one per client, user and session; ?1 is now. A
// notice queued before for the same client, user and session is not queued again.
std::string queue_logouts_sql(std::string_view grants_where) {
  return std::string(
             "INSERT INTO backchannel_logouts (client_id, uri, user_id, sid, jti, created_at, "
             "next_attempt_at) SELECT g.client_id, c.backchannel_logout_uri, g.user_id, g.sid, "
             "lower(hex(randomblob(16))), ?1, ?1 FROM grants g JOIN clients c ON "
             "c.client_id = g.client_id WHERE g.revoked = 0 AND c.backchannel_logout_uri != '' "
             "AND ") +
         std::string(grants_where) +
         " GROUP BY g.client_id, g.user_id, g.sid ON CONFLICT DO NOTHING";
}

// SQLite would create the database with mode 0644 less the umask, and its -wal and -shm
// take the database's mode: creating the file first, owner-only, keeps all three private
// (they hold password hashes, sealed secrets and the outbox). An empty file is an empty
// database to SQLite. An existing file keeps its mode.
Status create_private_database_file(const std::string& path) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return {};
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return make_error(ErrorCode::kInternal, "creating " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::fchmod(fd, 0600) == 0;  // the umask may have cleared owner bits
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kInternal, "chmod " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  return open(path, kMigrations);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return make_error(ErrorCode::kInternal, "migrations are not in increasing version order");
    }
  }
  if (Status s = create_private_database_file(path); !s) return s.error();
  sqlite3* db = nullptr;
  // Our own mutex serialises the connection, so SQLite's per-connection mutex is redundant.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(db, rc);
    error.code = ErrorCode::kInternal;
    error.message = "opening " + path + ": " + error.message;
    return error;
  }
  sqlite3_commit_hook(
      db,
      [](void* counter) {
        ++*static_cast<std::atomic<int64_t>*>(counter);
        ReadMemo::forget();  // the request that wrote reads afresh (idp/store/read_memo.h)
        return 0;            // 0 lets the commit proceed
      },
      &store->write_transactions_);
  // A write refused (a compare-and-set that lost, a rollback) means another request changed
  // what this one read: it reads afresh too.
  sqlite3_rollback_hook(db, [](void*) { ReadMemo::forget(); }, nullptr);
  std::lock_guard lock(store->mu_);
  if (Status s = store->configure(); !s) return s.error();
  if (Status s = store->migrate(migrations); !s) return s.error();
  const char* file = sqlite3_db_filename(db, "main");
  if (file != nullptr && file[0] != '\0') {
    auto checkpointer = Checkpointer::start(file, store->mu_);
    if (!checkpointer) return checkpointer.error();
    store->checkpointer_ = std::move(*checkpointer);
    store->checkpointer_->watch(db);
    store->path_ = file;
  }
  return store;
}

SqliteStore::~SqliteStore() {
  for (sqlite3* reader : idle_readers_) {
    release_statements(reader);
    sqlite3_close_v2(reader);
  }
  release_statements(db_);
  sqlite3_close_v2(db_);
  checkpointer_.reset();  // after the connection whose hook points at it
}

SqliteStore::Reader::Reader(SqliteStore* store)
    : store_(store), db_(store->db_), writer_lock_(store->mu_) {}

SqliteStore::Reader::~Reader() {
  if (writer_lock_.owns_lock()) return;
  store_->give_back_reader(db_);
}

void SqliteStore::give_back_reader(sqlite3* db) {
  std::lock_guard lock(readers_mu_);
  idle_readers_.push_back(db);
}

sqlite3* SqliteStore::take_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      sqlite3* db = idle_readers_.back();
      idle_readers_.pop_back();
      return db;
    }
  }
  // One more concurrent reader than ever before: at most one connection per thread that
  // calls the store at once, so their number stays bounded by the server's threads.
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close_v2(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return db;
}

SqliteStore::Reader SqliteStore::read_connection() {
  ++read_transactions_;
  if (path_.empty()) return Reader(this);
  if (std::unique_lock<std::mutex> free(mu_, std::try_to_lock); free.owns_lock())
    return Reader(this, std::move(free));
  if (sqlite3* db = take_reader(); db != nullptr) return Reader(this, db);
  return Reader(this);  // reads still work, serialised with the writes as before
}

Status SqliteStore::configure() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  auto wal = Statement::prepare(db_, "PRAGMA journal_mode=WAL");
  if (!wal) return wal.error();
  auto row = wal->step();
  if (!row) return row.error();
  // An in-memory database has no file name and keeps journal_mode "memory".
  const char* file = sqlite3_db_filename(db_, "main");
  if (file != nullptr && file[0] != '\0' && (!*row || wal->column_text(0) != "wal")) {
    return make_error(ErrorCode::kInternal, "cannot switch the database to WAL mode");
  }
  if (Status s = exec_sql(db_, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL"); !s) return s;
  // The pragma is silently ignored by builds without foreign key support; we rely on it.
  auto fk = Statement::prepare(db_, "PRAGMA foreign_keys");
  if (!fk) return fk.error();
  auto fk_row = fk->step();
  if (!fk_row) return fk_row.error();
  if (!*fk_row || fk->column_int64(0) != 1) {
    return make_error(ErrorCode::kInternal, "SQLite build does not enforce foreign keys");
  }
  return {};
}

Status SqliteStore::migrate(const std::vector<Migration>& migrations) {
  Status created = exec_sql(db_,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                            "applied_at INTEGER NOT NULL)");
  if (!created) return created;
  const int known = migrations.empty() ? 0 : migrations.back().version;
  auto refuse_newer = [known](int current) {
    return make_error(ErrorCode::kInternal, "database schema version " + std::to_string(current) +
                                                " is newer than this binary supports (" +
                                                std::to_string(known) +
                                                "); upgrade keystep before opening it");
  };
  auto current = schema_version_locked();
  if (!current) return current.error();
  if (*current > known) return refuse_newer(*current);
  SystemClock clock;
  for (const Migration& migration : migrations) {
    if (migration.version <= *current) continue;
    auto tx = Transaction::begin(db_, Mode::kImmediate);
    if (!tx) return tx.error();
    // Re-read under the write lock: another process may have migrated since the first read.
    current = schema_version_locked();
    if (!current) return current.error();
    if (*current > known) return refuse_newer(*current);
    if (migration.version <= *current) continue;
    if (Status s = exec_sql(db_, std::string(migration.sql)); !s) {
      const ErrorCode code = s.error().code == ErrorCode::kUnavailable ? ErrorCode::kUnavailable
                                                                       : ErrorCode::kInternal;
      return make_error(code,
                        "migration " + std::string(migration.name) + ": " + s.error().message);
    }
    auto record = Statement::prepare(
        db_, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
    if (!record) return record.error();
    record->bind_int64(1, migration.version)
        .bind_text(2, migration.name)
        .bind_int64(3, clock.now());
    if (Status s = record->run(); !s) return s;
    if (Status s = tx->commit(); !s) return s;
    current = migration.version;
  }
  return {};
}

Result<int> SqliteStore::schema_version() {
  std::lock_guard lock(mu_);
  return schema_version_locked();
}

Result<int> SqliteStore::schema_version_locked() {
  auto st = Statement::prepare(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return static_cast<int>(*row ? st->column_int64(0) : 0);
}

// ---- AccountStore

Result<Account> SqliteStore::create_account(const Account& account) {
  std::lock_guard lock(mu_);
  auto st =
      Statement::prepare(db_,
                         "INSERT INTO accounts (name, issuer_label, created_at, "
                         "enforce_two_factor, mfa_settings_json) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return st.error();
  st->bind_text(1, account.name)
      .bind_text(2, account.issuer_label)
      .bind_int64(3, account.created_at)
      .bind_bool(4, account.enforce_two_factor)
      .bind_text(5, account.mfa_settings_json);
  if (Status s = st->run(); !s) return s.error();
  Account created = account;
  created.id = sqlite3_last_insert_rowid(db_);
  return created;
}

Result<Account> SqliteStore::account_by_name(const std::string& name) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(), sql(kAccountColumns, "WHERE name = ?1"));
  if (!st) return st.error();
  st->bind_text(1, name);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("account '" + name + "'");
  return read_account(*st);
}

Result<Account> SqliteStore::account_by_id(int64_t id) {
  return remembered(&ReadMemo::accounts, id, [&]() -> Result<Account> {
    Reader reader = read_connection();
    auto st = Statement::prepare(reader.db(), sql(kAccountColumns, "WHERE id = ?1"));
    if (!st) return st.error();
    st->bind_int64(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return not_found("account " + std::to_string(id));
    return read_account(*st);
  });
}

// ---- UserStore

Result<User> SqliteStore::create_user(const User& user) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto created = insert_user_locked(user);
  if (!created) return created.error();
  if (Status s = tx->commit(); !s) return s.error();
  return created;
}

Result<User> SqliteStore::insert_user_locked(const User& user) {
  // Both the role and the account are foreign keys and SQLite does not say which one failed,
  // so the role is checked first to tell the caller's two mistakes apart.
  auto role = Statement::prepare(db_, "SELECT 1 FROM roles WHERE name = ?1");
  if (!role) return role.error();
  role->bind_text(1, user.role);
  auto role_row = role->step();
  if (!role_row) return role_row.error();
  if (!*role_row)
    return make_error(ErrorCode::kInvalidArgument, "unknown role '" + user.role + "'");

  auto st = Statement::prepare(db_,
                               "INSERT INTO users (account_id, email, password_hash, role, "
                               "created_at, two_factor_enabled, display_name, email_verified) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return st.error();
  st->bind_int64(1, user.account_id)
      .bind_text(2, user.email)
      .bind_text(3, user.password_hash)
      .bind_text(4, user.role)
      .bind_int64(5, user.created_at)
      .bind_bool(6, user.two_factor_enabled)
      .bind_text(7, user.display_name)
      .bind_bool(8, user.email_verified);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound) {
      return not_found("account " + std::to_string(user.account_id));
    }
    return s.error();
  }
  User created = user;
  created.id = sqlite3_last_insert_rowid(db_);
  return created;
}

Result<User> SqliteStore::user_by_id(int64_t id) {
  return remembered(&ReadMemo::users, id, [&]() -> Result<User> {
    Reader reader = read_connection();
    auto st = Statement::prepare(reader.db(), sql(kUserColumns, "WHERE id = ?1"));
    if (!st) return st.error();
    st->bind_int64(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return not_found("user " + std::to_string(id));
    return read_user(*st);
  });
}

Result<User> SqliteStore::user_by_email(int64_t account_id, const std::string& email) {
  Reader reader = read_connection();
  auto st =
      Statement::prepare(reader.db(), sql(kUserColumns, "WHERE account_id = ?1 AND email = ?2"));
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_text(2, email);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("user");
  return read_user(*st);
}

Result<std::vector<User>> SqliteStore::users_by_email(const std::string& email) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(), sql(kUserColumns, "WHERE email = ?1 ORDER BY id"));
  if (!st) return st.error();
  st->bind_text(1, email);
  std::vector<User> users;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    users.push_back(read_user(*st));
  }
  return users;
}

Status SqliteStore::update_password_hash(int64_t user_id, const std::string& password_hash) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, "UPDATE users SET password_hash = ?1 WHERE id = ?2");
  if (!st) return st.error();
  st->bind_text(1, password_hash).bind_int64(2, user_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("user " + std::to_string(user_id));
  return {};
}

Status SqliteStore::update_display_name(int64_t user_id, const std::string& display_name) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, "UPDATE users SET display_name = ?1 WHERE id = ?2");
  if (!st) return st.error();
  st->bind_text(1, display_name).bind_int64(2, user_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("user " + std::to_string(user_id));
  return {};
}

Result<std::vector<std::string>> SqliteStore::role_permissions(const std::string& role) {
  Reader reader = read_connection();
  auto st = Statement::prepare(
      reader.db(), "SELECT permission FROM role_permissions WHERE role = ?1 ORDER BY permission");
  if (!st) return st.error();
  st->bind_text(1, role);
  std::vector<std::string> permissions;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    permissions.push_back(st->column_text(0));
  }
  return permissions;
}

// ---- ClientStore

Status SqliteStore::create_client(const Client& client) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_,
                               "INSERT INTO clients (client_id, is_public, secret_hash, "
                               "created_at, refresh_tokens, refresh_idle_ttl, "
                               "refresh_absolute_ttl, first_party, require_two_factor, "
                               "backchannel_logout_uri, backchannel_logout_session_required, "
                               "display_name, logo_uri, home_uri) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                               "?14)");
  if (!st) return st.error();
  st->bind_text(1, client.client_id)
      .bind_bool(2, client.is_public)
      .bind_text(3, client.secret_hash)
      .bind_int64(4, client.created_at)
      .bind_int64(5, static_cast<int64_t>(client.grants.refresh_tokens))
      .bind_int64(6, client.grants.refresh_idle_ttl)
      .bind_int64(7, client.grants.refresh_absolute_ttl)
      .bind_bool(8, client.grants.first_party)
      .bind_bool(9, client.require_two_factor)
      .bind_text(10, client.backchannel_logout_uri)
      .bind_bool(11, client.backchannel_logout_session_required)
      .bind_text(12, client.display_name)
      .bind_text(13, client.logo_uri)
      .bind_text(14, client.home_uri);
  if (Status s = st->run(); !s) return s;

  auto uri = Statement::prepare(
      db_,
      "INSERT INTO client_redirect_uris (client_id, kind, position, uri) VALUES (?1, ?2, ?3, ?4)");
  if (!uri) return uri.error();
  for (const auto& [kind, list] :
       {std::pair{kRedirectUri, &client.redirect_uris},
        std::pair{kPostLogoutRedirectUri, &client.post_logout_redirect_uris}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      uri->reset();
      uri->bind_text(1, client.client_id)
          .bind_int64(2, kind)
          .bind_int64(3, static_cast<int64_t>(i))
          .bind_text(4, (*list)[i]);
      if (Status s = uri->run(); !s) return s;
    }
  }
  auto origin = Statement::prepare(
      db_,
      "INSERT INTO client_allowed_origins (client_id, position, origin) VALUES (?1, ?2, ?3)");
  if (!origin) return origin.error();
  for (size_t i = 0; i < client.allowed_origins.size(); ++i) {
    origin->reset();
    origin->bind_text(1, client.client_id)
        .bind_int64(2, static_cast<int64_t>(i))
        .bind_text(3, client.allowed_origins[i]);
    if (Status s = origin->run(); !s) return s;
  }
  return tx->commit();
}

Status SqliteStore::update_client(const Client& client) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "UPDATE clients SET refresh_tokens = ?2, refresh_idle_ttl = ?3, "
                               "refresh_absolute_ttl = ?4, first_party = ?5, "
                               "require_two_factor = ?6, backchannel_logout_uri = ?7, "
                               "backchannel_logout_session_required = ?8, display_name = ?9, "
                               "logo_uri = ?10, home_uri = ?11 WHERE client_id = ?1");
  if (!st) return st.error();
  st->bind_text(1, client.client_id)
      .bind_int64(2, static_cast<int64_t>(client.grants.refresh_tokens))
      .bind_int64(3, client.grants.refresh_idle_ttl)
      .bind_int64(4, client.grants.refresh_absolute_ttl)
      .bind_bool(5, client.grants.first_party)
      .bind_bool(6, client.require_two_factor)
      .bind_text(7, client.backchannel_logout_uri)
      .bind_bool(8, client.backchannel_logout_session_required)
      .bind_text(9, client.display_name)
      .bind_text(10, client.logo_uri)
      .bind_text(11, client.home_uri);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("client '" + client.client_id + "'");
  return {};
}

Result<std::vector<std::string>> SqliteStore::clients_requiring_two_factor(int64_t account_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_, "SELECT client_id FROM account_client_policies WHERE account_id = ?1 ORDER BY client_id");
  if (!st) return st.error();
  st->bind_int64(1, account_id);
  std::vector<std::string> ids;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back(st->column_text(0));
  }
  return ids;
}

Status SqliteStore::set_client_requires_two_factor(int64_t account_id,
                                                   const std::string& client_id, bool required) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  // Named rows must exist (the foreign keys would only say "constraint failed").
  auto account = Statement::prepare(db_, "SELECT 1 FROM accounts WHERE id = ?1");
  if (!account) return account.error();
  account->bind_int64(1, account_id);
  auto account_row = account->step();
  if (!account_row) return account_row.error();
  if (!*account_row) return not_found("account " + std::to_string(account_id));
  auto client = Statement::prepare(db_, "SELECT 1 FROM clients WHERE client_id = ?1");
  if (!client) return client.error();
  client->bind_text(1, client_id);
  auto client_row = client->step();
  if (!client_row) return client_row.error();
  if (!*client_row) return not_found("client '" + client_id + "'");
  auto st = Statement::prepare(
      db_, required ? "INSERT INTO account_client_policies (account_id, client_id) VALUES (?1, ?2) "
                      "ON CONFLICT DO NOTHING"
                    : "DELETE FROM account_client_policies WHERE account_id = ?1 AND client_id = ?2");
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_text(2, client_id);
  if (Status s = st->run(); !s) return s;
  return tx->commit();
}

Status SqliteStore::read_client_lists(sqlite3* db, Client& client) {
  auto uris = Statement::prepare(db,
                                 "SELECT kind, uri FROM client_redirect_uris WHERE client_id = ?1 "
                                 "ORDER BY kind, position");
  if (!uris) return uris.error();
  uris->bind_text(1, client.client_id);
  for (;;) {
    auto uri_row = uris->step();
    if (!uri_row) return uri_row.error();
    if (!*uri_row) break;
    auto& list = uris->column_int64(0) == kRedirectUri ? client.redirect_uris
                                                       : client.post_logout_redirect_uris;
    list.push_back(uris->column_text(1));
  }
  auto origins = Statement::prepare(
      db, "SELECT origin FROM client_allowed_origins WHERE client_id = ?1 ORDER BY position");
  if (!origins) return origins.error();
  origins->bind_text(1, client.client_id);
  for (;;) {
    auto row = origins->step();
    if (!row) return row.error();
    if (!*row) break;
    client.allowed_origins.push_back(origins->column_text(0));
  }
  return {};
}

Result<Client> SqliteStore::client_by_id(const std::string& client_id) {
  return remembered(&ReadMemo::clients, client_id, [&]() -> Result<Client> {
    Reader reader = read_connection();
    auto tx = Transaction::begin(reader.db(), Mode::kDeferred);
    if (!tx) return tx.error();
    auto st = Statement::prepare(reader.db(), sql(kClientColumns, "WHERE client_id = ?1"));
    if (!st) return st.error();
    st->bind_text(1, client_id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return not_found("client '" + client_id + "'");
    Client client = read_client(*st);
    if (Status s = read_client_lists(reader.db(), client); !s) return s.error();
    if (Status s = tx->commit(); !s) return s.error();
    return client;
  });
}

Result<std::vector<Client>> SqliteStore::clients() {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kDeferred);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_, sql(kClientColumns, "ORDER BY client_id"));
  if (!st) return st.error();
  std::vector<Client> clients;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    clients.push_back(read_client(*st));
  }
  for (auto& client : clients) {
    if (Status s = read_client_lists(db_, client); !s) return s.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  return clients;
}

// ---- KeyStore

Status SqliteStore::add_signing_key(const SigningKey& key) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (key.active) {
    auto off = Statement::prepare(db_, "UPDATE signing_keys SET active = 0 WHERE active = 1");
    if (!off) return off.error();
    if (Status s = off->run(); !s) return s;
  }
  auto st = Statement::prepare(db_,
                               "INSERT INTO signing_keys (kid, alg, sealed_private_key, "
                               "public_jwk, active, retired, created_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)");
  if (!st) return st.error();
  st->bind_text(1, key.kid)
      .bind_text(2, key.alg)
      .bind_blob(3, key.sealed_private_key)
      .bind_text(4, key.public_jwk)
      .bind_bool(5, key.active)
      .bind_int64(6, key.created_at);
  if (Status s = st->run(); !s) return s;
  return tx->commit();
}

Result<std::vector<SigningKey>> SqliteStore::signing_keys() {
  Reader reader = read_connection();
  // rowid breaks ties between keys created in the same second: the later insert is newer.
  auto st = Statement::prepare(reader.db(),
                               "SELECT kid, alg, sealed_private_key, public_jwk, active, "
                               "created_at FROM signing_keys WHERE retired = 0 "
                               "ORDER BY active DESC, created_at DESC, rowid DESC");
  if (!st) return st.error();
  std::vector<SigningKey> keys;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    keys.push_back(SigningKey{st->column_text(0), st->column_text(1), st->column_blob(2),
                              st->column_text(3), st->column_bool(4), st->column_int64(5)});
  }
  return keys;
}

Status SqliteStore::retire_signing_key(const std::string& kid) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_, "SELECT active FROM signing_keys WHERE kid = ?1");
  if (!st) return st.error();
  st->bind_text(1, kid);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("signing key '" + kid + "'");
  if (st->column_bool(0)) {
    return make_error(ErrorCode::kConflict, "signing key '" + kid + "' is the active key");
  }
  auto retire = Statement::prepare(db_, "UPDATE signing_keys SET retired = 1 WHERE kid = ?1");
  if (!retire) return retire.error();
  retire->bind_text(1, kid);
  if (Status s = retire->run(); !s) return s;
  return tx->commit();
}

// ---- FlowStore

Status SqliteStore::create_flow(const LoginFlow& flow) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "INSERT INTO login_flows (id, browser_binding_hash, csrf_token, "
                               "request_json, progress_json, version, created_at, expires_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return st.error();
  st->bind_text(1, flow.id)
      .bind_text(2, flow.browser_binding_hash)
      .bind_text(3, flow.csrf_token)
      .bind_text(4, flow.request_json)
      .bind_text(5, flow.progress_json)
      .bind_int64(6, flow.version)
      .bind_int64(7, flow.created_at)
      .bind_int64(8, flow.expires_at);
  return st->run();
}

Result<LoginFlow> SqliteStore::flow_by_id(const std::string& id, int64_t now) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(),
                               "SELECT id, browser_binding_hash, csrf_token, request_json, "
                               "progress_json, version, created_at, expires_at "
                               "FROM login_flows WHERE id = ?1");
  if (!st) return st.error();
  st->bind_text(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("login flow");
  LoginFlow flow{st->column_text(0), st->column_text(1),  st->column_text(2),  st->column_text(3),
                 st->column_text(4), st->column_int64(5), st->column_int64(6), st->column_int64(7)};
  if (flow.expires_at <= now) return make_error(ErrorCode::kExpired, "login flow expired");
  return flow;
}

Status SqliteStore::update_flow(const std::string& id, int64_t expected_version,
                                const std::string& progress_json) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s = cas_flow_locked(id, expected_version, &progress_json); !s) return s;
  return tx->commit();
}

Status SqliteStore::cas_flow_locked(const std::string& id, int64_t expected_version,
                                    const std::string* progress_json) {
  auto st = progress_json
                ? Statement::prepare(db_,
                                     "UPDATE login_flows SET progress_json = ?3, "
                                     "version = version + 1 WHERE id = ?1 AND version = ?2")
                : Statement::prepare(db_, "DELETE FROM login_flows WHERE id = ?1 AND version = ?2");
  if (!st) return st.error();
  st->bind_text(1, id).bind_int64(2, expected_version);
  if (progress_json) st->bind_text(3, *progress_json);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) > 0) return {};
  auto exists = Statement::prepare(db_, "SELECT 1 FROM login_flows WHERE id = ?1");
  if (!exists) return exists.error();
  exists->bind_text(1, id);
  auto row = exists->step();
  if (!row) return row.error();
  if (!*row) return not_found("login flow");
  return make_error(ErrorCode::kConflict, "login flow was updated concurrently");
}

Status SqliteStore::delete_flow(const std::string& id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, "DELETE FROM login_flows WHERE id = ?1");
  if (!st) return st.error();
  st->bind_text(1, id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("login flow");
  return {};
}

// ---- SessionStore

Status SqliteStore::create_session(const Session& session) {
  std::lock_guard lock(mu_);
  return insert_session_locked(session);
}

Status SqliteStore::insert_session_locked(const Session& session) {
  auto st = Statement::prepare(db_,
                               "INSERT INTO sessions (id_hash, sid, user_id, auth_time, acr, amr, "
                               "created_at, expires_at, password_time, mfa_time) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!st) return st.error();
  st->bind_text(1, session.id_hash)
      .bind_text(2, session.sid)
      .bind_int64(3, session.user_id)
      .bind_int64(4, session.auth_time)
      .bind_text(5, session.acr)
      .bind_text(6, session.amr)
      .bind_int64(7, session.created_at)
      .bind_int64(8, session.expires_at)
      .bind_int64(9, session.password_time)
      .bind_int64(10, session.mfa_time);
  return st->run();
}

Result<Session> SqliteStore::session_by_id_hash(const std::string& id_hash, int64_t now) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(),
                               sql(kSessionColumns, "WHERE id_hash = ?1 AND expires_at > ?2"));
  if (!st) return st.error();
  st->bind_text(1, id_hash).bind_int64(2, now);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("session");
  return read_session(*st);
}

Result<Session> SqliteStore::session_by_sid(const std::string& sid, int64_t now) {
  Reader reader = read_connection();
  auto st =
      Statement::prepare(reader.db(), sql(kSessionColumns, "WHERE sid = ?1 AND expires_at > ?2"));
  if (!st) return st.error();
  st->bind_text(1, sid).bind_int64(2, now);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("session");
  return read_session(*st);
}

Status SqliteStore::update_session_auth(const Session& session) {
  std::lock_guard lock(mu_);
  return update_session_auth_locked(session);
}

Status SqliteStore::update_session_auth_locked(const Session& session) {
  auto st = Statement::prepare(db_,
                               "UPDATE sessions SET auth_time = ?1, acr = ?2, amr = ?3, "
                               "password_time = ?4, mfa_time = ?5 WHERE id_hash = ?6");
  if (!st) return st.error();
  st->bind_int64(1, session.auth_time)
      .bind_text(2, session.acr)
      .bind_text(3, session.amr)
      .bind_int64(4, session.password_time)
      .bind_int64(5, session.mfa_time)
      .bind_text(6, session.id_hash);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("session");
  return {};
}

Result<int64_t> SqliteStore::end_sessions_locked(std::string_view sids, int64_t now,
                                                 const std::function<void(Statement&)>& bind) {
  // The notices first: they are queued for the grants that are still unrevoked. By sid, not
  // through the sessions table: a grant outlives its session, which may be purged already.
  const std::string in = " IN " + std::string(sids);
  const std::string statements[] = {
      queue_logouts_sql("g.sid" + in),
      "UPDATE tokens SET revoked = 1 WHERE grant_id IN (SELECT id FROM grants WHERE sid" + in +
          ")",
      "UPDATE grants SET revoked = 1 WHERE sid" + in, "DELETE FROM sessions WHERE sid" + in};
  for (const auto& statement : statements) {
    auto st = Statement::prepare(db_, statement);
    if (!st) return st.error();
    st->bind_int64(1, now);
    bind(*st);
    if (Status s = st->run(); !s) return s.error();
  }
  return sqlite3_changes64(db_);
}

Status SqliteStore::end_session(const std::string& sid, int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto ended = end_sessions_locked("(?2)", now, [&](Statement& st) { st.bind_text(2, sid); });
  if (!ended) return ended.error();
  return tx->commit();
}

Result<int64_t> SqliteStore::end_other_sessions(int64_t user_id, const std::string& keep_sid,
                                                int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto ended = end_sessions_locked(
      "(SELECT sid FROM sessions WHERE user_id = ?2 AND sid != ?3)", now, [&](Statement& st) {
    st.bind_int64(2, user_id).bind_text(3, keep_sid);
  });
  if (!ended) return ended.error();
  if (Status s = tx->commit(); !s) return s.error();
  return *ended;
}

Result<SqliteStore::SignedOut> SqliteStore::sign_out_user_locked(int64_t user_id, int64_t now) {
  // By user, not through sessions: a grant (and its 30-day refresh token) outlives the
  // session it was made in, which expires after 12 hours and is then purged.
  auto queued = Statement::prepare(db_, queue_logouts_sql("g.user_id = ?2"));
  if (!queued) return queued.error();
  queued->bind_int64(1, now).bind_int64(2, user_id);
  if (Status s = queued->run(); !s) return s.error();
  SignedOut out;
  const std::pair<const char*, int64_t*> statements[] = {
      {"UPDATE tokens SET revoked = 1 WHERE revoked = 0 AND grant_id IN (SELECT id FROM grants "
       "WHERE user_id = ?1)",
       nullptr},
      {"UPDATE grants SET revoked = 1 WHERE user_id = ?1 AND revoked = 0", &out.grants_revoked},
      {"DELETE FROM sessions WHERE user_id = ?1", &out.sessions_ended}};
  for (const auto& [statement, changes] : statements) {
    auto st = Statement::prepare(db_, statement);
    if (!st) return st.error();
    st->bind_int64(1, user_id);
    if (Status s = st->run(); !s) return s.error();
    if (changes) *changes = sqlite3_changes64(db_);
  }
  return out;
}

Status SqliteStore::commit_flow_step(const FlowStep& step, int64_t now) {
  if (Status s = store_rules::flow_step(step); !s) return s;
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (!step.flow_id.empty()) {
    const std::string* progress = step.progress_json ? &*step.progress_json : nullptr;
    if (Status s = cas_flow_locked(step.flow_id, step.expected_version, progress); !s) return s;
  }
  if (step.credential) {
    Status s = cas_credential_locked(*step.credential, step.credential_version,
                                     step.credential->confirmed);
    if (!s && s.error().code == ErrorCode::kConflict)
      return make_error(ErrorCode::kReplayed, "the credential was used meanwhile");
    if (!s) return s;
  }
  for (const auto& key : step.reset_attempts) {
    if (Status s = reset_attempts_locked(key); !s) return s;
  }
  for (const auto& event : step.audit) {
    if (Status s = append_audit_locked(event); !s) return s;
  }
  if (!step.end_sid.empty()) {
    auto ended =
        end_sessions_locked("(?2)", now, [&](Statement& st) { st.bind_text(2, step.end_sid); });
    if (!ended) return ended.error();
  }
  if (step.session) {
    Status s = step.session_exists ? update_session_auth_locked(*step.session)
                                   : insert_session_locked(*step.session);
    if (!s) return s;
  }
  if (step.grant) {
    if (Status s = insert_grant_with_code_locked(*step.grant, step.code); !s) return s;
  }
  return tx->commit();
}

// ---- GrantStore

Status SqliteStore::create_grant_with_code(const Grant& grant, const AuthCode& code) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s = insert_grant_with_code_locked(grant, code); !s) return s;
  return tx->commit();
}

Status SqliteStore::insert_grant_with_code_locked(const Grant& grant, const AuthCode& code) {
  if (Status s = store_rules::code_of_grant(grant, code); !s) return s;
  auto g = Statement::prepare(db_,
                              "INSERT INTO grants (id, client_id, user_id, sid, scope, nonce, "
                              "auth_time, acr, amr, revoked, created_at, requested_claims) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!g) return g.error();
  g->bind_text(1, grant.id)
      .bind_text(2, grant.client_id)
      .bind_int64(3, grant.user_id)
      .bind_text(4, grant.sid)
      .bind_text(5, grant.scope)
      .bind_text(6, grant.nonce)
      .bind_int64(7, grant.auth_time)
      .bind_text(8, grant.acr)
      .bind_text(9, grant.amr)
      .bind_bool(10, grant.revoked)
      .bind_int64(11, grant.created_at)
      .bind_text(12, grant.requested_claims);
  if (Status s = g->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound) return not_found("client or user of the grant");
    return s;
  }
  auto c = Statement::prepare(db_,
                              "INSERT INTO auth_codes (code_hash, grant_id, redirect_uri, "
                              "code_challenge, used, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!c) return c.error();
  c->bind_text(1, code.code_hash)
      .bind_text(2, grant.id)
      .bind_text(3, code.redirect_uri)
      .bind_text(4, code.code_challenge)
      .bind_bool(5, code.used)
      .bind_int64(6, code.expires_at);
  return c->run();
}

Result<int64_t> SqliteStore::revoke_grant_locked(const std::string& grant_id) {
  auto tokens = Statement::prepare(db_, "UPDATE tokens SET revoked = 1 WHERE grant_id = ?1");
  if (!tokens) return tokens.error();
  tokens->bind_text(1, grant_id);
  if (Status s = tokens->run(); !s) return s.error();
  auto grant = Statement::prepare(db_, "UPDATE grants SET revoked = 1 WHERE id = ?1");
  if (!grant) return grant.error();
  grant->bind_text(1, grant_id);
  if (Status s = grant->run(); !s) return s.error();
  return sqlite3_changes64(db_);
}

Result<GrantStore::Redeemed> SqliteStore::redeem_code(const std::string& code_hash, int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_,
                               std::string("SELECT c.code_hash, c.grant_id, c.redirect_uri, "
                                           "c.code_challenge, c.used, c.expires_at, ") +
                                   kGrantColumns +
                                   " FROM auth_codes c JOIN grants g ON g.id = c.grant_id "
                                   "WHERE c.code_hash = ?1");
  if (!st) return st.error();
  st->bind_text(1, code_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("authorization code");
  Redeemed redeemed{AuthCode{st->column_text(0), st->column_text(1), st->column_text(2),
                             st->column_text(3), st->column_bool(4), st->column_int64(5)},
                    read_grant(*st, 6)};
  if (redeemed.code.used) {
    // RFC 6749 4.1.2: a code used twice revokes what it issued. The revocation must persist
    // even though the call fails, hence the commit before returning the error.
    auto revoked = revoke_grant_locked(redeemed.grant.id);
    if (!revoked) return revoked.error();
    if (Status s = tx->commit(); !s) return s.error();
    return make_error(ErrorCode::kReplayed, "authorization code already used; grant revoked");
  }
  if (Status s = store_rules::redeemable(redeemed, now); !s) return s.error();
  auto use = Statement::prepare(db_, "UPDATE auth_codes SET used = 1 WHERE code_hash = ?1");
  if (!use) return use.error();
  use->bind_text(1, code_hash);
  if (Status s = use->run(); !s) return s.error();
  if (Status s = tx->commit(); !s) return s.error();
  redeemed.code.used = true;
  return redeemed;
}

Result<Grant> SqliteStore::grant_by_id(const std::string& id) {
  Reader reader = read_connection();
  auto st = Statement::prepare(
      reader.db(), std::string("SELECT ") + kGrantColumns + " FROM grants g WHERE g.id = ?1");
  if (!st) return st.error();
  st->bind_text(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("grant");
  return read_grant(*st, 0);
}

Status SqliteStore::insert_token_locked(const Token& token) {
  auto st = Statement::prepare(db_,
                               "INSERT INTO tokens (token_hash, grant_id, kind, used, revoked, "
                               "created_at, expires_at, scope) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st) return st.error();
  st->bind_text(1, token.token_hash)
      .bind_text(2, token.grant_id)
      .bind_int64(3, static_cast<int64_t>(token.kind))
      .bind_bool(4, token.used)
      .bind_bool(5, token.revoked)
      .bind_int64(6, token.created_at)
      .bind_int64(7, token.expires_at)
      .bind_text(8, token.scope);
  return st->run();
}

Status SqliteStore::add_tokens(const std::vector<Token>& tokens) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  for (const Token& token : tokens) {
    auto grant = Statement::prepare(db_, "SELECT revoked FROM grants WHERE id = ?1");
    if (!grant) return grant.error();
    grant->bind_text(1, token.grant_id);
    auto row = grant->step();
    if (!row) return row.error();
    if (!*row) return not_found("grant");
    if (grant->column_bool(0)) return make_error(ErrorCode::kConflict, "grant is revoked");
    if (Status s = insert_token_locked(token); !s) return s;
  }
  return tx->commit();
}

Result<GrantStore::ActiveToken> SqliteStore::active_token(const std::string& token_hash,
                                                          TokenKind kind, int64_t now) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(), kTokenWithGrant);
  if (!st) return st.error();
  st->bind_text(1, token_hash).bind_int64(2, static_cast<int64_t>(kind));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("token");
  ActiveToken found{read_token(*st), read_grant(*st, 7)};
  if (Status s = store_rules::active(found, now); !s) return s.error();
  return found;
}

Status SqliteStore::rotate_refresh_token(const std::string& old_hash, const Token& replacement,
                                         const std::vector<Token>& issued, int64_t now) {
  if (Status s = store_rules::rotation(replacement, issued); !s) return s;
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_, kTokenWithGrant);
  if (!st) return st.error();
  st->bind_text(1, old_hash).bind_int64(2, static_cast<int64_t>(TokenKind::kRefresh));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("refresh token");
  const Token old = read_token(*st);
  const bool grant_revoked = read_grant(*st, 7).revoked;
  if (old.used) {
    // A rotated-away refresh token came back: one of its two holders is an attacker
    // (RFC 9700 4.14.2), so everything the grant issued dies, and that must persist.
    auto revoked = revoke_grant_locked(old.grant_id);
    if (!revoked) return revoked.error();
    if (Status s = tx->commit(); !s) return s;
    return make_error(ErrorCode::kReplayed, "refresh token already used; grant revoked");
  }
  if (Status s = store_rules::rotatable(old, grant_revoked, replacement, now); !s) return s;
  auto use = Statement::prepare(
      db_, "UPDATE tokens SET used = 1 WHERE token_hash = ?1 AND used = 0 AND revoked = 0");
  if (!use) return use.error();
  use->bind_text(1, old_hash);
  if (Status s = use->run(); !s) return s;
  Token fresh = replacement;
  fresh.used = false;
  fresh.revoked = false;
  fresh.scope.clear();
  if (Status s = insert_token_locked(fresh); !s) return s;
  for (const Token& token : issued) {
    if (Status s = insert_token_locked(token); !s) return s;
  }
  return tx->commit();
}

Status SqliteStore::revoke_grant(const std::string& grant_id) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto revoked = revoke_grant_locked(grant_id);
  if (!revoked) return revoked.error();
  if (*revoked == 0) return not_found("grant");
  return tx->commit();
}

Status SqliteStore::revoke_token(const std::string& token_hash, const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(db_,
                               "SELECT t.kind, t.grant_id, g.client_id FROM tokens t "
                               "JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = ?1");
  if (!st) return st.error();
  st->bind_text(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("token");
  const auto kind = static_cast<TokenKind>(st->column_int64(0));
  const std::string grant_id = st->column_text(1);
  if (st->column_text(2) != client_id) {
    return make_error(ErrorCode::kDenied, "the token was issued to another client");
  }
  if (kind == TokenKind::kRefresh) {
    // RFC 7009 §2.1: the refresh token's grant, and so the access tokens it issued, go too.
    if (auto revoked = revoke_grant_locked(grant_id); !revoked) return revoked.error();
  } else {
    auto one = Statement::prepare(db_, "UPDATE tokens SET revoked = 1 WHERE token_hash = ?1");
    if (!one) return one.error();
    one->bind_text(1, token_hash);
    if (Status s = one->run(); !s) return s;
  }
  return tx->commit();
}

// ---- MfaStore

Status SqliteStore::cas_credential_locked(const MfaCredential& updated, int64_t expected_version,
                                          bool confirmed) {
  auto params = json_text(updated.params, "MFA credential params");
  if (!params) return params.error();
  auto state = json_text(updated.state, "MFA credential state");
  if (!state) return state.error();
  auto st = Statement::prepare(db_,
                               "UPDATE mfa_credentials SET counter = ?1, state = ?2, params = ?3, "
                               "confirmed = ?4, last_used_at = ?5, label = ?9, lookup_key = ?10, "
                               "version = version + 1 "
                               "WHERE id = ?6 AND user_id = ?7 AND version = ?8");
  if (!st) return st.error();
  st->bind_int64(1, updated.counter)
      .bind_text(2, *state)
      .bind_text(3, *params)
      .bind_bool(4, confirmed)
      .bind_int64(5, updated.last_used_at)
      .bind_int64(6, updated.id)
      .bind_int64(7, updated.user_id)
      .bind_int64(8, expected_version)
      .bind_text(9, updated.label)
      .bind_text(10, updated.lookup_key);
  if (Status s = st->run(); !s) return store_rules::credential_write_error(s.error(), updated);
  if (sqlite3_changes64(db_) > 0) return {};
  auto exists =
      Statement::prepare(db_, "SELECT 1 FROM mfa_credentials WHERE id = ?1 AND user_id = ?2");
  if (!exists) return exists.error();
  exists->bind_int64(1, updated.id).bind_int64(2, updated.user_id);
  auto row = exists->step();
  if (!row) return row.error();
  if (!*row) return not_found("MFA credential " + std::to_string(updated.id));
  return make_error(ErrorCode::kConflict, "MFA credential was updated concurrently");
}

Result<int64_t> SqliteStore::insert_credential_locked(const MfaCredential& credential) {
  auto params = json_text(credential.params, "MFA credential params");
  if (!params) return params.error();
  auto state = json_text(credential.state, "MFA credential state");
  if (!state) return state.error();
  auto st = Statement::prepare(db_,
                               "INSERT INTO mfa_credentials (user_id, provider_id, secret, params, "
                               "state, counter, version, confirmed, created_at, last_used_at, "
                               "label, lookup_key) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11)");
  if (!st) return st.error();
  st->bind_int64(1, credential.user_id)
      .bind_text(2, credential.provider_id)
      .bind_blob(3, credential.secret)
      .bind_text(4, *params)
      .bind_text(5, *state)
      .bind_int64(6, credential.counter)
      .bind_bool(7, credential.confirmed)
      .bind_int64(8, credential.created_at)
      .bind_int64(9, credential.last_used_at)
      .bind_text(10, credential.label)
      .bind_text(11, credential.lookup_key);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound) {
      return not_found("user " + std::to_string(credential.user_id));
    }
    return store_rules::credential_write_error(s.error(), credential);
  }
  return sqlite3_last_insert_rowid(db_);
}

Result<int64_t> SqliteStore::put_pending_locked(const MfaCredential& pending) {
  auto drop = Statement::prepare(
      db_, "DELETE FROM mfa_credentials WHERE user_id = ?1 AND provider_id = ?2 AND confirmed = 0");
  if (!drop) return drop.error();
  drop->bind_int64(1, pending.user_id).bind_text(2, pending.provider_id);
  if (Status s = drop->run(); !s) return s.error();
  return insert_credential_locked(pending);
}

Result<std::vector<MfaCredential>> SqliteStore::credentials_of_user(int64_t user_id) {
  return remembered(&ReadMemo::credentials, user_id, [&]() -> Result<std::vector<MfaCredential>> {
    Reader reader = read_connection();
    auto st = Statement::prepare(
        reader.db(), sql(kCredentialColumns, "WHERE user_id = ?1 ORDER BY created_at, id"));
    if (!st) return st.error();
    st->bind_int64(1, user_id);
    std::vector<MfaCredential> credentials;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      auto credential = read_credential(*st);
      if (!credential) return credential.error();
      credentials.push_back(std::move(credential).value());
    }
    return credentials;
  });
}

Result<MfaCredential> SqliteStore::put_pending_credential(const MfaCredential& pending) {
  if (Status s = store_rules::pending_credential(pending); !s) return s.error();
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto id = put_pending_locked(pending);
  if (!id) return id.error();
  if (Status s = tx->commit(); !s) return s.error();
  MfaCredential stored = pending;
  stored.id = *id;
  stored.version = 0;
  return stored;
}

Status SqliteStore::update_credential(const MfaCredential& updated, int64_t expected_version) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s = cas_credential_locked(updated, expected_version, updated.confirmed); !s) return s;
  return tx->commit();
}

Status SqliteStore::enable_two_factor(const MfaCredential& confirmed, int64_t expected_version,
                                      const std::optional<MfaCredential>& recovery_codes,
                                      bool user_setting_on, int max_of_provider) {
  if (Status s = store_rules::credential_cap(max_of_provider); !s) return s;
  if (Status s = store_rules::recovery_codes_for(confirmed, recovery_codes); !s) return s;
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s = cas_credential_locked(confirmed, expected_version, true); !s) return s;
  if (Status s = enforce_cap(db_, confirmed.user_id, confirmed.provider_id, confirmed.id,
                             max_of_provider);
      !s) {
    return s;
  }
  if (recovery_codes) {
    if (Status s = delete_credentials_of_provider(db_, confirmed.user_id,
                                                  recovery_codes->provider_id, 0);
        !s) {
      return s;
    }
    if (auto id = insert_credential_locked(*recovery_codes); !id) return id.error();
  }
  if (user_setting_on) {
    if (Status s = set_two_factor_flag(db_, confirmed.user_id, true); !s) return s;
  }
  return tx->commit();
}

Result<MfaCredential> SqliteStore::add_credential(const MfaCredential& confirmed,
                                                  int max_of_provider) {
  if (Status s = store_rules::added_credential(confirmed); !s) return s.error();
  if (Status s = store_rules::credential_cap(max_of_provider); !s) return s.error();
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  // Inserted first: an unknown user is kNotFound (foreign key), not a cap of zero held.
  auto id = insert_credential_locked(confirmed);
  if (!id) return id.error();
  if (Status s = enforce_cap(db_, confirmed.user_id, confirmed.provider_id, *id,
                             max_of_provider);
      !s) {
    return s.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  MfaCredential stored = confirmed;
  stored.id = *id;
  stored.version = 0;
  return stored;
}

Status SqliteStore::remove_credential(int64_t user_id, int64_t credential_id,
                                      int64_t expected_version,
                                      const std::vector<std::string>& factor_providers,
                                      LastFactor when_last) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto found = Statement::prepare(
      db_, "SELECT provider_id, version, confirmed FROM mfa_credentials WHERE id = ?1 AND "
           "user_id = ?2");
  if (!found) return found.error();
  found->bind_int64(1, credential_id).bind_int64(2, user_id);
  auto row = found->step();
  if (!row) return row.error();
  if (!*row) return not_found("MFA credential " + std::to_string(credential_id));
  const std::string provider_id = found->column_text(0);
  if (found->column_int64(1) != expected_version) {
    return make_error(ErrorCode::kConflict, "MFA credential was updated concurrently");
  }
  const bool is_factor = found->column_bool(2) &&
                         std::find(factor_providers.begin(), factor_providers.end(),
                                   provider_id) != factor_providers.end();
  bool last = false;
  if (is_factor) {
    // The factor providers are few and named by the caller: one count per provider keeps the
    // statement's text fixed.
    int64_t others = 0;
    for (const std::string& factor : factor_providers) {
      auto count = Statement::prepare(db_,
                                      "SELECT COUNT(*) FROM mfa_credentials WHERE user_id = ?1 "
                                      "AND provider_id = ?2 AND confirmed = 1 AND id <> ?3");
      if (!count) return count.error();
      count->bind_int64(1, user_id).bind_text(2, factor).bind_int64(3, credential_id);
      auto counted = count->step();
      if (!counted) return counted.error();
      others += count->column_int64(0);
    }
    last = others == 0;
  }
  if (last && when_last == LastFactor::kRefuse) {
    return make_error(ErrorCode::kConflict, "it is the user's last second factor");
  }
  if (last) {
    if (Status s = delete_credentials_of_user(db_, user_id); !s) return s;
    if (Status s = set_two_factor_flag(db_, user_id, false); !s) return s;
  } else {
    auto drop = Statement::prepare(db_, "DELETE FROM mfa_credentials WHERE id = ?1");
    if (!drop) return drop.error();
    drop->bind_int64(1, credential_id);
    if (Status s = drop->run(); !s) return s;
  }
  return tx->commit();
}

Status SqliteStore::set_two_factor_setting(int64_t user_id, bool on) {
  std::lock_guard lock(mu_);
  return set_two_factor_flag(db_, user_id, on);
}

Status SqliteStore::replace_credentials(const MfaCredential& replacement) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s =
          delete_credentials_of_provider(db_, replacement.user_id, replacement.provider_id, 0);
      !s) {
    return s;
  }
  if (auto id = insert_credential_locked(replacement); !id) return id.error();
  return tx->commit();
}

Status SqliteStore::disable_two_factor(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  if (Status s = delete_credentials_of_user(db_, user_id); !s) return s;
  if (Status s = set_two_factor_flag(db_, user_id, false); !s) return s;
  return tx->commit();
}

Result<AttemptState> SqliteStore::attempts(const std::string& key) {
  Reader reader = read_connection();
  auto st = Statement::prepare(reader.db(),
                               "SELECT failures, last_failure_at FROM attempts WHERE key = ?1");
  if (!st) return st.error();
  st->bind_text(1, key);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return AttemptState{};
  return AttemptState{st->column_int64(0), st->column_int64(1)};
}

Result<AttemptState> SqliteStore::record_failure(const std::string& key, int64_t now) {
  std::lock_guard lock(mu_);
  // One statement, so the increment is atomic across connections without a transaction.
  auto st =
      Statement::prepare(db_,
                         "INSERT INTO attempts (key, failures, last_failure_at) "
                         "VALUES (?1, 1, ?2) ON CONFLICT (key) DO UPDATE SET "
                         "failures = failures + 1, last_failure_at = excluded.last_failure_at "
                         "RETURNING failures, last_failure_at");
  if (!st) return st.error();
  st->bind_text(1, key).bind_int64(2, now);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kInternal, "attempt counter returned no row");
  AttemptState state{st->column_int64(0), st->column_int64(1)};
  auto done = st->step();
  if (!done) return done.error();
  return state;
}

Result<bool> SqliteStore::record_failure_if(const std::string& key, const AttemptState& expected,
                                            int64_t now) {
  std::lock_guard lock(mu_);
  // One statement either way, so the comparison and the count are atomic across connections.
  // A key without failures has no row (reset_attempts deletes it).
  auto st = Statement::prepare(
      db_, expected.failures == 0
               ? "INSERT INTO attempts (key, failures, last_failure_at) VALUES (?1, 1, ?4) "
                 "ON CONFLICT (key) DO NOTHING"
               : "UPDATE attempts SET failures = failures + 1, last_failure_at = ?4 "
                 "WHERE key = ?1 AND failures = ?2 AND last_failure_at = ?3");
  if (!st) return st.error();
  st->bind_text(1, key);
  if (expected.failures != 0)
    st->bind_int64(2, expected.failures).bind_int64(3, expected.last_failure_at);
  st->bind_int64(4, now);
  if (Status s = st->run(); !s) return s.error();
  return sqlite3_changes64(db_) == 1;
}

Status SqliteStore::reset_attempts(const std::string& key) {
  std::lock_guard lock(mu_);
  return reset_attempts_locked(key);
}

Status SqliteStore::reset_attempts_locked(const std::string& key) {
  auto st = Statement::prepare(db_, "DELETE FROM attempts WHERE key = ?1");
  if (!st) return st.error();
  st->bind_text(1, key);
  return st->run();
}

Status SqliteStore::append_audit(const AuditEvent& event) {
  std::lock_guard lock(mu_);
  return append_audit_locked(event);
}

Status SqliteStore::append_audit_locked(const AuditEvent& event) {
  auto st = Statement::prepare(db_,
                               "INSERT INTO audit_log (at, account_id, user_id, event, address, "
                               "detail, request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!st) return st.error();
  st->bind_int64(1, event.at)
      .bind_int64(2, event.account_id)
      .bind_int64(3, event.user_id)
      .bind_text(4, event.event)
      .bind_text(5, event.address)
      .bind_text(6, event.detail)
      .bind_text(7, event.request_id);
  return st->run();
}

Result<std::vector<AuditEvent>> SqliteStore::audit_events(int64_t account_id, int64_t before_id,
                                                          int limit) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_,
                               "SELECT id, at, account_id, user_id, event, address, detail, "
                               "request_id FROM audit_log WHERE account_id = ?1 AND id < ?2 "
                               "ORDER BY id DESC LIMIT ?3");
  if (!st) return st.error();
  st->bind_int64(1, account_id)
      .bind_int64(2, before_id > 0 ? before_id : INT64_MAX)
      .bind_int64(3, std::clamp(limit, 1, kMaxAuditPage));
  std::vector<AuditEvent> events;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    events.push_back(AuditEvent{st->column_int64(0), st->column_int64(1), st->column_int64(2),
                                st->column_int64(3), st->column_text(4), st->column_text(5),
                                st->column_text(6), st->column_text(7)});
  }
  return events;
}

// ---- Store

Status SqliteStore::ping() {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, "SELECT 1");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return {};
}

Result<int64_t> SqliteStore::purge_expired(int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  int64_t deleted = 0;
  const std::string pending_purge =
      std::string("DELETE FROM mfa_credentials WHERE confirmed = 0 AND json_extract(state, '$.") +
      kPendingExpiresAt + "') <= ?1";
  const std::pair<const char*, int64_t> purges[] = {
      {"DELETE FROM login_flows WHERE expires_at <= ?1", now},
      {"DELETE FROM sessions WHERE expires_at <= ?1", now},
      {"DELETE FROM auth_codes WHERE expires_at <= ?1", now},
      {"DELETE FROM tokens WHERE expires_at <= ?1", now},
      {"DELETE FROM enrollment_links WHERE expires_at <= ?1", now},
      {"DELETE FROM password_resets WHERE expires_at <= ?1", now},
      {pending_purge.c_str(), now},
      {"DELETE FROM consent_requests WHERE expires_at <= ?1", now},
      {"DELETE FROM mail_outbox WHERE sent_at > 0 AND sent_at <= ?1", now - kSentMailRetention},
      {"DELETE FROM backchannel_logouts WHERE delivered_at > 0 AND delivered_at <= ?1",
       now - kSentMailRetention}};
  for (const auto& [sql, cutoff] : purges) {
    auto st = Statement::prepare(db_, sql);
    if (!st) return st.error();
    st->bind_int64(1, cutoff);
    if (Status s = st->run(); !s) return s.error();
    deleted += sqlite3_changes64(db_);
  }
  if (Status s = tx->commit(); !s) return s.error();
  return deleted;
}

// ---- AdminStore

namespace {

constexpr std::string_view kApiTokenColumns =
    "SELECT id, account_id, user_id, name, token_hash, created_at, revoked_at, expires_at FROM "
    "api_tokens ";

ApiToken read_api_token(const Statement& st) {
  return ApiToken{st.column_int64(0), st.column_int64(1), st.column_int64(2), st.column_text(3),
                  st.column_text(4),  st.column_int64(5), st.column_int64(6), st.column_int64(7)};
}

// The member's confirmed providers as one text joined with kProviderSeparator.
constexpr std::string_view kMemberColumns =
    "SELECT u.id, u.account_id, u.email, u.password_hash, u.role, u.created_at, "
    "u.two_factor_enabled, u.display_name, u.email_verified, (SELECT group_concat(p, char(31)) "
    "FROM (SELECT DISTINCT c.provider_id AS p FROM mfa_credentials c WHERE c.user_id = u.id "
    "AND c.confirmed = 1)) FROM users u ";
constexpr char kProviderSeparator = '\x1f';

Member read_member(const Statement& row) {
  Member member{read_user(row), {}};
  const std::string joined = row.column_text(9);
  for (size_t start = 0; start < joined.size();) {
    size_t end = joined.find(kProviderSeparator, start);
    if (end == std::string::npos) end = joined.size();
    member.confirmed_providers.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return member;
}

// Every row of `st` (bound already) read with `read`.
template <class T, class Read>
Result<std::vector<T>> read_all(Statement& st, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(st));
  }
}

}  // namespace

Result<int64_t> SqliteStore::count_locked(std::string_view count_sql, int64_t id) {
  auto st = Statement::prepare(db_, std::string(count_sql));
  if (!st) return st.error();
  st->bind_int64(1, id);
  auto row = st->step();
  if (!row) return row.error();
  return *row ? st->column_int64(0) : 0;
}

Result<ApiToken> SqliteStore::create_api_token(const ApiToken& token) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto check = Statement::prepare(db_, "SELECT 1 FROM users WHERE id = ?1 AND account_id = ?2");
  if (!check) return check.error();
  check->bind_int64(1, token.user_id).bind_int64(2, token.account_id);
  auto row = check->step();
  if (!row) return row.error();
  if (!*row) return not_found("user " + std::to_string(token.user_id) + " in the account");
  auto st = Statement::prepare(db_,
                               "INSERT INTO api_tokens (account_id, user_id, name, token_hash, "
                               "created_at, revoked_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                               "0, ?6)");
  if (!st) return st.error();
  st->bind_int64(1, token.account_id)
      .bind_int64(2, token.user_id)
      .bind_text(3, token.name)
      .bind_text(4, token.token_hash)
      .bind_int64(5, token.created_at)
      .bind_int64(6, token.expires_at);
  if (Status s = st->run(); !s) return s.error();
  ApiToken created = token;
  created.id = sqlite3_last_insert_rowid(db_);
  created.revoked_at = 0;
  if (Status s = tx->commit(); !s) return s.error();
  return created;
}

Result<ApiToken> SqliteStore::api_token_by_hash(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  auto st =
      Statement::prepare(db_, sql(kApiTokenColumns, "WHERE token_hash = ?1 AND revoked_at = 0"));
  if (!st) return st.error();
  st->bind_text(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("API token");
  return read_api_token(*st);
}

Result<std::vector<ApiToken>> SqliteStore::api_tokens(int64_t account_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(db_, sql(kApiTokenColumns, "WHERE account_id = ?1 ORDER BY id"));
  if (!st) return st.error();
  st->bind_int64(1, account_id);
  return read_all<ApiToken>(*st, read_api_token);
}

Result<Page<ApiToken>> SqliteStore::api_tokens_page(int64_t account_id, PageRequest page) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kDeferred);
  if (!tx) return tx.error();
  auto st = Statement::prepare(
      db_, sql(kApiTokenColumns, "WHERE account_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"));
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_int64(2, page.limit).bind_int64(3, page.offset);
  auto items = read_all<ApiToken>(*st, read_api_token);
  if (!items) return items.error();
  auto total = count_locked("SELECT COUNT(*) FROM api_tokens WHERE account_id = ?1", account_id);
  if (!total) return total.error();
  if (Status s = tx->commit(); !s) return s.error();
  return Page<ApiToken>{std::move(*items), *total};
}

Status SqliteStore::revoke_api_token(int64_t account_id, int64_t token_id, int64_t now) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_,
      "UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND account_id = ?3 AND "
      "revoked_at = 0");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, token_id).bind_int64(3, account_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) return not_found("API token " + std::to_string(token_id));
  return {};
}

Result<std::vector<Member>> SqliteStore::members(int64_t account_id) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_, sql(kMemberColumns, "WHERE u.account_id = ?1 ORDER BY u.email, u.id"));
  if (!st) return st.error();
  st->bind_int64(1, account_id);
  return read_all<Member>(*st, read_member);
}

Result<Page<Member>> SqliteStore::members_page(int64_t account_id, PageRequest page) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kDeferred);
  if (!tx) return tx.error();
  auto st = Statement::prepare(
      db_,
      sql(kMemberColumns, "WHERE u.account_id = ?1 ORDER BY u.email, u.id LIMIT ?2 OFFSET ?3"));
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_int64(2, page.limit).bind_int64(3, page.offset);
  auto items = read_all<Member>(*st, read_member);
  if (!items) return items.error();
  auto total = count_locked("SELECT COUNT(*) FROM users WHERE account_id = ?1", account_id);
  if (!total) return total.error();
  if (Status s = tx->commit(); !s) return s.error();
  return Page<Member>{std::move(*items), *total};
}

Result<TwoFactorReset> SqliteStore::reset_two_factor(int64_t user_id, int64_t now,
                                                     const std::vector<OutgoingMail>& mail) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto exists = Statement::prepare(db_, "SELECT 1 FROM users WHERE id = ?1");
  if (!exists) return exists.error();
  exists->bind_int64(1, user_id);
  auto row = exists->step();
  if (!row) return row.error();
  if (!*row) return not_found("user " + std::to_string(user_id));
  auto revoked_tokens = Statement::prepare(
      db_, sql(kApiTokenColumns, "WHERE user_id = ?1 AND revoked_at = 0 ORDER BY id"));
  if (!revoked_tokens) return revoked_tokens.error();
  revoked_tokens->bind_int64(1, user_id);
  auto api_tokens = read_all<ApiToken>(*revoked_tokens, read_api_token);
  if (!api_tokens) return api_tokens.error();
  TwoFactorReset reset;
  auto signed_out = sign_out_user_locked(user_id, now);
  if (!signed_out) return signed_out.error();
  reset.grants_revoked = signed_out->grants_revoked;
  reset.sessions_ended = signed_out->sessions_ended;
  const char* const statements[] = {
      "DELETE FROM mfa_credentials WHERE user_id = ?1",
      "UPDATE api_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at = 0"};
  for (const char* statement : statements) {
    auto st = Statement::prepare(db_, statement);
    if (!st) return st.error();
    st->bind_int64(1, user_id);
    if (std::string_view(statement).find("?2") != std::string_view::npos) st->bind_int64(2, now);
    if (Status s = st->run(); !s) return s.error();
  }
  if (Status s = set_two_factor_flag(db_, user_id, false); !s) return s.error();
  for (const auto& message : mail) {
    if (auto queued = insert_mail_locked(message); !queued) return queued.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  for (auto& token : *api_tokens) token.revoked_at = now;
  reset.api_tokens = std::move(*api_tokens);
  return reset;
}

Result<MemberRemoval> SqliteStore::remove_member(int64_t user_id, int64_t now,
                                                  const std::vector<OutgoingMail>& mail) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto user = Statement::prepare(
      db_,
      "SELECT role = ?2, (SELECT count(*) FROM users o WHERE o.account_id = u.account_id AND "
      "o.role = ?2) FROM users u WHERE id = ?1");
  if (!user) return user.error();
  user->bind_int64(1, user_id).bind_text(2, kRoleAdmin);
  auto row = user->step();
  if (!row) return row.error();
  if (!*row) return not_found("user " + std::to_string(user_id));
  if (user->column_bool(0) && user->column_int64(1) <= 1)
    return make_error(ErrorCode::kConflict, "the account's last administrator cannot be removed");
  MemberRemoval removal;
  // The notices first: they name the grants' clients and sessions, which the delete takes
  // with it, and they outlive the user (no foreign key), so the applications still hear.
  auto queued = Statement::prepare(db_, queue_logouts_sql("g.user_id = ?2"));
  if (!queued) return queued.error();
  queued->bind_int64(1, now).bind_int64(2, user_id);
  if (Status s = queued->run(); !s) return s.error();
  removal.logouts_queued = sqlite3_changes64(db_);
  const std::pair<const char*, int64_t*> statements[] = {
      {"SELECT count(*) FROM grants WHERE user_id = ?1 AND revoked = 0", &removal.grants_revoked},
      {"SELECT count(*) FROM sessions WHERE user_id = ?1", &removal.sessions_ended}};
  for (const auto& [statement, count] : statements) {
    auto st = Statement::prepare(db_, statement);
    if (!st) return st.error();
    st->bind_int64(1, user_id);
    auto counted = st->step();
    if (!counted) return counted.error();
    *count = st->column_int64(0);
  }
  // Foreign keys cascade to sessions, grants (and their codes and tokens), credentials,
  // API tokens, consents, consent requests and enrollment links.
  auto removed = Statement::prepare(db_, "DELETE FROM users WHERE id = ?1");
  if (!removed) return removed.error();
  removed->bind_int64(1, user_id);
  if (Status s = removed->run(); !s) return s.error();
  for (const auto& message : mail) {
    if (auto sent = insert_mail_locked(message); !sent) return sent.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  return removal;
}

Status SqliteStore::update_account_mfa(const AccountMfaChange& change) {
  for (const auto& pending : change.pending_credentials) {
    if (Status s = store_rules::pending_credential(pending); !s) return s;
  }
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Mode::kImmediate);
  if (!tx) return tx.error();
  auto st = Statement::prepare(
      db_,
      "UPDATE accounts SET enforce_two_factor = ?1, mfa_settings_json = ?2 WHERE id = ?3 "
      "AND enforce_two_factor = ?4");
  if (!st) return st.error();
  st->bind_bool(1, change.enforce_two_factor)
      .bind_text(2, change.mfa_settings_json)
      .bind_int64(3, change.account_id)
      .bind_bool(4, change.was_enforced);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0) {
    auto exists = Statement::prepare(db_, "SELECT 1 FROM accounts WHERE id = ?1");
    if (!exists) return exists.error();
    exists->bind_int64(1, change.account_id);
    auto row = exists->step();
    if (!row) return row.error();
    if (!*row) return not_found("account " + std::to_string(change.account_id));
    return make_error(ErrorCode::kConflict, "the account's 2FA setting changed meanwhile");
  }
  for (const auto& pending : change.pending_credentials) {
    auto member = Statement::prepare(db_, "SELECT 1 FROM users WHERE id = ?1 AND account_id = ?2");
    if (!member) return member.error();
    member->bind_int64(1, pending.user_id).bind_int64(2, change.account_id);
    auto row = member->step();
    if (!row) return row.error();
    if (!*row)
      return make_error(ErrorCode::kInvalidArgument,
                        "user " + std::to_string(pending.user_id) + " is not in the account");
    if (auto id = put_pending_locked(pending); !id) return id.error();
  }
  for (const auto& link : change.links) {
    if (Status s = insert_enrollment_link_locked(link); !s) return s;
  }
  for (const auto& message : change.mail) {
    if (auto queued = insert_mail_locked(message); !queued) return queued.error();
  }
  return tx->commit();
}

}  // namespace keystep::sqlite
