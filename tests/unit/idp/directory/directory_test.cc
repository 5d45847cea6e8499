// Directory: the validation that keeps bad account, user and password input out of the store.

#include "idp/directory/directory.h"

#include <gtest/gtest.h>

#include "base/clock.h"
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

TEST_F(DirectoryTest, EmailAddressesAreAsciiAddrSpecsWithinTheSmtpLimits) {
  EXPECT_EQ(*normalize_new_email("Alice.B+tag@Example.COM"), "alice.b+tag@example.com");
  for (const char* good : {"a@b", "o'neil@example.com", "x_y-z@sub-1.example.co.uk",
                           "a@localhost", "!#$%&'*+/=?^_`{|}~-@example.com"})
    EXPECT_TRUE(Ok(normalize_new_email(good))) << good;
  for (const char* bad :
       {"", "jos\xc3\xa9@example.com", "alice@exampl\xc3\xa9.com", "a b@example.com",
        "a@b@example.com", "@example.com", "alice@", "alice", ".alice@example.com",
        "alice.@example.com", "al..ice@example.com", "alice@-example.com", "alice@example-.com",
        "alice@example..com", "alice@.example.com", "alice@example.com.", "\"a\"@example.com",
        "a(b)@example.com", "a,b@example.com", "alice@[127.0.0.1]", "alice@exa_mple.com",
        "a\x7f@example.com"})
    EXPECT_TRUE(Fails(normalize_new_email(bad), ErrorCode::kInvalidArgument)) << bad;
  // RFC 5321 §4.5.3.1: a local part of 64 octets, a label of 63, a path of 256 (an address of
  // 254).
  const std::string label(63, 'd');
  EXPECT_TRUE(Ok(normalize_new_email(std::string(64, 'l') + "@example.com")));
  EXPECT_TRUE(Fails(normalize_new_email(std::string(65, 'l') + "@example.com"),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Ok(normalize_new_email("a@" + label + ".com")));
  EXPECT_TRUE(Fails(normalize_new_email("a@" + label + "d.com"), ErrorCode::kInvalidArgument));
  const std::string long_domain = label + "." + label + "." + label + "." + std::string(59, 'e');
  EXPECT_TRUE(Ok(normalize_new_email("ab@" + long_domain)));  // 254 characters
  EXPECT_TRUE(Fails(normalize_new_email("abc@" + long_domain), ErrorCode::kInvalidArgument));
}

TEST_F(DirectoryTest, UserCreateRefusesANonAsciiAddress) {
  ASSERT_TRUE(Ok(directory_->create_account("acme", "")));
  EXPECT_TRUE(
      Fails(directory_->create_user("acme", "jos\xc3\xa9@example.com", "long enough", false),
            ErrorCode::kInvalidArgument));
}

TEST_F(DirectoryTest, ClientAllowedOriginsAreNormalizedOnceEachAndBadOnesRefused) {
  NewClient client{"app", {"https://app.example.com/cb"}, {}, std::nullopt,
                   {"https://CDN.example.net:443", "https://cdn.example.net/"}};
  ASSERT_TRUE(Ok(directory_->create_client(client)));
  EXPECT_EQ(store_->client_by_id("app")->allowed_origins,
            std::vector<std::string>{"https://cdn.example.net"});
  NewClient bad{"bad", {"https://app.example.com/cb"}, {}, std::nullopt,
                {"https://cdn.example.net/app"}};
  EXPECT_TRUE(Fails(directory_->create_client(bad), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->client_by_id("bad"), ErrorCode::kNotFound));
}

TEST_F(DirectoryTest, GeneratedClientSecretsAreUrlSafeRandomAndAccepted) {
  auto one = generate_client_secret(random_);
  auto two = generate_client_secret(random_);
  ASSERT_TRUE(Ok(one));
  ASSERT_TRUE(Ok(two));
  EXPECT_NE(*one, *two);
  EXPECT_EQ(one->size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_EQ(one->find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_TRUE(Ok(directory_->create_client(
      {"web", {"https://app.example.com/cb"}, {}, *one, {}})));
  EXPECT_TRUE(verify_client_secret(store_->client_by_id("web")->secret_hash, *one));
}

TEST_F(DirectoryTest, DisplayNamesAreCheckedAndSetAtCreationOrLater) {
  EXPECT_TRUE(Ok(check_display_name("")));
  EXPECT_TRUE(Ok(check_display_name("Zoë O'Brien-Smith")));
  for (const std::string& bad : {std::string("   "), std::string("tab\there"),
                                std::string("nul\0x", 5), std::string("\xff\xfe"),
                                std::string(129, 'x')}) {
    EXPECT_TRUE(Fails(check_display_name(bad), ErrorCode::kInvalidArgument)) << bad;
  }
  ASSERT_TRUE(Ok(directory_->create_account("acme", "")));
  auto zoe = directory_->create_user("acme", "zoe@example.com", "long enough", false,
                                     UserDetails{"Zoë", true});
  ASSERT_TRUE(Ok(zoe));
  auto stored = store_->user_by_id(zoe->id);
  EXPECT_EQ(stored->display_name, "Zoë");
  EXPECT_TRUE(stored->email_verified);
  auto plain = directory_->create_user("acme", "pat@example.com", "long enough", false);
  EXPECT_EQ(store_->user_by_id(plain->id)->display_name, "");
  EXPECT_FALSE(store_->user_by_id(plain->id)->email_verified);
  EXPECT_TRUE(Fails(directory_->create_user("acme", "x@example.com", "long enough", false,
                                            UserDetails{"a\nb", false}),
                    ErrorCode::kInvalidArgument));

  EXPECT_EQ(directory_->set_display_name("acme", "PAT@example.com", "Pat")->display_name, "Pat");
  EXPECT_EQ(store_->user_by_id(plain->id)->display_name, "Pat");
  EXPECT_TRUE(Ok(directory_->set_display_name("acme", "pat@example.com", "")));
  EXPECT_EQ(store_->user_by_id(plain->id)->display_name, "");
  EXPECT_TRUE(Fails(directory_->set_display_name("acme", "nobody@example.com", "N"),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(directory_->set_display_name("nope", "pat@example.com", "N"),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(directory_->set_display_name("acme", "pat@example.com", "\x01"),
                    ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace keystep
