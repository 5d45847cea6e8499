// PasswordResetStore conformance (idp/store/password_reset_store.h), on every backend: links
// stored with their mail in one transaction, the second factor's pass recorded only on a
// usable link, and the reset itself single use, expiring, ending every link and session of
// the user.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int64_t kNow = 1'700'000'000;

class PasswordResetStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    auto account = store_->create_account(Account{0, "acme", "Acme", kNow, false, "{}"});
    ASSERT_TRUE(Ok(account));
    auto user = store_->create_user(User{0, account->id, "dave@example.com", "old", "member", kNow});
    ASSERT_TRUE(Ok(user));
    user_ = *user;
  }
  PasswordReset reset(const std::string& token_hash, int64_t user_id = 0) const {
    PasswordReset r;
    r.token_hash = token_hash;
    r.user_id = user_id ? user_id : user_.id;
    r.created_at = kNow;
    r.expires_at = kNow + 100;
    return r;
  }
  OutgoingMail mail(const std::string& key) const {
    OutgoingMail m;
    m.dedupe_key = key;
    m.to = "dave@example.com";
    m.subject = "Reset";
    m.mime = "Subject: Reset\r\n\r\nhi\r\n";
    m.created_at = kNow;
    return m;
  }
  size_t mail_count() { return mail_->mail_for("dave@example.com")->size(); }

  User user_;
};

TEST_P(PasswordResetStoreTest, ResetsAreStoredWithTheirMailInOneTransaction) {
  ASSERT_TRUE(Ok(store_->create_password_resets({reset("h1")}, {mail("reset:h1")})));
  auto stored = store_->password_reset("h1");
  ASSERT_TRUE(Ok(stored));
  EXPECT_EQ(stored->user_id, user_.id);
  EXPECT_EQ(stored->expires_at, kNow + 100);
  EXPECT_EQ(stored->used_at, 0);
  EXPECT_EQ(stored->verified_at, 0);
  EXPECT_EQ(mail_count(), 1u);
  // Nothing at all is a success that changes nothing.
  EXPECT_TRUE(Ok(store_->create_password_resets({}, {})));
  // A failure stores neither the links nor the mail.
  EXPECT_TRUE(Fails(store_->create_password_resets({reset("h2"), reset("h1")}, {mail("reset:h2")}),
                    ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Fails(store_->password_reset("h2"), ErrorCode::kNotFound));
  EXPECT_EQ(mail_count(), 1u);
  EXPECT_TRUE(Fails(store_->create_password_resets({reset("h3", user_.id + 100)}, {}),
                    ErrorCode::kNotFound));
}

TEST_P(PasswordResetStoreTest, TheSecondFactorIsRecordedOnlyOnAUsableLink) {
  ASSERT_TRUE(Ok(store_->create_password_resets({reset("h1")}, {})));
  ASSERT_TRUE(Ok(store_->verify_password_reset("h1", "browser", kNow + 5)));
  auto stored = store_->password_reset("h1");
  EXPECT_EQ(stored->verified_at, kNow + 5);
  EXPECT_EQ(stored->verified_by, "browser");
  EXPECT_TRUE(Fails(store_->verify_password_reset("h1", "b", kNow + 100), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->verify_password_reset("nope", "b", kNow), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->complete_password_reset("h1", "new", kNow + 6, {})));
  EXPECT_TRUE(Fails(store_->verify_password_reset("h1", "b", kNow + 7), ErrorCode::kReplayed));
}

TEST_P(PasswordResetStoreTest, CompletingChangesThePasswordOnceAndEndsLinksAndSessions) {
  ASSERT_TRUE(Ok(store_->create_password_resets({reset("h1"), reset("h2")}, {})));
  for (const char* sid : {"s1", "s2"}) {
    Session s;
    s.id_hash = std::string("hash-") + sid;
    s.sid = sid;
    s.user_id = user_.id;
    s.created_at = kNow;
    s.expires_at = kNow + 1000;
    ASSERT_TRUE(Ok(store_->create_session(s)));
  }
  EXPECT_TRUE(Fails(store_->complete_password_reset("h1", "new", kNow + 100, {}),
                    ErrorCode::kExpired));
  EXPECT_EQ(store_->user_by_id(user_.id)->password_hash, "old");
  auto ended = store_->complete_password_reset("h1", "new", kNow + 1, {mail("changed:h1")});
  ASSERT_TRUE(Ok(ended));
  EXPECT_EQ(*ended, 2);
  EXPECT_EQ(store_->user_by_id(user_.id)->password_hash, "new");
  EXPECT_TRUE(Fails(store_->session_by_sid("s1", kNow + 1), ErrorCode::kNotFound));
  EXPECT_EQ(mail_count(), 1u);
  EXPECT_EQ(store_->password_reset("h1")->used_at, kNow + 1);
  // The user's other link died with it; a used one stays used.
  EXPECT_TRUE(Fails(store_->complete_password_reset("h2", "newer", kNow + 2, {}),
                    ErrorCode::kReplayed));
  EXPECT_TRUE(Fails(store_->complete_password_reset("h1", "newer", kNow + 2, {}),
                    ErrorCode::kReplayed));
  EXPECT_TRUE(Fails(store_->complete_password_reset("nope", "newer", kNow + 2, {}),
                    ErrorCode::kNotFound));
  EXPECT_EQ(store_->user_by_id(user_.id)->password_hash, "new");
}

TEST_P(PasswordResetStoreTest, ConcurrentCompletionsChangeThePasswordOnce) {
  ASSERT_TRUE(Ok(store_->create_password_resets({reset("h1")}, {})));
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      if (store_->complete_password_reset("h1", "p" + std::to_string(i), kNow + 1, {}).ok()) ++won;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
}

TEST_P(PasswordResetStoreTest, ExpiredResetsArePurged) {
  ASSERT_TRUE(Ok(store_->create_password_resets({reset("h1")}, {})));
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + 100)));
  EXPECT_TRUE(Fails(store_->password_reset("h1"), ErrorCode::kNotFound));
}

STORE_CONFORMANCE_SUITE(PasswordResetStoreTest);

}  // namespace
}  // namespace keystep::storetest
