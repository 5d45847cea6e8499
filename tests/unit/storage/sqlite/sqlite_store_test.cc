// What SqliteStore adds to the store contract (storage/sqlite/sqlite_store.h): migrations
// applied once and in order, refusing a newer schema, rolling back a failed migration, WAL,
// and the file modes of a new database. The contract itself is checked on every backend by
// the conformance suite (tests/unit/idp/store/).

#include "storage/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <liboath/oath.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "idp/login/two_factor.h"
#include "idp/store/read_memo.h"
#include "plugin/registry.h"
#include "providers/builtin.h"
#include "storage/sqlite/migrations.h"
#include "tests/unit/test_util.h"

namespace keystep::sqlite {
namespace {

using testutil::Fails;
using testutil::Ok;
using testutil::TempDir;

std::vector<Migration> with_extra(std::vector<Migration> extra) {
  std::vector<Migration> all = kMigrations;
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

int latest_version() { return kMigrations.back().version; }

// Runs SQL on the database file through a connection of its own, bypassing the store: to
// write rows the way an older binary did.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// Inserts alice@example.com (role member, password hash "h") into `account_id` with the users
// columns of the version 7 schema, as a binary of that schema did (today's create_user writes
// the columns of later migrations); returns her id.
int64_t insert_version7_user(const std::string& path, int64_t account_id, int64_t created_at) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql =
      "INSERT INTO users (account_id, email, password_hash, role, created_at) VALUES (" +
      std::to_string(account_id) + ", 'alice@example.com', 'h', 'member', " +
      std::to_string(created_at) + ")";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  const int64_t id = sqlite3_last_insert_rowid(db);
  sqlite3_close(db);
  return id;
}

// The migrations up to `last`, as a binary of that schema applied them.
std::vector<Migration> migrations_up_to(int last) {
  std::vector<Migration> before;
  for (const Migration& m : kMigrations) {
    if (m.version <= last) before.push_back(m);
  }
  return before;
}

// An SQL blob literal, X'...'.
std::string blob_literal(const std::string& bytes) {
  std::string out = "X'";
  for (unsigned char c : bytes) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", c);
    out += hex;
  }
  return out + "'";
}

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now) : now_(now) {}
  int64_t now() const override { return now_; }

 private:
  int64_t now_;
};

// ---- Migrations

TEST(SqliteStoreMigrations, MemoryDatabaseIsAtLatestSchemaVersion) {
  auto store = SqliteStore::open(":memory:");
  ASSERT_TRUE(Ok(store));
  auto version = (*store)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, latest_version());
}

TEST(SqliteStoreMigrations, MigrationsApplyOnceAndReopenKeepsData) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  {
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(Ok(store));
    ASSERT_TRUE(Ok((*store)->create_account({.name = "acme", .issuer_label = "Acme"})));
  }
  // Re-running 001 would fail on CREATE TABLE of existing tables, so a clean reopen proves
  // it was skipped.
  auto reopened = SqliteStore::open(path);
  ASSERT_TRUE(Ok(reopened));
  auto version = (*reopened)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, latest_version());
  EXPECT_TRUE(Ok((*reopened)->account_by_name("acme")));
}

TEST(SqliteStoreMigrations, AppliesOnlyPendingMigrations) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  ASSERT_TRUE(Ok(SqliteStore::open(path)));
  const int next = latest_version() + 1;
  auto upgraded = SqliteStore::open(
      path, with_extra({{next, "next_add_column", "ALTER TABLE accounts ADD COLUMN note TEXT;"}}));
  ASSERT_TRUE(Ok(upgraded));
  auto version = (*upgraded)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, next);
}

TEST(SqliteStoreMigrations, RefusesDatabaseWithNewerSchema) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  const int future = latest_version() + 1;
  ASSERT_TRUE(Ok(SqliteStore::open(
      path, with_extra({{future, "future", "CREATE TABLE future (x INTEGER);"}}))));

  auto older_binary = SqliteStore::open(path);
  ASSERT_TRUE(Fails(older_binary, ErrorCode::kInternal));
  EXPECT_NE(older_binary.error().message.find("newer"), std::string::npos)
      << older_binary.error().message;
}

