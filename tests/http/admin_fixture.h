#pragma once
// The fixture of the admin API and onboarding tests: accounts "acme" (alice, a member, and the
// admin "boss") and "globex" (its own admin), with API tokens for boss and alice, and helpers
// for JSON requests and the messages the server queued.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "base/crypto/encoding.h"
#include "idp/mail/mail.h"
#include "tests/http/mfa_steps.h"

namespace keystep::httptest {

inline constexpr const char* kBoss = "boss@example.com";
inline constexpr const char* kBossPassword = "boss horse battery";

class AdminApiTest : public MfaHttpTest {
 protected:
  void SetUp() override {
    MfaHttpTest::SetUp();
    ASSERT_TRUE(server_->directory().create_user("acme", kBoss, kBossPassword, true));
    ASSERT_TRUE(server_->directory().create_user("globex", "gadmin@example.com",
                                                 "globex admin pass", true));
    auto boss = server_->admin_api().create_token("acme", kBoss, "test");
    ASSERT_TRUE(boss) << boss.error().message;
    boss_token_ = *boss;
    auto member = server_->admin_api().create_token("acme", TestServer::kAliceEmail, "test");
    ASSERT_TRUE(member);
    member_token_ = *member;
  }

  std::string settings_url(const std::string& account = "acme") {
    return url("/api/v1/accounts/" + account + "/authentication-settings");
  }
  HttpResponse api(const std::string& method, const std::string& path_url, const std::string& token,
                   const std::optional<std::string>& body = {}) {
    std::vector<std::string> headers = {"Authorization: Bearer " + token};
    if (body) headers.push_back("Content-Type: application/json");
    return client_.request(method, path_url, headers, body);
  }
  // Sets acme's allowed_providers (as its admin, through the API).
  void allow(const std::vector<std::string>& providers) {
    HttpResponse r = api("PUT", settings_url(), boss_token_,
                         nlohmann::json{{"allowed_providers", providers}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Turns on the boss's own 2FA through the profile pages (the browser keeps the session).
  void protect_boss() {
    ProfilePage profile = sign_in_to_profile(kBoss, kBossPassword);
    const std::string secret = secret_on(start_enable(profile));
    ASSERT_EQ(confirm_enable(profile, code_now(secret)).status, 200);
  }
  Account acme() { return *server_->store().account_by_name("acme"); }
  // The clear message of a queued one (the outbox keeps them sealed).
  std::string opened(const OutgoingMail& mail) {
    auto clear = open_mime(server_->two_factor().box(), mail.mime, mail.dedupe_key);
    EXPECT_TRUE(clear.ok());
    return clear ? *clear : "";
  }

  std::string boss_token_;
  std::string member_token_;
};

// The decoded text/plain part of a message built by idp/mail/mail.h (base64 body).
inline std::string text_part(const std::string& mime) {
  const auto type = mime.find("Content-Type: text/plain");
  if (type == std::string::npos) return "";
  const auto start = mime.find("\r\n\r\n", type);
  const auto end = mime.find("\r\n--", start);
  std::string b64;
  for (char c : mime.substr(start + 4, end - start - 4))
    if (c != '\r' && c != '\n') b64 += c;
  auto text = base64_decode(b64);
  return text ? *text : "";
}

}  // namespace keystep::httptest
