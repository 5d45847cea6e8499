// Step-up at /authorize: an existing session is reused when the factors the request needs
// are fresh; otherwise only the missing or stale factors are asked again (acr_values,
// max_age, prompt, account enforcement).

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/http/mfa_steps.h"
#include "tests/support/account_mfa.h"

namespace keystep::httptest {
namespace {

constexpr const char* kAcr1fa = "urn:keystep:loa:1fa";
constexpr const char* kAcr2fa = "urn:keystep:loa:2fa";

bool amr_has(const nlohmann::json& claims, const std::string& value) {
  const auto& amr = claims.value("amr", nlohmann::json::array());
  return std::find(amr.begin(), amr.end(), value) != amr.end();
}

class StepUp : public MfaHttpTest {
 protected:
  void enforce(bool on) {
    const User alice = stored_user(server_->alice_id());
    auto s = testsupport::set_account_mfa(server_->store(), alice.account_id, on, "{}");
    ASSERT_TRUE(s) << s.error().message;
  }

  // Alice enrolls, then signs in with both factors in a new browser; returns the time of the
  // second step.
  int64_t sign_in_with_both_factors() {
    secret_ = enable_two_factor();
    if (secret_.empty()) return 0;
    new_browser();
    const Pkce pkce = make_pkce();
    SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
    const std::string code = next_code(secret_);
    const int64_t at = clock().now();
    if (code_of(submit_second_factor(page, code)).empty()) return 0;
    return at;
  }

  // Alice holds a confirmed authenticator app while her own setting is off and her account
  // enforces nothing, and signs in with the password alone in a new browser.
  void password_only_session_of_user_with_a_factor() {
    secret_ = enable_two_factor();
    ASSERT_FALSE(secret_.empty());
    ASSERT_TRUE(server_->set_user_two_factor_flag(server_->alice_id(), false));
    new_browser();
    const Pkce pkce = make_pkce();
    const nlohmann::json claims = id_token_claims(sign_in_for_code(spa_request(pkce)), pkce);
    ASSERT_EQ(claims.value("acr", ""), kAcr1fa);
  }

