#pragma once
// A real PostgreSQL 15 server for tests: initdb + pg_ctl from /usr/lib/postgresql/15/bin
// (Debian's postgresql-15) in a fresh temporary directory, listening on 127.0.0.1 on a free
// port, trust authentication for the superuser "postgres", durability off (fsync,
// synchronous_commit) since the data dies with the test, and autovacuum off, so the only
// transactions are the tests' own (the HTTP tests count write transactions by transaction id). PostgreSQL refuses to run as root:
// when the test runs as root (CI), the server runs as the unprivileged system user
// "postgres" (created by Debian's package) through runuser, and the directory is given to
// it. Stopped (pg_ctl stop -m fast) and removed when the object goes.
//
// A missing PostgreSQL is an error, never a skip: start() fails saying what is missing.

#include <memory>
#include <string>

#include "base/result.h"

namespace keystep::testsupport {

class PostgresServer {
 public:
  static Result<std::unique_ptr<PostgresServer>> start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // An outage: stops the server (pg_ctl stop -m fast, which ends every client's session) and
  // keeps its data directory and port, so resume() brings the same database back where the
  // clients expect it.
  Status halt();
  Status resume();
  // A new empty schema in the server's database "keystep" (creating a database per test
  // costs a second; a schema a few milliseconds), and the URL whose search_path names it:
  // to the store it is an empty database of its own.
  Result<std::string> fresh_database();
  // Drops what fresh_database() made for `url`.
  Status drop(const std::string& url);
  // Runs trusted SQL text through `url`.
  Status run(const std::string& url, const std::string& sql);
  // As run(), and returns what its last statement answered: the first value of its first
  // row, or, for a statement that returns no rows, how many it changed ("" for DDL).
  Result<std::string> answer(const std::string& url, const std::string& sql);

 private:
  PostgresServer() = default;
  Status shell(const std::string& command) const;
  Status pg_ctl_start();
  std::string url_of(const std::string& database) const;

  std::string dir_;
  int port_ = 0;
  bool as_postgres_user_ = false;
  int next_schema_ = 0;
  bool started_ = false;
};

// The server of this test process, started on first use and stopped at exit. Fails the
// calling test (ADD_FAILURE) and returns null when it cannot start.
PostgresServer* shared_postgres();

// A fresh database on shared_postgres(), dropped when this goes: what a test holds. url() is
// empty when it could not be made (the calling test has then failed).
class FreshDatabase {
 public:
  FreshDatabase();
  ~FreshDatabase();
  FreshDatabase(const FreshDatabase&) = delete;
  FreshDatabase& operator=(const FreshDatabase&) = delete;

  PostgresServer* server() const { return server_; }
  const std::string& url() const { return url_; }

 private:
  PostgresServer* server_;
  std::string url_;
};

}  // namespace keystep::testsupport
