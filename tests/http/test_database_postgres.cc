#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "storage/postgres/copy_from_sqlite.h"
#include "storage/postgres/postgres_store.h"
#include "tests/http/test_database.h"
#include "tests/support/postgres/postgres_server.h"

namespace keystep::httptest {
namespace {

Result<int64_t> number(const Result<std::string>& text) {
  if (!text) return text.error();
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size())
    return make_error(ErrorCode::kInternal, "not a number: " + *text);
  return n;
}

class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase(testsupport::PostgresServer& server, std::string url)
      : server_(server), url_(std::move(url)) {}
  ~PostgresTestDatabase() override {
    store_.reset();
    (void)server_.drop(url_);
  }

  Status open(const std::string& seed_db, int pool_size) {
    auto copied = postgres::copy_from_sqlite(seed_db, url_);
    if (!copied) return copied.error();
    auto store = postgres::PostgresStore::open(url_, pool_size);
    if (!store) return store.error();
    store_ = std::move(*store);
    return {};
  }

  Store& store() override { return *store_; }
  MailStore& outbox() override { return *store_; }

  Result<int> run_sql(const std::string& sql) override {
    auto changed = number(server_.answer(url_, sql));
    if (!changed) return changed.error();
    return static_cast<int>(*changed);
  }

  Result<int64_t> write_transactions() override {
    auto xid = number(server_.answer(url_, "SELECT pg_current_xact_id()"));
    if (!xid) return xid.error();
    return *xid - readings_++;
  }

  std::optional<int64_t> read_transactions() override { return std::nullopt; }

  Status revoke_grants_when_redeemed() override {
    return server_.run(
        url_,
        "CREATE FUNCTION test_replay_revokes() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN UPDATE grants SET revoked = TRUE WHERE id = NEW.grant_id; RETURN NEW; END $$; "
        "CREATE TRIGGER test_replay_revokes AFTER UPDATE OF used ON auth_codes FOR EACH ROW "
        "WHEN (NEW.used) EXECUTE FUNCTION test_replay_revokes()");
  }

 private:
  testsupport::PostgresServer& server_;
  const std::string url_;
  std::unique_ptr<postgres::PostgresStore> store_;
  int64_t readings_ = 0;  // write_transactions() calls so far
};

}  // namespace

bool tests_on_postgres() {
  const char* store = std::getenv("KEYSTEP_HTTP_TEST_STORE");
  return store != nullptr && std::string_view(store) == "postgres";
}

Result<std::unique_ptr<TestDatabase>> open_postgres_database(const std::string& seed_db,
                                                            int pool_size) {
  testsupport::PostgresServer* server = testsupport::shared_postgres();
  if (server == nullptr) return make_error(ErrorCode::kUnavailable, "no PostgreSQL test server");
  auto url = server->fresh_database();
  if (!url) return url.error();
  auto database = std::make_unique<PostgresTestDatabase>(*server, *url);
  if (Status s = database->open(seed_db, pool_size); !s) return s.error();
  return std::unique_ptr<TestDatabase>(std::move(database));
}

}  // namespace keystep::httptest
