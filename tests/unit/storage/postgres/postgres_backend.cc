#include "tests/unit/storage/postgres/postgres_backend.h"

#include <string>

#include "storage/postgres/postgres_store.h"
#include "tests/support/postgres/postgres_server.h"

namespace keystep::storetest {
namespace {

class PostgresConnection final : public StoreConnection {
 public:
  explicit PostgresConnection(std::unique_ptr<postgres::PostgresStore> store)
      : store_(std::move(store)) {}
  Store& store() override { return *store_; }
  MailStore& mail() override { return *store_; }

 private:
  std::unique_ptr<postgres::PostgresStore> store_;
};

class PostgresBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<StoreConnection>> connect() override {
    if (url_.empty()) return make_error(ErrorCode::kUnavailable, "no PostgreSQL test server");
    auto store = postgres::PostgresStore::open(url_, 4);
    if (!store) return store.error();
    return std::unique_ptr<StoreConnection>(new PostgresConnection(std::move(*store)));
  }

  Status delete_user(int64_t user_id) override {
    return run("DELETE FROM users WHERE id = " + std::to_string(user_id));
  }

  // The schema's CHECK refuses such a row; dropping it lets an operator's SQL write one.
  Status corrupt_credential_state(int64_t credential_id) override {
    return run("ALTER TABLE mfa_credentials DROP CONSTRAINT mfa_credentials_state; "
               "UPDATE mfa_credentials SET state = '{\"trunc' WHERE id = " +
               std::to_string(credential_id));
  }

 private:
  Status run(const std::string& sql) { return database_.server()->run(url_, sql); }

  testsupport::FreshDatabase database_;
  const std::string url_ = database_.url();
};

}  // namespace

std::unique_ptr<StoreBackend> make_postgres_backend() {
  return std::make_unique<PostgresBackend>();
}

}  // namespace keystep::storetest
