// The connection pool of storage/postgres/pg.h when its database goes away and comes back:
// requests fail kUnavailable meanwhile, and the pool replaces its broken connections by
// itself, so the first request after the database returns succeeds. Each of those tests has a
// PostgreSQL server of its own, since it stops it. Then transactions, whose BEGIN goes with
// their first statement.

#include "storage/postgres/pg.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/postgres/postgres_server.h"
#include "tests/unit/test_util.h"

namespace keystep::postgres {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int kPoolSize = 3;

class PoolOutageTest : public testing::Test {
 protected:
  void SetUp() override {
    auto server = testsupport::PostgresServer::start();
    ASSERT_TRUE(Ok(server));
    server_ = std::move(*server);
    auto url = server_->fresh_database();
    ASSERT_TRUE(Ok(url));
    pool_ = std::make_unique<Pool>(*url, kPoolSize);
    // Every connection of the pool opened and idle, as after a busy moment.
    std::vector<Pool::Lease> leases;
    for (int i = 0; i < kPoolSize; ++i) {
      auto lease = pool_->acquire();
      ASSERT_TRUE(Ok(lease));
      leases.push_back(std::move(*lease));
    }
  }

  // What a store call does: a connection and one statement.
  Result<Rows> select_one() {
    return with_connection(*pool_, [](Connection& c) { return c.query("SELECT 1"); });
  }

  std::unique_ptr<testsupport::PostgresServer> server_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(PoolOutageTest, IsUnavailableWhileTheDatabaseIsDownAndRecoversWhenItReturns) {
  ASSERT_TRUE(Ok(select_one()));
  ASSERT_TRUE(Ok(server_->halt()));
  for (int i = 0; i < kPoolSize + 2; ++i) {
    auto down = select_one();
    ASSERT_TRUE(Fails(down, ErrorCode::kUnavailable));
    EXPECT_EQ(down.error().message.find("postgresql://"), std::string::npos);
  }
  ASSERT_TRUE(Ok(server_->resume()));
  for (int i = 0; i < kPoolSize + 2; ++i) EXPECT_TRUE(Ok(select_one())) << "request " << i;
}

// No request while the database restarted: every idle connection is stale, and none of them
// may cost a request its answer.
TEST_F(PoolOutageTest, ReplacesConnectionsARestartClosedBeforeTheirNextStatement) {
  ASSERT_TRUE(Ok(server_->halt()));
  ASSERT_TRUE(Ok(server_->resume()));
  for (int i = 0; i < kPoolSize + 2; ++i) EXPECT_TRUE(Ok(select_one())) << "request " << i;
  // Also when every connection is leased at once.
  std::vector<Pool::Lease> leases;
  ASSERT_TRUE(Ok(server_->halt()));
  ASSERT_TRUE(Ok(server_->resume()));
  for (int i = 0; i < kPoolSize; ++i) {
    auto lease = pool_->acquire();
    ASSERT_TRUE(Ok(lease));
    EXPECT_TRUE(Ok((*lease)->query("SELECT 1"))) << "connection " << i;
    leases.push_back(std::move(*lease));
  }
}

TEST_F(PoolOutageTest, AConnectionThatBrokeInATransactionIsNotReused) {
  auto lease = pool_->acquire();
  ASSERT_TRUE(Ok(lease));
  {
    auto tx = Transaction::begin(**lease);
    ASSERT_TRUE(Ok(tx));
    ASSERT_TRUE(Ok(server_->halt()));
    EXPECT_TRUE(Fails((*lease)->query("SELECT 1"), ErrorCode::kUnavailable));
    EXPECT_FALSE((*lease)->healthy());
  }
  ASSERT_TRUE(Ok(server_->resume()));
  { auto returned = std::move(*lease); }  // released broken: closed, not pooled
  EXPECT_TRUE(Ok(select_one()));
}

class PgTransactionTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(url_.empty());
    auto conn = Connection::open(url_);
    ASSERT_TRUE(Ok(conn));
    conn_ = std::move(*conn);
    auto other = Connection::open(url_);
    ASSERT_TRUE(Ok(other));
    other_ = std::move(*other);
    ASSERT_TRUE(Ok(conn_->exec("CREATE TABLE t (k INTEGER PRIMARY KEY)")));
  }
  void TearDown() override {  // before the database goes
    conn_.reset();
    other_.reset();
  }

  // The rows of t as another connection sees them (committed ones only).
  int64_t committed_rows() {
    auto rows = other_->query("SELECT COUNT(*) FROM t");
    EXPECT_TRUE(Ok(rows));
    return rows ? rows->int64(0, 0) : -1;
  }
  int64_t trips() const { return Connection::round_trips_on_this_thread(); }

