// Directory: the validation that keeps bad account, user and password input out of the store.

#include "idp/directory.h"

#include <gtest/gtest.h>

#include "idp/clock.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using testutil::Fails;
using testutil::Ok;

class DirectoryTest : public testing::Test {
 protected:
  void SetUp() override {
    auto opened = sqlite::SqliteStore::open(":memory:");
    ASSERT_TRUE(Ok(opened));
    store_ = std::move(*opened);
    directory_ = std::make_unique<Directory>(*store_, hasher_, random_, clock_);
  }

  OsRandom random_;
  SystemClock clock_;
  PasswordHasher hasher_{Argon2Params{1, 1024, 1}, random_};
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(DirectoryTest, AccountNamesAreCheckedAndNeverDigitsOnly) {
  EXPECT_TRUE(Ok(directory_->create_account("acme-2", "Acme")));
  EXPECT_TRUE(Ok(directory_->create_account("2acme", "")));
  for (const char* bad : {"", "Acme", "-acme", "ac me", "acme_1", "12345", "0"}) {
    EXPECT_TRUE(Fails(directory_->create_account(bad, ""), ErrorCode::kInvalidArgument)) << bad;
  }
  EXPECT_TRUE(Fails(directory_->create_account(std::string(64, 'a'), ""),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(directory_->create_account("label", "a:b"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(directory_->create_account("acme-2", ""), ErrorCode::kAlreadyExists));
}

TEST_F(DirectoryTest, NewPasswordsAre8To1024Bytes) {
  EXPECT_TRUE(Fails(check_new_password("short"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Ok(check_new_password("12345678")));
  EXPECT_TRUE(Ok(check_new_password(std::string(1024, 'x'))));
  EXPECT_TRUE(Fails(check_new_password(std::string(1025, 'x')), ErrorCode::kInvalidArgument));
  ASSERT_TRUE(Ok(directory_->create_account("acme", "")));
  EXPECT_TRUE(Fails(directory_->create_user("acme", "a@example.com", "short", false),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Ok(directory_->create_user("acme", "A@Example.com", "long enough", false)));
  EXPECT_TRUE(Ok(store_->user_by_email(store_->account_by_name("acme")->id, "a@example.com")));
}

}  // namespace
}  // namespace keystep
