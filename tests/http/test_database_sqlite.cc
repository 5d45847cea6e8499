#include <sqlite3.h>

#include <filesystem>

#include "storage/sqlite/sqlite_store.h"
#include "tests/http/test_database.h"
#include "tests/http/test_server.h"

namespace keystep::httptest {
namespace {

class SqliteTestDatabase final : public TestDatabase {
 public:
  SqliteTestDatabase(std::string dir, std::unique_ptr<sqlite::SqliteStore> store)
      : dir_(std::move(dir)), store_(std::move(store)) {}
  ~SqliteTestDatabase() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Store& store() override { return *store_; }
  MailStore& outbox() override { return *store_; }

  Result<int> run_sql(const std::string& sql) override {
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

  Result<int64_t> write_transactions() override { return store_->write_transactions(); }
  std::optional<int64_t> read_transactions() override { return store_->read_transactions(); }

  Status revoke_grants_when_redeemed() override {
    auto created = run_sql(
        "CREATE TRIGGER test_replay_revokes AFTER UPDATE OF used ON auth_codes WHEN NEW.used "
        "BEGIN UPDATE grants SET revoked = 1 WHERE id = NEW.grant_id; END");
    if (!created) return created.error();
    return {};
  }

 private:
  const std::string dir_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

}  // namespace

Result<std::unique_ptr<TestDatabase>> open_sqlite_database(const std::string& seed_db) {
  auto dir = make_temp_dir();
  if (!dir) return dir.error();
  std::error_code ec;
  std::filesystem::copy_file(seed_db, *dir + "/keystep.db", ec);
  if (ec) {
    std::filesystem::remove_all(*dir, ec);
    return make_error(ErrorCode::kInternal, "copying the seed database: " + ec.message());
  }
  auto store = sqlite::SqliteStore::open(*dir + "/keystep.db");
  if (!store) {
    std::filesystem::remove_all(*dir, ec);
    return store.error();
  }
  return std::unique_ptr<TestDatabase>(new SqliteTestDatabase(*dir, std::move(*store)));
}

}  // namespace keystep::httptest
