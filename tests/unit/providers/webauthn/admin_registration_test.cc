// WebAuthnProvider::begin_registration_for, the admin API's begin of a security key an
// administrator's tool registers (keystep-enroll fido2): the body's label, the member's keys
// excluded, the bodies it refuses. The finish is the provider's own finish_enrollment
// (tests/unit/tools/keystep-enroll/fido2_client_test.cc, tests/http/enroll_fido2_test.cc).
#include <gtest/gtest.h>

#include <vector>

#include "base/crypto/encoding.h"
#include "providers/webauthn/webauthn_provider.h"

namespace keystep {
namespace {

class WebAuthnAdminRegistration : public ::testing::Test {
 protected:
  WebAuthnAdminRegistration() : provider_(random_, webauthn::AttestationRoots()) {
    context_.now = 1'800'000'000;
    context_.rp_id = "id.example.test";
    context_.origin = "https://id.example.test";
  }
  MfaCredential registered_key(std::string id) {
    MfaCredential key;
    key.provider_id = "webauthn";
    key.confirmed = true;
    key.lookup_key = std::move(id);
    key.params = {{"transports", {"usb", "nfc"}}};
    return key;
  }

  OsRandom random_;
  WebAuthnProvider provider_;
  UserRef user_{42, 7, "ada@example.test", "Example"};
  ChallengeContext context_;
};

TEST_F(WebAuthnAdminRegistration, LabelsThePendingKeyAndExcludesTheMembersKeys) {
  std::vector<MfaCredential> existing = {registered_key("AAEC"), registered_key("AwQF")};
  auto begun = provider_.begin_registration_for(user_, {{"label", "Ada's blue key"}}, nullptr,
                                                existing, context_);
  ASSERT_TRUE(begun) << begun.error().message;
  EXPECT_EQ(begun->pending.label, "Ada's blue key");
  EXPECT_FALSE(begun->pending.confirmed);
  EXPECT_FALSE(begun->holds_secret);
  const nlohmann::json& options = begun->client_options[kOptionCeremony];
  EXPECT_EQ(options["rp"]["id"], "id.example.test");
  EXPECT_EQ(options["user"]["id"], base64url_encode(user_handle(42)));
  EXPECT_EQ(options["challenge"], begun->pending.state["challenge"]);
  ASSERT_EQ(options["excludeCredentials"].size(), 2u);
  EXPECT_EQ(options["excludeCredentials"][0],
            (nlohmann::json{{"type", "public-key"}, {"id", "AAEC"}, {"transports", {"usb", "nfc"}}}));
  EXPECT_EQ(options["excludeCredentials"][1]["id"], "AwQF");

  auto unnamed = provider_.begin_registration_for(user_, nlohmann::json::object(), nullptr, {},
                                                  context_);
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(unnamed->pending.label, "");  // finish_enrollment names it "Security key"
  EXPECT_TRUE(unnamed->client_options[kOptionCeremony]["excludeCredentials"].empty());
}

TEST_F(WebAuthnAdminRegistration, RefusesBodiesAndSettingsItDoesNotKnow) {
  for (const nlohmann::json& body :
       {nlohmann::json{{"label", ""}}, nlohmann::json{{"label", std::string(65, 'k')}},
        nlohmann::json{{"label", 5}}, nlohmann::json{{"digits", 6}}, nlohmann::json::array()}) {
    auto refused = provider_.begin_registration_for(user_, body, nullptr, {}, context_);
    ASSERT_FALSE(refused) << body.dump();
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << body.dump();
    EXPECT_NE(refused.error().message.find("webauthn"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_TRUE(provider_.begin_registration_for(user_, {{"label", std::string(64, 'k')}}, nullptr,
                                               {}, context_));
  auto bad_settings = provider_.begin_registration_for(
      user_, nlohmann::json::object(), {{"user_verification", "always"}}, {}, context_);
  ASSERT_FALSE(bad_settings);
  EXPECT_EQ(bad_settings.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace keystep
