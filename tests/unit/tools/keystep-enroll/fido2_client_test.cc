// keystep-enroll's FIDO2 client against the software CTAP2 authenticator (through libfido2's
// own CTAPHID framing), and the result checked by the webauthn provider: the registration by
// finish_enrollment, then an assertion the same key makes by verify.

#include "tools/keystep-enroll/fido2_client.h"

#include <fido.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/random.h"
#include "providers/webauthn/webauthn_provider.h"
#include "tests/support/soft_fido/soft_fido.h"

namespace keystep {
namespace {

using enroll::Fido2Request;
using testsupport::SoftFido;

constexpr int64_t kNow = 1'800'000'000;
const std::string kRpId = "id.example.test";
const std::string kOrigin = "https://id.example.test:8443";

// libfido2 wants fido_init once per process; FIDO_DEBUG=1 in the environment logs its CTAP
// traffic to stderr.
[[maybe_unused]] const bool kFidoReady =
    (fido_init(std::getenv("FIDO_DEBUG") ? FIDO_DEBUG : 0), true);

enroll::Fido2Keys plugged_in(std::vector<SoftFido*> keys) {
  return enroll::Fido2Keys{testsupport::manifest_of(std::move(keys)), &SoftFido::io()};
}

ChallengeContext context() {
  ChallengeContext c;
  c.now = kNow;
  c.rp_id = kRpId;
  c.origin = kOrigin;
  return c;
}

enroll::PinPrompt pin(std::string text, int* asked = nullptr, int* retries_seen = nullptr) {
  return [text, asked, retries_seen](int retries) -> std::optional<std::string> {
    if (asked) ++*asked;
    if (retries_seen) *retries_seen = retries;
    return text;
  };
}

enroll::PinPrompt no_pin_expected() {
  return [](int) -> std::optional<std::string> {
    ADD_FAILURE() << "asked for a PIN the key does not have";
    return std::nullopt;
  };
}

// `result` is an error of `code` whose message says `fragment`.
void expect_refused(const Result<std::string>& result, ErrorCode code, std::string_view fragment) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, code);
  EXPECT_NE(result.error().message.find(fragment), std::string::npos) << result.error().message;
}

class Fido2ClientTest : public ::testing::Test {
 protected:
  Fido2ClientTest() : provider_(random_, webauthn::AttestationRoots()) {
    user_.user_id = 42;
    user_.account_id = 7;
    user_.email = "ada@example.test";
    user_.issuer_label = "Example";
  }

  // The admin API's begin: a pending credential and the options the tool is given.
  Enrollment begin(const nlohmann::json& settings = nlohmann::json::object(),
                   std::span<const MfaCredential> existing = {}) {
    auto enrollment = provider_.begin_enrollment_in_context(user_, settings, existing, context());
    EXPECT_TRUE(enrollment.ok()) << enrollment.error().message;
    return std::move(*enrollment);
  }

  Fido2Request request_for(const Enrollment& enrollment, std::string device = "") {
    return Fido2Request{enrollment.client_options.at(kOptionCeremony), kOrigin, std::move(device)};
  }

  // Registers on `key` through the tool and confirms through the provider.
  MfaCredential enroll(SoftFido& key, const enroll::PinPrompt& prompt,
                       const nlohmann::json& settings = nlohmann::json::object()) {
    Enrollment enrollment = begin(settings);
    auto response = enroll::fido2_register(plugged_in({&key}), request_for(enrollment), prompt);
    EXPECT_TRUE(response.ok()) << response.error().message;
    if (!response) return {};
    auto confirmed = provider_.finish_enrollment(enrollment.pending, *response, context());
    EXPECT_TRUE(confirmed.ok()) << confirmed.error().message;
    return confirmed.ok() ? *confirmed : MfaCredential{};
  }

  OsRandom random_;
  WebAuthnProvider provider_;
  UserRef user_;
};

