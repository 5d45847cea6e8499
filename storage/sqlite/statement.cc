#include "storage/sqlite/statement.h"

#include <climits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keystep::sqlite {

Error sqlite_error(sqlite3* db, int rc) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return make_error(ErrorCode::kAlreadyExists, std::move(message));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return make_error(ErrorCode::kNotFound, std::move(message));
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_TOOBIG:
      return make_error(ErrorCode::kInvalidArgument, std::move(message));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return make_error(ErrorCode::kUnavailable, std::move(message));
    default:
      return make_error(ErrorCode::kInternal, std::move(message));
  }
}

Status exec_sql(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  Error error = sqlite_error(db, rc);
  if (message != nullptr) {
    error.message = message;
    sqlite3_free(message);
  }
  return error;
}

namespace {

// Compiled statements kept for reuse, per connection and SQL text. Compiling costs more than
// running most of our statements, so a statement is reset and kept when its Statement ends
// and handed out again by the next prepare() of the same text on the same connection.
struct StatementPool {
  std::mutex mu;
  std::unordered_map<sqlite3*, std::unordered_map<std::string, std::vector<sqlite3_stmt*>>> idle;
};

StatementPool& pool() {
  static StatementPool* instance = new StatementPool;  // never destroyed: used until exit
  return *instance;
}

sqlite3_stmt* take_pooled(sqlite3* db, std::string_view sql) {
  StatementPool& p = pool();
  std::lock_guard lock(p.mu);
  auto conn = p.idle.find(db);
  if (conn == p.idle.end()) return nullptr;
  auto it = conn->second.find(std::string(sql));
  if (it == conn->second.end() || it->second.empty()) return nullptr;
  sqlite3_stmt* stmt = it->second.back();
  it->second.pop_back();
  return stmt;
}

void give_back(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  StatementPool& p = pool();
  std::lock_guard lock(p.mu);
  p.idle[sqlite3_db_handle(stmt)][sqlite3_sql(stmt)].push_back(stmt);
}

}  // namespace

void release_statements(sqlite3* db) {
  StatementPool& p = pool();
  std::lock_guard lock(p.mu);
  auto conn = p.idle.find(db);
  if (conn == p.idle.end()) return;
  for (auto& [sql, stmts] : conn->second)
    for (sqlite3_stmt* stmt : stmts) sqlite3_finalize(stmt);
  p.idle.erase(conn);
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  if (sqlite3_stmt* pooled = take_pooled(db, sql)) return Statement(pooled);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_error(db, rc);
  }
  return Statement(stmt);
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(std::move(other.bind_error_)),
      bind_rc_(std::exchange(other.bind_rc_, SQLITE_OK)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) give_back(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = std::move(other.bind_error_);
    bind_rc_ = std::exchange(other.bind_rc_, SQLITE_OK);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) give_back(stmt_);
}

void Statement::note_bind(int index, int rc) {
  if (rc == SQLITE_OK || bind_rc_ != SQLITE_OK) return;
  bind_rc_ = rc;
  bind_error_ = "binding parameter " + std::to_string(index) + ": " + sqlite3_errstr(rc);
}

Statement& Statement::bind_int64(int index, int64_t value) {
  note_bind(index, sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_bool(int index, bool value) { return bind_int64(index, value ? 1 : 0); }

Statement& Statement::bind_text(int index, std::string_view value) {
  if (value.size() > INT_MAX) {
    note_bind(index, SQLITE_TOOBIG);
    return *this;
  }
  note_bind(index, sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view value) {
  if (value.size() > INT_MAX) {
    note_bind(index, SQLITE_TOOBIG);
    return *this;
  }
  // A null pointer would bind SQL NULL; an empty view must stay an empty blob.
  const char* data = value.data() != nullptr ? value.data() : "";
  note_bind(index, sqlite3_bind_blob(stmt_, index, data, static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    Error error = sqlite_error(nullptr, bind_rc_);
    error.message = bind_error_;
    return error;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(stmt_), rc);
}

Status Statement::run() {
  Result<bool> row = step();
  if (!row) return row.error();
  if (*row) return make_error(ErrorCode::kInternal, "statement unexpectedly returned a row");
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
  bind_error_.clear();
}

int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

bool Statement::column_bool(int col) const { return sqlite3_column_int64(stmt_, col) != 0; }

std::string Statement::column_text(int col) const {
  // Text first, then bytes: that order gives the length of the UTF-8 form just fetched.
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  int size = sqlite3_column_bytes(stmt_, col);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::column_blob(int col) const {
  const void* blob = sqlite3_column_blob(stmt_, col);
  int size = sqlite3_column_bytes(stmt_, col);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

namespace {
// Transaction control through pooled statements: compiling BEGIN/COMMIT on every
// transaction was a measurable share of a login (docs/performance.md).
Status run_control(sqlite3* db, std::string_view sql) {
  auto st = Statement::prepare(db, sql);
  if (!st) return st.error();
  return st->run();
}
}  // namespace

Result<Transaction> Transaction::begin(sqlite3* db, Mode mode) {
  Status status = run_control(db, mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!status) return status.error();
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Some errors (I/O, out of memory) already rolled the transaction back; a second
  // ROLLBACK would only fail.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    static_cast<void>(run_control(db_, "ROLLBACK"));
  }
}

Status Transaction::commit() {
  Status status = run_control(db_, "COMMIT");
  if (status) db_ = nullptr;
  return status;
}

}  // namespace keystep::sqlite
