// The step-up gate of sensitive actions (issue 9, item 1): a password-only session from before
// 2FA was turned on (by the user or by the account) cannot regenerate recovery codes, change
// factors or mint API tokens; a session older than reauthentication_max_age must sign in again.
#include <gtest/gtest.h>

#include "tests/http/admin_fixture.h"
#include "tests/support/account_mfa.h"

namespace keystep::httptest {
namespace {

class SessionGateTest : public AdminApiTest {
 protected:
  // A browser signed in to the profile with the password only.
  struct Browser {
    CookieJar jar;
    std::string csrf;
  };
  Browser password_only_browser(const std::string& email, const std::string& password) {
    new_browser();
    ProfilePage page = sign_in_to_profile(email, password);
    return Browser{browser_, page.csrf_token};
  }
  HttpResponse regenerate_codes(Browser& b) {
    return client_.post_form(url("/profile/recovery-codes"), {{"csrf_token", b.csrf}}, &b.jar);
  }
  // POST …/tokens with the browser session (as the admin page's scripts would).
  HttpResponse create_token_by_session(Browser& b) {
    return client_.request("POST", url("/api/v1/accounts/acme/tokens"),
                           {"Content-Type: application/json", "X-CSRF-Token: " + b.csrf,
                            "Cookie: " + b.jar.header_for("/api/v1/accounts/acme/tokens")},
                           R"({"name":"from an old session"})");
  }
  static bool is_sign_in(const HttpResponse& r) {
    return r.status == 302 && r.location().find("/login?flow=") != std::string::npos;
  }
};

TEST_F(SessionGateTest, TurningTwoFactorOnEndsTheUsersOtherPasswordOnlySessions) {
  Browser old = password_only_browser(TestServer::kAliceEmail, TestServer::kAlicePassword);
  new_browser();
  enable_two_factor();  // in another browser
  const auto codes = recovery_codes_;

  HttpResponse refused = regenerate_codes(old);
  EXPECT_NE(refused.status, 200);
  EXPECT_TRUE(recovery_codes_on(refused).empty());
  // The old session is gone: the profile asks for a sign-in again.
  HttpResponse profile = client_.get(url("/profile"), &old.jar);
  EXPECT_TRUE(is_sign_in(profile)) << profile.status << " " << profile.location();
  // The codes shown at enrollment are still the valid ones.
  auto status = server_->two_factor().status(stored_user(server_->alice_id()));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->recovery_codes_left, static_cast<int>(codes.size()));
}

TEST_F(SessionGateTest, EnablingUpgradesTheCurrentSessionToTwoFactor) {
  enable_two_factor();
  // The code that confirmed the app counts as this session's second factor: the profile
  // actions go on without another sign-in.
  ProfilePage profile = open_profile();
  HttpResponse codes =
      client_.post_form(url("/profile/recovery-codes"), {{"csrf_token", profile.csrf_token}},
                        &browser_);
  EXPECT_EQ(codes.status, 200);
  EXPECT_EQ(recovery_codes_on(codes).size(), 10u);
}

TEST_F(SessionGateTest, PasswordOnlySessionFromBeforeEnforcementCannotRegenerateRecoveryCodes) {
  // Alice set up an app when acme first enforced 2FA (her own setting stays off); acme then
  // stopped enforcing, so her next sign-in asked for the password only.
  new_browser();
  enable_two_factor();
  ASSERT_TRUE(server_->set_user_two_factor_flag(server_->alice_id(), false));
  Browser old = password_only_browser(TestServer::kAliceEmail, TestServer::kAlicePassword);
  // Now acme enforces 2FA again.
  ASSERT_TRUE(
      testsupport::set_account_mfa(server_->store(), acme().id, true, acme().mfa_settings_json));

  HttpResponse refused = regenerate_codes(old);
  EXPECT_TRUE(is_sign_in(refused)) << refused.status << " " << refused.location();
  EXPECT_TRUE(recovery_codes_on(refused).empty());
  // The sign-in it leads to asks for the password again, the email prefilled.
  browser_ = old.jar;
  LoginPage login = open_login_page(refused.location());
  EXPECT_NE(login.response.body.find(TestServer::kAliceEmail), std::string::npos);
}

// The enable page shows the pending secret, which may be the one the enforcement email carries:
// an old password-only session must not learn it.
TEST_F(SessionGateTest, PasswordOnlySessionCannotSeeThePendingSecretOnceTheAccountEnforces) {
  Browser old = password_only_browser(TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_TRUE(
      testsupport::set_account_mfa(server_->store(), acme().id, true, acme().mfa_settings_json));
  ASSERT_TRUE(server_->two_factor().begin_totp_enrollment(stored_user(server_->alice_id())));
  HttpResponse page = client_.get(url("/profile/two-factor/enable"), &old.jar);
  EXPECT_TRUE(is_sign_in(page)) << page.status;
  EXPECT_EQ(page.body.find("otpauth"), std::string::npos);
}

TEST_F(SessionGateTest, PasswordOnlyAdminSessionCannotMintTokensOnceTheAccountEnforces) {
  Browser old = password_only_browser(kBoss, kBossPassword);
  ASSERT_EQ(create_token_by_session(old).status, 201);
  // Another administrator makes acme enforce 2FA.
  ASSERT_TRUE(
      testsupport::set_account_mfa(server_->store(), acme().id, true, acme().mfa_settings_json));

  HttpResponse refused = create_token_by_session(old);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.json().value("error", ""), "insufficient_user_authentication");
  EXPECT_NE(refused.header("WWW-Authenticate").value_or("").find("insufficient_user_authentication"),
            std::string::npos);
  // Reading is refused too at the wrong level.
  HttpResponse read = client_.request(
      "GET", url("/api/v1/accounts/acme/tokens"),
      {"Cookie: " + old.jar.header_for("/api/v1/accounts/acme/tokens")});
  EXPECT_EQ(read.status, 401);
  // The admin page sends the same session to sign in again.
  HttpResponse page = client_.get(url("/account/authentication"), &old.jar);
  EXPECT_TRUE(is_sign_in(page)) << page.status;
}

TEST_F(SessionGateTest, StaleSessionMustSignInAgainForSensitiveActions) {
  new_browser();
  const std::string secret = enable_two_factor();
  ProfilePage profile = open_profile();
  clock().advance(15 * 60 + 1);  // past reauthentication_max_age

  HttpResponse codes =
      client_.post_form(url("/profile/recovery-codes"), {{"csrf_token", profile.csrf_token}},
                        &browser_);
  ASSERT_TRUE(is_sign_in(codes)) << codes.status;
  HttpResponse off = client_.post_form(
      url("/profile/two-factor"),
      {{"csrf_token", profile.csrf_token}, {"action", "disable"},
       {"password", TestServer::kAlicePassword}},
      &browser_);
  EXPECT_TRUE(is_sign_in(off)) << off.status;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);

