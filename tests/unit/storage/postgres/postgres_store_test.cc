// What PostgresStore adds to the store contract (storage/postgres/postgres_store.h):
// migrations under an advisory lock, refusing a newer schema, a clear error for a
// database that cannot be reached, and a request's rows read once (idp/store/read_memo.h).
// The contract itself is the conformance suite's (tests/unit/idp/store/), which runs on
// PostgreSQL too.

#include "storage/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "idp/store/read_memo.h"
#include "tests/support/postgres/postgres_server.h"
#include "tests/unit/test_util.h"

namespace keystep::postgres {
namespace {

using testutil::Fails;
using testutil::Ok;

class PostgresStoreTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(url_.empty()); }

  // Alice, a member of a new account in `store`; id 0 after a failure (reported).
  static User alice(PostgresStore& store) {
    auto account = store.create_account({.name = "acme", .issuer_label = "Acme"});
    EXPECT_TRUE(Ok(account));
    if (!account) return {};
    auto user = store.create_user({.account_id = account->id,
                                   .email = "alice@example.com",
                                   .password_hash = "h",
                                   .role = kRoleMember});
    EXPECT_TRUE(Ok(user));
    return user ? *user : User{};
  }

  testsupport::FreshDatabase database_;
  testsupport::PostgresServer* server_ = database_.server();
  const std::string url_ = database_.url();
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

// As on SQLite (SqliteFileStore.ARequestReadsARowOnceUntilItWrites): within a request a
// user read again is the first answer, and a statement of the request's own that may have
// written (committed, or refused) makes it read afresh.
TEST_F(PostgresStoreTest, ARequestReadsARowOnceUntilItWrites) {
  auto opened = PostgresStore::open(url_, 2);
  ASSERT_TRUE(Ok(opened));
  PostgresStore& store = **opened;
  const User user = alice(store);
  ASSERT_NE(user.id, 0);
  // Another node renames her meanwhile.
  auto rename_elsewhere = [&](const std::string& name) {
    ASSERT_TRUE(Ok(server_->run(url_, "UPDATE users SET display_name = '" + name +
                                          "' WHERE id = " + std::to_string(user.id))));
  };
  {
    const ReadMemoScope request;
    ASSERT_TRUE(Ok(store.user_by_id(user.id)));
    ASSERT_TRUE(Ok(store.account_by_id(user.account_id)));
    rename_elsewhere("Alice");
    auto again = store.user_by_id(user.id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "");  // the request's first answer
    // A write of the request's own: read again.
    ASSERT_TRUE(Ok(store.update_password_hash(user.id, "h2")));
    again = store.user_by_id(user.id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "Alice");
    EXPECT_EQ(again->password_hash, "h2");
    // A refused one too (a flow that does not exist).
    rename_elsewhere("Alice B.");
    EXPECT_FALSE(Ok(store.update_flow("no such flow", 1, {})));
    again = store.user_by_id(user.id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "Alice B.");
  }
  // Outside a request nothing is remembered.
  rename_elsewhere("Alice C.");
  auto outside = store.user_by_id(user.id);
  ASSERT_TRUE(Ok(outside));
  EXPECT_EQ(outside->display_name, "Alice C.");
}

// A client is read by several requests of every sign-in and by every token request: with its
// three lists, in their order, in one round trip (it took six: BEGIN, SET TRANSACTION, three
// SELECTs, COMMIT).
TEST_F(PostgresStoreTest, AClientIsReadWithItsListsInOneRoundTrip) {
  auto opened = PostgresStore::open(url_, 1);
  ASSERT_TRUE(Ok(opened));
  PostgresStore& store = **opened;
  Client app;
  app.client_id = "app";
  app.is_public = true;
  app.redirect_uris = {"https://app.example/z", "https://app.example/a", "https://app.example/m"};
  app.post_logout_redirect_uris = {"https://app.example/bye", "https://app.example/after"};
  app.allowed_origins = {"https://b.example", "https://a.example"};
  ASSERT_TRUE(Ok(store.create_client(app)));
  Client bare;
  bare.client_id = "bare";
  bare.is_public = true;
  bare.redirect_uris = {"https://bare.example/cb"};
  ASSERT_TRUE(Ok(store.create_client(bare)));
  ASSERT_TRUE(Ok(store.client_by_id("app")));  // prepares the statement (a round trip of its own)

  const int64_t before = Connection::round_trips_on_this_thread();
  auto read = store.client_by_id("app");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(Connection::round_trips_on_this_thread() - before, 1);
  EXPECT_EQ(read->redirect_uris, app.redirect_uris);
  EXPECT_EQ(read->post_logout_redirect_uris, app.post_logout_redirect_uris);
  EXPECT_EQ(read->allowed_origins, app.allowed_origins);
  EXPECT_TRUE(Fails(store.client_by_id("nobody"), ErrorCode::kNotFound));

  auto all = store.clients();
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "app");
  EXPECT_EQ((*all)[0].redirect_uris, app.redirect_uris);
  EXPECT_EQ((*all)[1].client_id, "bare");
  EXPECT_EQ((*all)[1].redirect_uris, bare.redirect_uris);
  EXPECT_TRUE((*all)[1].post_logout_redirect_uris.empty());
  EXPECT_TRUE((*all)[1].allowed_origins.empty());
}

