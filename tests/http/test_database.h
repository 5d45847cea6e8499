#pragma once
// The database under a TestServer (tests/http/test_server.h), on the store the process runs
// its HTTP tests on: SQLite (keystep_http_tests' default) or PostgreSQL
// (KEYSTEP_HTTP_TEST_STORE=postgres, ctest's keystep_http_tests_postgres). Each is opened
// holding a copy of the seed database, an SQLite file the process builds once.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "idp/store/mail_store.h"
#include "idp/store/store.h"

namespace keystep::httptest {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;  // closes the store and removes the database

  // The store, as `keystep serve` opens it.
  virtual Store& store() = 0;
  virtual MailStore& outbox() = 0;
  // Runs trusted SQL text on a second connection; the rows its last statement changed.
  virtual Result<int> run_sql(const std::string& sql) = 0;
  // A reading of the database's count of transactions that wrote; the difference of two
  // readings is how many ran between them. SQLite: the store's own count
  // (SqliteStore::write_transactions, its commit hook). PostgreSQL: the server's transaction
  // id, which only a transaction that writes takes (this reading's own is not counted), so
  // it counts every writer of the test server: honest while nothing else runs there (the
  // process runs its tests one at a time, autovacuum is off and the server's workers write
  // only when the test makes them).
  virtual Result<int64_t> write_transactions() = 0;
  // SQLite: a reading of the store's count of read transactions
  // (SqliteStore::read_transactions). PostgreSQL: nullopt, reads are not counted there.
  virtual std::optional<int64_t> read_transactions() = 0;
  // From now on a grant is revoked in the same transaction that redeems its code (a
  // trigger in the database's own SQL).
  virtual Status revoke_grants_when_redeemed() = 0;
};

// The store the process's HTTP tests run on: PostgreSQL when the environment variable
// KEYSTEP_HTTP_TEST_STORE is "postgres", else SQLite.
bool tests_on_postgres();

// SQLite: a copy of `seed_db` in a directory of its own (removed with the database).
Result<std::unique_ptr<TestDatabase>> open_sqlite_database(const std::string& seed_db);
// PostgreSQL: a schema of its own on the process's test server (tests/support/postgres),
// filled from `seed_db` as `keystep store copy` moves an installation (ids, sealed signing key
// and all), opened with a pool of `pool_size` connections.
Result<std::unique_ptr<TestDatabase>> open_postgres_database(const std::string& seed_db,
                                                            int pool_size);

}  // namespace keystep::httptest
