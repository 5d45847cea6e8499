// Two admin requests racing to enforce 2FA (AdminApi::put_settings over the real SQLite store):
// the one that loses the compare-and-set answers 409 and leaves nothing behind, no pending
// credential and no email; the member's email carries the secret that is stored.
#include <gtest/gtest.h>
#include <liboath/oath.h>

#include <functional>
#include <memory>
#include <mutex>

#include "base/crypto/encoding.h"
#include "base/crypto/password.h"
#include "idp/admin/admin_api.h"
#include "idp/mail/mail.h"
#include "providers/builtin.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using testutil::Ok;

class FixedClock final : public Clock {
 public:
  int64_t now() const override { return 1'700'000'000; }
};

// OsRandom that first runs a hook once: the racing request, at the moment the request under
// test is building its emails (they need random secrets and nonces), i.e. after it read the
// account and before its compare-and-set.
class RacingRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      hook.swap(hook_);
    }
    if (hook) hook();
    return os_.fill(out, n);
  }
  void before_next_use(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    hook_ = std::move(hook);
  }

 private:
  std::mutex mu_;
  std::function<void()> hook_;
  OsRandom os_;
};

class EnforcementRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = sqlite::SqliteStore::open(dir_.file("keystep.db"));
    ASSERT_TRUE(Ok(store));
    store_ = std::move(*store);
    ASSERT_TRUE(Ok(register_builtin_providers(registry_, random_)));
    auto key = random_bytes(random_, 32);
    ASSERT_TRUE(Ok(key));
    auto box = SecretBox::from_key(*key);
    ASSERT_TRUE(Ok(box));
    box_ = std::make_unique<SecretBox>(std::move(*box));
    two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_);
    directory_ = std::make_unique<Directory>(*store_, hasher_, random_, clock_);
    admin_ = std::make_unique<AdminApi>(config_, *store_, *store_, *directory_, *two_factor_,
                                        random_, clock_);
    auto account = store_->create_account(Account{0, "acme", "Acme", 1});
    ASSERT_TRUE(Ok(account));
    account_ = *account;
    auto boss = store_->create_user(User{0, account_.id, "boss@example.com", "x", kRoleAdmin, 1});
    ASSERT_TRUE(Ok(boss));
    boss_ = *boss;
    auto alice =
        store_->create_user(User{0, account_.id, "alice@example.com", "x", kRoleMember, 1});
    ASSERT_TRUE(Ok(alice));
    alice_ = *alice;
    protect_boss();
  }

  // The boss sets up an authenticator app (enforcing needs the admin's own 2FA first).
  void protect_boss() {
    auto view = two_factor_->begin_totp_enrollment(boss_);
    ASSERT_TRUE(Ok(view));
    std::string base32;
    for (char c : view->display_secret)
      if (c != ' ') base32 += c;
    char* secret = nullptr;
    size_t length = 0;
    ASSERT_EQ(oath_base32_decode(base32.data(), base32.size(), &secret, &length), OATH_OK);
    char code[10] = {};
    ASSERT_EQ(oath_totp_generate(secret, length, clock_.now(), 30, 0, 6, code), OATH_OK);
    free(secret);
    ASSERT_TRUE(Ok(two_factor_->confirm_totp_enrollment(boss_, code, "ip")));
  }

  ApiOutcome put(const std::string& body) {
    return admin_->put_settings(Caller{boss_, false}, "acme", body, "ip");
  }
  std::vector<MfaCredential> alice_credentials() { return *store_->credentials_of_user(alice_.id); }
  std::vector<OutgoingMail> alice_mail() { return *store_->mail_for(alice_.email); }
  // The decoded text/plain part of a queued message (sealed at rest, base64 in the MIME).
  std::string text_of(const OutgoingMail& mail) {
    auto mime = open_mime(*box_, mail.mime, mail.dedupe_key);
    EXPECT_TRUE(Ok(mime));
    if (!mime) return "";
    const auto type = mime->find("Content-Type: text/plain");
    if (type == std::string::npos) return "";
    const auto start = mime->find("\r\n\r\n", type);
    const auto end = mime->find("\r\n--", start);
    std::string b64;
    for (char c : mime->substr(start + 4, end - start - 4))
      if (c != '\r' && c != '\n') b64 += c;
    auto text = base64_decode(b64);
    return text ? *text : "";
  }

  testutil::TempDir dir_;
  FixedClock clock_;
  RacingRandom random_;
  IdpConfig config_;
  PasswordHasher hasher_{Argon2Params{}, random_};
  ProviderRegistry registry_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<TwoFactor> two_factor_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<AdminApi> admin_;
  Account account_;
  User boss_;
  User alice_;
};

constexpr const char* kEnforceByQr =
    R"({"enforce_two_factor":true,"confirm":true,"enrollment_email":"qr_code"})";
constexpr const char* kEnforceByLink =
    R"({"enforce_two_factor":true,"confirm":true,"enrollment_email":"link"})";

TEST_F(EnforcementRaceTest, TheLoserLeavesNoPendingCredentialAndNoEmail) {
  // The winner emails an enrollment link: it stores no pending credential.
  ApiOutcome winner;
  random_.before_next_use([&] { winner = put(kEnforceByLink); });
  ApiOutcome loser = put(kEnforceByQr);
  ASSERT_FALSE(winner.fault) << winner.body.dump();
  EXPECT_EQ(loser.fault, Fault::kConflict) << loser.body.dump();
  EXPECT_TRUE(alice_credentials().empty()) << "the loser's pending secret was stored";
  ASSERT_EQ(alice_mail().size(), 1u);
  EXPECT_NE(text_of(alice_mail()[0]).find("/enroll?token="), std::string::npos);
}

TEST_F(EnforcementRaceTest, TheEmailOfTheWinnerCarriesTheSecretThatIsStored) {
  ApiOutcome winner;
  random_.before_next_use([&] { winner = put(kEnforceByQr); });
  ApiOutcome loser = put(kEnforceByQr);
  ASSERT_FALSE(winner.fault) << winner.body.dump();
  EXPECT_EQ(loser.fault, Fault::kConflict) << loser.body.dump();
  ASSERT_EQ(alice_mail().size(), 1u);
  auto pending = two_factor_->pending_totp_enrollment(alice_);
  ASSERT_TRUE(Ok(pending));
  EXPECT_NE(text_of(alice_mail()[0]).find(pending->display_secret), std::string::npos)
      << "the email carries a secret that is no longer stored";
}

}  // namespace
}  // namespace keystep
