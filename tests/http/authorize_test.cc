// GET /authorize: errors before the redirect URI is trusted go to an error page; errors after
// go back to the client with state and iss; success starts a login flow.

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

class Authorize : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    pkce_ = make_pkce();
  }

  // Expects an HTML error page with `status` and no redirect.
  void expect_error_page(const HttpResponse& r, long status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_FALSE(r.header("Location").has_value()) << r.location();
    EXPECT_EQ(r.header("Content-Type").value_or("").rfind("text/html", 0), 0u);
  }

  // Expects a redirect to the spa redirect URI with `error`, the request's state and iss.
  void expect_redirect_error(const HttpResponse& r, const std::string& error) {
    ASSERT_EQ(r.status, 302) << r.body;
    EXPECT_EQ(without_query(r.location()), TestServer::kSpaRedirect);
    const Fields q = query_of(r.location());
    EXPECT_EQ(field(q, "error"), error) << r.location();
    EXPECT_EQ(field(q, "state"), "st-123");
    EXPECT_EQ(field(q, "iss"), server_->issuer());
    EXPECT_FALSE(field(q, "code").has_value());
  }

  Pkce pkce_;
};

TEST_F(Authorize, UnknownClientGetsAnErrorPageNotARedirect) {
  HttpResponse r = authorize(with(spa_request(pkce_), "client_id", "nobody"));
  expect_error_page(r, 400);
  EXPECT_NE(r.body.find("invalid_client"), std::string::npos);
}

TEST_F(Authorize, MissingClientIdGetsAnErrorPage) {
  expect_error_page(authorize(without(spa_request(pkce_), "client_id")), 400);
}

TEST_F(Authorize, UnregisteredRedirectUriGetsAnErrorPageNotAnOpenRedirect) {
  for (const char* evil :
       {"https://evil.example/cb", "http://127.0.0.1:9/cb/../evil", "http://127.0.0.1:9/cb?x=1",
        "http://127.0.0.1:9/CB", "http://127.0.0.1:9/cb#frag", "http://127.0.0.1:9/cb/"}) {
    HttpResponse r = authorize(with(spa_request(pkce_), "redirect_uri", evil));
    expect_error_page(r, 400);
    EXPECT_EQ(r.body.find("evil.example"), std::string::npos) << evil;
  }
}

TEST_F(Authorize, RedirectUriOfAnotherClientIsRefused) {
  expect_error_page(authorize(with(spa_request(pkce_), "redirect_uri", TestServer::kWebRedirect)),
                    400);
}

TEST_F(Authorize, MissingRedirectUriGetsAnErrorPage) {
  expect_error_page(authorize(without(spa_request(pkce_), "redirect_uri")), 400);
}

TEST_F(Authorize, RepeatedRedirectUriGetsAnErrorPage) {
  Fields params = spa_request(pkce_);
  params.emplace_back("redirect_uri", "https://evil.example/cb");
  expect_error_page(authorize(params), 400);
}

TEST_F(Authorize, RepeatedParameterInPostedFormRedirectsWithInvalidRequest) {
  Fields params = spa_request(pkce_);
  params.emplace_back("scope", "openid");
  HttpResponse r = client_.post_form(url("/authorize"), params, &browser_);
  expect_redirect_error(r, "invalid_request");
}

TEST_F(Authorize, ResponseTypeTokenRedirectsWithUnsupportedResponseType) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "response_type", "token")),
                        "unsupported_response_type");
}

TEST_F(Authorize, MissingResponseTypeRedirectsWithUnsupportedResponseType) {
  expect_redirect_error(authorize(without(spa_request(pkce_), "response_type")),
                        "unsupported_response_type");
}

TEST_F(Authorize, WithoutOpenidScopeRedirectsWithInvalidScope) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "scope", "email")), "invalid_scope");
}

TEST_F(Authorize, PublicClientWithoutPkceRedirectsWithInvalidRequest) {
  Fields params = without(without(spa_request(pkce_), "code_challenge"), "code_challenge_method");
  expect_redirect_error(authorize(params), "invalid_request");
}

TEST_F(Authorize, PlainPkceMethodRedirectsWithInvalidRequest) {
  Fields params = spa_request(pkce_);
  params = with(params, "code_challenge", pkce_.verifier);
  params = with(params, "code_challenge_method", "plain");
  expect_redirect_error(authorize(params), "invalid_request");
}

TEST_F(Authorize, ChallengeWithoutMethodRedirectsWithInvalidRequest) {
  // RFC 7636 defaults a missing method to plain, which is refused.
  expect_redirect_error(authorize(without(spa_request(pkce_), "code_challenge_method")),
                        "invalid_request");
}

TEST_F(Authorize, MalformedCodeChallengeRedirectsWithInvalidRequest) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "code_challenge", "short")),
                        "invalid_request");
}

TEST_F(Authorize, MalformedMaxAgeRedirectsWithInvalidRequest) {
  // An empty max_age counts as omitted (RFC 6749 §3.1), so it is not in this list.
  for (const char* bad : {"abc", "-1", "1.5", "+5", "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    expect_redirect_error(authorize(with(spa_request(pkce_), "max_age", bad)), "invalid_request");
  }
}

TEST_F(Authorize, UnknownPromptRedirectsWithInvalidRequest) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "prompt", "bogus")), "invalid_request");
}

