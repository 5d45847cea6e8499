// CORS on the endpoints a browser app (SPA) calls: discovery, the JWKS, /token and /userinfo
// answer an origin a client allows (its redirect URIs' origins and its allowed origins) with
// Access-Control-Allow-Origin, never with credentials; preflights are answered; a disallowed
// origin gets no CORS headers, and /token refuses it before redeeming the code or rotating the
// refresh token it carries.

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

// The seed's "spa" client redirects to http://127.0.0.1:9/cb: its origin is allowed.
constexpr const char* kSpaOrigin = "http://127.0.0.1:9";
constexpr const char* kEvilOrigin = "https://evil.example";
// Allowed by the "cdn-app" client this fixture adds, not by "spa".
constexpr const char* kCdnOrigin = "https://cdn.example.net";
constexpr const char* kCdnAppRedirect = "https://cdn-app.example/cb";

class Cors : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    ASSERT_TRUE(server_->directory().create_client(
        {"cdn-app", {kCdnAppRedirect}, {}, std::nullopt, {kCdnOrigin}}));
  }

  static std::string origin_header(const std::string& origin) { return "Origin: " + origin; }

  HttpResponse get_from(const std::string& path, const std::string& origin,
                        std::vector<std::string> headers = {}) {
    headers.push_back(origin_header(origin));
    return client_.get(url(path), nullptr, headers);
  }

  HttpResponse preflight(const std::string& path, const std::string& origin,
                         const std::string& method,
                         const std::string& headers = "authorization, content-type") {
    return client_.request("OPTIONS", url(path),
                           {origin_header(origin), "Access-Control-Request-Method: " + method,
                            "Access-Control-Request-Headers: " + headers});
  }

  HttpResponse token_from(const std::string& origin, const Fields& form) {
    return client_.post_form(url("/token"), form, nullptr, {origin_header(origin)});
  }

  static Fields code_form(const std::string& code, const Pkce& pkce) {
    return {{"grant_type", "authorization_code"},
            {"code", code},
            {"redirect_uri", TestServer::kSpaRedirect},
            {"client_id", "spa"},
            {"code_verifier", pkce.verifier}};
  }

  static void expect_allowed(const HttpResponse& r, const std::string& origin,
                             const std::string& where) {
    EXPECT_EQ(r.header("Access-Control-Allow-Origin").value_or(""), origin) << where;
    EXPECT_FALSE(r.header("Access-Control-Allow-Credentials")) << where;
    EXPECT_NE(r.header("Vary").value_or("").find("Origin"), std::string::npos) << where;
  }

  static void expect_no_cors(const HttpResponse& r, const std::string& where) {
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << where << ": " << r.body;
    EXPECT_FALSE(r.header("Access-Control-Allow-Methods")) << where;
    EXPECT_FALSE(r.header("Access-Control-Allow-Credentials")) << where;
  }
};

TEST_F(Cors, DiscoveryAndJwksAreReadableByAnOriginSomeClientAllowsAndNoOther) {
  for (const char* path : {"/.well-known/openid-configuration", "/jwks.json"}) {
    for (const char* origin : {kSpaOrigin, kCdnOrigin}) {
      HttpResponse r = get_from(path, origin);
      EXPECT_EQ(r.status, 200) << path;
      expect_allowed(r, origin, std::string(path) + " from " + origin);
    }
    HttpResponse evil = get_from(path, kEvilOrigin);
    EXPECT_EQ(evil.status, 200) << path;
    expect_no_cors(evil, path);
    // Cached answers must not be reused for another origin.
    EXPECT_NE(evil.header("Vary").value_or("").find("Origin"), std::string::npos) << path;
    HttpResponse same_origin = client_.get(url(path));
    expect_no_cors(same_origin, path);
  }
}

TEST_F(Cors, PreflightsAreAnsweredForAllowedOriginsAndServedMethodsOnly) {
  struct Case {
    const char* path;
    const char* method;
    const char* methods;
  };
  for (const Case& c : {Case{"/token", "POST", "POST"}, Case{"/userinfo", "GET", "GET, POST"},
                        Case{"/userinfo", "POST", "GET, POST"},
                        Case{"/.well-known/openid-configuration", "GET", "GET"},
                        Case{"/jwks.json", "GET", "GET"}}) {
    const std::string where = std::string(c.method) + " " + c.path;
    HttpResponse ok = preflight(c.path, kSpaOrigin, c.method);
    EXPECT_EQ(ok.status, 204) << where;
    expect_allowed(ok, kSpaOrigin, where);
    EXPECT_EQ(ok.header("Access-Control-Allow-Methods").value_or(""), c.methods) << where;
    EXPECT_EQ(ok.header("Access-Control-Allow-Headers").value_or(""),
              "Authorization, Content-Type")
        << where;
    EXPECT_EQ(ok.header("Access-Control-Max-Age").value_or(""), "600") << where;
    EXPECT_TRUE(ok.body.empty()) << where;

    HttpResponse evil = preflight(c.path, kEvilOrigin, c.method);
    EXPECT_EQ(evil.status, 204) << where;
    expect_no_cors(evil, where);
  }
  for (const char* method : {"DELETE", "PUT", "GET", "POS"}) {
    HttpResponse r = preflight("/token", kSpaOrigin, method);
    EXPECT_EQ(r.status, 204) << method;
    expect_no_cors(r, std::string("OPTIONS /token asking for ") + method);
  }
}