  std::string secret_;
};

TEST_F(StepUp, TwoFactorSessionGetsACodeForAcr2faWithoutAPrompt) {
  const int64_t signed_in_at = sign_in_with_both_factors();
  ASSERT_NE(signed_in_at, 0);
  clock().advance(10);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(with(spa_request(pkce), "acr_values", kAcr2fa));
  const nlohmann::json claims = id_token_claims(code_of(r), pkce);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["acr"], kAcr2fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
  EXPECT_EQ(claims["auth_time"], signed_in_at);
}

TEST_F(StepUp, MaxAgeLongerThanTheSessionsAgeReusesIt) {
  ASSERT_NE(sign_in_with_both_factors(), 0);
  clock().advance(100);
  const Pkce pkce = make_pkce();
  EXPECT_FALSE(code_of(authorize(with(spa_request(pkce), "max_age", "500"))).empty());
}

TEST_F(StepUp, MaxAgeShorterThanTheSessionsAgeAsksBothFactorsAgain) {
  ASSERT_NE(sign_in_with_both_factors(), 0);
  clock().advance(100);
  const Pkce pkce = make_pkce();
  const Fields params = with(spa_request(pkce), "max_age", "50");
  HttpResponse r = authorize(params);
  EXPECT_EQ(r.status, 302);
  ASSERT_EQ(without_query(r.location()), url("/login")) << "both factors are stale";

  SecondFactorPage page = sign_in_to_second_factor(params);
  const std::string code = next_code(secret_);
  const int64_t at = clock().now();
  const nlohmann::json claims = id_token_claims(code_of(submit_second_factor(page, code)), pkce);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["auth_time"], at);
  EXPECT_EQ(claims["acr"], kAcr2fa);
}

TEST_F(StepUp, PromptLoginAsksThePasswordAgain) {
  ASSERT_NE(sign_in_with_both_factors(), 0);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(with(spa_request(pkce), "prompt", "login"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), url("/login"));
}

TEST_F(StepUp, PasswordOnlyUserAskingForAcr2faGetsAcr1fa) {
  const Pkce pkce = make_pkce();
  const Fields params = with(spa_request(pkce), "acr_values", kAcr2fa);
  const nlohmann::json claims = id_token_claims(sign_in_for_code(params), pkce);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["acr"], kAcr1fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd"}));
  // Without a factor to step up with, the session is reused rather than sent to /login.
  const Pkce again = make_pkce();
  const nlohmann::json reused =
      id_token_claims(code_of(authorize(with(spa_request(again), "acr_values", kAcr2fa))), again);
  EXPECT_EQ(reused.value("acr", ""), kAcr1fa);
}

// The code that confirmed the authenticator app is the session's second factor: the session
// that turned 2FA on is at the 2FA level (issue 9: it no longer stays password-only).
TEST_F(StepUp, SessionThatJustEnabledTwoFactorIsAtTheTwoFactorLevel) {
  secret_ = enable_two_factor();
  ASSERT_FALSE(secret_.empty());
  const int64_t at = clock().now();
  clock().advance(kStep);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(spa_request(pkce));
  EXPECT_EQ(r.status, 302);
  const nlohmann::json claims = id_token_claims(code_of(r), pkce);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["acr"], kAcr2fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
  EXPECT_EQ(claims["auth_time"], at);
}

TEST_F(StepUp, EnforcementAfterAPasswordOnlySessionAsksOnlyTheSecondFactor) {
  password_only_session_of_user_with_a_factor();
  if (HasFatalFailure()) return;
  enforce(true);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(spa_request(pkce));
  ASSERT_EQ(without_query(r.location()), url("/login/second-factor")) << r.location();
  SecondFactorPage page = open_second_factor_page(r.location());
  const nlohmann::json claims =
      id_token_claims(code_of(submit_second_factor(page, next_code(secret_))), pkce);
  EXPECT_EQ(claims.value("acr", ""), kAcr2fa);
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(StepUp, Acr2faStepsUpAPasswordOnlySessionOfUserWithAFactor) {
  password_only_session_of_user_with_a_factor();
  if (HasFatalFailure()) return;
  const Pkce plain = make_pkce();
  EXPECT_FALSE(code_of(authorize(spa_request(plain))).empty()) << "no step-up unasked";

  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(with(spa_request(pkce), "acr_values", kAcr2fa));
  ASSERT_EQ(without_query(r.location()), url("/login/second-factor")) << r.location();
  SecondFactorPage page = open_second_factor_page(r.location());
  const nlohmann::json claims =
      id_token_claims(code_of(submit_second_factor(page, next_code(secret_))), pkce);
  EXPECT_EQ(claims.value("acr", ""), kAcr2fa);
}

TEST_F(StepUp, PromptNoneWithAMissingSecondFactorIsLoginRequired) {
  password_only_session_of_user_with_a_factor();
  if (HasFatalFailure()) return;
  enforce(true);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(with(spa_request(pkce), "prompt", "none"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), TestServer::kSpaRedirect);
  EXPECT_EQ(field(query_of(r.location()), "error"), "login_required");
}

// A step-up flow asks only the second factor because the session holds a fresh password.
// Once that session is gone, finishing the flow must not sign anyone in on the second factor
// alone.
TEST_F(StepUp, SecondFactorAloneSignsNoOneInAfterTheSessionEnded) {
  password_only_session_of_user_with_a_factor();
  if (HasFatalFailure()) return;
  enforce(true);
  const Pkce pkce = make_pkce();
  HttpResponse r = authorize(spa_request(pkce));
  ASSERT_EQ(without_query(r.location()), url("/login/second-factor")) << r.location();
  SecondFactorPage page = open_second_factor_page(r.location());
  const std::string session = browser_.get("ks_session").value_or("");
  ASSERT_EQ(client_.post_form(url("/logout"),
                              {{"confirm", "yes"}, {"csrf_token", session_csrf_token(session)}},
                              &browser_)
                .status,
            200);
  ASSERT_FALSE(browser_.get("ks_session").has_value());

  HttpResponse done = submit_second_factor(page, next_code(secret_));
  const auto code = field(query_of(done.location()), "code");
  EXPECT_FALSE(code.has_value()) << "POST /login/second-factor answered " << done.status << " "
                                 << done.location();
  EXPECT_FALSE(done.set_cookie("ks_session").has_value());
  if (code) {
    const nlohmann::json claims = id_token_claims(*code, pkce);
    EXPECT_TRUE(amr_has(claims, "pwd")) << "issued without a password: " << claims.dump();
  }
}

}  // namespace
}  // namespace keystep::httptest
