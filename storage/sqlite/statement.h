#pragma once
// RAII wrappers over the SQLite C API for storage/sqlite/ only: a prepared statement, a
// transaction guard, and the mapping from SQLite result codes to ErrorCode.
//
// Thread-safety: none of their own. They borrow a connection and must be used only by the
// thread that currently owns it (SqliteStore holds its mutex around every use).
// Extended result codes must be enabled on the connection (sqlite3_extended_result_codes).

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace keystep::sqlite {

// Maps an SQLite result code to our error, keeping SQLite's text (sqlite3_errmsg when db is
// given, else sqlite3_errstr): UNIQUE/PRIMARY KEY -> kAlreadyExists, FOREIGN KEY ->
// kNotFound, CHECK or too big -> kInvalidArgument, BUSY/LOCKED -> kUnavailable, the rest
// -> kInternal.
Error sqlite_error(sqlite3* db, int rc);

// kNotFound with "<what> not found".
inline Error not_found(const std::string& what) {
  return make_error(ErrorCode::kNotFound, what + " not found");
}

// A SELECT's column list (the k*Columns constants) followed by the rest of the statement.
inline std::string sql(std::string_view columns, std::string_view rest) {
  return std::string(columns).append(rest);
}

// Runs trusted SQL text without parameters, possibly several statements (pragmas,
// migrations, transaction control). Never pass text containing caller-supplied values.
Status exec_sql(sqlite3* db, const std::string& sql);

// Finalizes the statements kept for reuse on `db` (see Statement::prepare). Call it before
// closing the connection, when no Statement of it is alive.
void release_statements(sqlite3* db);

class Statement {
 public:
  // On success, a statement compiled from the single SQL statement in sql: a kept one with
  // the same text on the same connection when there is one (reset, bindings cleared), else a
  // new one. A Statement ends by being reset and kept for the next prepare() of its text.
  // On failure, the mapped error (kInternal for a syntax error).
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Bind parameter index (1-based). Values are copied. A failed bind is reported by the
  // next step() or run(), so calls can be chained.
  Statement& bind_int64(int index, int64_t value);
  Statement& bind_bool(int index, bool value);
  Statement& bind_text(int index, std::string_view value);
  // Binary-safe: value may contain NUL bytes.
  Statement& bind_blob(int index, std::string_view value);

  // On success, true when a row is available to the column_* getters, false when done.
  Result<bool> step();
  // Steps a statement that yields no row (INSERT, UPDATE, DELETE) to completion.
  Status run();
  // Makes the statement runnable again and clears its bindings, e.g. to insert in a loop.
  void reset();

  // Column getters for the current row (0-based). NULL reads as 0 or "".
  int64_t column_int64(int col) const;
  bool column_bool(int col) const;
  std::string column_text(int col) const;
  std::string column_blob(int col) const;

 private:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  void note_bind(int index, int rc);

  sqlite3_stmt* stmt_ = nullptr;
  std::string bind_error_;  // first failed bind, reported by step()
  int bind_rc_ = SQLITE_OK;
};

// Rolls back on destruction unless commit() succeeded. Use kImmediate for every read-modify-
// write so the write lock is taken up front and two writers cannot both read the old state;
// kDeferred gives multi-statement reads one consistent snapshot.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };

  // On success, an open transaction. kUnavailable when the database stays locked past the
  // busy timeout.
  static Result<Transaction> begin(sqlite3* db, Mode mode);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // On success the transaction's writes are durable and the destructor does nothing.
  Status commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}

  sqlite3* db_ = nullptr;  // null once committed or moved from
};

}  // namespace keystep::sqlite