TEST_F(Cors, OptionsWithoutOriginIsAnsweredWithAllowAndElsewhere405) {
  HttpResponse r = client_.request("OPTIONS", url("/userinfo"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow").value_or(""), "GET, POST, OPTIONS");
  expect_no_cors(r, "OPTIONS /userinfo");
  HttpResponse login = client_.request("OPTIONS", url("/login"),
                                       {origin_header(kSpaOrigin),
                                        "Access-Control-Request-Method: POST"});
  EXPECT_EQ(login.status, 405);
  expect_no_cors(login, "OPTIONS /login");
}

TEST_F(Cors, TheSpaExchangesItsCodeRefreshesAndReadsUserinfoFromItsOrigin) {
  const Pkce pkce = make_pkce();
  const std::string code = sign_in_for_code(spa_request(pkce));
  HttpResponse tokens = token_from(kSpaOrigin, code_form(code, pkce));
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  expect_allowed(tokens, kSpaOrigin, "code exchange");

  HttpResponse info = get_from("/userinfo", kSpaOrigin,
                               {"Authorization: Bearer " + tokens.json().value("access_token", "")});
  EXPECT_EQ(info.status, 200);
  expect_allowed(info, kSpaOrigin, "userinfo");

  HttpResponse refreshed =
      token_from(kSpaOrigin, {{"grant_type", "refresh_token"},
                              {"refresh_token", tokens.json().value("refresh_token", "")},
                              {"client_id", "spa"}});
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  expect_allowed(refreshed, kSpaOrigin, "refresh");
}

TEST_F(Cors, ACodeSentFromADisallowedOriginIsRefusedBeforeItIsRedeemed) {
  const Pkce pkce = make_pkce();
  const std::string code = sign_in_for_code(spa_request(pkce));
  // An origin no client allows, and one another client allows: both refused for "spa".
  for (const char* origin : {kEvilOrigin, kCdnOrigin}) {
    HttpResponse refused = token_from(origin, code_form(code, pkce));
    EXPECT_EQ(refused.status, 400) << origin;
    EXPECT_EQ(refused.json().value("error", ""), "invalid_request") << origin;
    expect_no_cors(refused, origin);
  }
  // The code was not spent: the app itself still redeems it, once.
  HttpResponse tokens = token_from(kSpaOrigin, code_form(code, pkce));
  EXPECT_EQ(tokens.status, 200) << tokens.body;
}

TEST_F(Cors, ARefreshTokenSentFromADisallowedOriginIsNotRotated) {
  const nlohmann::json tokens = spa_tokens();
  const std::string refresh = tokens.value("refresh_token", "");
  const Fields form = {
      {"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "spa"}};
  HttpResponse refused = token_from(kEvilOrigin, form);
  EXPECT_EQ(refused.status, 400);
  expect_no_cors(refused, "refresh from evil");
  // Not rotated away: using it again would have revoked the grant as a replay.
  EXPECT_EQ(refresh_spa(refresh).status, 200);
}

TEST_F(Cors, ErrorsBeforeAClientIsAuthenticatedAreReadableByAnOriginSomeClientAllows) {
  HttpResponse unknown = token_from(kSpaOrigin, {{"grant_type", "authorization_code"},
                                                 {"code", "x"},
                                                 {"client_id", "nobody"}});
  EXPECT_EQ(unknown.status, 401);
  expect_allowed(unknown, kSpaOrigin, "unknown client");
  HttpResponse evil = token_from(kEvilOrigin, {{"grant_type", "authorization_code"},
                                               {"code", "x"},
                                               {"client_id", "nobody"}});
  EXPECT_EQ(evil.status, 401);
  expect_no_cors(evil, "unknown client from evil");

  HttpResponse bad_token = get_from("/userinfo", kSpaOrigin, {"Authorization: Bearer nope"});
  EXPECT_EQ(bad_token.status, 401);
  expect_allowed(bad_token, kSpaOrigin, "userinfo with a bad token");
  // The Bearer challenge is readable by the app.
  EXPECT_EQ(bad_token.header("Access-Control-Expose-Headers").value_or(""), "WWW-Authenticate");
}

TEST_F(Cors, UserinfoIsReadableOnlyByAnOriginTheTokensClientAllows) {
  const std::string access = spa_tokens().value("access_token", "");
  HttpResponse other = get_from("/userinfo", kCdnOrigin, {"Authorization: Bearer " + access});
  EXPECT_EQ(other.status, 200);
  expect_no_cors(other, "userinfo of spa from cdn-app's origin");
  HttpResponse evil = get_from("/userinfo", kEvilOrigin, {"Authorization: Bearer " + access});
  expect_no_cors(evil, "userinfo from evil");
}

TEST_F(Cors, AnExplicitlyAllowedOriginMayUseItsClient) {
  const Pkce pkce = make_pkce();
  Fields params = with(spa_request(pkce), "client_id", "cdn-app");
  params = with(params, "redirect_uri", kCdnAppRedirect);
  const std::string code = sign_in_for_code(params);
  Fields form = code_form(code, pkce);
  form = with(form, "client_id", "cdn-app");
  form = with(form, "redirect_uri", kCdnAppRedirect);
  HttpResponse tokens = token_from(kCdnOrigin, form);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  expect_allowed(tokens, kCdnOrigin, "cdn-app from its allowed origin");
  HttpResponse info = get_from("/userinfo", kCdnOrigin,
                               {"Authorization: Bearer " + tokens.json().value("access_token", "")});
  expect_allowed(info, kCdnOrigin, "cdn-app's userinfo");
}

}  // namespace
}  // namespace keystep::httptest
