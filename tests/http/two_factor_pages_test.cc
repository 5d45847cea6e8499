// Two-factor authentication over HTTP: enrolling an authenticator app from the profile pages,
// the second login step (codes, replays, lockout, recovery codes), the flow's stages,
// turning it off, and account-level enforcement.

#include <gtest/gtest.h>

#include <set>

#include "providers/totp/totp_provider.h"
#include "tests/http/mfa_steps.h"
#include "tests/support/account_mfa.h"

namespace keystep::httptest {
namespace {

constexpr const char* kAcr1fa = "urn:keystep:loa:1fa";
constexpr const char* kAcr2fa = "urn:keystep:loa:2fa";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------
// Profile and enrollment.

class TwoFactorProfile : public MfaHttpTest {};

TEST_F(TwoFactorProfile, WithoutSessionRedirectsToLogin) {
  HttpResponse r = client_.get(url("/profile"), &browser_);
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), url("/login"));
  EXPECT_FALSE(field(query_of(r.location()), "flow").value_or("").empty()) << r.location();
}

TEST_F(TwoFactorProfile, SigningInReturnsToTheProfile) {
  HttpResponse start = client_.get(url("/profile"), &browser_);
  LoginPage login = open_login_page(start.location());
  HttpResponse done = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(done.location(), server_->issuer() + "/profile");
  EXPECT_TRUE(done.set_cookie("ks_session").has_value());
  EXPECT_EQ(client_.get(url("/profile"), &browser_).status, 200);
}

TEST_F(TwoFactorProfile, ShowsTheOffToggleInAFormWithCsrfToken) {
  ProfilePage profile = sign_in_to_profile();
  EXPECT_FALSE(profile.csrf_token.empty());
  const std::string& html = profile.response.body;
  EXPECT_TRUE(has(html, "action=\"/profile/two-factor\"")) << html;
  EXPECT_TRUE(has(html, "name=\"action\" value=\"enable\"")) << html;
  EXPECT_TRUE(has(html, "role=\"switch\" aria-checked=\"false\"")) << html;
  EXPECT_TRUE(has(html, ">Off</button>")) << html;
}

TEST_F(TwoFactorProfile, ToggleWithoutOrWithWrongCsrfTokenIs403) {
  ProfilePage profile = sign_in_to_profile();
  HttpResponse missing =
      client_.post_form(url("/profile/two-factor"), {{"action", "enable"}}, &browser_);
  EXPECT_EQ(missing.status, 403) << missing.body;
  HttpResponse wrong = client_.post_form(
      url("/profile/two-factor"), {{"csrf_token", profile.csrf_token + "x"}, {"action", "enable"}},
      &browser_);
  EXPECT_EQ(wrong.status, 403) << wrong.body;
  // Neither began an enrollment: the enable page has nothing to show.
  HttpResponse enable_page = client_.get(url("/profile/two-factor/enable"), &browser_);
  EXPECT_EQ(enable_page.status, 302);
  EXPECT_EQ(enable_page.location(), url("/profile"));
}

TEST_F(TwoFactorProfile, EnableActionRedirectsToTheEnablePage) {
  ProfilePage profile = sign_in_to_profile();
  HttpResponse r =
      client_.post_form(url("/profile/two-factor"),
                        {{"csrf_token", profile.csrf_token}, {"action", "enable"}}, &browser_);
  EXPECT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.location(), url("/profile/two-factor/enable"));
}

TEST_F(TwoFactorProfile, EnablePageShowsQrCodeImageAndTheSecret) {
  ProfilePage profile = sign_in_to_profile();
  HttpResponse page = start_enable(profile);
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(has(page.body, "<img class=\"qr\"")) << page.body;
  EXPECT_TRUE(has(page.body, "src=\"data:image/png;base64,")) << page.body;
  EXPECT_TRUE(has(page.body, "autocomplete=\"one-time-code\""));
  const std::string secret = secret_on(page);
  EXPECT_EQ(secret.size(), 20u);
  // Showing the page again shows the same pending secret.
  EXPECT_EQ(secret_on(client_.get(url("/profile/two-factor/enable"), &browser_)), secret);
}

