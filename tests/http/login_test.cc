// GET and POST /login: the login page, its CSRF and browser binding, password checks, the
// session it creates, and session reuse by later authorization requests.

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

class Login : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    pkce_ = make_pkce();
  }

  // /authorize and the login page it leads to.
  LoginPage start_login(const Fields& params) {
    HttpResponse r = authorize(params);
    if (r.status != 302 || without_query(r.location()) != url("/login")) {
      ADD_FAILURE() << "/authorize did not lead to the login page: " << r.status << " "
                    << r.location();
      return {};
    }
    return open_login_page(r.location());
  }

  // The id_token claims of a code for "spa" issued with pkce_.
  nlohmann::json id_token_of(const std::string& code) {
    HttpResponse tokens = exchange_spa_code(code, pkce_.verifier);
    if (tokens.status != 200) {
      ADD_FAILURE() << tokens.body;
      return nullptr;
    }
    return verify_id_token(tokens.json().value("id_token", ""));
  }

  Pkce pkce_;
};

constexpr const char* kBadCredentials = "Incorrect email or password.";

TEST_F(Login, PageCarriesCsrfTokenAndAutocompleteAttributes) {
  LoginPage page = start_login(spa_request(pkce_));
  ASSERT_EQ(page.response.status, 200);
  EXPECT_FALSE(page.csrf_token.empty());
  const std::string& html = page.response.body;
  EXPECT_NE(html.find("name=\"csrf_token\""), std::string::npos);
  EXPECT_NE(html.find("autocomplete=\"username\""), std::string::npos);
  EXPECT_NE(html.find("autocomplete=\"current-password\""), std::string::npos);
  EXPECT_NE(html.find("method=\"post\""), std::string::npos);
  EXPECT_EQ(page.response.header("Cache-Control"), "no-store");
  EXPECT_EQ(page.response.header("X-Frame-Options"), "DENY");
  const std::string policy = page.response.header("Content-Security-Policy").value_or("");
  EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
  // A ceremony's script loads from this origin only; no inline script ever runs.
  const size_t scripts = policy.find("script-src ");
  ASSERT_NE(scripts, std::string::npos) << policy;
  EXPECT_EQ(policy.substr(scripts, policy.find(';', scripts) - scripts), "script-src 'self'");
}

TEST_F(Login, UnknownFlowGets400) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = client_.get(url("/login?flow=no-such-flow"), &browser_);
  EXPECT_EQ(r.status, 400) << r.body;
  HttpResponse post = submit_login({page.response, "no-such-flow", page.csrf_token},
                                   TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(post.status, 400) << post.body;
  EXPECT_FALSE(post.set_cookie("ks_session").has_value());
}

TEST_F(Login, MissingFlowParameterGets400) {
  EXPECT_EQ(client_.get(url("/login"), &browser_).status, 400);
}

TEST_F(Login, PageWithoutFlowCookieGets403) {
  HttpResponse r = authorize(spa_request(pkce_));
  ASSERT_EQ(r.status, 302);
  browser_.erase("ks_flow");
  HttpResponse page = client_.get(r.location(), &browser_);
  EXPECT_EQ(page.status, 403) << page.body;
  EXPECT_EQ(page.body.find("csrf_token"), std::string::npos);
}

TEST_F(Login, SubmitWithoutFlowCookieGets403) {
  LoginPage page = start_login(spa_request(pkce_));
  browser_.erase("ks_flow");
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
}

TEST_F(Login, SubmitWithAnotherBrowsersFlowCookieGets403) {
  LoginPage page = start_login(spa_request(pkce_));
  // An attacker's own flow cookie sent along with the victim's flow id (login CSRF).
  CookieJar attacker;
  HttpResponse other = client_.get(authorize_url(spa_request(make_pkce())), &attacker);
  ASSERT_EQ(other.status, 302);
  browser_.set("ks_flow", attacker.get("ks_flow").value_or(""), "/login");
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(Login, WrongCsrfTokenGets403) {
  LoginPage page = start_login(spa_request(pkce_));
  page.csrf_token = "forged-" + page.csrf_token;
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
}

TEST_F(Login, MissingCsrfTokenGets403) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = client_.post_form(url("/login"),
                                     {{"flow", page.flow},
                                      {"email", TestServer::kAliceEmail},
                                      {"password", TestServer::kAlicePassword}},
                                     &browser_);
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(Login, WrongPasswordGets401WithGenericMessageAndTheFormAgain) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, "wrong password!");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find(kBadCredentials), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("autocomplete=\"current-password\""), std::string::npos);
  EXPECT_NE(r.body.find(TestServer::kAliceEmail), std::string::npos) << "email kept";
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());

  // The flow stays usable: the right password now succeeds.
  HttpResponse retry = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(retry.status, 302) << retry.body;
  EXPECT_EQ(without_query(retry.location()), TestServer::kSpaRedirect);
}

