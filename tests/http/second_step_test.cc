// The second step with several factors, over HTTP against the real server: two authenticator
// apps on one user, each signs in; the page offers the type used last and lists the others
// and the recovery code under "Use another method"; every attempt counts once against the
// throttle however many credentials it is checked against. No JavaScript runs here: typed
// codes must work without it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <utility>
#include <vector>

#include "providers/totp/totp_provider.h"
#include "tests/http/html_scrape.h"
#include "tests/http/mfa_steps.h"

namespace keystep::httptest {
namespace {

constexpr const char* kPluginId = "static_code";
constexpr const char* kPluginCode = "424242";

using Links = std::vector<std::pair<std::string, std::string>>;  // method id, name shown

// The methods "Use another method" links, in order.
Links other_methods_on(const std::string& page) {
  static const std::regex link(
      "<a class=\"link\" href=\"/login/second-factor\\?flow=[^\"&]*&amp;method=([^\"]+)\">"
      "([^<]*)</a>");
  Links out;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), link);
       it != std::sregex_iterator(); ++it)
    out.emplace_back(html_unescape((*it)[1]), html_unescape((*it)[2]));
  return out;
}

class SecondStep : public MfaHttpTest {
 protected:
  // Enrolls another authenticator app for alice as the profile's "Add" does, through
  // TwoFactor; returns its secret ("" with a failure).
  std::string add_authenticator_app() {
    const User alice = stored_user(server_->alice_id());
    auto begun = server_->two_factor().begin_enrollment(alice, "totp");
    if (!begun) {
      ADD_FAILURE() << begun.error().message;
      return "";
    }
    auto secret = base32_decode(begun->client_options.value(kOptionManualKey, ""));
    if (!secret || secret->empty()) {
      ADD_FAILURE() << "no manual key in " << begun->client_options.dump();
      return "";
    }
    auto confirmed =
        server_->two_factor().confirm_enrollment(alice, "totp", code_now(*secret), "127.0.0.1");
    if (!confirmed) {
      ADD_FAILURE() << confirmed.error().message;
      return "";
    }
    return *secret;
  }
  int confirmed_of(const std::string& provider_id) {
    auto credentials = server_->store().credentials_of_user(server_->alice_id());
    EXPECT_TRUE(credentials);
    int n = 0;
    for (const auto& c : *credentials) n += c.confirmed && c.provider_id == provider_id;
    return n;
  }
  // A sign-in in a new browser up to the second step's default page.
  SecondFactorPage second_step() {
    new_browser();
    pkce_ = make_pkce();
    return sign_in_to_second_factor(spa_request(pkce_));
  }
  // Follows the page's "Use another method" link to `method`.
  SecondFactorPage switch_to(const SecondFactorPage& page, const std::string& method) {
    return open_second_factor_page(
        url("/login/second-factor?flow=" + page.flow + "&method=" + method));
  }
  // A code neither app accepts now (steps now-1..now+1).
  std::string wrong_for_both(const std::string& a, const std::string& b) {
    std::vector<std::string> accepted;
    for (const std::string* secret : {&a, &b})
      for (int64_t offset : {-kStep, int64_t{0}, kStep}) {
        auto code = totp_code(*secret, "SHA1", 6, kStep, clock().now() + offset);
        if (code) accepted.push_back(*code);
      }
    for (int candidate = 0;; ++candidate) {
      char text[8];
      std::snprintf(text, sizeof text, "%06d", (candidate * 7919 + 654321) % 1000000);
      if (std::find(accepted.begin(), accepted.end(), text) == accepted.end()) return text;
    }
  }
  bool signs_in(const HttpResponse& response) {
    const nlohmann::json claims = id_token_claims(code_of(response), pkce_);
    return claims.is_object() && claims["acr"] == kAcrMfa;
  }

  Pkce pkce_;
};

TEST_F(SecondStep, TwoAuthenticatorAppsOnOneUserEachSignIn) {
  const std::string phone = enable_two_factor();
  ASSERT_FALSE(phone.empty());
  clock().advance(kStep);
  const std::string tablet = add_authenticator_app();
  ASSERT_FALSE(tablet.empty());
  ASSERT_EQ(confirmed_of("totp"), 2) << "adding an app must keep the first";

  for (const std::string* secret : {&phone, &tablet, &phone}) {
    SecondFactorPage page = second_step();
    EXPECT_EQ(page.method, "totp");
    // One type, however many apps: nothing else to list but the recovery code.
    EXPECT_EQ(other_methods_on(page.response.body), (Links{{"recovery_code", "Recovery code"}}));
    EXPECT_TRUE(signs_in(submit_second_factor(page, next_code(*secret))))
        << (secret == &phone ? "phone" : "tablet");
  }
  EXPECT_EQ(confirmed_of("totp"), 2);
}

