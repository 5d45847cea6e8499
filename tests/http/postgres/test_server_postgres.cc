// TestServer's PostgreSQL half (keystep_http_tests_postgres): the database is a schema of its
// own on the process's PostgreSQL test server, filled from the seed as `keystep store copy`
// moves an SQLite installation (ids, sealed signing key and all), and opened with the pool
// `keystep serve` would open.

#include <charconv>

#include "storage/postgres/copy_from_sqlite.h"
#include "tests/http/test_server.h"
#include "tests/support/postgres/postgres_server.h"

namespace keystep::httptest {
namespace {

Result<testsupport::PostgresServer*> test_postgres() {
  testsupport::PostgresServer* server = testsupport::shared_postgres();
  if (server == nullptr) return make_error(ErrorCode::kUnavailable, "no PostgreSQL test server");
  return server;
}

Result<int64_t> number(const Result<std::string>& text) {
  if (!text) return text.error();
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size())
    return make_error(ErrorCode::kInternal, "not a number: " + *text);
  return n;
}

}  // namespace

Status TestServer::open_store(const std::string& seed_db) {
  auto server = test_postgres();
  if (!server) return server.error();
  auto url = (*server)->fresh_database();
  if (!url) return url.error();
  database_url_ = *url;
  auto copied = postgres::copy_from_sqlite(seed_db, database_url_);
  if (!copied) return copied.error();
  auto store = postgres::PostgresStore::open(database_url_, database_pool_size(config_));
  if (!store) return store.error();
  store_ = std::move(*store);
  return {};
}

void TestServer::close_store() {
  store_.reset();
  if (database_url_.empty()) return;
  if (auto server = test_postgres(); server) (void)(*server)->drop(database_url_);
}

Result<int> TestServer::run_sql(const std::string& sql) {
  auto server = test_postgres();
  if (!server) return server.error();
  auto changed = number((*server)->answer(database_url_, sql));
  if (!changed) return changed.error();
  return static_cast<int>(*changed);
}

Result<int64_t> TestServer::write_transactions() {
  auto server = test_postgres();
  if (!server) return server.error();
  auto xid = number((*server)->answer(database_url_, "SELECT pg_current_xact_id()"));
  if (!xid) return xid.error();
  return *xid - xid_readings_++;
}

Status TestServer::revoke_grants_when_redeemed() {
  auto server = test_postgres();
  if (!server) return server.error();
  return (*server)->run(
      database_url_,
      "CREATE FUNCTION test_replay_revokes() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN UPDATE grants SET revoked = TRUE WHERE id = NEW.grant_id; RETURN NEW; END $$; "
      "CREATE TRIGGER test_replay_revokes AFTER UPDATE OF used ON auth_codes FOR EACH ROW "
      "WHEN (NEW.used) EXECUTE FUNCTION test_replay_revokes()");
}

}  // namespace keystep::httptest