TEST_F(TwoFactorProfile, WrongCodeIs401AndEnablesNothing) {
  ProfilePage profile = sign_in_to_profile();
  const std::string secret = secret_on(start_enable(profile));
  ASSERT_FALSE(secret.empty());
  HttpResponse r = confirm_enable(profile, wrong_code(secret));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(has(r.body, "That code is not valid.")) << r.body;
  EXPECT_EQ(secret_on(r), secret);  // the page asks again, for the same secret
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
  EXPECT_TRUE(has(open_profile().response.body, "aria-checked=\"false\""));
  new_browser();
  const Pkce pkce = make_pkce();
  EXPECT_FALSE(sign_in_for_code(spa_request(pkce)).empty());  // a fresh login asks no code
}

TEST_F(TwoFactorProfile, RightCodeIs200WithTenRecoveryCodesAndTheProfileShowsOn) {
  ProfilePage profile = sign_in_to_profile();
  const std::string secret = secret_on(start_enable(profile));
  ASSERT_FALSE(secret.empty());
  HttpResponse r = confirm_enable(profile, code_now(secret));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto codes = recovery_codes_on(r);
  EXPECT_EQ(codes.size(), 10u) << r.body;
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), codes.size());
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
  const std::string html = open_profile().response.body;
  EXPECT_TRUE(has(html, "role=\"switch\" aria-checked=\"true\"")) << html;
  EXPECT_TRUE(has(html, "10 unused")) << html;
  EXPECT_FALSE(has(html, "aria-checked=\"false\"")) << html;
}

// ---------------------------------------------------------------------------------------
// Signing in with two factors. Alice enrolls in SetUp; each test then uses a new browser.

class TwoFactorEnabled : public MfaHttpTest {
 protected:
  void SetUp() override {
    MfaHttpTest::SetUp();
    if (HasFatalFailure()) return;
    secret_ = enable_two_factor();
    ASSERT_FALSE(secret_.empty());
    ASSERT_EQ(recovery_codes_.size(), 10u);
    new_browser();
    pkce_ = make_pkce();
  }

  std::string secret_;
  Pkce pkce_;
};

class TwoFactorLogin : public TwoFactorEnabled {};

TEST_F(TwoFactorLogin, PasswordRedirectsToTheSecondFactorPage) {
  HttpResponse done = sign_in(spa_request(pkce_));
  EXPECT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(without_query(done.location()), url("/login/second-factor"));
  EXPECT_FALSE(field(query_of(done.location()), "flow").value_or("").empty());
  EXPECT_FALSE(done.set_cookie("ks_session").has_value());  // not signed in yet

  SecondFactorPage page = open_second_factor_page(done.location());
  EXPECT_EQ(page.method, "totp");
  EXPECT_TRUE(has(page.response.body, "autocomplete=\"one-time-code\"")) << page.response.body;
  EXPECT_TRUE(has(page.response.body, "inputmode=\"numeric\"")) << page.response.body;
  EXPECT_TRUE(has(page.response.body, "method=recovery_code")) << page.response.body;
}

TEST_F(TwoFactorLogin, WrongCodeIs401AndTheRightOneStillWorks) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  clock().advance(kStep);
  HttpResponse wrong = submit_second_factor(page, wrong_code(secret_));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_TRUE(has(wrong.body, "That code is not valid.")) << wrong.body;
  EXPECT_FALSE(wrong.set_cookie("ks_session").has_value());
  EXPECT_FALSE(code_of(submit_second_factor(page, code_now(secret_))).empty());
}

TEST_F(TwoFactorLogin, CodeUsedToEnableIs401AlreadyUsed) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  HttpResponse r = submit_second_factor(page, code_now(secret_));  // the enrollment's step
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(has(r.body, "already used")) << r.body;
}