TEST_F(Login, UnknownEmailGetsTheSameAnswerAsAWrongPassword) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse wrong_password = submit_login(page, TestServer::kAliceEmail, "wrong password!");
  HttpResponse unknown_email = submit_login(page, "mallory@example.com", "wrong password!");
  EXPECT_EQ(unknown_email.status, 401);
  EXPECT_EQ(unknown_email.status, wrong_password.status);
  EXPECT_NE(unknown_email.body.find(kBadCredentials), std::string::npos);
  // Apart from the echoed email, the pages are identical.
  std::string a = wrong_password.body;
  std::string b = unknown_email.body;
  a.replace(a.find(TestServer::kAliceEmail), std::string(TestServer::kAliceEmail).size(), "X");
  b.replace(b.find("mallory@example.com"), std::string("mallory@example.com").size(), "X");
  EXPECT_EQ(a, b);
}

TEST_F(Login, MalformedEmailAndEmptyPasswordGetTheGenericMessage) {
  LoginPage page = start_login(spa_request(pkce_));
  for (const auto& [email, password] : std::vector<std::pair<std::string, std::string>>{
           {"not an email", "whatever123"}, {TestServer::kAliceEmail, ""}, {"", ""}}) {
    HttpResponse r = submit_login(page, email, password);
    EXPECT_EQ(r.status, 401) << email;
    EXPECT_NE(r.body.find(kBadCredentials), std::string::npos) << email;
  }
}

TEST_F(Login, SuccessRedirectsToTheClientWithCodeStateIssAndSetsTheSession) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), TestServer::kSpaRedirect);
  const Fields q = query_of(r.location());
  EXPECT_FALSE(field(q, "code").value_or("").empty());
  EXPECT_EQ(field(q, "state"), "st-123");
  EXPECT_EQ(field(q, "iss"), server_->issuer());
  EXPECT_FALSE(field(q, "error").has_value());

  auto session = r.set_cookie("ks_session");
  ASSERT_TRUE(session.has_value());
  EXPECT_FALSE(session->value.empty());
  EXPECT_TRUE(session->has("httponly"));
  EXPECT_EQ(session->attribute("samesite"), "Lax");
  EXPECT_FALSE(session->has("secure"));
  EXPECT_EQ(session->attribute("path"), "/");
  // The flow cookie binds this browser's other sign-ins (another tab) too: it is kept.
  EXPECT_FALSE(r.set_cookie("ks_flow").has_value());
}

// A second sign-in started in another tab must not break the first one (issue 9, item 6).
TEST_F(Login, TwoTabsSignInIndependently) {
  LoginPage first = start_login(spa_request(pkce_));
  const Pkce other = make_pkce();
  LoginPage second = start_login(spa_request(other));
  ASSERT_NE(first.flow, second.flow);
  HttpResponse r1 = submit_login(first, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r1.status, 302) << r1.body;
  EXPECT_TRUE(field(query_of(r1.location()), "code").has_value()) << r1.location();
  HttpResponse r2 = submit_login(second, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r2.status, 302) << r2.body;
  EXPECT_TRUE(field(query_of(r2.location()), "code").has_value()) << r2.location();
}

// The binding is reused only when it has the shape of one we issued.
TEST_F(Login, ForeignFlowCookieValueIsReplaced) {
  browser_.set("ks_flow", "attacker-chosen", "/login");
  HttpResponse r = authorize(spa_request(pkce_));
  auto set = r.set_cookie("ks_flow");
  ASSERT_TRUE(set.has_value());
  EXPECT_NE(set->value, "attacker-chosen");
  EXPECT_EQ(set->value.size(), 43u);
}

TEST_F(Login, EmailIsCaseInsensitive) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = submit_login(page, "Alice@Example.COM", TestServer::kAlicePassword);
  EXPECT_EQ(r.status, 302) << r.body;
}

TEST_F(Login, FlowCannotBeReplayedAfterSuccess) {
  LoginPage page = start_login(spa_request(pkce_));
  const std::string flow_cookie = browser_.get("ks_flow").value_or("");
  ASSERT_EQ(submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword).status, 302);
  // Even with the original flow cookie, the same form cannot mint a second code.
  browser_.set("ks_flow", flow_cookie, "/login");
  HttpResponse replay = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(replay.status, 400) << replay.body;
  EXPECT_NE(replay.body.find("expired"), std::string::npos) << replay.body;
  EXPECT_EQ(replay.location(), "");
}

