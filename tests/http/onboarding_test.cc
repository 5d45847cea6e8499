// Bringing members in: invitations (admin API), signup from the invitation's link with the
// 2FA setup an enforcing account requires, the safer enforcement email (a single-use,
// expiring enrollment link instead of the secret), and the providers an account allows.

#include <gtest/gtest.h>

#include <algorithm>

#include "base/crypto/hash.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kDave = "dave@example.com";
constexpr const char* kDavePassword = "dave staple battery";

class OnboardingTest : public AdminApiTest {
 protected:
  std::string invitations_url(const std::string& account = "acme") {
    return url("/api/v1/accounts/" + account + "/invitations");
  }
  HttpResponse invite(const std::string& email, const std::string& token = "") {
    return api("POST", invitations_url(), token.empty() ? boss_token_ : token,
               nlohmann::json{{"email", email}}.dump());
  }
  void enforce(const std::string& extra = "") {
    protect_boss();
    new_browser();
    HttpResponse on = api("PUT", settings_url(), boss_token_,
                          R"({"enforce_two_factor":true,"confirm":true)" + extra + "}");
    ASSERT_EQ(on.status, 200) << on.body;
  }
  // The token of the first "<marker>TOKEN" link in the newest message to `to` ("" if none).
  std::string link_token(const std::string& to, const std::string& marker) {
    auto mail = server_->outbox().mail_for(to);
    if (!mail || mail->empty()) return "";
    const std::string text = text_part(opened(mail->back()));
    const auto at = text.find(marker);
    if (at == std::string::npos) return "";
    const auto begin = at + marker.size();
    return text.substr(begin, text.find_first_of(" \r\n", begin) - begin);
  }
  std::string signup_url(const std::string& token) { return url("/signup?invitation=" + token); }
  // GET the signup page, then POST it with `password` twice.
  HttpResponse sign_up(const std::string& token, const std::string& password,
                       const std::string& confirm = "") {
    HttpResponse page = client_.get(signup_url(token), &browser_);
    EXPECT_EQ(page.status, 200) << page.body;
    return client_.post_form(url("/signup"),
                             {{"invitation", token},
                              {"csrf_token", input_value(page.body, "csrf_token")},
                              {"password", password},
                              {"password_confirm", confirm.empty() ? password : confirm}},
                             &browser_);
  }
  int64_t members_named(const std::string& email) {
    auto members = server_->store().members(acme().id);
    return std::count_if(members->begin(), members->end(),
                         [&](const Member& m) { return m.user.email == email; });
  }
};

TEST_F(OnboardingTest, InvitationIsCreatedOnceAndEmailedWithASignupLink) {
  HttpResponse created = invite("Dave@Example.com");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["email"], kDave);
  EXPECT_EQ(created.json()["role"], "member");
  EXPECT_EQ(created.json()["status"], "pending");
  EXPECT_EQ(created.json()["expires_at"], clock().now() + kInvitationTtl);
  auto mail = server_->outbox().mail_for(kDave);
  ASSERT_TRUE(mail);
  ASSERT_EQ(mail->size(), 1u);
  EXPECT_EQ((*mail)[0].subject, "You are invited to Acme");
  const std::string token = link_token(kDave, url("/signup?invitation="));
  EXPECT_EQ(token.size(), 43u);
  // The token is not stored, only its hash.
  EXPECT_EQ(server_->store().invitations(acme().id)->front().token_hash, sha256_b64url(token));
  // Repeating the invitation while it is open changes nothing and sends nothing.
  HttpResponse again = invite(kDave);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["id"], created.json()["id"]);
  EXPECT_EQ(server_->outbox().mail_for(kDave)->size(), 1u);
  HttpResponse list = api("GET", invitations_url(), boss_token_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["invitations"].size(), 1u);
  EXPECT_EQ(list.json()["invitations"][0]["email"], kDave);
}

