// OnboardingStore conformance (idp/store/onboarding_store.h), on every backend: invitations
// (one open per email, single-use acceptance that creates the member atomically) and
// enrollment links (single use, expiry), plus the compare-and-set of enforcement with its
// links and mail.

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

class OnboardingStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    auto account = store_->create_account(Account{0, "acme", "Acme", kNow, false, "{}"});
    ASSERT_TRUE(Ok(account));
    account_ = *account;
    auto boss = store_->create_user(User{0, account_.id, "boss@example.com", "h", "admin", kNow});
    ASSERT_TRUE(Ok(boss));
    boss_ = *boss;
  }

  Invitation invitation(const std::string& email, const std::string& token_hash) const {
    Invitation i;
    i.account_id = account_.id;
    i.email = email;
    i.role = "member";
    i.token_hash = token_hash;
    i.invited_by = boss_.id;
    i.created_at = kNow;
    i.expires_at = kNow + 100;
    return i;
  }
  OutgoingMail mail(const std::string& key) const {
    OutgoingMail m;
    m.dedupe_key = key;
    m.to = "dave@example.com";
    m.subject = "Invited";
    m.mime = "Subject: Invited\r\n\r\nhi\r\n";
    m.created_at = kNow;
    return m;
  }
  // Turns enforcement on (it was `was_enforced`), storing `links` and queueing `mail`.
  Status enforce(bool was_enforced, std::vector<OutgoingMail> mail,
                 std::vector<EnrollmentLink> links, int64_t account_id = 0) {
    AccountMfaChange change;
    change.account_id = account_id ? account_id : account_.id;
    change.was_enforced = was_enforced;
    change.enforce_two_factor = true;
    change.mfa_settings_json = "{}";
    change.mail = std::move(mail);
    change.links = std::move(links);
    return store_->update_account_mfa(change);
  }
  User new_member() const {
    User u;
    u.password_hash = "argon2-hash";
    u.created_at = kNow + 1;
    return u;
  }

  Account account_;
  User boss_;
};

TEST_P(OnboardingStoreTest, InvitationIsStoredWithItsMailInOneTransaction) {
  auto created =
      store_->create_invitation(invitation("dave@example.com", "h1"), {mail("invite:h1")});
  ASSERT_TRUE(Ok(created));
  EXPECT_GT(created->id, 0);
  EXPECT_TRUE(created->pending(kNow));
  EXPECT_EQ(mail_->mail_for("dave@example.com")->size(), 1u);
  auto read = store_->invitation_by_token("h1");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->email, "dave@example.com");
  EXPECT_EQ(read->invited_by, boss_.id);
  // A refused invitation queues nothing: an existing member, an unknown role, a bad account.
  EXPECT_TRUE(Fails(store_->create_invitation(invitation("boss@example.com", "h2"), {mail("m2")}),
                    ErrorCode::kAlreadyExists));
  Invitation bad_role = invitation("erin@example.com", "h3");
  bad_role.role = "root";
  EXPECT_TRUE(
      Fails(store_->create_invitation(bad_role, {mail("m3")}), ErrorCode::kInvalidArgument));
  Invitation bad_account = invitation("erin@example.com", "h4");
  bad_account.account_id = 999;
  EXPECT_TRUE(Fails(store_->create_invitation(bad_account, {mail("m4")}), ErrorCode::kNotFound));
  EXPECT_EQ(mail_->mail_for("dave@example.com")->size(), 1u);
  EXPECT_TRUE(Fails(store_->invitation_by_token("nope"), ErrorCode::kNotFound));
}

TEST_P(OnboardingStoreTest, ANewInvitationReplacesTheOpenOne) {
  ASSERT_TRUE(Ok(store_->create_invitation(invitation("dave@example.com", "old"), {})));
  ASSERT_TRUE(Ok(store_->create_invitation(invitation("dave@example.com", "new"), {})));
  EXPECT_GT(store_->invitation_by_token("old")->revoked_at, 0);
  EXPECT_TRUE(store_->invitation_by_token("new")->pending(kNow));
  auto all = store_->invitations(account_.id);
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].token_hash, "new");  // newest first
  EXPECT_TRUE(Fails(store_->accept_invitation("old", new_member(), kNow), ErrorCode::kDenied));
}