TEST_F(Authorize, PromptNoneWithoutSessionRedirectsWithLoginRequired) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "prompt", "none")), "login_required");
}

TEST_F(Authorize, RequestObjectRedirectsWithRequestNotSupported) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "request", "eyJhbGciOiJub25lIn0.e30.")),
                        "request_not_supported");
}

// OIDC Core §3.1.2.6 gives request_uri its own error (issue 15 changed this from
// request_not_supported).
TEST_F(Authorize, RequestUriRedirectsWithRequestUriNotSupported) {
  expect_redirect_error(
      authorize(with(spa_request(pkce_), "request_uri", "https://evil.example/request.jwt")),
      "request_uri_not_supported");
}

TEST_F(Authorize, PromptSelectAccountShowsTheSignInPageDespiteASession) {
  ASSERT_FALSE(sign_in_for_code(spa_request(pkce_)).empty());
  HttpResponse again = authorize(spa_request(pkce_));
  ASSERT_EQ(again.status, 302);
  EXPECT_EQ(without_query(again.location()), TestServer::kSpaRedirect);  // the session answers
  HttpResponse choose = authorize(with(spa_request(pkce_), "prompt", "select_account"));
  ASSERT_EQ(choose.status, 302);
  EXPECT_EQ(without_query(choose.location()), url("/login"));
  // Another account's user may sign in there.
  LoginPage page = open_login_page(choose.location());
  HttpResponse done =
      submit_login(page, TestServer::kAliceEmail, TestServer::kOtherAlicePassword);
  EXPECT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(without_query(done.location()), TestServer::kSpaRedirect);
}

TEST_F(Authorize, ResponseModeFragmentRedirectsWithInvalidRequest) {
  expect_redirect_error(authorize(with(spa_request(pkce_), "response_mode", "fragment")),
                        "invalid_request");
}

TEST_F(Authorize, RepeatedParameterRedirectsWithInvalidRequest) {
  Fields params = spa_request(pkce_);
  params.emplace_back("scope", "openid");
  expect_redirect_error(authorize(params), "invalid_request");
}

TEST_F(Authorize, ErrorRedirectWithoutStateHasNoStateParameter) {
  HttpResponse r = authorize(with(without(spa_request(pkce_), "state"), "response_type", "token"));
  ASSERT_EQ(r.status, 302);
  const Fields q = query_of(r.location());
  EXPECT_EQ(field(q, "error"), "unsupported_response_type");
  EXPECT_FALSE(field(q, "state").has_value());
  EXPECT_EQ(field(q, "iss"), server_->issuer());
}

TEST_F(Authorize, StateComesBackByteForByte) {
  // Characters that a query parser or re-encoder could lose or change.
  const std::string state = "a&b=c %25+/?#\xc3\xa9;,'\"<>";
  HttpResponse error =
      authorize(with(with(spa_request(pkce_), "state", state), "response_type", "token"));
  ASSERT_EQ(error.status, 302) << error.body;
  EXPECT_EQ(field(query_of(error.location()), "state"), state) << error.location();

  HttpResponse done = sign_in(with(spa_request(pkce_), "state", state));
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(field(query_of(done.location()), "state"), state) << done.location();
}

TEST_F(Authorize, SuccessRedirectsToTheLoginPageWithAFlowCookie) {
  HttpResponse r = authorize(spa_request(pkce_));
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), url("/login"));
  const auto flow = field(query_of(r.location()), "flow");
  ASSERT_TRUE(flow.has_value());
  EXPECT_FALSE(flow->empty());
  EXPECT_EQ(r.header("Cache-Control"), "no-store");

  auto cookie = r.set_cookie("ks_flow");
  ASSERT_TRUE(cookie.has_value()) << "Set-Cookie: " << r.header("Set-Cookie").value_or("");
  EXPECT_FALSE(cookie->value.empty());
  EXPECT_NE(cookie->value, *flow) << "the browser binding must differ from the public flow id";
  EXPECT_TRUE(cookie->has("httponly"));
  EXPECT_EQ(cookie->attribute("samesite"), "Lax");
  EXPECT_FALSE(cookie->has("secure")) << "the issuer is http://, a Secure cookie would be lost";
  EXPECT_EQ(cookie->attribute("path"), "/");
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
}

TEST_F(Authorize, ConfidentialClientMayOmitPkce) {
  HttpResponse r = authorize(web_request());
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), url("/login"));
}

TEST_F(Authorize, PostFormIsAcceptedLikeGet) {
  HttpResponse r = client_.post_form(url("/authorize"), spa_request(pkce_), &browser_);
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), url("/login"));
}

TEST_F(Authorize, MalformedQueryEncodingGetsAnErrorPage) {
  HttpResponse r = client_.get(url("/authorize?client_id=spa&redirect_uri=%ZZ"));
  expect_error_page(r, 400);
}

}  // namespace
}  // namespace keystep::httptest