TEST_F(TwoFactorLogin, CodeAcceptedOnceIs401AlreadyUsedInTheNextLogin) {
  const std::string code = next_code(secret_);
  SecondFactorPage first = sign_in_to_second_factor(spa_request(pkce_));
  EXPECT_FALSE(code_of(submit_second_factor(first, code)).empty());
  new_browser();
  SecondFactorPage second = sign_in_to_second_factor(spa_request(pkce_));
  HttpResponse r = submit_second_factor(second, code);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(has(r.body, "already used")) << r.body;
}

TEST_F(TwoFactorLogin, CodeOfThePreviousStepIsAcceptedAndOneTwoStepsOldIsNot) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  clock().advance(3 * kStep);
  const auto code_at = [&](int64_t at) { return totp_code(secret_, "SHA1", 6, kStep, at).value(); };
  HttpResponse too_old = submit_second_factor(page, code_at(clock().now() - 2 * kStep));
  EXPECT_EQ(too_old.status, 401) << too_old.body;
  EXPECT_TRUE(has(too_old.body, "That code is not valid.")) << too_old.body;
  EXPECT_FALSE(code_of(submit_second_factor(page, code_at(clock().now() - kStep))).empty());
}

TEST_F(TwoFactorLogin, RightCodeRedirectsToTheClientWithTwoFactorClaims) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  const std::string code = next_code(secret_);  // the second step comes a step later
  const int64_t second_step_at = clock().now();
  HttpResponse r = submit_second_factor(page, code);
  const std::string auth_code = code_of(r);
  ASSERT_FALSE(auth_code.empty());
  EXPECT_EQ(field(query_of(r.location()), "state"), "st-123");
  EXPECT_EQ(field(query_of(r.location()), "iss"), server_->issuer());
  EXPECT_TRUE(r.set_cookie("ks_session").has_value());

  const nlohmann::json claims = id_token_claims(auth_code, pkce_);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["acr"], kAcr2fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
  EXPECT_EQ(claims["auth_time"], second_step_at);
  EXPECT_EQ(claims["sub"], std::to_string(server_->alice_id()));
}

TEST_F(TwoFactorLogin, UserWithoutTwoFactorGetsOneFactorClaims) {
  // The same email in the other account, whose user never enrolled.
  const std::string code = sign_in_for_code(spa_request(pkce_), TestServer::kAliceEmail,
                                            TestServer::kOtherAlicePassword);
  const nlohmann::json claims = id_token_claims(code, pkce_);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["sub"], std::to_string(server_->other_alice_id()));
  EXPECT_EQ(claims["acr"], kAcr1fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd"}));
}

// ---------------------------------------------------------------------------------------
// Brute-force protection: 5 free failures, then 1 s, 2 s, 4 s … after the last failure.

class TwoFactorLockout : public TwoFactorEnabled {};

TEST_F(TwoFactorLockout, FiveWrongCodesMakeTheNextAttempt429WithRetryAfter) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  clock().advance(kStep);
  HttpResponse r;
  for (int i = 0; i < 5; ++i) {
    r = submit_second_factor(page, wrong_code(secret_));
    EXPECT_EQ(r.status, 401) << "attempt " << i + 1 << ": " << r.body;
  }
  EXPECT_TRUE(has(r.body, "wait 1 second")) << r.body;

  // Even the right code is refused during the wait, without being checked.
  HttpResponse locked = submit_second_factor(page, code_now(secret_));
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.header("Retry-After"), "1");
  EXPECT_TRUE(has(locked.body, "Too many incorrect codes. Wait 1 second")) << locked.body;
  EXPECT_FALSE(locked.set_cookie("ks_session").has_value());

  clock().advance(2);
  EXPECT_FALSE(code_of(submit_second_factor(page, code_now(secret_))).empty());

  // The success reset the count: the next wrong code costs nothing.
  new_browser();
  SecondFactorPage next = sign_in_to_second_factor(spa_request(pkce_));
  HttpResponse fresh = submit_second_factor(next, wrong_code(secret_));
  EXPECT_EQ(fresh.status, 401);
  EXPECT_FALSE(has(fresh.body, "Too many")) << fresh.body;
}