TEST_F(Login, ExpiredFlowGets400) {
  LoginPage page = start_login(spa_request(pkce_));
  clock().advance(15 * 60 + 1);
  HttpResponse r = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("expired"), std::string::npos);
}

TEST_F(Login, PicksTheUserWhosePasswordMatchesAmongAccountsSharingTheEmail) {
  const std::string acme_code = sign_in_for_code(spa_request(pkce_));
  const auto acme = id_token_of(acme_code);
  ASSERT_TRUE(acme.is_object());
  EXPECT_EQ(acme["sub"], std::to_string(server_->alice_id()));

  browser_ = CookieJar();
  pkce_ = make_pkce();
  const std::string globex_code = sign_in_for_code(spa_request(pkce_), TestServer::kAliceEmail,
                                                   TestServer::kOtherAlicePassword);
  const auto globex = id_token_of(globex_code);
  ASSERT_TRUE(globex.is_object());
  EXPECT_EQ(globex["sub"], std::to_string(server_->other_alice_id()));
  EXPECT_NE(server_->alice_id(), server_->other_alice_id());
}

TEST_F(Login, LoginHintIsHtmlEscapedOnThePage) {
  const std::string hint = "\"><script>alert(1)</script>";
  LoginPage page = start_login(with(spa_request(pkce_), "login_hint", hint));
  ASSERT_EQ(page.response.status, 200);
  EXPECT_EQ(page.response.body.find("<script>"), std::string::npos) << page.response.body;
  EXPECT_EQ(page.response.body.find("\"><script"), std::string::npos);
  EXPECT_NE(page.response.body.find("&quot;&gt;&lt;script&gt;"), std::string::npos)
      << page.response.body;
}

TEST_F(Login, LoginHintPrefillsTheEmail) {
  LoginPage page = start_login(with(spa_request(pkce_), "login_hint", TestServer::kAliceEmail));
  EXPECT_NE(page.response.body.find(std::string("value=\"") + TestServer::kAliceEmail + "\""),
            std::string::npos);
}

TEST_F(Login, SubmittedEmailIsHtmlEscapedOnTheRetryPage) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = submit_login(page, "\"><img src=x onerror=alert(1)>", "wrong password!");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("<img"), std::string::npos) << r.body;
}

TEST_F(Login, LoginRequiresFormContentType) {
  LoginPage page = start_login(spa_request(pkce_));
  HttpResponse r = client_.request("POST", url("/login"), {"Content-Type: application/json"},
                                   std::string("{\"flow\":\"") + page.flow + "\"}", &browser_);
  EXPECT_EQ(r.status, 400);
}

using SessionReuse = Login;

TEST_F(SessionReuse, SecondAuthorizeWithSessionIssuesACodeDirectly) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  ASSERT_TRUE(browser_.get("ks_session").has_value());
  pkce_ = make_pkce();
  HttpResponse r = authorize(with(spa_request(pkce_), "state", "second"));
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), TestServer::kSpaRedirect);
  const Fields q = query_of(r.location());
  EXPECT_FALSE(field(q, "code").value_or("").empty());
  EXPECT_EQ(field(q, "state"), "second");
  EXPECT_EQ(field(q, "iss"), server_->issuer());
  // The code works, and carries the original authentication time.
  const auto claims = id_token_of(field(q, "code").value_or(""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["sub"], std::to_string(server_->alice_id()));
  EXPECT_EQ(claims["auth_time"], TestClock::kStart);
}

TEST_F(SessionReuse, PromptNoneWithSessionIssuesACode) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  HttpResponse r = authorize(with(spa_request(make_pkce()), "prompt", "none"));
  ASSERT_EQ(r.status, 302);
  EXPECT_TRUE(field(query_of(r.location()), "code").has_value()) << r.location();
}

TEST_F(SessionReuse, PromptLoginAsksAgainAndUpdatesAuthTime) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  clock().advance(100);
  pkce_ = make_pkce();
  const Fields params = with(spa_request(pkce_), "prompt", "login");
  HttpResponse r = authorize(params);
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), url("/login"));
  LoginPage page = open_login_page(r.location());
  HttpResponse done = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(done.status, 302) << done.body;
  const auto claims = id_token_of(field(query_of(done.location()), "code").value_or(""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["auth_time"], TestClock::kStart + 100);
}

TEST_F(SessionReuse, MaxAgeZeroAsksAgainOnceTimeHasPassed) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  clock().advance(1);
  HttpResponse r = authorize(with(spa_request(make_pkce()), "max_age", "0"));
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), url("/login"));
}

