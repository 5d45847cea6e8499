#include "tests/unit/storage/sqlite/sqlite_backend.h"

#include <sqlite3.h>

#include <string>

#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

class SqliteConnection final : public StoreConnection {
 public:
  explicit SqliteConnection(std::unique_ptr<sqlite::SqliteStore> store)
      : store_(std::move(store)) {}
  Store& store() override { return *store_; }
  MailStore& mail() override { return *store_; }

 private:
  std::unique_ptr<sqlite::SqliteStore> store_;
};

class SqliteBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<StoreConnection>> connect() override {
    auto store = sqlite::SqliteStore::open(path());
    if (!store) return store.error();
    return std::unique_ptr<StoreConnection>(new SqliteConnection(std::move(*store)));
  }

  Status delete_user(int64_t user_id) override {
    return run("PRAGMA foreign_keys = ON; DELETE FROM users WHERE id = " +
               std::to_string(user_id) + ";");
  }

  // The schema's CHECK refuses such a row; only a connection that ignores it can write one.
  Status corrupt_credential_state(int64_t credential_id) override {
    return run("PRAGMA ignore_check_constraints = ON; "
               "UPDATE mfa_credentials SET state = '{\"trunc' WHERE id = " +
               std::to_string(credential_id) + ";");
  }

 private:
  std::string path() const { return dir_.path() + "/keystep.db"; }

  // Trusted SQL on a connection of its own, bypassing the store.
  Status run(const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path().c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      return make_error(ErrorCode::kInternal, "cannot open " + path());
    }
    sqlite3_busy_timeout(db, 5000);
    Status status = sqlite::exec_sql(db, sql);
    sqlite3_close(db);
    return status;
  }

  testutil::TempDir dir_;
};

}  // namespace

std::unique_ptr<StoreBackend> make_sqlite_backend() { return std::make_unique<SqliteBackend>(); }

}  // namespace keystep::storetest
