// "Forgot your password?" (issue 16): the same answer for every address, a single-use,
// expiring link hashed at rest, throttled per address typed and per client address, the
// second factor before the password changes, and after the change every session ended, the
// grants revoked with back-channel logouts queued, the user emailed and the change audited.

#include <gtest/gtest.h>

#include "base/crypto/hash.h"
#include "idp/login/session_auth.h"
#include "idp/reset/password_reset.h"
#include "tests/http/admin_fixture.h"
#include "tests/http/html_scrape.h"

namespace keystep::httptest {
namespace {

constexpr const char* kNewPassword = "brand new staple 42";
constexpr const char* kUnknown = "nobody@example.com";
constexpr const char* kBackchannelUri = "http://127.0.0.1:9/backchannel";

class PasswordReset : public AdminApiTest {
 protected:
  // GET the email form, then POST `email` with its CSRF token.
  HttpResponse ask(const std::string& email) {
    HttpResponse form = client_.get(url("/password/forgot"), &browser_);
    EXPECT_EQ(form.status, 200) << form.body;
    return client_.post_form(url("/password/forgot"),
                             {{"csrf_token", input_value(form.body, "csrf_token")},
                              {"email", email}},
                             &browser_);
  }
  // The reset messages queued for `to`, newest last.
  std::vector<OutgoingMail> reset_mail(const std::string& to) {
    std::vector<OutgoingMail> out;
    const auto all = server_->outbox().mail_for(to);
    for (const auto& m : *all)
      if (m.dedupe_key.rfind("password-reset:", 0) == 0) out.push_back(m);
    return out;
  }
  // The token of the link in `mail` ("" if none).
  std::string token_in(const OutgoingMail& mail) {
    const std::string text = text_part(opened(mail));
    const std::string marker = url("/password/reset?token=");
    const auto at = text.find(marker);
    if (at == std::string::npos) return "";
    const auto begin = at + marker.size();
    return text.substr(begin, text.find_first_of(" \r\n", begin) - begin);
  }
  // The token of the newest link sent to alice's account in acme.
  std::string alice_token() {
    const auto mail = reset_mail(TestServer::kAliceEmail);
    for (auto m = mail.rbegin(); m != mail.rend(); ++m) {
      const std::string token = token_in(*m);
      auto reset = server_->store().password_reset(sha256_b64url(token));
      if (reset && reset->user_id == server_->alice_id() && reset->used_at == 0) return token;
    }
    return "";
  }
  HttpResponse open_link(const std::string& token) {
    return client_.get(url("/password/reset?token=" + token), &browser_);
  }
  // POST the new password's form of `page` (the password twice unless `confirm`).
  HttpResponse choose(const HttpResponse& page, const std::string& password,
                      const std::string& confirm = "") {
    return client_.post_form(url("/password/reset"),
                             {{"csrf_token", input_value(page.body, "csrf_token")},
                              {"password", password},
                              {"password_confirm", confirm.empty() ? password : confirm}},
                             &browser_);
  }
  bool password_is(int64_t user_id, const std::string& password) {
    OsRandom random;
    return PasswordHasher(TestServer::kArgon2, random)
        .verify(stored_user(user_id).password_hash, password);
  }
  std::vector<std::string> audit_events_named(const std::string& event) {
    std::vector<std::string> found;
    const auto events = server_->store().audit_events(acme().id, 0, 500);
    for (const auto& e : *events)
      if (e.event == event) found.push_back(e.detail);
    return found;
  }
};

TEST_F(PasswordReset, TheSignInPageLinksIt) {
  LoginPage login = open_login_page(authorize(spa_request(make_pkce())).location());
  EXPECT_NE(login.response.body.find("href=\"/password/forgot?flow=" + login.flow + "\""),
            std::string::npos);
  HttpResponse form = client_.get(url("/password/forgot?flow=" + login.flow), &browser_);
  ASSERT_EQ(form.status, 200);
  EXPECT_NE(form.body.find("autocomplete=\"username\""), std::string::npos);
  EXPECT_NE(form.body.find("href=\"/login?flow=" + login.flow + "\""), std::string::npos);
}

TEST_F(PasswordReset, EveryAddressGetsTheSameAnswerAndOnlyAccountsGetAMessage) {
  HttpResponse known = ask(TestServer::kAliceEmail);
  HttpResponse unknown = ask(kUnknown);
  ASSERT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(unknown.status, known.status);
  EXPECT_EQ(unknown.body, known.body);
  EXPECT_NE(known.body.find("If an account uses that address"), std::string::npos);
  EXPECT_TRUE(server_->outbox().mail_for(kUnknown)->empty());
  // alice has a sign-in in both accounts: each gets its own link, sealed in the outbox.
  const auto mail = reset_mail(TestServer::kAliceEmail);
  ASSERT_EQ(mail.size(), 2u);
  for (const auto& m : mail) {
    EXPECT_EQ(m.mime.rfind(std::string(kSealedMimePrefix), 0), 0u);
    const std::string token = token_in(m);
    ASSERT_EQ(token.size(), 43u);
    // Only the token's hash is stored, with the configured lifetime.
    auto reset = server_->store().password_reset(sha256_b64url(token));
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->expires_at, clock().now() + 30 * 60);
  }
  // A malformed address is told so (the format says nothing about accounts), on its field.
  HttpResponse bad = ask("not an address");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("aria-invalid=\"true\" aria-describedby=\"email-error\""),
            std::string::npos);
}

