// The connection pool of storage/postgres/pg.h when its database goes away and comes back:
// requests fail kUnavailable meanwhile, and the pool replaces its broken connections by
// itself, so the first request after the database returns succeeds. Each test has a
// PostgreSQL server of its own, since it stops it.

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

}  // namespace
}  // namespace keystep::postgres