TEST(SqliteStoreMigrations, FailedMigrationIsRolledBack) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  const int next = latest_version() + 1;
  auto broken = SqliteStore::open(
      path,
      with_extra({{next, "broken", "CREATE TABLE half (x INTEGER); SELECT * FROM nowhere;"}}));
  ASSERT_TRUE(Fails(broken, ErrorCode::kInternal));
  EXPECT_NE(broken.error().message.find("broken"), std::string::npos);

  // The table from the failed migration must not exist, or this would fail.
  auto fixed =
      SqliteStore::open(path, with_extra({{next, "fixed", "CREATE TABLE half (x INTEGER);"}}));
  ASSERT_TRUE(Ok(fixed));
  auto version = (*fixed)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, next);
}

TEST(SqliteStoreMigrations, RejectsMigrationsOutOfOrder) {
  auto store = SqliteStore::open(":memory:", {{2, "two", ""}, {1, "one", ""}});
  EXPECT_TRUE(Fails(store, ErrorCode::kInternal));
}

TEST(SqliteStoreMigrations, FileDatabaseUsesWriteAheadLog) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(Ok(store));
  ASSERT_TRUE(Ok((*store)->create_account({.name = "acme", .issuer_label = "Acme"})));
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
}

TEST(SqliteStoreWrites, EveryWriteTransactionIsCountedAndReadsAreNot) {
  auto store = SqliteStore::open(":memory:");
  ASSERT_TRUE(Ok(store));
  const int64_t before = (*store)->write_transactions();
  auto account = (*store)->create_account({.name = "acme", .issuer_label = "Acme"});
  ASSERT_TRUE(Ok(account));
  EXPECT_EQ((*store)->write_transactions(), before + 1);
  ASSERT_TRUE(Ok((*store)->account_by_id(account->id)));
  ASSERT_TRUE(Ok((*store)->account_by_name("acme")));
  EXPECT_TRUE(Fails((*store)->flow_by_id("nope", 0), ErrorCode::kNotFound));
  EXPECT_EQ((*store)->write_transactions(), before + 1);
  // A multi-statement transaction is one.
  ASSERT_TRUE(Ok((*store)->create_user({.account_id = account->id,
                                        .email = "alice@example.com",
                                        .password_hash = "h",
                                        .role = kRoleMember})));
  EXPECT_EQ((*store)->write_transactions(), before + 2);
}

// A store on a database file in a temporary directory, holding the account "acme".
class SqliteFileStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::open(path_);
    ASSERT_TRUE(Ok(opened));
    store_ = std::move(*opened);
    auto account = store_->create_account({.name = "acme", .issuer_label = "Acme"});
    ASSERT_TRUE(Ok(account));
    account_ = *account;
  }

  // Commits an audit event with a 3,000-byte detail: a table page of its own, about five WAL
  // pages per commit with the index and the pages above them.
  Status append_page(int64_t at) {
    static const std::string detail(3000, 'x');
    return store_->append_audit({.at = at,
                                 .account_id = account_.id,
                                 .event = "test",
                                 .address = "",
                                 .detail = detail,
                                 .request_id = ""});
  }
  // The WAL file's size in pages: its largest so far, as a restart writes it from its start.
  int64_t wal_pages() const {
    return static_cast<int64_t>((std::filesystem::file_size(path_ + "-wal") - 32) / (4096 + 24));
  }

  TempDir dir_;
  const std::string path_ = dir_.file("keystep.db");
  std::unique_ptr<SqliteStore> store_;
  Account account_;
};