TEST_F(PasswordReset, TheFormNeedsItsCsrfCookie) {
  HttpResponse forged = client_.post_form(url("/password/forgot"),
                                          {{"csrf_token", "x"}, {"email", TestServer::kAliceEmail}},
                                          &browser_);
  EXPECT_EQ(forged.status, 403);
  EXPECT_TRUE(server_->outbox().mail_for(TestServer::kAliceEmail)->empty());
}

TEST_F(PasswordReset, ALinkChangesThePasswordEndsEverySessionAndTellsTheUser) {
  // A session in another browser and a refresh token of a client with back-channel logout.
  auto spa = server_->store().client_by_id("spa");
  spa->backchannel_logout_uri = kBackchannelUri;
  ASSERT_TRUE(server_->store().update_client(*spa));
  const nlohmann::json tokens = spa_tokens();
  ASSERT_TRUE(tokens.contains("refresh_token")) << tokens.dump();
  CookieJar signed_in = browser_;
  new_browser();

  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  const std::string token = alice_token();
  HttpResponse opened_link = open_link(token);
  // The token moves to a cookie of /password/reset and leaves the address bar.
  ASSERT_EQ(opened_link.status, 302) << opened_link.body;
  EXPECT_EQ(opened_link.location(), url("/password/reset"));
  auto cookie = opened_link.set_cookie(kResetCookie);
  ASSERT_TRUE(cookie);
  EXPECT_EQ(cookie->attribute("path").value_or(""), "/password/reset");
  EXPECT_TRUE(cookie->has("httponly"));
  HttpResponse form = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_NE(form.body.find("autocomplete=\"new-password\""), std::string::npos);

  // The policy and the confirmation field, each error on its field.
  HttpResponse differ = choose(form, kNewPassword, "something else entirely");
  EXPECT_EQ(differ.status, 400);
  EXPECT_NE(differ.body.find("aria-describedby=\"password_confirm-error\""), std::string::npos);
  HttpResponse short_one = choose(form, "short");
  EXPECT_EQ(short_one.status, 400);
  EXPECT_NE(short_one.body.find("aria-describedby=\"password-error password-hint\""),
            std::string::npos);
  EXPECT_TRUE(password_is(server_->alice_id(), TestServer::kAlicePassword));

  HttpResponse done = choose(form, kNewPassword);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("Your password was changed"), std::string::npos);
  EXPECT_TRUE(password_is(server_->alice_id(), kNewPassword));
  // The same email's other account keeps its password.
  EXPECT_TRUE(password_is(server_->other_alice_id(), TestServer::kOtherAlicePassword));
  // Every session ended and every grant revoked, the client told.
  CookieJar before = signed_in;
  EXPECT_EQ(client_.get(url("/profile"), &before).status, 302);
  EXPECT_EQ(refresh_spa(tokens.value("refresh_token", "")).status, 400);
  auto notices = server_->store().logout_notices_of("spa");
  ASSERT_TRUE(notices);
  EXPECT_EQ(notices->size(), 1u);
  // The user is emailed (no secret: not sealed), and the change audited.
  auto changed = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_EQ(changed->back().dedupe_key, "password-changed:" + sha256_b64url(token));
  EXPECT_NE(text_part(changed->back().mime).find("was changed through a reset link"),
            std::string::npos);
  EXPECT_EQ(audit_events_named("password.reset").size(), 1u);
  // The link works once.
  HttpResponse again = open_link(token);
  EXPECT_EQ(again.status, 410);
  EXPECT_NE(again.body.find("already used"), std::string::npos);
  // The form's cookie went with the success; a browser still holding it is refused too.
  EXPECT_EQ(choose(form, "another new password").status, 404);
  browser_.set(kResetCookie, token, "/password/reset");
  EXPECT_EQ(choose(form, "another new password").status, 410);
  EXPECT_TRUE(password_is(server_->alice_id(), kNewPassword));
  // Signing in takes the new password.
  EXPECT_EQ(sign_in(spa_request(make_pkce()), TestServer::kAliceEmail, TestServer::kAlicePassword)
                .status,
            401);
  new_browser();
  EXPECT_NE(sign_in_for_code(spa_request(make_pkce()), TestServer::kAliceEmail, kNewPassword), "");
}