TEST_F(Fido2ClientTest, KeyWithoutPinRegistersAndThenSignsIn) {
  SoftFido key("soft:no-pin", {});
  MfaCredential credential = enroll(key, no_pin_expected());
  ASSERT_TRUE(credential.confirmed);
  EXPECT_EQ(credential.params["fmt"], "packed");
  EXPECT_EQ(credential.params["attestation"], "self");
  EXPECT_EQ(credential.params["alg"], -7);
  EXPECT_EQ(credential.params["transports"], nlohmann::json::array({"usb"}));
  EXPECT_EQ(credential.state["user_verified"], false);
  EXPECT_EQ(key.touches(), 1);

  std::vector<MfaCredential> keys{credential};
  auto challenge = provider_.begin_challenge(keys, context());
  ASSERT_TRUE(challenge.ok());
  auto signed_in = testsupport::sign_in(key, challenge->client_options, kOrigin, nullptr);
  ASSERT_TRUE(signed_in.ok()) << signed_in.error().message;
  const std::string response = *signed_in;
  EXPECT_EQ(provider_.lookup_key(response), credential.lookup_key);
  auto used = provider_.verify(credential, *challenge, response, context());
  ASSERT_TRUE(used.ok()) << used.error().message;
  EXPECT_EQ(used->counter, 2);
  EXPECT_EQ(key.touches(), 2);
  // The same answer again is a replay.
  auto again = provider_.verify(*used, *challenge, response, context());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kReplayed);

  // A copy of the key whose counter lags behind: cloned.
  key.set_sign_count(1);
  auto next = provider_.begin_challenge(std::vector<MfaCredential>{*used}, context());
  ASSERT_TRUE(next.ok());
  auto lagging = testsupport::sign_in(key, next->client_options, kOrigin, nullptr);
  ASSERT_TRUE(lagging.ok());
  auto cloned = provider_.verify(*used, *next, *lagging, context());
  ASSERT_FALSE(cloned.ok());
  EXPECT_EQ(cloned.error().code, ErrorCode::kCloned);
}

TEST_F(Fido2ClientTest, AnotherKeyHasNoCredentialToAnswerWith) {
  SoftFido key("soft:mine", {});
  SoftFido other("soft:other", {});
  MfaCredential credential = enroll(key, no_pin_expected());
  auto challenge = provider_.begin_challenge(std::vector<MfaCredential>{credential}, context());
  ASSERT_TRUE(challenge.ok());
  auto refused = testsupport::sign_in(other, challenge->client_options, kOrigin, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "FIDO_ERR_NO_CREDENTIALS");
}

TEST_F(Fido2ClientTest, KeyWithPinIsAskedOnceAndVerifiesTheUser) {
  SoftFido key("soft:pin", {.pin = "4711-secret"});
  int asked = 0, retries = 0;
  MfaCredential credential =
      enroll(key, pin("4711-secret", &asked, &retries), {{"user_verification", "required"}});
  ASSERT_TRUE(credential.confirmed);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(retries, 8);
  EXPECT_EQ(credential.state["user_verified"], true);

  std::vector<MfaCredential> keys{credential};
  auto challenge = provider_.begin_challenge(keys, context());
  ASSERT_TRUE(challenge.ok());
  EXPECT_EQ(challenge->client_options["userVerification"], "required");
  // Without the PIN the key does not verify the user: refused under "required".
  auto unverified = provider_.verify(
      credential, *challenge,
      *testsupport::sign_in(key, challenge->client_options, kOrigin, nullptr), context());
  ASSERT_FALSE(unverified.ok());
  EXPECT_EQ(unverified.error().code, ErrorCode::kDenied);
  auto verified = provider_.verify(
      credential, *challenge,
      *testsupport::sign_in(key, challenge->client_options, kOrigin, "4711-secret"), context());
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->state["user_verified"], true);
}

TEST_F(Fido2ClientTest, NoneAttestationRegisters) {
  SoftFido key("soft:none", {.pin = std::nullopt, .attestation = SoftFido::Attestation::kNone});
  MfaCredential credential = enroll(key, no_pin_expected());
  ASSERT_TRUE(credential.confirmed);
  EXPECT_EQ(credential.params["fmt"], "none");
  EXPECT_EQ(credential.params["attestation"], "none");
}