TEST_F(SqliteFileStore, TheWalIsCheckpointedByTheStoresThreadNotByACommit) {
  // Past Checkpointer::kWalPages WAL pages the thread is woken.
  for (int i = 0; i < Checkpointer::kWalPages + 200; ++i) ASSERT_TRUE(Ok(append_page(i)));
  // The thread runs on its own; bounded wait for it.
  for (int i = 0; i < 1000 && store_->wal_checkpoints() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(store_->wal_checkpoints(), 1);
  auto events = store_->audit_events(account_.id, 0, 500);
  ASSERT_TRUE(Ok(events));
  EXPECT_EQ(events->size(), 500u);
}

TEST_F(SqliteFileStore, ACheckpointAReaderHoldsUpIsRetriedEveryHundredPagesNotEveryCommit) {
  // Another connection reads inside a transaction begun before the WAL grew, so no PASSIVE
  // checkpoint can complete and the WAL stays past Checkpointer::kWalPages meanwhile.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM audit_log", nullptr, nullptr, nullptr),
            SQLITE_OK);
  for (int i = 0; i < Checkpointer::kWalPages; ++i) ASSERT_TRUE(Ok(append_page(i)));
  for (int i = 0; i < 1000 && store_->wal_checkpoints() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Until the thread has taken the wake-ups of those commits (a held-up restart makes each
  // take a few milliseconds): counted from here on, they would look like extra ones.
  for (int64_t seen = -1; seen != store_->wal_checkpoints();) {
    seen = store_->wal_checkpoints();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t first = store_->wal_checkpoints();
  EXPECT_GE(first, 1);
  // The WAL cannot start over while the reader holds its snapshot: its size counts the pages.
  const int64_t pages_before = wal_pages();
  // 300 more commits: woken once every kRetryPages pages, not after every commit.
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Ok(append_page(Checkpointer::kWalPages + i)));
    // Lets the thread take each wake-up it is given, so extra ones would be counted.
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int64_t retries = store_->wal_checkpoints() - first;
  const int64_t pages = wal_pages() - pages_before;
  ASSERT_GT(pages, 300);
  EXPECT_GE(retries, 1);
  EXPECT_LE(retries, pages / Checkpointer::kRetryPages + 1)
      << pages << " WAL pages, " << pages_before << " before";
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
}

TEST_F(SqliteFileStore, UnderASteadyLoadTheWalStartsOverInsteadOfGrowing) {
  // Commits one after the other with readers alongside, as under a benchmark: a PASSIVE
  // checkpoint alone never finds the WAL wholly copied, so the WAL used to grow by every
  // commit (to 25,693 pages here). The checkpointer's restart under the writers' mutex
  // bounds it.
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      while (!done) {
        ASSERT_TRUE(Ok(store_->account_by_id(account_.id)));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  constexpr int kCommits = 5 * Checkpointer::kWalPages;
  for (int i = 0; i < kCommits; ++i) {
    // A breath now and then, as requests have, so the test measures the WAL rather than how
    // long the checkpointer's thread waits for a core.
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(Ok(append_page(i)));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_GE(store_->wal_checkpoints(), 2);
  // Without restarts the WAL holds every page written, about five per commit (25,693 pages
  // here); with them, what a few wake-ups add while the thread copies (1,000-3,300 pages on
  // this test's machines, the most with a parallel test run taking the thread's core).
  EXPECT_LT(wal_pages(), kCommits) << store_->wal_checkpoints() << " checkpoints";
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other, "SELECT count(*) FROM audit_log", -1, &count, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(count, 0), kCommits);
  sqlite3_finalize(count);
  sqlite3_close(other);
}

// Within a request (a ReadMemoScope) a user, account or client read again is the first
// answer; a write the request commits, or one refused, makes it read afresh.
TEST_F(SqliteFileStore, ARequestReadsARowOnceUntilItWrites) {
  auto user = store_->create_user({.account_id = account_.id,
                                   .email = "alice@example.com",
                                   .password_hash = "h",
                                   .role = kRoleMember});
  ASSERT_TRUE(Ok(user));
  // Another process renames her meanwhile.
  auto rename_elsewhere = [&](const std::string& name) {
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
    const std::string sql = "UPDATE users SET display_name = '" + name + "' WHERE id = " +
                            std::to_string(user->id);
    ASSERT_EQ(sqlite3_exec(other, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(other);
  };
  {
    const ReadMemoScope request;
    const int64_t reads = store_->read_transactions();
    ASSERT_TRUE(Ok(store_->user_by_id(user->id)));
    ASSERT_TRUE(Ok(store_->account_by_id(account_.id)));
    rename_elsewhere("Alice");
    auto again = store_->user_by_id(user->id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "");  // the request's first answer
    ASSERT_TRUE(Ok(store_->account_by_id(account_.id)));
    EXPECT_EQ(store_->read_transactions(), reads + 2);
    // A write of the request's own: everything is read again.
    ASSERT_TRUE(Ok(store_->update_password_hash(user->id, "h2")));
    again = store_->user_by_id(user->id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "Alice");
    EXPECT_EQ(again->password_hash, "h2");
    // A refused write too (a flow that does not exist: its transaction is rolled back).
    rename_elsewhere("Alice B.");
    EXPECT_FALSE(Ok(store_->update_flow("no such flow", 1, {})));
    again = store_->user_by_id(user->id);
    ASSERT_TRUE(Ok(again));
    EXPECT_EQ(again->display_name, "Alice B.");
  }
  // Outside a request nothing is remembered.
  rename_elsewhere("Alice C.");
  auto outside = store_->user_by_id(user->id);
  ASSERT_TRUE(Ok(outside));
  EXPECT_EQ(outside->display_name, "Alice C.");
}

TEST_F(SqliteFileStore, AReadDoesNotWaitForAWriteInProgress) {
  // Another process holds the write lock, so the store's next write waits (up to the busy
  // timeout) inside its call.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::atomic<bool> write_returned = false;
  std::thread writer([&] {
    (void)store_->create_account({.name = "later", .issuer_label = "Later"});
    write_returned = true;
  });
  // Gives the writer time to enter its call; if it has not, the read below proves nothing
  // but cannot fail.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto read = store_->account_by_id(account_.id);
  const bool read_before_write = !write_returned;
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  writer.join();
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->name, "acme");
  EXPECT_TRUE(read_before_write) << "the read waited for the write (its busy timeout)";
  EXPECT_TRUE(Ok(store_->account_by_name("later")));
}

TEST(SqliteStoreMigrations, NewDatabaseAndItsWalAndShmAreOwnerOnlyWhateverTheUmask) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  const mode_t old_umask = ::umask(022);
  auto store = SqliteStore::open(path);
  ::umask(old_umask);
  ASSERT_TRUE(Ok(store));
  ASSERT_TRUE(Ok((*store)->create_account({.name = "acme", .issuer_label = "Acme"})));
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
}

TEST(SqliteStoreMigrations, ExistingDatabaseKeepsItsMode) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  ASSERT_TRUE(Ok(SqliteStore::open(path)));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(Ok(SqliteStore::open(path)));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// A database of the schema before migration 010: its users have no display name and are
// unverified, its clients allow only their redirect URIs' origins.
TEST(SqliteStoreMigrations, UsersAndClientsOfTheVersion9SchemaReadWithoutTheNewFields) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  int64_t user_id = 0;
  {
    auto old = SqliteStore::open(path, migrations_up_to(9));
    ASSERT_TRUE(Ok(old));
    auto account = (*old)->create_account({.name = "acme", .issuer_label = "Acme"});
    ASSERT_TRUE(Ok(account));
    user_id = insert_version7_user(path, account->id, 1'700'000'000);
  }
  ASSERT_NO_FATAL_FAILURE(raw_sql(
      path,
      "INSERT INTO clients (client_id, is_public, secret_hash, created_at) VALUES "
      "('spa', 1, '', 1700000000); INSERT INTO client_redirect_uris (client_id, kind, "
      "position, uri) VALUES ('spa', 1, 0, 'https://spa.example/cb')"));
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(Ok(store));
  auto user = (*store)->user_by_id(user_id);
  ASSERT_TRUE(Ok(user));
  EXPECT_EQ(user->display_name, "");
  EXPECT_FALSE(user->email_verified);
  auto client = (*store)->client_by_id("spa");
  ASSERT_TRUE(Ok(client));
  EXPECT_EQ(client->redirect_uris, std::vector<std::string>{"https://spa.example/cb"});
  EXPECT_TRUE(client->allowed_origins.empty());
}

// Issue 15: a client registered before migration 012 always received a refresh token and
// had no consent page; after the upgrade it still does (RefreshTokens::kAlways, first-party),
// while a client registered afterwards gets the new default.
TEST(SqliteStoreMigrations, ClientsOfEarlierSchemasKeepAlwaysGettingRefreshTokens) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  {
    auto old = SqliteStore::open(path, migrations_up_to(11));
    ASSERT_TRUE(Ok(old));
  }
  ASSERT_NO_FATAL_FAILURE(raw_sql(path,
                                  "INSERT INTO clients (client_id, is_public, secret_hash, "
                                  "created_at) VALUES ('old-app', 1, '', 1700000000)"));
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(Ok(store));
  auto old_app = (*store)->client_by_id("old-app");
  ASSERT_TRUE(Ok(old_app));
  EXPECT_EQ(old_app->grants.refresh_tokens, RefreshTokens::kAlways);
  EXPECT_EQ(old_app->grants.refresh_idle_ttl, 0);
  EXPECT_EQ(old_app->grants.refresh_absolute_ttl, 0);
  EXPECT_TRUE(old_app->grants.first_party);
  Client fresh;
  fresh.client_id = "new-app";
  fresh.is_public = true;
  fresh.redirect_uris = {"https://new.example/cb"};
  ASSERT_TRUE(Ok((*store)->create_client(fresh)));
  EXPECT_EQ((*store)->client_by_id("new-app")->grants.refresh_tokens,
            RefreshTokens::kOfflineAccess);
}

// A database made by the schema before migration 008 (the interface version 1 store): its
// credentials keep working, with no label and no lookup key.
TEST(SqliteStoreMigrations, CredentialsOfTheVersion7SchemaReadWithEmptyLabelAndLookupKey) {
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  const std::vector<Migration> before = migrations_up_to(7);
  ASSERT_EQ(before.size(), 7u);
  int64_t user_id = 0;
  {
    auto old = SqliteStore::open(path, before);
    ASSERT_TRUE(Ok(old));
    auto account = (*old)->create_account({.name = "acme", .issuer_label = "Acme"});
    ASSERT_TRUE(Ok(account));
    user_id = insert_version7_user(path, account->id, 1'700'000'000);
  }
  ASSERT_NO_FATAL_FAILURE(raw_sql(path, "INSERT INTO mfa_credentials (user_id, provider_id, secret, params, state, counter, "
            "version, confirmed, created_at, last_used_at) VALUES (" +
                std::to_string(user_id) +
                ", 'totp', X'00', '{\"algorithm\":\"SHA1\",\"digits\":6,\"period\":30}', "
                "'{}', 56666666, 3, 1, 1700000000, 1700000000)"));

  auto store = SqliteStore::open(path);
  ASSERT_TRUE(Ok(store));
  auto version = (*store)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, latest_version());
  auto credentials = (*store)->credentials_of_user(user_id);
  ASSERT_TRUE(Ok(credentials));
  ASSERT_EQ(credentials->size(), 1u);
  const MfaCredential& c = credentials->front();
  EXPECT_EQ(c.provider_id, "totp");
  EXPECT_EQ(c.counter, 56666666);
  EXPECT_EQ(c.version, 3);
  EXPECT_TRUE(c.confirmed);
  EXPECT_EQ(c.label, "");
  EXPECT_EQ(c.lookup_key, "");
  // And it takes compare-and-set updates as before.
  MfaCredential used = c;
  used.counter = 56666667;
  EXPECT_TRUE(Ok((*store)->update_credential(used, 3)));
}

// Issue 11, item 8: a user who turned on an authenticator app under the schema of migration
// 007 (one credential per provider, no label, no lookup key) keeps signing in with it after
// the upgrade, with no action: the row is written here exactly as that binary wrote it
// (the secret sealed with the AAD it used, TOTP's params, an empty state once confirmed).
TEST(SqliteStoreMigrations, ATotpUserOfTheVersion7SchemaSignsInAfterTheUpgrade) {
  constexpr int64_t kEnrolledAt = 1'700'000'000;
  constexpr int64_t kNow = kEnrolledAt + 86'400;
  // RFC 6238's SHA-1 test key.
  const std::string key = "12345678901234567890";
  TempDir dir;
  const std::string path = dir.file("keystep.db");
  OsRandom random;
  auto box = SecretBox::from_key(std::string(SecretBox::kKeySize, '\x42'));
  ASSERT_TRUE(Ok(box));
  User alice;
  {
    auto old = SqliteStore::open(path, migrations_up_to(7));
    ASSERT_TRUE(Ok(old));
    auto account = (*old)->create_account({.name = "acme", .issuer_label = "Acme"});
    ASSERT_TRUE(Ok(account));
    alice.id = insert_version7_user(path, account->id, kEnrolledAt);
    alice.account_id = account->id;
  }
  auto sealed = box->seal(key, "keystep mfa secret " + std::to_string(alice.id) + " totp", random);
  ASSERT_TRUE(Ok(sealed));
  ASSERT_NO_FATAL_FAILURE(raw_sql(
      path, "UPDATE users SET two_factor_enabled = 1 WHERE id = " + std::to_string(alice.id) +
                "; INSERT INTO mfa_credentials (user_id, provider_id, secret, params, state, "
                "counter, version, confirmed, created_at, last_used_at) VALUES (" +
                std::to_string(alice.id) + ", 'totp', " + blob_literal(*sealed) +
                ", '{\"algorithm\":\"SHA1\",\"digits\":6,\"period\":30}', '{}', " +
                std::to_string(kEnrolledAt / 30) + ", 1, 1, " + std::to_string(kEnrolledAt) +
                ", " + std::to_string(kEnrolledAt) + ")"));

  auto store = SqliteStore::open(path);
  ASSERT_TRUE(Ok(store));
  auto version = (*store)->schema_version();
  ASSERT_TRUE(Ok(version));
  EXPECT_EQ(*version, latest_version());

  // Listed as the user's one authenticator app, with the default label ("" stands for the
  // provider's display name, plugin/mfa_provider.h) and no lookup key.
  ProviderRegistry registry;
  ASSERT_TRUE(Ok(register_builtin_providers(registry, random)));
  auto credentials = (*store)->credentials_of_user(alice.id);
  ASSERT_TRUE(Ok(credentials));
  ASSERT_EQ(credentials->size(), 1u);
  const MfaCredential listed = credentials->front();
  EXPECT_EQ(listed.provider_id, kTotpProvider);
  EXPECT_TRUE(listed.confirmed);
  EXPECT_EQ(listed.label, "");
  EXPECT_EQ(registry.find(kTotpProvider)->info().display_name, "Authenticator app");
  EXPECT_EQ(listed.lookup_key, "");
  auto user = (*store)->user_by_id(alice.id);
  ASSERT_TRUE(Ok(user));
  EXPECT_TRUE(user->two_factor_enabled);

  // The second step accepts the app's current code once, and stores its use.
  FixedClock clock(kNow);
  TwoFactor two_factor(**store, **store, registry, *box, random, clock);
  char code[10] = {};
  ASSERT_EQ(oath_totp_generate(key.data(), key.size(), kNow, 30, 0, 6, code), OATH_OK);
  StepRefusal refusal;
  auto accepted = two_factor.verify_login(*user, kTotpProvider, code, "127.0.0.1", refusal);
  ASSERT_TRUE(Ok(accepted)) << refusal.message;
  auto used = (*store)->credentials_of_user(alice.id);
  ASSERT_TRUE(Ok(used));
  ASSERT_EQ(used->size(), 1u);
  EXPECT_EQ(used->front().counter, kNow / 30);
  EXPECT_EQ(used->front().version, 2);
  EXPECT_EQ(used->front().last_used_at, kNow);
  EXPECT_FALSE(two_factor.verify_login(*user, kTotpProvider, code, "127.0.0.1", refusal).ok());
}

}  // namespace
}  // namespace keystep::sqlite