TEST_F(PasswordReset, ALinkExpiresAndUnknownLinksAreRefused) {
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  const std::string token = alice_token();
  ASSERT_EQ(open_link(token).status, 302);
  clock().advance(30 * 60);
  HttpResponse expired = open_link(token);
  EXPECT_EQ(expired.status, 410);
  EXPECT_NE(expired.body.find("has expired"), std::string::npos);
  EXPECT_NE(expired.body.find("/password/forgot"), std::string::npos);
  EXPECT_EQ(client_.get(url("/password/reset"), &browser_).status, 410);
  EXPECT_EQ(open_link(std::string(43, 'A')).status, 404);
  EXPECT_EQ(open_link("short").status, 404);
  new_browser();
  EXPECT_EQ(client_.get(url("/password/reset"), &browser_).status, 404);
}

TEST_F(PasswordReset, UsingOneLinkEndsTheUsersOtherLinks) {
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  const std::string first = alice_token();
  clock().advance(60);
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  const std::string second = alice_token();
  ASSERT_NE(first, second);
  ASSERT_EQ(open_link(second).status, 302);
  HttpResponse form = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(choose(form, kNewPassword).status, 200);
  new_browser();
  EXPECT_EQ(open_link(first).status, 410);
}

TEST_F(PasswordReset, TheSecondFactorComesBeforeThePasswordAndIsBoundToItsBrowser) {
  const std::string secret = enable_two_factor();
  new_browser();
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  const std::string token = alice_token();
  ASSERT_EQ(open_link(token).status, 302);
  HttpResponse step = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(step.status, 302) << step.body;
  ASSERT_EQ(without_query(step.location()), url("/login/second-factor"));
  // A password posted now (the CSRF token is derived from the link) changes nothing: the
  // answer is the second step again.
  HttpResponse skipped = client_.post_form(
      url("/password/reset"),
      {{"csrf_token", session_csrf_token(token)}, {"password", kNewPassword},
       {"password_confirm", kNewPassword}},
      &browser_);
  EXPECT_EQ(skipped.status, 302);
  EXPECT_EQ(without_query(skipped.location()), url("/login/second-factor"));
  EXPECT_TRUE(password_is(server_->alice_id(), TestServer::kAlicePassword));

  SecondFactorPage page = open_second_factor_page(step.location());
  EXPECT_NE(page.response.body.find("Before you choose a new password"), std::string::npos);
  HttpResponse wrong = submit_second_factor(page, wrong_code(secret));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(password_is(server_->alice_id(), TestServer::kAlicePassword));
  page = open_second_factor_page(step.location());
  HttpResponse passed = submit_second_factor(page, next_code(secret));
  ASSERT_EQ(passed.status, 302) << passed.body;
  EXPECT_EQ(passed.location(), url("/password/reset"));
  // No session came of it.
  EXPECT_FALSE(browser_.get("ks_session"));
  EXPECT_EQ(audit_events_named("password.reset_verified").size(), 1u);

  // Another browser holding the same link still has to pass the second factor.
  CookieJar first_browser = browser_;
  new_browser();
  ASSERT_EQ(open_link(token).status, 302);
  HttpResponse elsewhere = client_.get(url("/password/reset"), &browser_);
  EXPECT_EQ(elsewhere.status, 302);
  EXPECT_EQ(without_query(elsewhere.location()), url("/login/second-factor"));

  browser_ = first_browser;
  HttpResponse form = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(form.status, 200) << form.body;
  ASSERT_EQ(choose(form, kNewPassword).status, 200);
  EXPECT_TRUE(password_is(server_->alice_id(), kNewPassword));
  // Two-factor authentication stays as it was.
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(PasswordReset, ARecoveryCodePassesTheSecondFactor) {
  enable_two_factor();
  const std::string recovery = recovery_codes_.at(0);
  new_browser();
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  ASSERT_EQ(open_link(alice_token()).status, 302);
  HttpResponse step = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(step.status, 302);
  SecondFactorPage page = open_second_factor_page(step.location() + "&method=recovery_code");
  ASSERT_EQ(page.method, "recovery_code");
  HttpResponse passed = submit_second_factor(page, recovery);
  ASSERT_EQ(passed.status, 302) << passed.body;
  HttpResponse form = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(form.status, 200);
  EXPECT_EQ(choose(form, kNewPassword).status, 200);
}

TEST_F(PasswordReset, AnEnforcedMemberWithoutAFactorIsAskedOnlyForThePasswordThenSetsOneUp) {
  protect_boss();
  new_browser();
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})")
                .status,
            200);
  ASSERT_EQ(ask(TestServer::kAliceEmail).status, 200);
  ASSERT_EQ(open_link(alice_token()).status, 302);
  HttpResponse form = client_.get(url("/password/reset"), &browser_);
  ASSERT_EQ(form.status, 200) << form.body;
  ASSERT_EQ(choose(form, kNewPassword).status, 200);
  // The next sign-in asks for the password, then the setup the account requires.
  new_browser();
  HttpResponse signed_in =
      sign_in(spa_request(make_pkce()), TestServer::kAliceEmail, kNewPassword);
  ASSERT_EQ(signed_in.status, 302);
  EXPECT_EQ(without_query(signed_in.location()), url("/login/second-factor"));
  EXPECT_NE(client_.get(signed_in.location(), &browser_).body.find("Set up two-factor"),
            std::string::npos);
}

TEST_F(PasswordReset, RequestsAreThrottledPerAddressTypedSilentlyAndPerClientAddressOpenly) {
  // Per email: three links, then none (the same answer), until 15 quiet minutes have passed.
  ASSERT_TRUE(server_->directory().create_user("acme", "erin@example.com", "erin staple pass",
                                               false));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ask("erin@example.com").status, 200);
    clock().advance(60);
  }
  EXPECT_EQ(reset_mail("erin@example.com").size(), 3u);
  clock().advance(15 * 60);
  EXPECT_EQ(ask("erin@example.com").status, 200);
  EXPECT_EQ(reset_mail("erin@example.com").size(), 4u);
  // Per client address: 20 requests whatever the addresses, then 429 with the wait.
  clock().advance(15 * 60);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(ask("user" + std::to_string(i) + "@example.com").status, 200) << i;
  HttpResponse throttled = ask(kUnknown);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.header("Retry-After").value_or(""), std::to_string(15 * 60));
  EXPECT_NE(throttled.body.find("Too many password reset requests"), std::string::npos);
}

}  // namespace
}  // namespace keystep::httptest