TEST_P(OnboardingStoreTest, AcceptingCreatesTheMemberOnce) {
  ASSERT_TRUE(Ok(store_->create_invitation(invitation("dave@example.com", "h1"), {})));
  User member = new_member();
  member.email = "ignored@example.com";  // the invitation's email, role and account win
  member.role = "admin";
  auto created = store_->accept_invitation("h1", member, kNow + 1);
  ASSERT_TRUE(Ok(created));
  EXPECT_EQ(created->email, "dave@example.com");
  EXPECT_EQ(created->role, "member");
  EXPECT_EQ(created->account_id, account_.id);
  auto stored = store_->user_by_email(account_.id, "dave@example.com");
  ASSERT_TRUE(Ok(stored));
  EXPECT_EQ(stored->password_hash, "argon2-hash");
  EXPECT_TRUE(created->email_verified);  // the invitation's link reached the address
  EXPECT_TRUE(stored->email_verified);
  auto accepted = store_->invitation_by_token("h1");
  EXPECT_EQ(accepted->accepted_at, kNow + 1);
  EXPECT_EQ(accepted->user_id, created->id);
  EXPECT_TRUE(Fails(store_->accept_invitation("h1", new_member(), kNow + 2), ErrorCode::kReplayed));
  EXPECT_TRUE(
      Fails(store_->revoke_invitation(account_.id, accepted->id, kNow), ErrorCode::kNotFound));
}

TEST_P(OnboardingStoreTest, ConcurrentAcceptanceCreatesOneMember) {
  ASSERT_TRUE(Ok(store_->create_invitation(invitation("dave@example.com", "h1"), {})));
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (store_->accept_invitation("h1", new_member(), kNow + 1)) ++accepted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(store_->members(account_.id)->size(), 2u);
}

TEST_P(OnboardingStoreTest, ExpiredOrRevokedInvitationsCreateNobody) {
  auto created = store_->create_invitation(invitation("dave@example.com", "h1"), {});
  ASSERT_TRUE(Ok(created));
  EXPECT_TRUE(
      Fails(store_->accept_invitation("h1", new_member(), kNow + 100), ErrorCode::kExpired));
  ASSERT_TRUE(Ok(store_->revoke_invitation(account_.id, created->id, kNow + 1)));
  EXPECT_TRUE(
      Fails(store_->revoke_invitation(account_.id + 1, created->id, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->accept_invitation("h1", new_member(), kNow + 2), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->accept_invitation("nope", new_member(), kNow), ErrorCode::kNotFound));
  EXPECT_EQ(store_->members(account_.id)->size(), 1u);
}

TEST_P(OnboardingStoreTest, EnforcementStoresLinksAndMailOnlyOnItsCompareAndSet) {
  auto dave = store_->create_user(User{0, account_.id, "dave@example.com", "h", "member", kNow});
  ASSERT_TRUE(Ok(dave));
  const EnrollmentLink link{"link1", dave->id, kNow, kNow + 50, 0};
  ASSERT_TRUE(Ok(enforce(false, {mail("enforce:1")}, {link})));
  EXPECT_TRUE(store_->account_by_id(account_.id)->enforce_two_factor);
  // A second request that also saw "off" loses the race: nothing of it is stored.
  EXPECT_TRUE(Fails(enforce(false, {mail("enforce:2")}, {{"link2", dave->id, kNow, kNow + 50, 0}}),
                    ErrorCode::kConflict));
  EXPECT_EQ(mail_->mail_for("dave@example.com")->size(), 1u);
  EXPECT_TRUE(Fails(store_->enrollment_link("link2"), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(enforce(true, {}, {}, 999), ErrorCode::kNotFound));

  auto read = store_->enrollment_link("link1");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->user_id, dave->id);
  EXPECT_EQ(read->used_at, 0);
  auto used = store_->use_enrollment_link("link1", kNow + 1);
  ASSERT_TRUE(Ok(used));
  EXPECT_EQ(used->used_at, kNow + 1);
  EXPECT_TRUE(Fails(store_->use_enrollment_link("link1", kNow + 2), ErrorCode::kReplayed));
  EXPECT_TRUE(Fails(store_->use_enrollment_link("nope", kNow), ErrorCode::kNotFound));
}

TEST_P(OnboardingStoreTest, EnrollmentLinksExpireAndArePurged) {
  auto dave = store_->create_user(User{0, account_.id, "dave@example.com", "h", "member", kNow});
  ASSERT_TRUE(Ok(dave));
  ASSERT_TRUE(Ok(enforce(false, {}, {{"link1", dave->id, kNow, kNow + 50, 0}})));
  EXPECT_TRUE(Fails(store_->use_enrollment_link("link1", kNow + 50), ErrorCode::kExpired));
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + 50)));
  EXPECT_TRUE(Fails(store_->enrollment_link("link1"), ErrorCode::kNotFound));
}

TEST_P(OnboardingStoreTest, InvitationsComeInPagesNewestFirst) {
  for (const char* email : {"a@example.com", "b@example.com", "c@example.com"})
    ASSERT_TRUE(Ok(store_->create_invitation(invitation(email, email), {})));
  auto first = store_->invitations_page(account_.id, {.offset = 0, .limit = 2});
  ASSERT_TRUE(Ok(first));
  EXPECT_EQ(first->total, 3);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].email, "c@example.com");
  auto rest = store_->invitations_page(account_.id, {.offset = 2, .limit = 2});
  ASSERT_TRUE(Ok(rest));
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].email, "a@example.com");
}

STORE_CONFORMANCE_SUITE(OnboardingStoreTest);

}  // namespace
}  // namespace keystep::storetest
