// TestServer's SQLite half (keystep_http_tests): the database is a copy of the seed file in
// the server's own directory.

#include <sqlite3.h>

#include <filesystem>

#include "tests/http/test_server.h"

namespace keystep::httptest {

Status TestServer::open_store(const std::string& seed_db) {
  auto dir = make_temp_dir();
  if (!dir) return dir.error();
  dir_ = *dir;
  std::error_code ec;
  std::filesystem::copy_file(seed_db, dir_ + "/keystep.db", ec);
  if (ec) return make_error(ErrorCode::kInternal, "copying the seed database: " + ec.message());
  auto store = sqlite::SqliteStore::open(dir_ + "/keystep.db");
  if (!store) return store.error();
  store_ = std::move(*store);
  return {};
}

void TestServer::close_store() { store_.reset(); }  // ~TestServer removes dir_

Result<int> TestServer::run_sql(const std::string& sql) {
  sqlite3* db = nullptr;
  const std::string path = dir_ + "/keystep.db";
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 5000);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
  const int changed = rc == SQLITE_OK ? sqlite3_changes(db) : 0;
  sqlite3_close(db);
  if (rc != SQLITE_OK) return make_error(ErrorCode::kInternal, "SQL: " + message);
  return changed;
}

Result<int64_t> TestServer::write_transactions() { return store_->write_transactions(); }

Status TestServer::revoke_grants_when_redeemed() {
  auto created = run_sql(
      "CREATE TRIGGER test_replay_revokes AFTER UPDATE OF used ON auth_codes WHEN NEW.used "
      "BEGIN UPDATE grants SET revoked = 1 WHERE id = NEW.grant_id; END");
  if (!created) return created.error();
  return {};
}

}  // namespace keystep::httptest