TEST_F(TwoFactorLockout, EachFurtherWrongCodeDoublesTheWait) {
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce_));
  clock().advance(kStep);
  for (int i = 0; i < 5; ++i) submit_second_factor(page, wrong_code(secret_));
  clock().advance(1);
  HttpResponse sixth = submit_second_factor(page, wrong_code(secret_));
  EXPECT_EQ(sixth.status, 401) << sixth.body;
  EXPECT_TRUE(has(sixth.body, "wait 2 seconds")) << sixth.body;
  clock().advance(1);
  HttpResponse locked = submit_second_factor(page, code_now(secret_));
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.header("Retry-After"), "1");
  clock().advance(1);
  EXPECT_FALSE(code_of(submit_second_factor(page, code_now(secret_))).empty());
}

// ---------------------------------------------------------------------------------------
// Recovery codes in place of the authenticator app.

class TwoFactorRecovery : public TwoFactorEnabled {};

TEST_F(TwoFactorRecovery, RecoveryCodeSignsInOnce) {
  SecondFactorPage app_page = sign_in_to_second_factor(spa_request(pkce_));
  SecondFactorPage page = open_second_factor_page(
      url("/login/second-factor?flow=" + app_page.flow + "&method=recovery_code"));
  EXPECT_EQ(page.method, "recovery_code");
  EXPECT_TRUE(has(page.response.body, "Enter a recovery code")) << page.response.body;

  const std::string code = code_of(submit_second_factor(page, recovery_codes_[0]));
  const nlohmann::json claims = id_token_claims(code, pkce_);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["acr"], kAcr2fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));

  new_browser();
  SecondFactorPage again = sign_in_to_second_factor(spa_request(pkce_));
  HttpResponse reused = submit_second_factor(again, recovery_codes_[0], "recovery_code");
  EXPECT_EQ(reused.status, 401) << reused.body;
  EXPECT_TRUE(has(reused.body, "already used")) << reused.body;
  EXPECT_FALSE(code_of(submit_second_factor(again, recovery_codes_[1], "recovery_code")).empty());
  EXPECT_TRUE(has(open_profile().response.body, "8 unused"));
}

// ---------------------------------------------------------------------------------------
// The flow's stages: each page and each POST only at its own stage.

class TwoFactorFlow : public MfaHttpTest {
 protected:
  LoginPage start_login(const Fields& params) {
    HttpResponse r = authorize(params);
    if (r.status != 302 || without_query(r.location()) != url("/login")) {
      ADD_FAILURE() << "/authorize answered " << r.status << " " << r.location();
      return {};
    }
    return open_login_page(r.location());
  }
};

TEST_F(TwoFactorFlow, SecondStepForAFlowAtThePasswordStageIs409) {
  const Pkce pkce = make_pkce();
  LoginPage login = start_login(spa_request(pkce));
  HttpResponse r = client_.post_form(url("/login/second-factor"),
                                     {{"flow", login.flow},
                                      {"csrf_token", login.csrf_token},
                                      {"method", "totp"},
                                      {"code", "123456"}},
                                     &browser_);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
  // The flow is unharmed: the password step still works.
  HttpResponse done = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_FALSE(code_of(done).empty());
}

TEST_F(TwoFactorFlow, SecondFactorPageOfAFlowAtThePasswordStageRedirectsToLogin) {
  const Pkce pkce = make_pkce();
  LoginPage login = start_login(spa_request(pkce));
  HttpResponse r = client_.get(url("/login/second-factor?flow=" + login.flow), &browser_);
  EXPECT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), url("/login"));
  EXPECT_EQ(field(query_of(r.location()), "flow"), login.flow);
}

