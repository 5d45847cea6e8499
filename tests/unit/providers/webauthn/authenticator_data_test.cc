#include "providers/webauthn/authenticator_data.h"

#include <gtest/gtest.h>

#include <string>

#include "base/crypto/hash.h"

namespace keystep::webauthn {
namespace {

std::string header(std::string_view rp_id, uint8_t flags) {
  return sha256(rp_id) + static_cast<char>(flags) + std::string("\x00\x00\x00\x07", 4);
}

TEST(AuthenticatorData, ReturnsTheFlagsOfAGoodHeader) {
  auto flags = check_authenticator_data(header("id.example.com", 0x05), "id.example.com", true);
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(*flags, 0x05);
  EXPECT_TRUE(check_authenticator_data(header("id.example.com", 0x19), "id.example.com", false));
}

TEST(AuthenticatorData, RefusesEachBrokenRule) {
  const auto refused = [](const std::string& data, bool uv, ErrorCode code,
                          const std::string& message) {
    auto r = check_authenticator_data(data, "id.example.com", uv);
    ASSERT_FALSE(r) << message;
    EXPECT_EQ(r.error().code, code);
    EXPECT_EQ(r.error().message, message);
  };
  refused(header("id.example.com", 0x01).substr(0, 36), false, ErrorCode::kInvalidArgument,
          "the authenticator data is too short");
  refused(header("example.com", 0x01), false, ErrorCode::kDenied,
          "the key answered for another site (rpIdHash)");
  refused(header("id.example.com", 0x04), false, ErrorCode::kDenied,
          "the key did not see a touch (user presence)");
  refused(header("id.example.com", 0x01), true, ErrorCode::kDenied,
          "the key did not verify the user (PIN or biometrics), which is required");
  refused(header("id.example.com", 0x11), false, ErrorCode::kInvalidArgument,
          "the authenticator data says backed up but not backup eligible");
}

}  // namespace
}  // namespace keystep::webauthn
