#include "storage/postgres/copy_from_sqlite.h"

#include <sqlite3.h>

#include <memory>

#include "storage/postgres/postgres_store.h"

namespace keystep::postgres {
namespace {

// Every table the store writes, parents before the tables referring to them. roles and
// role_permissions are not copied: both schemas seed the same ones. The tables with an
// increasing id (BIGSERIAL here, AUTOINCREMENT or INTEGER PRIMARY KEY there) have their
// sequence continued.
struct Table {
  const char* name;
  bool serial_id;
};
constexpr Table kTables[] = {
    {"accounts", true},          {"users", true},
    {"clients", false},          {"client_redirect_uris", false},
    {"client_allowed_origins", false}, {"signing_keys", false},
    {"login_flows", false},      {"sessions", false},
    {"grants", false},           {"auth_codes", false},
    {"tokens", false},           {"mfa_credentials", true},
    {"attempts", false},         {"audit_log", true},
    {"mail_outbox", true},       {"api_tokens", true},
    {"invitations", true},       {"enrollment_links", false},
    {"backchannel_logouts", true}, {"consents", false},
    {"consent_requests", false}, {"account_client_policies", false},
    {"password_resets", false},
};

struct SqliteDb {
  sqlite3* db = nullptr;
  ~SqliteDb() { sqlite3_close_v2(db); }
};

struct SqliteRows {
  sqlite3_stmt* st = nullptr;
  ~SqliteRows() { sqlite3_finalize(st); }
};

Error sqlite_failure(sqlite3* db, const std::string& what) {
  return make_error(ErrorCode::kInternal, what + ": " + sqlite3_errmsg(db));
}

// The highest id `table` ever had in SQLite: AUTOINCREMENT tables remember it in
// sqlite_sequence even after the row is gone.
Result<int64_t> highest_id(sqlite3* db, const std::string& table) {
  SqliteRows q;
  const std::string text =
      "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0), "
      "COALESCE((SELECT MAX(id) FROM " + table + "), 0))";
  if (sqlite3_prepare_v2(db, text.c_str(), -1, &q.st, nullptr) != SQLITE_OK) {
    // Tables without AUTOINCREMENT leave no sqlite_sequence table when none has it.
    const std::string plain = "SELECT COALESCE(MAX(id), 0) FROM " + table;
    if (sqlite3_prepare_v2(db, plain.c_str(), -1, &q.st, nullptr) != SQLITE_OK)
      return sqlite_failure(db, table);
  } else {
    sqlite3_bind_text(q.st, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  }
  if (sqlite3_step(q.st) != SQLITE_ROW) return sqlite_failure(db, table);
  return sqlite3_column_int64(q.st, 0);
}

// Copies one table's rows (in rowid order, so signing_keys.seq follows SQLite's order);
// returns how many.
Result<int64_t> copy_table(sqlite3* db, Connection& pg, const std::string& table) {
  SqliteRows rows;
  const std::string select = "SELECT * FROM " + table + " ORDER BY rowid";
  if (sqlite3_prepare_v2(db, select.c_str(), -1, &rows.st, nullptr) != SQLITE_OK)
    return sqlite_failure(db, table);
  const int columns = sqlite3_column_count(rows.st);
  std::string insert = "INSERT INTO " + table + " (";
  std::string values;
  for (int c = 0; c < columns; ++c) {
    insert += (c ? ", " : "") + std::string(sqlite3_column_name(rows.st, c));
    values += (c ? ", $" : "$") + std::to_string(c + 1);
  }
  insert += ") VALUES (" + values + ")";
  int64_t copied = 0;
  for (;;) {
    const int rc = sqlite3_step(rows.st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite_failure(db, table);
    std::vector<Param> params;
    for (int c = 0; c < columns; ++c) {
      const bool blob = sqlite3_column_type(rows.st, c) == SQLITE_BLOB;  // before converting
      const char* bytes = static_cast<const char*>(sqlite3_column_blob(rows.st, c));
      const std::string_view value(bytes ? bytes : "",
                                   static_cast<size_t>(sqlite3_column_bytes(rows.st, c)));
      // Booleans were 0/1 integers, which PostgreSQL's boolean input reads; BLOBs (sealed
      // keys and secrets) go as bytes.
      params.push_back(blob ? Param::bytea(value) : Param(value));
    }
    auto inserted = pg.query(insert, params);
    if (!inserted) {
      Error error = inserted.error();
      error.message = table + ": " + error.message;
      return error;
    }
    ++copied;
  }
  return copied;
}

}  // namespace

Result<std::vector<CopiedTable>> copy_from_sqlite(const std::string& sqlite_path,
                                                  const std::string& url) {
  auto target = PostgresStore::open(url, 1);
  if (!target) return target.error();
  SqliteDb source;
  if (sqlite3_open_v2(sqlite_path.c_str(), &source.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return sqlite_failure(source.db, "opening " + sqlite_path);
  sqlite3_busy_timeout(source.db, 5000);
  // One read transaction: the copy is one snapshot even if a node still writes.
  if (sqlite3_exec(source.db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
    return sqlite_failure(source.db, "BEGIN");

  auto lease = Connection::open(url);
  if (!lease) return lease.error();
  Connection& pg = **lease;
  auto tx = Transaction::begin(pg);
  if (!tx) return tx.error();
  for (const Table& table : kTables) {
    auto rows = pg.query(std::string("SELECT EXISTS (SELECT 1 FROM ") + table.name + ")");
    if (!rows) return rows.error();
    if (rows->boolean(0, 0)) {
      return make_error(ErrorCode::kConflict, std::string("the target database is not empty (") +
                                                  table.name + " has rows); copy only into a "
                                                  "new database");
    }
  }
  std::vector<CopiedTable> copied;
  for (const Table& table : kTables) {
    auto count = copy_table(source.db, pg, table.name);
    if (!count) return count.error();
    copied.push_back({table.name, *count});
    auto counted = pg.query(std::string("SELECT COUNT(*) FROM ") + table.name);
    if (!counted) return counted.error();
    if (counted->int64(0, 0) != *count) {
      return make_error(ErrorCode::kInternal, std::string(table.name) + ": copied " +
                                                  std::to_string(*count) + " rows but counted " +
                                                  std::to_string(counted->int64(0, 0)));
    }
    if (table.serial_id) {
      auto highest = highest_id(source.db, table.name);
      if (!highest) return highest.error();
      if (*highest > 0) {
        auto set = pg.query(std::string("SELECT setval(pg_get_serial_sequence('") + table.name +
                                "', 'id'), $1)",
                            {*highest});
        if (!set) return set.error();
      }
    }
  }
  if (Status s = tx->commit(); !s) return s.error();
  return copied;
}

}  // namespace keystep::postgres