TEST_F(TwoFactorFlow, PasswordStepOfAFlowAtTheSecondStageIs409AndItsPageRedirects) {
  ASSERT_FALSE(enable_two_factor().empty());
  new_browser();
  const Pkce pkce = make_pkce();
  LoginPage login = start_login(spa_request(pkce));
  HttpResponse first = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(without_query(first.location()), url("/login/second-factor"));
  HttpResponse again = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(again.status, 409) << again.body;
  HttpResponse page = client_.get(url("/login?flow=" + login.flow), &browser_);
  EXPECT_EQ(page.status, 302);
  EXPECT_EQ(page.location(), first.location());
}

TEST_F(TwoFactorFlow, SecondStepWithWrongCsrfTokenIs403) {
  ASSERT_FALSE(enable_two_factor().empty());
  new_browser();
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  page.csrf_token += "x";
  HttpResponse r = submit_second_factor(page, "123456");
  EXPECT_EQ(r.status, 403) << r.body;
}

// ---------------------------------------------------------------------------------------
// Turning it off from the profile. Alice enrolls in the browser and keeps the session.

class TwoFactorDisable : public MfaHttpTest {
 protected:
  void SetUp() override {
    MfaHttpTest::SetUp();
    if (HasFatalFailure()) return;
    secret_ = enable_two_factor();
    ASSERT_FALSE(secret_.empty());
    profile_ = open_profile();
  }

  HttpResponse disable(const Fields& proof) {
    Fields form = {{"csrf_token", profile_.csrf_token}, {"action", "disable"}};
    form.insert(form.end(), proof.begin(), proof.end());
    return client_.post_form(url("/profile/two-factor"), form, &browser_);
  }

  // Whether a sign-in in a new browser is asked for a second factor.
  bool login_asks_for_code() {
    new_browser();
    const Pkce pkce = make_pkce();
    HttpResponse done = sign_in(spa_request(pkce));
    return without_query(done.location()) == url("/login/second-factor");
  }

  std::string secret_;
  ProfilePage profile_;
};

TEST_F(TwoFactorDisable, WrongPasswordIs401AndLeavesItOn) {
  HttpResponse r = disable({{"password", "not the password"}});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(has(r.body, "role=\"switch\" aria-checked=\"true\"")) << r.body;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
  EXPECT_TRUE(login_asks_for_code());
}

TEST_F(TwoFactorDisable, RightPasswordIs200OffAndLoginAsksOnlyThePassword) {
  HttpResponse r = disable({{"password", TestServer::kAlicePassword}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r.body, "Two-factor authentication is off.")) << r.body;
  EXPECT_TRUE(has(r.body, "aria-checked=\"false\"")) << r.body;
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
  auto status = server_->two_factor().status(stored_user(server_->alice_id()));
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->has_second_factor());
  EXPECT_EQ(status->recovery_codes_left, 0);
  EXPECT_FALSE(login_asks_for_code());
}

TEST_F(TwoFactorDisable, CurrentCodeInsteadOfThePasswordTurnsItOff) {
  HttpResponse r = disable({{"code", next_code(secret_)}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r.body, "Two-factor authentication is off.")) << r.body;
  EXPECT_FALSE(login_asks_for_code());
}