TEST_F(SessionReuse, MaxAgeWithinTheLimitIssuesACode) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  clock().advance(30);
  HttpResponse r = authorize(with(spa_request(make_pkce()), "max_age", "60"));
  ASSERT_EQ(r.status, 302);
  EXPECT_TRUE(field(query_of(r.location()), "code").has_value()) << r.location();
  clock().advance(31);
  HttpResponse later = authorize(with(spa_request(make_pkce()), "max_age", "60"));
  ASSERT_EQ(later.status, 302);
  EXPECT_EQ(without_query(later.location()), url("/login"));
}

TEST_F(SessionReuse, PromptNoneWithTooOldSessionRedirectsWithLoginRequired) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  clock().advance(10);
  Fields params = with(spa_request(make_pkce()), "prompt", "none");
  HttpResponse r = authorize(with(params, "max_age", "5"));
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(field(query_of(r.location()), "error"), "login_required");
}

TEST_F(SessionReuse, ExpiredSessionAsksAgain) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  clock().advance(12 * 3600 + 1);
  HttpResponse r = authorize(spa_request(make_pkce()));
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), url("/login"));
}

TEST_F(SessionReuse, ForgedSessionCookieIsIgnored) {
  browser_.set("ks_session", "forged-session-value");
  HttpResponse r = authorize(with(spa_request(pkce_), "prompt", "none"));
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(field(query_of(r.location()), "error"), "login_required");
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

TEST_F(Login, RepeatedWrongPasswordsAreThrottledWithRetryAfterThenTheRightOneWorks) {
  LoginPage page = start_login(spa_request(pkce_));
  for (int i = 0; i < LockoutPolicy::kFreeFailures; ++i) {
    HttpResponse r = submit_login(page, TestServer::kAliceEmail, "wrong password!");
    EXPECT_EQ(r.status, 401) << i;
  }
  // Past the free failures even the right password waits, and the page says how long.
  HttpResponse locked = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.header("Retry-After").value_or(""), "1");
  EXPECT_NE(locked.body.find("Too many failed sign-ins. Wait 1 second"), std::string::npos)
      << locked.body;
  clock().advance(1);
  HttpResponse ok = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  ASSERT_EQ(ok.status, 302) << ok.body;
}

TEST_F(Login, ThrottlingAnUnknownEmailLooksLikeThrottlingAKnownOne) {
  LoginPage page = start_login(spa_request(pkce_));
  for (int i = 0; i < LockoutPolicy::kFreeFailures; ++i)
    (void)submit_login(page, "mallory@example.com", "wrong password!");
  HttpResponse locked = submit_login(page, "mallory@example.com", "wrong password!");
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body.find("Too many failed sign-ins"), std::string::npos);
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

TEST_F(Login, ThrottlingOneEmailDoesNotSlowAnotherUserFromTheSameAddress) {
  LoginPage page = start_login(spa_request(pkce_));
  for (int i = 0; i <= LockoutPolicy::kFreeFailures; ++i)
    (void)submit_login(page, "mallory@example.com", "wrong password!");
  HttpResponse ok = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(ok.status, 302) << ok.body;
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

// Enough server threads and a hash slow enough that concurrent guesses overlap while each
// password is being checked.
class ConcurrentLogin : public Login {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.threads = 8;
    options.http.password_threads = 8;
    options.argon2 = Argon2Params{1, 8 * 1024, 1};
    return options;
  }
};

TEST_F(ConcurrentLogin, ConcurrentWrongPasswordsAreCheckedNoMoreOftenThanThePolicyAllows) {
  LoginPage page = start_login(spa_request(pkce_));
  ASSERT_FALSE(page.flow.empty());
  const std::string flow_cookie = browser_.get("ks_flow").value_or("");
  constexpr int kGuesses = 32;
  std::vector<long> statuses(kGuesses);
  std::vector<std::thread> threads;
  for (int i = 0; i < kGuesses; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client;
      CookieJar jar;
      jar.set("ks_flow", flow_cookie, "/login");
      statuses[static_cast<size_t>(i)] =
          client
              .post_form(url("/login"),
                         {{"flow", page.flow},
                          {"csrf_token", page.csrf_token},
                          {"email", TestServer::kAliceEmail},
                          {"password", "guess " + std::to_string(i)}},
                         &jar)
              .status;
    });
  }
  for (auto& t : threads) t.join();
  // The test clock stands still, so once the free failures are spent every further guess has
  // to wait: it is refused (429) without its password being checked (401).
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 401L), LockoutPolicy::kFreeFailures);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429L),
            kGuesses - LockoutPolicy::kFreeFailures);
}

}  // namespace
}  // namespace keystep::httptest