  testsupport::FreshDatabase database_;
  const std::string url_ = database_.url();
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Connection> other_;
};

// BEGIN, the first statement's preparation and the statement: one round trip, and still a
// transaction (nobody else sees its rows before COMMIT).
TEST_F(PgTransactionTest, BeginGoesWithTheFirstStatementInOneRoundTrip) {
  const int64_t before = trips();
  auto tx = Transaction::begin(*conn_);
  ASSERT_TRUE(Ok(tx));
  EXPECT_EQ(trips(), before) << "nothing is sent before the first statement";
  ASSERT_TRUE(Ok(conn_->query("INSERT INTO t (k) VALUES ($1)", {int64_t{1}})));
  EXPECT_EQ(trips(), before + 1) << "BEGIN, PREPARE and the INSERT together";
  ASSERT_TRUE(Ok(conn_->query("INSERT INTO t (k) VALUES ($1)", {int64_t{2}})));
  EXPECT_EQ(trips(), before + 2);
  EXPECT_EQ(committed_rows(), 0) << "the inserts are in a transaction";
  ASSERT_TRUE(Ok(tx->commit()));
  EXPECT_EQ(committed_rows(), 2);

  // A prepared statement first: BEGIN and it, one round trip.
  auto again = Transaction::begin(*conn_);
  ASSERT_TRUE(Ok(again));
  const int64_t second = trips();
  ASSERT_TRUE(Ok(conn_->query("INSERT INTO t (k) VALUES ($1)", {int64_t{3}})));
  EXPECT_EQ(trips(), second + 1);
  EXPECT_EQ(committed_rows(), 2);
  // Dropped without commit: rolled back.
}

TEST_F(PgTransactionTest, AFirstStatementThatFailsLeavesTheTransactionAbortedUntilRollback) {
  ASSERT_TRUE(Ok(conn_->query("INSERT INTO t (k) VALUES ($1)", {int64_t{1}})));
  {
    auto tx = Transaction::begin(*conn_);
    ASSERT_TRUE(Ok(tx));
    EXPECT_TRUE(Fails(conn_->query("INSERT INTO t (k) VALUES ($1)", {int64_t{1}}),
                      ErrorCode::kAlreadyExists));
    // In the aborted transaction, as when BEGIN is sent alone (SQLSTATE 25P02).
    auto refused = conn_->query("SELECT 1");
    ASSERT_FALSE(Ok(refused));
    EXPECT_NE(refused.error().message.find("aborted"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_TRUE(conn_->healthy());
  auto after = conn_->query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(Ok(after));
  EXPECT_EQ(after->int64(0, 0), 1);

  // A first statement that does not prepare: refused, not remembered as prepared, and the
  // connection goes on.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto tx = Transaction::begin(*conn_);
    ASSERT_TRUE(Ok(tx));
    auto bad = conn_->query("SELEC k FROM t");
    ASSERT_FALSE(Ok(bad));
    EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos)
        << "attempt " << attempt << ": " << bad.error().message;
  }
  EXPECT_TRUE(conn_->healthy());
  EXPECT_TRUE(Ok(conn_->query("SELECT k FROM t")));
}

TEST_F(PgTransactionTest, ATransactionThatRunsNothingSendsNothing) {
  const int64_t before = trips();
  {
    auto tx = Transaction::begin(*conn_);
    ASSERT_TRUE(Ok(tx));
    ASSERT_TRUE(Ok(tx->commit()));
  }
  { auto dropped = Transaction::begin(*conn_); }
  EXPECT_EQ(trips(), before);
  EXPECT_TRUE(Ok(conn_->query("SELECT 1")));
}

// Text run by exec() first (a LOCK, a migration): BEGIN goes with it, and the transaction
// holds what it took until it ends.
TEST_F(PgTransactionTest, ExecTextFirstRunsInTheTransaction) {
  const char* held =
      "SELECT COUNT(*) FROM pg_locks WHERE relation = 't'::regclass AND pid = pg_backend_pid()";
  {
    auto tx = Transaction::begin(*conn_);
    ASSERT_TRUE(Ok(tx));
    const int64_t before = trips();
    ASSERT_TRUE(Ok(conn_->exec("LOCK TABLE t IN SHARE MODE")));
    EXPECT_EQ(trips(), before + 1);
    auto locks = conn_->query(held);
    ASSERT_TRUE(Ok(locks));
    EXPECT_GT(locks->int64(0, 0), 0) << "the lock is held: the transaction is open";
    ASSERT_TRUE(Ok(tx->commit()));
  }
  auto locks = conn_->query(held);
  ASSERT_TRUE(Ok(locks));
  EXPECT_EQ(locks->int64(0, 0), 0);
}

}  // namespace
}  // namespace keystep::postgres
