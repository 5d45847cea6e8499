// The admin API shows, validates and stores every registered provider's settings through the
// provider (MfaProvider::default_settings / validate_settings), not only TOTP's: a provider
// the API has never heard of gets its settings member, its own messages and its defaults.
#include <gtest/gtest.h>

#include <memory>

#include "base/crypto/password.h"
#include "idp/admin/admin_api.h"
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

// A provider with one setting, "length": 4 or 6 (default 6). Its factor is never used here.
class PinProvider final : public MfaProvider {
 public:
  const ProviderInfo& info() const override { return info_; }
  ProviderSettings default_settings() const override { return {{"length", 6}}; }
  Result<ProviderSettings> validate_settings(const ProviderSettings& settings) const override {
    ProviderSettings out = default_settings();
    if (settings.is_null()) return out;
    if (!settings.is_object()) return make_error(ErrorCode::kInvalidArgument, "pin: an object");
    for (const auto& [key, value] : settings.items()) {
      if (key != "length" || !value.is_number_integer() || (value != 4 && value != 6))
        return make_error(ErrorCode::kInvalidArgument, "pin.length must be 4 or 6");
      out[key] = value;
    }
    return out;
  }
  SettingsDescription describe_settings() const override {
    return {{{"length", "Length", {{6, "6 digits"}, {4, "4 digits"}}}}, ""};
  }
  Result<Enrollment> begin_enrollment(const UserRef&, const ProviderSettings&) override {
    return make_error(ErrorCode::kInternal, "unused");
  }
  Result<MfaCredential> finish_enrollment(const MfaCredential&, std::string_view,
                                          const ChallengeContext&) override {
    return make_error(ErrorCode::kInternal, "unused");
  }
  Result<Challenge> begin_challenge(std::span<const MfaCredential>,
                                    const ChallengeContext&) override {
    return make_error(ErrorCode::kInternal, "unused");
  }
  Result<MfaCredential> verify(const MfaCredential&, const Challenge&, std::string_view,
                               const ChallengeContext&) override {
    return make_error(ErrorCode::kInternal, "unused");
  }

 private:
  ProviderInfo info_{"pin", "PIN pad", {"otp"}, ProviderKind::kHardware, false};
};

class ProviderSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = sqlite::SqliteStore::open(dir_.file("keystep.db"));
    ASSERT_TRUE(Ok(store));
    store_ = std::move(*store);
    ASSERT_TRUE(Ok(register_builtin_providers(registry_, random_)));
    ASSERT_TRUE(Ok(registry_.add(std::make_shared<PinProvider>())));
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
    auto boss = store_->create_user(User{0, account->id, "boss@example.com", "x", kRoleAdmin, 1});
    ASSERT_TRUE(Ok(boss));
    boss_ = *boss;
  }

  ApiOutcome put(const std::string& body) {
    return admin_->put_settings(Caller{boss_, false}, "acme", body, "ip");
  }
  nlohmann::json get() { return admin_->get_settings(Caller{boss_, false}, "acme").body; }

  testutil::TempDir dir_;
  FixedClock clock_;
  OsRandom random_;
  IdpConfig config_;
  PasswordHasher hasher_{Argon2Params{}, random_};
  ProviderRegistry registry_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<TwoFactor> two_factor_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<AdminApi> admin_;
  User boss_;
};

TEST_F(ProviderSettingsTest, EveryProviderWithSettingsShowsItsDefaults) {
  const nlohmann::json settings = get();
  EXPECT_EQ(settings["pin"], (nlohmann::json{{"length", 6}}));
  EXPECT_EQ(settings["totp"], (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}));
  // Recovery codes take no settings: no member.
  EXPECT_FALSE(settings.contains("recovery_code"));
}

TEST_F(ProviderSettingsTest, APutIsValidatedByTheProviderAndStoredNormalized) {
  ApiOutcome bad = put(R"({"pin":{"length":5}})");
  ASSERT_EQ(bad.fault, Fault::kInvalidRequest);
  EXPECT_EQ(bad.body["error_description"], "pin.length must be 4 or 6");
  for (const char* body : {R"({"pin":null})", R"({"pin":4})", R"({"totp":null})"}) {
    ApiOutcome refused = put(body);
    ASSERT_EQ(refused.fault, Fault::kInvalidRequest) << body;
    EXPECT_NE(refused.body["error_description"].get<std::string>().find("must be an object"),
              std::string::npos)
        << body;
  }
  ApiOutcome ok = put(R"({"pin":{"length":4}})");
  ASSERT_FALSE(ok.fault) << ok.body.dump();
  EXPECT_EQ(ok.body["pin"], (nlohmann::json{{"length", 4}}));
  // A change of one provider leaves the others' alone; an empty object changes nothing.
  ASSERT_FALSE(put(R"({"totp":{"digits":8},"pin":{}})").fault);
  EXPECT_EQ(get()["pin"], (nlohmann::json{{"length", 4}}));
  EXPECT_EQ(get()["totp"]["digits"], 8);
  auto stored = nlohmann::json::parse(store_->account_by_name("acme")->mfa_settings_json);
  EXPECT_EQ(stored["pin"], (nlohmann::json{{"length", 4}}));
  // A provider without settings refuses any, in its own words.
  ApiOutcome none = put(R"({"recovery_code":{"count":12}})");
  ASSERT_EQ(none.fault, Fault::kInvalidRequest);
  EXPECT_EQ(none.body["error_description"], "recovery_code takes no settings");
  ApiOutcome unknown = put(R"({"sms":{}})");
  ASSERT_EQ(unknown.fault, Fault::kInvalidRequest);
  EXPECT_EQ(unknown.body["error_description"], "unknown member sms");
}

}  // namespace
}  // namespace keystep