  // Signing in again (password and code) lets the action through.
  LoginPage login = open_login_page(codes.location());
  HttpResponse password =
      submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(password.status, 302);
  SecondFactorPage second = open_second_factor_page(password.location());
  HttpResponse done = submit_second_factor(second, next_code(secret));
  ASSERT_EQ(done.status, 302);
  EXPECT_EQ(done.location(), url("/profile"));
  ProfilePage fresh = open_profile();
  HttpResponse again =
      client_.post_form(url("/profile/recovery-codes"), {{"csrf_token", fresh.csrf_token}},
                        &browser_);
  EXPECT_EQ(again.status, 200);
}

TEST_F(SessionGateTest, StaleSessionCannotChangeAccountSettingsThroughTheApi) {
  protect_boss();
  Browser boss{browser_, open_profile().csrf_token};
  auto put = [&]() {
    return client_.request("PUT", settings_url(),
                           {"Content-Type: application/json", "X-CSRF-Token: " + boss.csrf,
                            "Cookie: " + boss.jar.header_for("/api/v1/accounts/acme/x")},
                           R"({"enforce_two_factor":true,"confirm":true})");
  };
  clock().advance(15 * 60 + 1);
  HttpResponse stale = put();
  EXPECT_EQ(stale.status, 401);
  EXPECT_EQ(stale.json().value("error", ""), "insufficient_user_authentication");
  EXPECT_FALSE(acme().enforce_two_factor);
  // Reading stays possible with the session at the right level.
  HttpResponse read = client_.request(
      "GET", settings_url(), {"Cookie: " + boss.jar.header_for("/api/v1/accounts/acme/x")});
  EXPECT_EQ(read.status, 200);
}

}  // namespace
}  // namespace keystep::httptest
