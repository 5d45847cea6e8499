// AdminStore::update_account_mfa conformance (idp/store/admin_store.h), on every backend: the
// account's 2FA settings, changed by compare-and-set together with the pending credentials,
// enrollment links and emails the change causes, all in one transaction or not at all.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int64_t kNow = 1'700'000'000;

class AccountMfaStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    for (auto [name, account] : {std::pair{"acme", &acme_}, std::pair{"globex", &globex_}}) {
      auto created = store_->create_account(Account{0, name, name, kNow, false, "{}"});
      ASSERT_TRUE(Ok(created));
      *account = *created;
    }
    auto alice =
        store_->create_user(User{0, acme_.id, "alice@example.com", "h", kRoleMember, kNow});
    ASSERT_TRUE(Ok(alice));
    alice_ = *alice;
    auto gina =
        store_->create_user(User{0, globex_.id, "gina@example.com", "h", kRoleMember, kNow});
    ASSERT_TRUE(Ok(gina));
    gina_ = *gina;
  }

  static AccountMfaChange change(int64_t account_id, bool was_enforced, bool enforce,
                                 const std::string& settings = "{}") {
    AccountMfaChange c;
    c.account_id = account_id;
    c.was_enforced = was_enforced;
    c.enforce_two_factor = enforce;
    c.mfa_settings_json = settings;
    return c;
  }
  // Turning acme's enforcement on, with a pending secret, a link and an email for alice.
  AccountMfaChange enforcement(bool was_enforced) const {
    AccountMfaChange c = change(acme_.id, was_enforced, true, R"({"totp":{"digits":8}})");
    c.pending_credentials.push_back(pending(alice_.id, "sealed-new"));
    c.links.push_back(EnrollmentLink{"link-hash", alice_.id, kNow, kNow + 50, 0});
    OutgoingMail m;
    m.dedupe_key = "enforce:alice";
    m.to = alice_.email;
    m.subject = "Set up two-factor authentication";
    m.mime = "Subject: Set up\r\n\r\nhi\r\n";
    m.created_at = kNow;
    c.mail.push_back(m);
    return c;
  }
  static MfaCredential pending(int64_t user_id, const std::string& secret) {
    MfaCredential c;
    c.user_id = user_id;
    c.provider_id = "totp";
    c.secret = secret;
    c.params = {{"algorithm", "SHA1"}, {"digits", 8}, {"period", 30}};
    c.state = nlohmann::json::object();
    c.created_at = kNow;
    return c;
  }

  Account acme() { return *store_->account_by_id(acme_.id); }
  std::vector<MfaCredential> credentials_of(const User& user) {
    return *store_->credentials_of_user(user.id);
  }
  // Nothing of enforcement(...) is stored and acme's settings are as they were.
  void expect_nothing_of_the_enforcement() {
    EXPECT_FALSE(acme().enforce_two_factor);
    EXPECT_EQ(acme().mfa_settings_json, "{}");
    EXPECT_TRUE(credentials_of(alice_).empty());
    EXPECT_TRUE(Fails(store_->enrollment_link("link-hash"), ErrorCode::kNotFound));
    EXPECT_TRUE(mail_->mail_for(alice_.email)->empty());
  }

  Account acme_;
  Account globex_;
  User alice_;
  User gina_;
};

TEST_P(AccountMfaStoreTest, UpdatesTheSettingAndTheSettingsButNoUsersOwnFlag) {
  const std::string settings = R"({"totp":{"digits":8}})";
  ASSERT_TRUE(Ok(store_->update_account_mfa(change(acme_.id, false, true, settings))));
  EXPECT_TRUE(acme().enforce_two_factor);
  EXPECT_EQ(acme().mfa_settings_json, settings);
  ASSERT_TRUE(Ok(store_->update_account_mfa(change(acme_.id, true, false))));
  EXPECT_FALSE(acme().enforce_two_factor);
  EXPECT_EQ(acme().mfa_settings_json, "{}");
  EXPECT_FALSE(store_->user_by_id(alice_.id)->two_factor_enabled);
  // Settings alone change with the setting unchanged.
  ASSERT_TRUE(Ok(store_->update_account_mfa(change(acme_.id, false, false, settings))));
  EXPECT_EQ(acme().mfa_settings_json, settings);
}