TEST_F(OnboardingTest, InvitationRequestsAreCheckedAndAuthorized) {
  EXPECT_EQ(client_
                .request("POST", invitations_url(), {"Content-Type: application/json"},
                         R"({"email":"x@example.com"})")
                .status,
            401);
  EXPECT_EQ(invite("x@example.com", member_token_).status, 403);
  EXPECT_EQ(
      api("POST", invitations_url("globex"), boss_token_, R"({"email":"x@example.com"})").status,
      404);
  EXPECT_EQ(invite("not an email").status, 400);
  EXPECT_EQ(
      api("POST", invitations_url(), boss_token_, R"({"email":"x@example.com","role":"root"})")
          .status,
      400);
  EXPECT_EQ(
      api("POST", invitations_url(), boss_token_, R"({"email":"x@example.com","x":1})").status,
      400);
  EXPECT_EQ(api("POST", invitations_url(), boss_token_, "[]").status, 400);
  HttpResponse member = invite(TestServer::kAliceEmail);
  EXPECT_EQ(member.status, 409);
  EXPECT_EQ(member.json()["error"], "already_member");
  EXPECT_EQ(client_
                .request("POST", invitations_url(),
                         {"Authorization: Bearer " + boss_token_, "Content-Type: text/plain"},
                         R"({"email":"x@example.com"})")
                .status,
            415);
  EXPECT_TRUE(server_->store().invitations(acme().id)->empty());
  EXPECT_TRUE(server_->outbox().mail_for("x@example.com")->empty());
}

TEST_F(OnboardingTest, SignupWithoutEnforcementSignsTheNewMemberIn) {
  ASSERT_EQ(invite(kDave).status, 201);
  const std::string token = link_token(kDave, url("/signup?invitation="));
  HttpResponse page = client_.get(signup_url(token), &browser_);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find(kDave), std::string::npos);
  EXPECT_NE(page.body.find("autocomplete=\"new-password\""), std::string::npos);
  auto cookie = page.set_cookie(kSignupCookie);
  ASSERT_TRUE(cookie);
  EXPECT_EQ(cookie->attribute("path"), "/signup");
  EXPECT_EQ(cookie->value, input_value(page.body, "csrf_token"));

  HttpResponse mismatch = sign_up(token, kDavePassword, "something else entirely");
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(mismatch.body.find("role=\"alert\""), std::string::npos);
  HttpResponse short_password = sign_up(token, "short");
  EXPECT_EQ(short_password.status, 400);
  EXPECT_EQ(members_named(kDave), 0);

  HttpResponse done = sign_up(token, kDavePassword);
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(done.location(), url("/profile"));
  EXPECT_TRUE(done.set_cookie(kSessionCookie).has_value());
  EXPECT_EQ(members_named(kDave), 1);
  HttpResponse profile = client_.get(url("/profile"), &browser_);
  EXPECT_EQ(profile.status, 200);
  EXPECT_NE(profile.body.find(kDave), std::string::npos);
  auto user = server_->store().user_by_email(acme().id, kDave);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->role, "member");
  EXPECT_EQ(server_->store().invitations(acme().id)->front().user_id, user->id);
  // The link works once.
  EXPECT_EQ(client_.get(signup_url(token)).status, 410);
  EXPECT_EQ(api("GET", invitations_url(), boss_token_).json()["invitations"][0]["status"],
            "accepted");
  // And the new member signs in with the password they chose.
  new_browser();
  const Pkce pkce = make_pkce();
  const std::string code = sign_in_for_code(spa_request(pkce), kDave, kDavePassword);
  ASSERT_FALSE(code.empty());
  // Joining through the invitation email's link proved the address (issue 15).
  EXPECT_TRUE(user->email_verified);
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  EXPECT_EQ(userinfo(tokens.json().value("access_token", "")).json()["email_verified"], true);
}

