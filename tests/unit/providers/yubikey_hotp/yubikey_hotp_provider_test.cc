#include "providers/yubikey_hotp/yubikey_hotp_provider.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keystep {
namespace {

// Repeats a fixed byte pattern, so enrollment secrets are known in advance.
class PatternRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>('0' + (i + 1) % 10);
    return {};
  }
};

// RFC 4226 Appendix D: the secret and its codes for counts 0 to 9.
const std::string kSecret = "12345678901234567890";
const std::vector<std::string> kVectors = {"755224", "287082", "359152", "969429", "338314",
                                           "254676", "287922", "162583", "399871", "520489"};
const std::string kId = "ubhe12345678";
constexpr int64_t kNow = 1700000000;

MfaCredential key(int64_t counter = -1, std::string id = kId, int digits = 6) {
  MfaCredential c;
  c.id = 7;
  c.provider_id = "yubikey_hotp";
  c.secret = kSecret;
  c.params = {{"digits", digits}};
  c.counter = counter;
  c.confirmed = true;
  c.lookup_key = std::move(id);
  return c;
}

std::string code(uint64_t moving_factor, unsigned digits = 6) {
  return *hotp_code(kSecret, moving_factor, digits);
}

ChallengeContext at(nlohmann::json settings = nullptr) {
  ChallengeContext c;
  c.now = kNow;
  c.settings = std::move(settings);
  return c;
}

class YubikeyHotpProviderTest : public ::testing::Test {
 protected:
  Result<MfaCredential> verify(const MfaCredential& c, const std::string& typed,
                               nlohmann::json settings = nullptr) {
    return provider_.verify(c, Challenge{}, typed, at(std::move(settings)));
  }
  PatternRandom random_;
  YubikeyHotpProvider provider_{random_};
};

TEST_F(YubikeyHotpProviderTest, InfoNamesHardwareKeyAmr) {
  EXPECT_EQ(provider_.info().id, "yubikey_hotp");
  EXPECT_EQ(provider_.info().amr, (std::vector<std::string>{"hwk", "otp"}));
  EXPECT_EQ(provider_.info().kind, ProviderKind::kHardware);
}

TEST_F(YubikeyHotpProviderTest, Rfc4226AppendixDVectors) {
  for (uint64_t i = 0; i < kVectors.size(); ++i) EXPECT_EQ(code(i), kVectors[i]);
  MfaCredential c = key();
  for (size_t i = 0; i < kVectors.size(); ++i) {
    auto next = verify(c, kId + kVectors[i]);
    ASSERT_TRUE(next) << i << ": " << next.error().message;
    EXPECT_EQ(next->counter, static_cast<int64_t>(i));
    EXPECT_EQ(next->last_used_at, kNow);
    c = *next;
  }
}

TEST_F(YubikeyHotpProviderTest, AcceptsCodeTypedWithoutIdentifierOnAzertyAndWithSpaces) {
  EXPECT_EQ(verify(key(), "755 224")->counter, 0);
  EXPECT_EQ(verify(key(), "\xC3\xA9_\xC3\xA8\xC3\xA0_\xC3\xA9")->counter, 1);  // 287082
}