TEST_P(AccountMfaStoreTest, UnknownAccountOrSettingsThatAreNotJsonAreRefused) {
  EXPECT_TRUE(Fails(store_->update_account_mfa(change(acme_.id + 100, false, true)),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->update_account_mfa(change(acme_.id, false, true, "{\"totp\":")),
                    ErrorCode::kInvalidArgument));
  EXPECT_FALSE(acme().enforce_two_factor);
  EXPECT_EQ(acme().mfa_settings_json, "{}");
}

TEST_P(AccountMfaStoreTest, StoresThePendingSecretsLinksAndEmailsWithTheChange) {
  MfaCredential older = pending(alice_.id, "sealed-old");
  older.params["digits"] = 6;
  ASSERT_TRUE(Ok(store_->put_pending_credential(older)));
  ASSERT_TRUE(Ok(store_->update_account_mfa(enforcement(false))));
  EXPECT_TRUE(acme().enforce_two_factor);
  // The new pending secret replaces the one alice had begun.
  const auto credentials = credentials_of(alice_);
  ASSERT_EQ(credentials.size(), 1u);
  EXPECT_EQ(credentials[0].secret, "sealed-new");
  EXPECT_EQ(credentials[0].params["digits"], 8);
  EXPECT_FALSE(credentials[0].confirmed);
  EXPECT_TRUE(Ok(store_->enrollment_link("link-hash")));
  EXPECT_EQ(mail_->mail_for(alice_.email)->size(), 1u);
}

TEST_P(AccountMfaStoreTest, TheLoserOfTheCompareAndSetStoresNothing) {
  // Another request turned enforcement on and off again meanwhile: this one saw "on".
  EXPECT_TRUE(Fails(store_->update_account_mfa(enforcement(true)), ErrorCode::kConflict));
  expect_nothing_of_the_enforcement();
  // Two requests that both saw "off": only the first stores what it causes.
  ASSERT_TRUE(Ok(store_->update_account_mfa(enforcement(false))));
  AccountMfaChange second = enforcement(false);
  second.pending_credentials[0].secret = "sealed-second";
  second.mail[0].dedupe_key = "enforce:alice:2";
  second.links[0].token_hash = "link-hash-2";
  EXPECT_TRUE(Fails(store_->update_account_mfa(second), ErrorCode::kConflict));
  const auto credentials = credentials_of(alice_);
  ASSERT_EQ(credentials.size(), 1u);
  EXPECT_EQ(credentials[0].secret, "sealed-new");
  EXPECT_TRUE(Fails(store_->enrollment_link("link-hash-2"), ErrorCode::kNotFound));
  EXPECT_EQ(mail_->mail_for(alice_.email)->size(), 1u);
}

TEST_P(AccountMfaStoreTest, APendingSecretThatIsConfirmedOrOfAnotherAccountChangesNothing) {
  AccountMfaChange confirmed = enforcement(false);
  confirmed.pending_credentials[0].confirmed = true;
  EXPECT_TRUE(Fails(store_->update_account_mfa(confirmed), ErrorCode::kInvalidArgument));
  expect_nothing_of_the_enforcement();
  AccountMfaChange foreign = enforcement(false);
  foreign.pending_credentials.push_back(pending(gina_.id, "sealed-gina"));
  EXPECT_TRUE(Fails(store_->update_account_mfa(foreign), ErrorCode::kInvalidArgument));
  expect_nothing_of_the_enforcement();
  EXPECT_TRUE(credentials_of(gina_).empty());
}

TEST_P(AccountMfaStoreTest, AnEmailThatCannotBeQueuedChangesNothing) {
  AccountMfaChange broken = enforcement(false);
  broken.mail[0].to = "";
  EXPECT_TRUE(Fails(store_->update_account_mfa(broken), ErrorCode::kInvalidArgument));
  expect_nothing_of_the_enforcement();
}

STORE_CONFORMANCE_SUITE(AccountMfaStoreTest);

}  // namespace
}  // namespace keystep::storetest
