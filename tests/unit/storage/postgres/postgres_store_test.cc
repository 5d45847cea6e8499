// What PostgresStore adds to the store contract (storage/postgres/postgres_store.h):
// migrations under an advisory lock, refusing a newer schema, and a clear error for a
// database that cannot be reached. The contract itself is the conformance suite's
// (tests/unit/idp/store/), which runs on PostgreSQL too.

#include "storage/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/postgres/postgres_server.h"
#include "tests/unit/test_util.h"

namespace keystep::postgres {
namespace {

using testutil::Fails;
using testutil::Ok;

class PostgresStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    server_ = testsupport::shared_postgres();
    ASSERT_NE(server_, nullptr);
    auto url = server_->fresh_database();
    ASSERT_TRUE(Ok(url));
    url_ = *url;
  }
  void TearDown() override {
    if (server_ != nullptr && !url_.empty()) (void)server_->drop(url_);
  }

  testsupport::PostgresServer* server_ = nullptr;
  std::string url_;
};

TEST_F(PostgresStoreTest, NodesStartingTogetherMigrateOnce) {
  constexpr int kNodes = 6;
  std::atomic<int> opened{0};
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&] {
      auto store = PostgresStore::open(url_, 2);
      EXPECT_TRUE(Ok(store));
      if (store) ++opened;
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(opened.load(), kNodes);
  auto store = PostgresStore::open(url_, 1);
  ASSERT_TRUE(Ok(store));
  EXPECT_EQ(*(*store)->schema_version(), kMigrations.back().version);
  EXPECT_TRUE(Ok(server_->run(url_, "SELECT 1 / (CASE WHEN (SELECT COUNT(*) FROM "
                                    "schema_migrations) = " +
                                        std::to_string(kMigrations.size()) + " THEN 1 ELSE 0 END)")))
      << "each migration recorded once";
}

TEST_F(PostgresStoreTest, RefusesASchemaNewerThanItsBinary) {
  std::vector<Migration> newer = kMigrations;
  const int next = newer.back().version + 1;
  newer.push_back({next, "999_future", "CREATE TABLE future (x INTEGER)"});
  ASSERT_TRUE(Ok(PostgresStore::open(url_, 1, newer)));
  auto older_binary = PostgresStore::open(url_, 1);
  ASSERT_TRUE(Fails(older_binary, ErrorCode::kInternal));
  EXPECT_NE(older_binary.error().message.find("newer than this binary"), std::string::npos);
}

TEST_F(PostgresStoreTest, AFailingMigrationIsRolledBackWhole) {
  std::vector<Migration> broken = kMigrations;
  broken.push_back({broken.back().version + 1, "bad", "CREATE TABLE half (x INTEGER); SELEC"});
  EXPECT_TRUE(Fails(PostgresStore::open(url_, 1, broken), ErrorCode::kInternal));
  EXPECT_FALSE(Ok(server_->run(url_, "SELECT * FROM half"))) << "nothing of it stays";
  auto store = PostgresStore::open(url_, 1);
  ASSERT_TRUE(Ok(store));
  EXPECT_EQ(*(*store)->schema_version(), kMigrations.back().version);
}

TEST_F(PostgresStoreTest, AnUnreachableDatabaseIsUnavailableWithoutItsPassword) {
  const std::string url = "postgresql://keystep:s3cret-pw@127.0.0.1:" +
                          std::to_string(server_->port() == 1 ? 2 : 1) + "/keystep";
  auto store = PostgresStore::open(url, 1);
  ASSERT_TRUE(Fails(store, ErrorCode::kUnavailable));
  EXPECT_EQ(store.error().message.find("s3cret-pw"), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace keystep::postgres