TEST_F(SecondStep, AWrongCodeCountsOnceAgainstTheThrottleWithTwoApps) {
  const std::string phone = enable_two_factor();
  ASSERT_FALSE(phone.empty());
  clock().advance(kStep);
  const std::string tablet = add_authenticator_app();
  ASSERT_FALSE(tablet.empty());
  ASSERT_EQ(confirmed_of("totp"), 2) << "adding an app must keep the first";
  SecondFactorPage page = second_step();
  clock().advance(kStep);
  HttpResponse refused = submit_second_factor(page, wrong_for_both(phone, tablet));
  EXPECT_EQ(refused.status, 401) << refused.body;
  auto attempts = server_->store().attempts("user:" + std::to_string(server_->alice_id()));
  ASSERT_TRUE(attempts);
  EXPECT_EQ(attempts->failures, 1);
  EXPECT_TRUE(signs_in(submit_second_factor(page, code_now(tablet))));
}

class SecondStepWithPlugin : public SecondStep {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugins = {std::string(KEYSTEP_TEST_PLUGIN_DIR) + "/good.so"};
    return options;
  }
  void SetUp() override {
    SecondStep::SetUp();
    if (HasFatalFailure()) return;
    // The authenticator app from the profile, then the plugin's factor, a step later.
    app_ = enable_two_factor();
    ASSERT_FALSE(app_.empty());
    clock().advance(kStep);
    const User alice = stored_user(server_->alice_id());
    ASSERT_TRUE(server_->two_factor().begin_enrollment(alice, kPluginId));
    ASSERT_TRUE(server_->two_factor().confirm_enrollment(alice, kPluginId, kPluginCode, "t"));
    clock().advance(kStep);
  }

  std::string app_;
};

TEST_F(SecondStepWithPlugin, TheDefaultMethodIsTheTypeUsedLast) {
  // Confirming a factor is its first use: the plugin's came last.
  SecondFactorPage page = second_step();
  EXPECT_EQ(page.method, kPluginId);
  SecondFactorPage app_page = switch_to(page, "totp");
  ASSERT_EQ(app_page.method, "totp");
  EXPECT_TRUE(signs_in(submit_second_factor(app_page, next_code(app_))));

  page = second_step();
  EXPECT_EQ(page.method, "totp");
  clock().advance(1);
  EXPECT_TRUE(signs_in(submit_second_factor(switch_to(page, kPluginId), kPluginCode)));

  EXPECT_EQ(second_step().method, kPluginId);
}

TEST_F(SecondStepWithPlugin, UseAnotherMethodListsTheOtherTypesAndTheRecoveryCode) {
  SecondFactorPage page = second_step();
  ASSERT_EQ(page.method, kPluginId);
  EXPECT_TRUE(page.response.body.find("Use another method") != std::string::npos);
  EXPECT_EQ(other_methods_on(page.response.body),
            (Links{{"totp", "Authenticator app"}, {"recovery_code", "Recovery code"}}));
  // Typed codes need no script: the page has none.
  EXPECT_EQ(page.response.body.find("<script"), std::string::npos);
  EXPECT_NE(page.response.body.find("pattern=\" *(?:[0123456789] *){6,6}\""), std::string::npos)
      << page.response.body;

  SecondFactorPage app_page = switch_to(page, "totp");
  EXPECT_EQ(app_page.method, "totp");
  EXPECT_EQ(other_methods_on(app_page.response.body),
            (Links{{kPluginId, "Static test code"}, {"recovery_code", "Recovery code"}}));

  SecondFactorPage recovery = switch_to(app_page, "recovery_code");
  EXPECT_EQ(recovery.method, "recovery_code");
  EXPECT_NE(recovery.response.body.find("Enter a recovery code"), std::string::npos);
  EXPECT_EQ(other_methods_on(recovery.response.body),
            (Links{{kPluginId, "Static test code"}, {"totp", "Authenticator app"}}));

  // Switching back and answering works; a method the user does not have shows the default.
  EXPECT_EQ(switch_to(recovery, "sms").method, kPluginId);
  EXPECT_TRUE(signs_in(submit_second_factor(switch_to(recovery, "totp"), next_code(app_))));
}

}  // namespace
}  // namespace keystep::httptest