TEST_F(Fido2ClientTest, WrongPinSaysHowManyTriesAreLeft) {
  SoftFido key("soft:wrong", {.pin = "right"});
  Enrollment enrollment = begin();
  auto refused = enroll::fido2_register(plugged_in({&key}), request_for(enrollment), pin("wrong"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_EQ(refused.error().message, "wrong PIN (7 tries left before the key blocks its PIN)");
  EXPECT_EQ(refused.error().message.find("wrong PIN"), 0u);
  EXPECT_EQ(key.touches(), 0);  // the key never got as far as asking for a touch
  // The right PIN afterwards registers.
  auto ok = enroll::fido2_register(plugged_in({&key}), request_for(enrollment), pin("right"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(provider_.finish_enrollment(enrollment.pending, *ok, context()).ok());
}

TEST_F(Fido2ClientTest, ThreeWrongPinsInARowNeedAReplug) {
  SoftFido key("soft:three", {.pin = "right"});
  Enrollment enrollment = begin();
  const auto request = request_for(enrollment);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(enroll::fido2_register(plugged_in({&key}), request, pin("wrong")).error().code,
              ErrorCode::kDenied);
  }
  auto third = enroll::fido2_register(plugged_in({&key}), request, pin("wrong"));
  expect_refused(third, ErrorCode::kLocked, "unplug the key");
  key.replug();
  EXPECT_TRUE(enroll::fido2_register(plugged_in({&key}), request, pin("right")).ok());
}

TEST_F(Fido2ClientTest, BlockedPinIsReportedBeforeAskingForIt) {
  SoftFido key("soft:blocked", {.pin = "right"});
  Enrollment enrollment = begin();
  const auto request = request_for(enrollment);
  for (int i = 0; i < 8; ++i) {
    if (i % 3 == 0) key.replug();
    (void)enroll::fido2_register(plugged_in({&key}), request, pin("wrong"));
  }
  EXPECT_EQ(key.pin_retries(), 0);
  int asked = 0;
  auto blocked = enroll::fido2_register(plugged_in({&key}), request, pin("right", &asked));
  expect_refused(blocked, ErrorCode::kLocked, "PIN is blocked");
  EXPECT_EQ(asked, 0);
}

TEST_F(Fido2ClientTest, NoKeySeveralKeysAndDeviceChoice) {
  Enrollment enrollment = begin();
  auto none = enroll::fido2_register(plugged_in({}), request_for(enrollment), no_pin_expected());
  expect_refused(none, ErrorCode::kNotFound, "no FIDO2 security key found");

  SoftFido first("soft:first", {});
  SoftFido second("soft:second", {});
  auto several = enroll::fido2_register(plugged_in({&first, &second}), request_for(enrollment),
                                        no_pin_expected());
  expect_refused(several, ErrorCode::kInvalidArgument, "--device");
  EXPECT_NE(several.error().message.find("soft:second"), std::string::npos);

  auto unknown = enroll::fido2_register(plugged_in({&first, &second}),
                                        request_for(enrollment, "soft:third"), no_pin_expected());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  auto chosen = enroll::fido2_register(plugged_in({&first, &second}),
                                       request_for(enrollment, "soft:second"), no_pin_expected());
  ASSERT_TRUE(chosen.ok()) << chosen.error().message;
  EXPECT_EQ(first.touches(), 0);
  EXPECT_EQ(second.touches(), 1);
  EXPECT_TRUE(provider_.finish_enrollment(enrollment.pending, *chosen, context()).ok());

  auto listed = enroll::list_fido2_keys(plugged_in({&first, &second}));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].path, "soft:second");
  EXPECT_EQ((*listed)[1].product, "Soft FIDO2");
}

TEST_F(Fido2ClientTest, UntouchedKeyTimesOut) {
  SoftFido key("soft:untouched", {});
  key.set_touch(false);
  Enrollment enrollment = begin();
  auto late =
      enroll::fido2_register(plugged_in({&key}), request_for(enrollment), no_pin_expected());
  expect_refused(late, ErrorCode::kExpired, "not touched in time");
}

TEST_F(Fido2ClientTest, KeyAlreadyRegisteredIsExcluded) {
  SoftFido key("soft:twice", {});
  MfaCredential credential = enroll(key, no_pin_expected());
  std::vector<MfaCredential> existing{credential};
  Enrollment second = begin(nlohmann::json::object(), existing);
  auto excluded =
      enroll::fido2_register(plugged_in({&key}), request_for(second), no_pin_expected());
  expect_refused(excluded, ErrorCode::kDenied, "already registered");
}

TEST_F(Fido2ClientTest, UserVerificationRequiredNeedsAPin) {
  SoftFido key("soft:no-uv", {});
  Enrollment enrollment = begin({{"user_verification", "required"}});
  auto refused =
      enroll::fido2_register(plugged_in({&key}), request_for(enrollment), no_pin_expected());
  expect_refused(refused, ErrorCode::kInvalidArgument, "no PIN");
}

TEST_F(Fido2ClientTest, OptionsForAnotherSiteAreRefused) {
  SoftFido key("soft:phish", {});
  Enrollment enrollment = begin();
  Fido2Request request = request_for(enrollment);
  request.creation_options["rp"]["id"] = "evil.test";
  auto refused = enroll::fido2_register(plugged_in({&key}), request, no_pin_expected());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(key.touches(), 0);
  request.creation_options["rp"]["id"] = "example.test";  // a parent domain is fine
  EXPECT_TRUE(enroll::fido2_register(plugged_in({&key}), request, no_pin_expected()).ok());
}

}  // namespace
}  // namespace keystep

namespace keystep::enroll {
namespace {

TEST(Fido2OriginTest, IsTheIssuersSchemeHostAndPort) {
  EXPECT_EQ(*origin_of("https://id.example.com"), "https://id.example.com");
  EXPECT_EQ(*origin_of("https://ID.example.com/tenant/a"), "https://id.example.com");
  EXPECT_EQ(*origin_of("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_EQ(origin_of("id.example.com").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(origin_of("ftp://id.example.com").ok());
}

}  // namespace
}  // namespace keystep::enroll
