#include "providers/webauthn/client_data.h"

#include <gtest/gtest.h>

#include <string>

#include "base/crypto/encoding.h"

namespace keystep::webauthn {
namespace {

const std::string kChallenge(32, '\x5a');
const std::string kOrigin = "https://id.example.com:8443";

std::string client_data(const std::string& extra = "", const std::string& type = "webauthn.get",
                        const std::string& origin = kOrigin) {
  return R"({"type":")" + type + R"(","challenge":")" + base64url_encode(kChallenge) +
         R"(","origin":")" + origin + "\"" + extra + "}";
}

Status check(const std::string& json) {
  return check_client_data(json, {"webauthn.get", kChallenge, kOrigin});
}

TEST(ClientData, AcceptsTheCeremonysDataWithMembersBrowsersAdd) {
  EXPECT_TRUE(check(client_data()));
  EXPECT_TRUE(check(client_data(R"(,"crossOrigin":false)")));
  EXPECT_TRUE(check(client_data(
      R"(,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template")")));
  // Member order and spacing are the browser's: parsed, never matched as text.
  EXPECT_TRUE(check(R"( { "origin" : ")" + kOrigin + R"(", "challenge": ")" +
                    base64url_encode(kChallenge) + R"(", "type":"webauthn.get" } )"));
}

TEST(ClientData, RefusesAnotherTypeChallengeOrOrigin) {
  const auto denied = [](const std::string& json, const std::string& message) {
    Status s = check(json);
    ASSERT_FALSE(s) << json;
    EXPECT_EQ(s.error().code, ErrorCode::kDenied) << json;
    EXPECT_EQ(s.error().message, message);
  };
  denied(client_data("", "webauthn.create"), "clientDataJSON.type is not webauthn.get");
  denied(client_data("", "webauthn.get", "https://id.example.com"),
         "clientDataJSON.origin is not this server's origin");
  denied(client_data("", "webauthn.get", "https://id.example.com:8444"),
         "clientDataJSON.origin is not this server's origin");
  denied(client_data("", "webauthn.get", "http://id.example.com:8443"),
         "clientDataJSON.origin is not this server's origin");
  denied(client_data("", "webauthn.get", "https://evil.example.com:8443"),
         "clientDataJSON.origin is not this server's origin");
  const std::string other = R"({"type":"webauthn.get","challenge":")" +
                            base64url_encode(std::string(32, '\x5b')) + R"(","origin":")" +
                            kOrigin + "\"}";
  denied(other, "clientDataJSON.challenge is not this ceremony's");
  denied(R"({"type":"webauthn.get","challenge":"not+base64url","origin":")" + kOrigin + "\"}",
         "clientDataJSON.challenge is not this ceremony's");
  denied(client_data(R"(,"crossOrigin":true)"),
         "clientDataJSON.crossOrigin is set: the key was used from a frame of another site");
  denied(client_data(R"(,"crossOrigin":"false")"),
         "clientDataJSON.crossOrigin is set: the key was used from a frame of another site");
  denied(client_data(R"(,"topOrigin":"https://evil.example.com")"),
         "clientDataJSON.topOrigin is set: the key was used from a frame of another site");
}

TEST(ClientData, MalformedClientDataIsInvalid) {
  for (const std::string json : {"", "[]", "not json", R"({"type":"webauthn.get"})",
                                 R"({"type":1,"challenge":"AA","origin":"x"})"}) {
    Status s = check(json);
    ASSERT_FALSE(s) << json;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << json;
  }
}

}  // namespace
}  // namespace keystep::webauthn