TEST_F(OnboardingTest, SignupNeedsTheFormsCsrfCookie) {
  ASSERT_EQ(invite(kDave).status, 201);
  const std::string token = link_token(kDave, url("/signup?invitation="));
  HttpResponse page = client_.get(signup_url(token), &browser_);
  const Fields form = {{"invitation", token},
                       {"csrf_token", input_value(page.body, "csrf_token")},
                       {"password", kDavePassword},
                       {"password_confirm", kDavePassword}};
  // Another site's form: the SameSite cookie does not come along.
  EXPECT_EQ(client_.post_form(url("/signup"), form).status, 403);
  CookieJar other;
  other.set(kSignupCookie, "attacker-chosen", "/signup");
  EXPECT_EQ(client_.post_form(url("/signup"), form, &other).status, 403);
  EXPECT_EQ(members_named(kDave), 0);
}

TEST_F(OnboardingTest, SignupInAnEnforcingAccountSetsUpTwoFactorBeforeTheProfile) {
  enforce();
  ASSERT_EQ(invite(kDave).status, 201);
  const std::string token = link_token(kDave, url("/signup?invitation="));
  HttpResponse page = client_.get(signup_url(token), &browser_);
  EXPECT_NE(page.body.find("requires two-factor authentication"), std::string::npos);
  HttpResponse done = sign_up(token, kDavePassword);
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(without_query(done.location()), url("/login/second-factor"));
  EXPECT_FALSE(done.set_cookie(kSessionCookie).has_value());  // not signed in yet
  SecondFactorPage setup = open_second_factor_page(done.location());
  ASSERT_EQ(setup.method, "setup");
  const std::string secret = secret_on(setup.response);
  ASSERT_FALSE(secret.empty());
  EXPECT_EQ(submit_second_factor(setup, wrong_code(secret)).status, 401);
  HttpResponse enrolled = submit_second_factor(setup, code_now(secret));
  ASSERT_EQ(enrolled.status, 302) << enrolled.body;
  EXPECT_EQ(enrolled.location(), url("/profile"));
  auto dave = *server_->store().user_by_email(acme().id, kDave);
  EXPECT_FALSE(dave.two_factor_enabled);  // the account's setting, not dave's own
  EXPECT_TRUE(server_->two_factor().status(dave)->has_totp);
  // From now on dave's sign-in asks for the code.
  new_browser();
  const Pkce pkce = make_pkce();
  SecondFactorPage challenge = sign_in_to_second_factor(spa_request(pkce), kDave, kDavePassword);
  EXPECT_EQ(challenge.method, "totp");
  EXPECT_FALSE(code_of(submit_second_factor(challenge, next_code(secret))).empty());
}

TEST_F(OnboardingTest, ExpiredOrRevokedInvitationsSignNobodyUp) {
  ASSERT_EQ(invite(kDave).status, 201);
  const std::string first = link_token(kDave, url("/signup?invitation="));
  clock().advance(kInvitationTtl);
  EXPECT_EQ(client_.get(signup_url(first)).status, 410);
  EXPECT_EQ(api("GET", invitations_url(), boss_token_).json()["invitations"][0]["status"],
            "expired");
  // Inviting again replaces the expired invitation with a new link.
  HttpResponse again = invite(kDave);
  ASSERT_EQ(again.status, 201) << again.body;
  const std::string second = link_token(kDave, url("/signup?invitation="));
  EXPECT_NE(second, first);
  EXPECT_EQ(client_.get(signup_url(second)).status, 200);
  const std::string id = std::to_string(again.json()["id"].get<int64_t>());
  EXPECT_EQ(api("DELETE", invitations_url() + "/" + id, member_token_).status, 403);
  EXPECT_EQ(api("DELETE", invitations_url() + "/" + id, boss_token_).status, 200);
  EXPECT_EQ(api("DELETE", invitations_url() + "/" + id, boss_token_).status, 404);
  EXPECT_EQ(client_.get(signup_url(second)).status, 410);
  EXPECT_EQ(client_.post_form(url("/signup"), {{"invitation", second}}).status, 403);
  EXPECT_EQ(client_.get(signup_url("not-a-token")).status, 404);
  EXPECT_EQ(members_named(kDave), 0);
}