TEST_F(YubikeyHotpProviderTest, EightDigitCodes) {
  MfaCredential c = key(-1, kId, 8);
  EXPECT_EQ(verify(c, kId + code(0, 8))->counter, 0);
  EXPECT_EQ(verify(c, kId + code(0, 6)).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(YubikeyHotpProviderTest, LookAheadWindowEdges) {
  // Default window 10: counts 0..10 from a fresh key's start, 11 is beyond.
  EXPECT_EQ(verify(key(), kId + code(10))->counter, 10);
  EXPECT_EQ(verify(key(), kId + code(11)).error().code, ErrorCode::kOutOfSync);
  EXPECT_EQ(verify(key(4), kId + code(15))->counter, 15);
  EXPECT_EQ(verify(key(), kId + code(3), {{"look_ahead", 2}}).error().code, ErrorCode::kOutOfSync);
  EXPECT_EQ(verify(key(), kId + code(2), {{"look_ahead", 2}})->counter, 2);
  EXPECT_EQ(verify(key(), kId + code(1), {{"look_ahead", 1}})->counter, 1);
}

TEST_F(YubikeyHotpProviderTest, SyncWindowEdges) {
  EXPECT_EQ(verify(key(), kId + code(1000)).error().code, ErrorCode::kOutOfSync);
  EXPECT_EQ(verify(key(), kId + code(1001)).error().code, ErrorCode::kDenied);
  EXPECT_EQ(verify(key(), kId + code(11), {{"sync_window", 0}}).error().code, ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, LastCodeAgainIsReplayed) {
  auto used = verify(key(), kId + kVectors[3]);
  ASSERT_TRUE(used);
  EXPECT_EQ(verify(*used, kId + kVectors[3]).error().code, ErrorCode::kReplayed);
  EXPECT_EQ(verify(*used, kId + kVectors[1]).error().code, ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, WrongCodeIsDenied) {
  EXPECT_EQ(verify(key(), kId + "000000").error().code, ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, AnotherKeysIdentifierIsDenied) {
  EXPECT_EQ(verify(key(), "ubhe87654321" + kVectors[0]).error().code, ErrorCode::kDenied);
  EXPECT_EQ(verify(key(-1, ""), kId + kVectors[0]).error().code, ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, KeyWithoutIdentifierRefusedWhenAccountDisallows) {
  EXPECT_TRUE(verify(key(-1, ""), kVectors[0]));
  EXPECT_EQ(verify(key(-1, ""), kVectors[0], {{"allow_no_token_id", false}}).error().code,
            ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, LookupKeyIsTheTypedIdentifier) {
  EXPECT_EQ(provider_.lookup_key(kId + "287082"), kId);
  EXPECT_EQ(provider_.lookup_key("UBHE12345678 287082"), kId);
  EXPECT_EQ(provider_.lookup_key("287082"), std::nullopt);
  EXPECT_EQ(provider_.lookup_key("nonsense"), std::nullopt);
}

TEST_F(YubikeyHotpProviderTest, ResyncAcceptsConsecutivePairAndMovesCounterOnce) {
  auto synced = provider_.resync(key(), kId + code(500), kId + code(501), at());
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(synced->counter, 501);
  EXPECT_EQ(verify(*synced, kId + code(501)).error().code, ErrorCode::kReplayed);
  EXPECT_EQ(verify(*synced, kId + code(502))->counter, 502);
}

TEST_F(YubikeyHotpProviderTest, ResyncRefusesNonConsecutivePair) {
  EXPECT_EQ(provider_.resync(key(), kId + code(500), kId + code(502), at()).error().code,
            ErrorCode::kDenied);
  EXPECT_EQ(provider_.resync(key(), kId + code(501), kId + code(500), at()).error().code,
            ErrorCode::kDenied);
  EXPECT_EQ(provider_.resync(key(), kId + code(1001), kId + code(1002), at()).error().code,
            ErrorCode::kDenied);
  EXPECT_EQ(provider_.resync(key(), "ubhe87654321" + code(500), kId + code(501), at())
                .error()
                .code,
            ErrorCode::kDenied);
}

TEST_F(YubikeyHotpProviderTest, SettingsDefaultsAndValidation) {
  EXPECT_EQ(provider_.default_settings(),
            (nlohmann::json{{"digits", {6, 8}},
                            {"look_ahead", 10},
                            {"sync_window", 1000},
                            {"allow_no_token_id", true}}));
  auto eight = provider_.validate_settings({{"digits", {8}}, {"look_ahead", 50}});
  ASSERT_TRUE(eight);
  EXPECT_EQ((*eight)["digits"], nlohmann::json({8}));
  EXPECT_EQ((*eight)["look_ahead"], 50);
  for (const auto& bad : {nlohmann::json{{"look_ahead", 0}}, nlohmann::json{{"look_ahead", 51}},
                          nlohmann::json{{"sync_window", 10001}}, nlohmann::json{{"digits", {7}}},
                          nlohmann::json{{"digits", 6}}, nlohmann::json{{"digits", {6, 6}}},
                          nlohmann::json{{"allow_no_token_id", "yes"}},
                          nlohmann::json{{"other", 1}}}) {
    auto refused = provider_.validate_settings(bad);
    ASSERT_FALSE(refused) << bad.dump();
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.error().message.find("yubikey_hotp."), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(provider_.validate_settings({{"look_ahead", 51}}).error().message,
            "yubikey_hotp.look_ahead must be 1 to 50");
}

TEST_F(YubikeyHotpProviderTest, AdminRegistrationDrawsSecretAndConfirmsWithOneCode) {
  UserRef user{42, 1, "ann@example.com", "Acme"};
  auto begun = provider_.begin_registration_for(user, {{"digits", 6}, {"token_id", kId}},
                                                nullptr, {}, at());
  ASSERT_TRUE(begun) << begun.error().message;
  const MfaCredential& pending = begun->pending;
  EXPECT_FALSE(pending.confirmed);
  EXPECT_EQ(pending.secret, kSecret);  // PatternRandom: "1234567890" twice
  EXPECT_EQ(pending.lookup_key, kId);
  EXPECT_EQ(pending.label, "YubiKey 12345678");
  EXPECT_TRUE(begun->holds_secret);
  EXPECT_EQ(begun->client_options["secret_hex"], "3132333435363738393031323334353637383930");
  EXPECT_EQ(begun->client_options["secret_base32"], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  EXPECT_EQ(begun->client_options["digits"], 6);
  EXPECT_EQ(begun->client_options["token_id"], kId);

  EXPECT_EQ(provider_.finish_enrollment(pending, "ubhe87654321" + kVectors[0], at()).error().code,
            ErrorCode::kDenied);
  EXPECT_EQ(provider_.finish_enrollment(pending, kVectors[0], at()).error().code,
            ErrorCode::kDenied);
  auto confirmed = provider_.finish_enrollment(pending, kId + kVectors[0] + "\n", at());
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  EXPECT_TRUE(confirmed->confirmed);
  EXPECT_EQ(confirmed->counter, 0);
  EXPECT_EQ(confirmed->lookup_key, kId);
  EXPECT_EQ(provider_.finish_enrollment(*confirmed, kId + kVectors[1], at()).error().code,
            ErrorCode::kConflict);
}

TEST_F(YubikeyHotpProviderTest, AdminRegistrationRefusesBadBodies) {
  UserRef user{42, 1, "ann@example.com", "Acme"};
  for (const auto& bad : {nlohmann::json{{"digits", 7}}, nlohmann::json{{"token_id", "UBHE1"}},
                          nlohmann::json{{"label", ""}}, nlohmann::json{{"counter", 3}},
                          nlohmann::json::array()}) {
    auto refused = provider_.begin_registration_for(user, bad, nullptr, {}, at());
    ASSERT_FALSE(refused) << bad.dump();
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(provider_.begin_registration_for(user, {{"digits", 6}}, {{"digits", {8}}}, {},
                                                at()));
  EXPECT_FALSE(provider_.begin_registration_for(user, nlohmann::json::object(),
                                                {{"allow_no_token_id", false}}, {}, at()));
}

TEST_F(YubikeyHotpProviderTest, ImportTakesHexOrBase32AndTheKeysCounter) {
  UserRef user{42, 1, "ann@example.com", "Acme"};
  auto hex = provider_.register_for(user,
                                    {{"secret", "3132333435363738393031323334353637383930"},
                                     {"digits", 6},
                                     {"token_id", kId},
                                     {"counter", 5}},
                                    nullptr, at());
  ASSERT_TRUE(hex) << hex.error().message;
  EXPECT_EQ(hex->secret, kSecret);
  EXPECT_EQ(hex->counter, 4);
  EXPECT_TRUE(hex->confirmed);
  EXPECT_EQ(verify(*hex, kId + kVectors[5])->counter, 5);
  auto base32 = provider_.register_for(
      user, {{"secret", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"}, {"digits", 8}}, nullptr, at());
  ASSERT_TRUE(base32) << base32.error().message;
  EXPECT_EQ(base32->secret, kSecret);
  EXPECT_EQ(base32->counter, -1);
  EXPECT_EQ(base32->label, "YubiKey");
  EXPECT_EQ(base32->params["digits"], 8);
}

TEST_F(YubikeyHotpProviderTest, ImportRefusalsNeverRepeatTheSecret) {
  UserRef user{42, 1, "ann@example.com", "Acme"};
  const std::string secret = "3132333435363738393031323334353637383g30";
  auto refused = provider_.register_for(user, {{"secret", secret}, {"digits", 6}}, nullptr, at());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message.find(secret), std::string::npos);
  EXPECT_FALSE(provider_.register_for(user, {{"secret", "GEZDGNBV"}, {"digits", 6}}, nullptr,
                                      at()));  // 5 bytes
  EXPECT_FALSE(provider_.register_for(user, {{"secret", secret.substr(0, 38)}}, nullptr, at()));
  EXPECT_FALSE(provider_.register_for(user, {{"digits", 6}}, nullptr, at()));
}

TEST_F(YubikeyHotpProviderTest, SelfServiceEnrollmentAsksForTwoConsecutiveCodes) {
  UserRef user{42, 1, "ann@example.com", "Acme"};
  auto begun = provider_.begin_enrollment(user, nullptr);
  ASSERT_TRUE(begun) << begun.error().message;
  EXPECT_EQ(begun->input.responses, 2);
  EXPECT_EQ(begun->client_options["command"],
            "ykman otp hotp 2 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --digits 6 --counter 0 "
            "--identifier -");
  EXPECT_EQ(begun->client_options[kOptionManualKey], "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
  const MfaCredential& pending = begun->pending;
  EXPECT_EQ(provider_.finish_enrollment(pending, kId + kVectors[0], at()).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(provider_.finish_enrollment(pending, kId + kVectors[0] + "\n" + kId + kVectors[2],
                                        at())
                .error()
                .code,
            ErrorCode::kDenied);
  auto confirmed =
      provider_.finish_enrollment(pending, kId + kVectors[0] + "\n" + kId + kVectors[1], at());
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  EXPECT_EQ(confirmed->counter, 1);
  EXPECT_EQ(confirmed->lookup_key, kId);
  EXPECT_EQ(confirmed->label, "YubiKey 12345678");
  EXPECT_FALSE(confirmed->state.contains("responses"));
}

TEST_F(YubikeyHotpProviderTest, ChallengeInputTakesAKeysOutput) {
  const MfaCredential keys[] = {key(), key(-1, "ubhe87654321", 8)};
  auto challenge = provider_.begin_challenge(keys, at());
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->input.kind, InputKind::kTypedCode);
  EXPECT_EQ(challenge->input.min_length, 6);
  EXPECT_EQ(challenge->input.max_length, 20);
  EXPECT_EQ(challenge->input.inputmode, "text");
  EXPECT_TRUE(challenge->server_state.empty());
}

TEST_F(YubikeyHotpProviderTest, MalformedCredentialIsInternal) {
  MfaCredential broken = key();
  broken.params = {{"digits", 7}};
  EXPECT_EQ(verify(broken, kVectors[0]).error().code, ErrorCode::kInternal);
}

TEST_F(YubikeyHotpProviderTest, PublicDetailsAreTheTokenIdentifierAndDigitsNeverTheSecret) {
  const nlohmann::json details = provider_.public_details(key(5, kId, 8));
  EXPECT_EQ(details, (nlohmann::json{{"token_id", kId}, {"digits", 8}}));
  EXPECT_EQ(details.dump().find(kSecret), std::string::npos);
  EXPECT_EQ(details.dump().find("31323334"), std::string::npos);
  // A key programmed without an identifier has none to show; a damaged row shows nulls.
  EXPECT_EQ(provider_.public_details(key(-1, "")),
            (nlohmann::json{{"token_id", nullptr}, {"digits", 6}}));
  MfaCredential damaged = key(-1, "not an id!");
  damaged.params = {{"digits", "six"}};
  EXPECT_EQ(provider_.public_details(damaged),
            (nlohmann::json{{"token_id", nullptr}, {"digits", nullptr}}));
  damaged.params = nullptr;
  EXPECT_EQ(provider_.public_details(damaged)["digits"], nullptr);
  // Every member is labelled for the admin page.
  std::vector<std::string> keys;
  for (const DetailField& field : provider_.describe_details()) keys.push_back(field.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"token_id", "digits"}));
}

}  // namespace
}  // namespace keystep