// The tokens a grant issues together go in one INSERT, after one check of the grant: three
// round trips for a code's two tokens (BEGIN with the check, the INSERT, COMMIT), and four for
// a refresh rotation (BEGIN with the locking read, the old token used, the INSERT, COMMIT).
TEST_F(PostgresStoreTest, AGrantsTokensGoInOneInsert) {
  auto opened = PostgresStore::open(url_, 1);
  ASSERT_TRUE(Ok(opened));
  PostgresStore& store = **opened;
  const User user = alice(store);
  ASSERT_NE(user.id, 0);
  Client app;
  app.client_id = "app";
  app.is_public = true;
  app.redirect_uris = {"https://app.example/cb"};
  ASSERT_TRUE(Ok(store.create_client(app)));
  constexpr int64_t kNow = 1'700'000'000;
  auto grant_of = [&](const std::string& id) {
    Grant grant;
    grant.id = id;
    grant.client_id = "app";
    grant.user_id = user.id;
    grant.sid = "sid-" + id;
    grant.scope = "openid offline_access";
    grant.created_at = kNow;
    AuthCode code;
    code.code_hash = "code-" + id;
    code.grant_id = id;
    code.redirect_uri = "https://app.example/cb";
    code.expires_at = kNow + 60;
    return store.create_grant_with_code(grant, code);
  };
  ASSERT_TRUE(Ok(grant_of("g1")));
  ASSERT_TRUE(Ok(grant_of("g2")));
  auto token = [&](const std::string& hash, const std::string& grant, TokenKind kind) {
    Token t;
    t.token_hash = hash;
    t.grant_id = grant;
    t.kind = kind;
    t.created_at = kNow;
    t.expires_at = kNow + 3600;
    return t;
  };
  // Prepares the statements (round trips of their own).
  ASSERT_TRUE(Ok(store.add_tokens(
      {token("a0", "g1", TokenKind::kAccess), token("r0", "g1", TokenKind::kRefresh)})));

  int64_t before = Connection::round_trips_on_this_thread();
  ASSERT_TRUE(Ok(store.add_tokens(
      {token("a1", "g2", TokenKind::kAccess), token("r1", "g2", TokenKind::kRefresh)})));
  EXPECT_EQ(Connection::round_trips_on_this_thread() - before, 3);
  for (const char* hash : {"a1", "r1"}) {
    auto found = store.active_token(
        hash, std::string(hash) == "a1" ? TokenKind::kAccess : TokenKind::kRefresh, kNow);
    ASSERT_TRUE(Ok(found)) << hash;
    EXPECT_EQ(found->grant.id, "g2");
  }

  ASSERT_TRUE(Ok(store.rotate_refresh_token("r0", token("r0b", "g1", TokenKind::kRefresh),
                                            {token("a0b", "g1", TokenKind::kAccess)}, kNow)));
  before = Connection::round_trips_on_this_thread();
  ASSERT_TRUE(Ok(store.rotate_refresh_token("r1", token("r1b", "g2", TokenKind::kRefresh),
                                            {token("a1b", "g2", TokenKind::kAccess)}, kNow)));
  EXPECT_EQ(Connection::round_trips_on_this_thread() - before, 4);
  EXPECT_TRUE(Ok(store.active_token("r1b", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Ok(store.active_token("a1b", TokenKind::kAccess, kNow)));
  EXPECT_FALSE(Ok(store.active_token("r1", TokenKind::kRefresh, kNow))) << "rotated away";

  // Tokens of two grants: each grant checked, and a revoked one refuses the whole call.
  ASSERT_TRUE(Ok(store.revoke_grant("g1")));
  EXPECT_TRUE(Fails(store.add_tokens({token("a2", "g2", TokenKind::kAccess),
                                      token("a3", "g1", TokenKind::kAccess)}),
                    ErrorCode::kConflict));
  EXPECT_FALSE(Ok(store.active_token("a2", TokenKind::kAccess, kNow))) << "nothing half-written";
}

}  // namespace
}  // namespace keystep::postgres