TEST_F(OnboardingTest, LinkModeEmailCarriesASingleUseLinkAndNoSecret) {
  enforce(R"(,"enrollment_email":"link")");
  EXPECT_EQ(api("GET", settings_url(), boss_token_).json()["enrollment_email"], "link");
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(mail);
  ASSERT_EQ(mail->size(), 1u);
  const std::string mime = opened((*mail)[0]);
  EXPECT_EQ(mime.find("image/png"), std::string::npos);
  EXPECT_EQ(text_part(mime).find("otpauth"), std::string::npos);
  // No secret exists yet: it is created after the member's password.
  EXPECT_TRUE(server_->store().credentials_of_user(server_->alice_id())->empty());
  const std::string token = link_token(TestServer::kAliceEmail, url("/enroll?token="));
  ASSERT_EQ(token.size(), 43u);

  HttpResponse start = client_.get(url("/enroll?token=" + token), &browser_);
  ASSERT_EQ(start.status, 302) << start.body;
  LoginPage login = open_login_page(start.location());
  EXPECT_NE(login.response.body.find("value=\"alice@example.com\""), std::string::npos);
  // Opening the link is not using it (mail scanners open links).
  EXPECT_EQ(client_.get(url("/enroll?token=" + token)).status, 302);
  HttpResponse password = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(password.status, 302) << password.body;
  SecondFactorPage setup = open_second_factor_page(password.location());
  ASSERT_EQ(setup.method, "setup");
  const std::string secret = secret_on(setup.response);
  HttpResponse enrolled = submit_second_factor(setup, code_now(secret));
  ASSERT_EQ(enrolled.status, 302) << enrolled.body;
  EXPECT_EQ(enrolled.location(), url("/profile"));
  // Used up.
  HttpResponse reused = client_.get(url("/enroll?token=" + token));
  EXPECT_EQ(reused.status, 410);
  EXPECT_NE(reused.body.find("already used"), std::string::npos);
  HttpResponse audit = api(
      "GET", url("/api/v1/accounts/acme/audit-events?event=mfa.enrollment_link_used"), boss_token_);
  EXPECT_EQ(audit.json()["events"].size(), 1u);
}

TEST_F(OnboardingTest, EnrollmentLinkExpiresAndUnknownLinksAre404) {
  enforce(R"(,"enrollment_email":"link")");
  const std::string token = link_token(TestServer::kAliceEmail, url("/enroll?token="));
  ASSERT_FALSE(token.empty());
  // Another token of the same shape (one character changed; the token may start with 'x').
  const std::string other = (token[0] == 'x' ? "y" : "x") + token.substr(1);
  EXPECT_EQ(client_.get(url("/enroll?token=" + other)).status, 404);
  EXPECT_EQ(client_.get(url("/enroll")).status, 404);
  clock().advance(kEnrollmentLinkTtl);
  HttpResponse expired = client_.get(url("/enroll?token=" + token));
  EXPECT_EQ(expired.status, 410);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
}

TEST_F(OnboardingTest, EnrollmentEmailModeIsValidated) {
  HttpResponse bad = api("PUT", settings_url(), boss_token_, R"({"enrollment_email":"sms"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(api("GET", settings_url(), boss_token_).json()["enrollment_email"], "qr_code");
}

TEST_F(OnboardingTest, EnforcingTwiceWithinASecondEmailsEachTime) {
  enforce();
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":false})").status, 200);
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})")
                .status,
            200);
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 2u);
}

