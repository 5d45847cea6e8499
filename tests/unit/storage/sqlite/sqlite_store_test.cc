// What SqliteStore adds to the store contract (storage/sqlite/sqlite_store.h): migrations
// applied once and in order, refusing a newer schema, rolling back a failed migration, WAL,
// and the file modes of a new database. The contract itself is checked on every backend by
// the conformance suite (tests/unit/idp/store/).

#include "storage/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace keystep::sqlite