TEST_F(TwoFactorDisable, UsedCodeInsteadOfThePasswordIs401) {
  HttpResponse r = disable({{"code", code_now(secret_)}});  // the enrollment's step
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(TwoFactorDisable, WithoutCsrfTokenIs403) {
  HttpResponse r = client_.post_form(
      url("/profile/two-factor"), {{"action", "disable"}, {"password", TestServer::kAlicePassword}},
      &browser_);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(TwoFactorDisable, WrongPasswordsShareTheSignInThrottleWithRetryAfter) {
  for (int i = 0; i < LockoutPolicy::kFreeFailures; ++i) {
    HttpResponse r = disable({{"password", "not the password"}});
    ASSERT_EQ(r.status, 401) << i << r.body;
  }
  // Past the free failures even the right password waits: the form is no password oracle.
  HttpResponse locked = disable({{"password", TestServer::kAlicePassword}});
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.header("Retry-After").value_or(""), "1");
  EXPECT_TRUE(has(locked.body, "Too many incorrect passwords. Wait 1 second")) << locked.body;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
  // The same count guards the sign-in page: it waits too.
  const CookieJar signed_in = browser_;
  new_browser();
  HttpResponse login = sign_in(spa_request(make_pkce()));
  EXPECT_EQ(login.status, 429) << login.body;
  browser_ = signed_in;

  clock().advance(1);
  HttpResponse r = disable({{"password", TestServer::kAlicePassword}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(TwoFactorDisable, RefusedWith409WhileTheAccountEnforcesIt) {
  const User alice = stored_user(server_->alice_id());
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), alice.account_id, true, "{}"));
  HttpResponse r = disable({{"password", TestServer::kAlicePassword}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(has(r.body, "requires two-factor authentication")) << r.body;
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
}

// ---------------------------------------------------------------------------------------
// Account-level enforcement (the seed rule: challenged when the user's or the account's
// setting is on). Enforcement is set through the store, as the admin CLI does.

class TwoFactorEnforcement : public MfaHttpTest {
 protected:
  void enforce(bool on) {
    const User alice = stored_user(server_->alice_id());
    auto s = testsupport::set_account_mfa(server_->store(), alice.account_id, on, "{}");
    ASSERT_TRUE(s) << s.error().message;
  }
  bool user_flag() { return stored_user(server_->alice_id()).two_factor_enabled; }
};

TEST_F(TwoFactorEnforcement, ChallengesUserWithAFactorWhoseOwnSettingIsOff) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  ASSERT_TRUE(server_->set_user_two_factor_flag(server_->alice_id(), false));
  new_browser();

  // Both settings off: a confirmed credential alone does not challenge.
  const Pkce before = make_pkce();
  const nlohmann::json one = id_token_claims(sign_in_for_code(spa_request(before)), before);
  EXPECT_EQ(one.value("acr", ""), kAcr1fa);

  enforce(true);
  new_browser();
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  const nlohmann::json two =
      id_token_claims(code_of(submit_second_factor(page, next_code(secret))), pkce);
  EXPECT_EQ(two.value("acr", ""), kAcr2fa);
  EXPECT_FALSE(user_flag());  // enforcement never writes the user's own setting

  enforce(false);
  new_browser();
  const Pkce after = make_pkce();
  EXPECT_FALSE(sign_in_for_code(spa_request(after)).empty());
  EXPECT_FALSE(user_flag());
}

TEST_F(TwoFactorEnforcement, TurningItOffLeavesTheUsersOwnSettingOn) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  enforce(true);
  enforce(false);
  EXPECT_TRUE(user_flag());
  new_browser();
  const Pkce pkce = make_pkce();
  EXPECT_FALSE(sign_in_to_second_factor(spa_request(pkce)).flow.empty());
}

TEST_F(TwoFactorEnforcement, MemberWithoutAnyFactorMustSetItUpBeforeContinuing) {
  enforce(true);
  const Pkce pkce = make_pkce();
  HttpResponse done = sign_in(spa_request(pkce));
  ASSERT_EQ(done.status, 302) << done.body;
  ASSERT_EQ(without_query(done.location()), url("/login/second-factor"));
  // The setup step: a QR code and the secret, one code field, and nothing to skip it with.
  SecondFactorPage page = open_second_factor_page(done.location());
  ASSERT_EQ(page.response.status, 200) << page.response.body;
  EXPECT_EQ(page.method, "setup");
  EXPECT_TRUE(has(page.response.body, "Set up two-factor authentication"));
  EXPECT_TRUE(has(page.response.body, "data:image/png;base64,"));
  EXPECT_FALSE(has(page.response.body, "method=recovery_code"));
  const std::string secret = secret_on(page.response);
  ASSERT_FALSE(secret.empty());
  // Reloading shows the same secret (the one an email would carry).
  EXPECT_EQ(secret_on(open_second_factor_page(done.location()).response), secret);

  HttpResponse wrong = submit_second_factor(page, wrong_code(secret));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_TRUE(has(wrong.body, "Set up two-factor authentication"));

  HttpResponse ok = submit_second_factor(page, code_now(secret));
  ASSERT_EQ(ok.status, 302) << ok.body;
  HttpResponse tokens = exchange_spa_code(code_of(ok), pkce.verifier);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  const nlohmann::json claims = verify_id_token(tokens.json()["id_token"]);
  EXPECT_EQ(claims["amr"], (nlohmann::json{"pwd", "otp", "mfa"}));
  EXPECT_EQ(claims["acr"], kAcrMfa);
  // The account's setting never flips the user's own.
  EXPECT_FALSE(user_flag());
  EXPECT_TRUE(
      server_->two_factor().status(*server_->store().user_by_id(server_->alice_id()))->has_totp);

  // The next sign-in is an ordinary challenge for a code.
  new_browser();
  const Pkce again = make_pkce();
  HttpResponse second = sign_in(spa_request(again));
  ASSERT_EQ(second.status, 302);
  SecondFactorPage challenge = open_second_factor_page(second.location());
  EXPECT_EQ(challenge.method, "totp");
}

TEST_F(TwoFactorEnforcement, ProfileSaysTheAccountRequiresIt) {
  ProfilePage before = sign_in_to_profile();
  EXPECT_FALSE(has(before.response.body, "Your account requires"));
  enforce(true);
  const std::string html = open_profile().response.body;
  EXPECT_TRUE(has(html, "Your account requires two-factor authentication")) << html;
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

class ForcedSetupProfile : public MfaHttpTest {};

TEST_F(ForcedSetupProfile, AfterTheForcedSetupTheProfileOffersRecoveryCodesAndTheOwnToggle) {
  auto acme = *server_->store().account_by_name("acme");
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), acme.id, true, "{}"));
  // Forced setup during an OIDC sign-in.
  const Pkce pkce = make_pkce();
  HttpResponse done = sign_in(spa_request(pkce));
  SecondFactorPage page = open_second_factor_page(done.location());
  ASSERT_EQ(page.method, "setup");
  const std::string secret = secret_on(page.response);
  ASSERT_EQ(submit_second_factor(page, code_now(secret)).status, 302);
  // The member is told of the factor the setup added, like one added on the profile.
  auto sent = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(sent);
  size_t notices = 0;
  for (const auto& m : *sent) notices += m.subject == "A second factor was added (Acme)";
  EXPECT_EQ(notices, 1u);
  // The profile: own setting off, app set up, recovery codes can be generated.
  ProfilePage profile = open_profile();
  const std::string& html = profile.response.body;
  EXPECT_TRUE(has(html, "role=\"switch\" aria-checked=\"false\"")) << html;
  EXPECT_TRUE(has(html, "set up because your account requires it")) << html;
  EXPECT_TRUE(has(html, "/profile/recovery-codes")) << html;
  // Turning the own setting on needs no new enrollment and keeps the same app.
  HttpResponse on =
      client_.post_form(url("/profile/two-factor"),
                        {{"csrf_token", profile.csrf_token}, {"action", "enable"}}, &browser_);
  EXPECT_EQ(on.status, 200) << on.body;
  EXPECT_TRUE(has(on.body, "role=\"switch\" aria-checked=\"true\"")) << on.body;
  EXPECT_TRUE(server_->store().user_by_id(server_->alice_id())->two_factor_enabled);
  // Now the account may stop requiring it: her own setting keeps the challenge.
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), acme.id, false, "{}"));
  EXPECT_TRUE(*server_->two_factor().second_factor_required(
      *server_->store().user_by_id(server_->alice_id())));
}

}  // namespace
}  // namespace keystep::httptest