// A server with a second factor besides the authenticator app (the test plugin's
// "static_code", which accepts only 424242).
class AllowedProvidersTest : public OnboardingTest {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugins = {std::string(KEYSTEP_TEST_PLUGIN_DIR) + "/good.so"};
    return options;
  }
};

TEST_F(AllowedProvidersTest, SettingsListTheServersSecondFactors) {
  HttpResponse r = api("GET", settings_url(), boss_token_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["allowed_providers"],
            nlohmann::json({"static_code", "totp", "webauthn", "yubikey_hotp"}));
  EXPECT_EQ(r.json()["available_providers"],
            nlohmann::json({"static_code", "totp", "webauthn", "yubikey_hotp"}));
  for (const char* body : {R"({"allowed_providers":[]})", R"({"allowed_providers":["sms"]})",
                           R"({"allowed_providers":["recovery_code"]})",
                           R"({"allowed_providers":"totp"})", R"({"allowed_providers":[1]})"}) {
    EXPECT_EQ(api("PUT", settings_url(), boss_token_, body).status, 400) << body;
  }
  HttpResponse only_totp =
      api("PUT", settings_url(), boss_token_, R"({"allowed_providers":["totp","totp"]})");
  ASSERT_EQ(only_totp.status, 200) << only_totp.body;
  EXPECT_EQ(only_totp.json()["allowed_providers"], nlohmann::json({"totp"}));
}

TEST_F(AllowedProvidersTest, EnforcementNeedsTheAuthenticatorAppAllowed) {
  protect_boss();
  HttpResponse r =
      api("PUT", settings_url(), boss_token_,
          R"({"allowed_providers":["static_code"],"enforce_two_factor":true,"confirm":true})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"], "totp_required");
  EXPECT_FALSE(acme().enforce_two_factor);
}

TEST_F(AllowedProvidersTest, AMethodTheAccountNoLongerAllowsNeitherSignsInNorEnrolls) {
  const User alice = stored_user(server_->alice_id());
  ASSERT_TRUE(server_->two_factor().begin_enrollment(alice, "static_code"));
  ASSERT_TRUE(server_->two_factor().confirm_enrollment(alice, "static_code", "424242", "t"));
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"allowed_providers":["totp"]})").status,
            200);
  EXPECT_FALSE(server_->two_factor().status(alice)->has_second_factor());
  auto again = server_->two_factor().begin_enrollment(alice, "static_code");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kDenied);
  // Her own setting is on, so she is challenged, and the only way on is an allowed method.
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_EQ(page.method, "setup");
  HttpResponse refused = client_.post_form(url("/login/second-factor"),
                                           {{"flow", page.flow},
                                            {"csrf_token", page.csrf_token},
                                            {"method", "static_code"},
                                            {"code", "424242"}},
                                           &browser_);
  EXPECT_EQ(refused.status, 401);
  EXPECT_FALSE(refused.set_cookie(kSessionCookie).has_value());
}

// Issue 15: signup asks for the name the member goes by (optional), the profile scope's name.
TEST_F(OnboardingTest, SignupTakesAnOptionalDisplayName) {
  ASSERT_EQ(invite(kDave).status, 201);
  const std::string token = link_token(kDave, url("/signup?invitation="));
  HttpResponse page = client_.get(signup_url(token), &browser_);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("name=\"display_name\" autocomplete=\"name\""), std::string::npos);
  auto post = [&](const std::string& name) {
    return client_.post_form(url("/signup"),
                             {{"invitation", token},
                              {"csrf_token", input_value(page.body, "csrf_token")},
                              {"display_name", name},
                              {"password", kDavePassword},
                              {"password_confirm", kDavePassword}},
                             &browser_);
  };
  HttpResponse too_long = post(std::string(129, 'd'));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(members_named(kDave), 0);
  ASSERT_EQ(post("Dave Lister").status, 302);
  auto user = server_->store().user_by_email(acme().id, kDave);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->display_name, "Dave Lister");
}

}  // namespace
}  // namespace keystep::httptest
