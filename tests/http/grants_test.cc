// Refresh tokens by policy (issue 15 item 3): a client gets one when it is allowed refresh
// tokens and the request has offline_access, or when it is set to always get one; its idle
// and absolute lifetimes; and token revocation (RFC 7009) and introspection (RFC 7662).

#include <gtest/gtest.h>

#include "tests/http/html_scrape.h"
#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

constexpr const char* kRedirect = "https://app.example/cb";
constexpr const char* kSecret = "app-secret-0123456789-abcdefghijklmnopqrstuv";
constexpr const char* kApiSecret = "api-secret-0123456789-abcdefghijklmnopqrstuv";

class Grants : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    // "api": a resource server, a confidential client that only introspects.
    ASSERT_TRUE(server_->directory().create_client(
        {"api", {"https://api.example/cb"}, {}, std::string(kApiSecret)}));
  }

  // A confidential client "app" with `policy`.
  void add_app(const GrantPolicy& policy) {
    ASSERT_TRUE(server_->directory().create_client(
        {"app", {kRedirect}, {}, std::string(kSecret), {}, policy}));
  }

  Fields app_request(const std::string& scope) const {
    return {{"client_id", "app"}, {"redirect_uri", kRedirect}, {"response_type", "code"},
            {"scope", scope},     {"state", "s"},              {"nonce", "n"}};
  }

  // Signs in (once per test's browser) and exchanges the code: the token response.
  nlohmann::json app_tokens(const std::string& scope) {
    const std::string code = sign_in_for_code(app_request(scope));
    if (code.empty()) return nullptr;
    HttpResponse r = post_as("app", kSecret, "/token",
                             {{"grant_type", "authorization_code"},
                              {"code", code},
                              {"redirect_uri", kRedirect}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  HttpResponse post_as(const std::string& id, const std::string& secret, const std::string& path,
                       Fields form, std::vector<std::string> headers = {}) {
    form.emplace_back("client_id", id);
    form.emplace_back("client_secret", secret);
    return client_.post_form(url(path), form, nullptr, std::move(headers));
  }

  HttpResponse refresh_app(const std::string& refresh_token) {
    return post_as("app", kSecret, "/token",
                   {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}});
  }

  nlohmann::json introspect(const std::string& token, const std::string& hint = "") {
    Fields form = {{"token", token}};
    if (!hint.empty()) form.emplace_back("token_type_hint", hint);
    HttpResponse r = post_as("api", kApiSecret, "/introspect", form);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
};

TEST_F(Grants, OfflineAccessPolicyIssuesARefreshTokenOnlyWhenTheRequestAsksForIt) {
  add_app(GrantPolicy{RefreshTokens::kOfflineAccess});
  auto plain = app_tokens("openid email");
  ASSERT_TRUE(plain.is_object());
  EXPECT_FALSE(plain.contains("refresh_token")) << plain;
  EXPECT_EQ(plain["scope"], "openid email");

  auto offline = app_tokens("openid email offline_access");
  ASSERT_TRUE(offline.is_object());
  ASSERT_TRUE(offline.contains("refresh_token")) << offline;
  EXPECT_EQ(offline["scope"], "openid email offline_access");
  HttpResponse refreshed = refresh_app(offline["refresh_token"]);
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
}

TEST_F(Grants, NeverPolicyIssuesNoRefreshTokenAndDropsOfflineAccess) {
  add_app(GrantPolicy{RefreshTokens::kNever});
  auto tokens = app_tokens("openid offline_access");
  ASSERT_TRUE(tokens.is_object());
  EXPECT_FALSE(tokens.contains("refresh_token")) << tokens;
  EXPECT_EQ(tokens["scope"], "openid");
}

TEST_F(Grants, AlwaysPolicyIssuesARefreshTokenWithoutOfflineAccess) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid");
  ASSERT_TRUE(tokens.is_object());
  EXPECT_TRUE(tokens.contains("refresh_token")) << tokens;
}

// The policy decides at every refresh: a client set to never loses the refresh tokens it
// holds.
TEST_F(Grants, ARefreshIsRefusedOnceTheClientMayNoLongerRefresh) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid");
  ASSERT_TRUE(tokens.contains("refresh_token"));
  ASSERT_TRUE(server_->set_client_refresh_tokens("app", RefreshTokens::kNever));
  HttpResponse r = refresh_app(tokens["refresh_token"]);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"], "invalid_grant");
}

TEST_F(Grants, ARefreshTokenUnusedForTheIdleLifetimeExpiresAndRotationRenewsIt) {
  add_app(GrantPolicy{RefreshTokens::kAlways, /*idle=*/3600, /*absolute=*/0});
  auto tokens = app_tokens("openid");
  std::string refresh = tokens["refresh_token"];
  for (int i = 0; i < 3; ++i) {
    clock().advance(3000);  // within the idle lifetime of the latest token
    HttpResponse r = refresh_app(refresh);
    ASSERT_EQ(r.status, 200) << i << ": " << r.body;
    refresh = r.json()["refresh_token"];
  }
  clock().advance(3600);
  HttpResponse idle = refresh_app(refresh);
  EXPECT_EQ(idle.status, 400);
  EXPECT_EQ(idle.json()["error"], "invalid_grant");
}

TEST_F(Grants, NoRefreshWorksPastTheAbsoluteLifetimeHoweverOftenItRotates) {
  add_app(GrantPolicy{RefreshTokens::kAlways, /*idle=*/3600, /*absolute=*/7200});
  auto tokens = app_tokens("openid");
  std::string refresh = tokens["refresh_token"];
  clock().advance(3000);
  HttpResponse first = refresh_app(refresh);
  ASSERT_EQ(first.status, 200) << first.body;
  refresh = first.json()["refresh_token"];
  EXPECT_EQ(introspect(refresh, "refresh_token")["exp"].get<int64_t>(),
            TestClock::kStart + 3000 + 3600);
  clock().advance(3000);
  HttpResponse second = refresh_app(refresh);
  ASSERT_EQ(second.status, 200) << second.body;
  refresh = second.json()["refresh_token"];
  // This token's expiry is capped by the grant's end (sign-in + 7200), not now + 3600.
  auto info = introspect(refresh, "refresh_token");
  EXPECT_EQ(info["active"], true);
  EXPECT_EQ(info["exp"].get<int64_t>(), TestClock::kStart + 7200);
  clock().advance(1300);  // 7300 s after the sign-in, within the last token's idle lifetime
  HttpResponse late = refresh_app(refresh);
  EXPECT_EQ(late.status, 400) << late.body;
  EXPECT_EQ(late.json()["error"], "invalid_grant");
}

TEST_F(Grants, RevokingARefreshTokenRevokesItsGrantAndItsAccessTokens) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid");
  HttpResponse r = post_as("app", kSecret, "/revoke",
                           {{"token", tokens["refresh_token"]},
                            {"token_type_hint", "refresh_token"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refresh_app(tokens["refresh_token"]).status, 400);
  EXPECT_EQ(userinfo(tokens["access_token"]).status, 401);
  EXPECT_EQ(introspect(tokens["access_token"])["active"], false);
}

TEST_F(Grants, RevokingAnAccessTokenLeavesTheRefreshTokenWorking) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid");
  // The hint is wrong: it only speeds a search up, so the token is found all the same.
  HttpResponse r = post_as("app", kSecret, "/revoke",
                           {{"token", tokens["access_token"]},
                            {"token_type_hint", "refresh_token"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(userinfo(tokens["access_token"]).status, 401);
  EXPECT_EQ(refresh_app(tokens["refresh_token"]).status, 200);
}

TEST_F(Grants, RevocationAnswersOkForUnknownTokensAndRefusesOtherClientsTokens) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid");
  HttpResponse unknown = post_as("app", kSecret, "/revoke", {{"token", "no-such-token"}});
  EXPECT_EQ(unknown.status, 200) << unknown.body;
  HttpResponse other = post_as("web", TestServer::kWebSecret, "/revoke",
                               {{"token", tokens["refresh_token"]}});
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(other.json()["error"], "unauthorized_client");
  EXPECT_EQ(refresh_app(tokens["refresh_token"]).status, 200);  // untouched

  HttpResponse bad_secret = post_as("app", "wrong-secret-0123456789-abcdefghijklmnop", "/revoke",
                                    {{"token", tokens["access_token"]}});
  EXPECT_EQ(bad_secret.status, 401);
  EXPECT_EQ(bad_secret.json()["error"], "invalid_client");
  HttpResponse missing = post_as("app", kSecret, "/revoke", {});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json()["error"], "invalid_request");
  EXPECT_EQ(userinfo(tokens["access_token"]).status, 200);
}

// A public client revokes its own tokens with its client_id alone (RFC 7009 §2.1).
TEST_F(Grants, APublicClientRevokesItsRefreshToken) {
  auto tokens = spa_tokens();
  ASSERT_TRUE(tokens.is_object());
  HttpResponse r = client_.post_form(url("/revoke"),
                                     {{"token", tokens["refresh_token"]}, {"client_id", "spa"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refresh_spa(tokens["refresh_token"]).status, 400);
}

TEST_F(Grants, IntrospectionDescribesActiveTokensOfAnyClient) {
  add_app(GrantPolicy{RefreshTokens::kAlways});
  auto tokens = app_tokens("openid email");
  auto access = introspect(tokens["access_token"]);
  EXPECT_EQ(access["active"], true);
  EXPECT_EQ(access["client_id"], "app");
  EXPECT_EQ(access["aud"], "app");
  EXPECT_EQ(access["scope"], "openid email");
  EXPECT_EQ(access["sub"], std::to_string(server_->alice_id()));
  EXPECT_EQ(access["username"], TestServer::kAliceEmail);
  EXPECT_EQ(access["iss"], server_->issuer());
  EXPECT_EQ(access["token_type"], "Bearer");
  EXPECT_EQ(access["exp"].get<int64_t>(), TestClock::kStart + 600);
  auto refresh = introspect(tokens["refresh_token"], "refresh_token");
  EXPECT_EQ(refresh["active"], true);
  EXPECT_FALSE(refresh.contains("token_type"));

  clock().advance(601);
  EXPECT_EQ(introspect(tokens["access_token"]), nlohmann::json({{"active", false}}));
  EXPECT_EQ(introspect("no-such-token"), nlohmann::json({{"active", false}}));
}

TEST_F(Grants, IntrospectionIsForConfidentialClientsOnly) {
  auto tokens = spa_tokens();
  HttpResponse r =
      client_.post_form(url("/introspect"), {{"token", tokens["access_token"]}, {"client_id", "spa"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json()["error"], "invalid_client");
  EXPECT_EQ(r.body.find("active"), std::string::npos);
  HttpResponse anonymous = client_.post_form(url("/introspect"), {{"token", tokens["access_token"]}});
  EXPECT_EQ(anonymous.status, 401);
}

// Revocation answers a browser app like /token: its own origin may read the answer; another
// origin is refused before anything is revoked.
TEST_F(Grants, RevocationAnswersCorsLikeTheTokenEndpoint) {
  auto tokens = spa_tokens();
  const Fields form = {{"token", tokens["refresh_token"]}, {"client_id", "spa"}};
  HttpResponse evil =
      client_.post_form(url("/revoke"), form, nullptr, {"Origin: https://evil.example"});
  EXPECT_EQ(evil.status, 400);
  EXPECT_FALSE(evil.header("Access-Control-Allow-Origin"));
  EXPECT_EQ(refresh_spa(tokens["refresh_token"]).status, 200);

  auto fresh = spa_tokens();
  HttpResponse own = client_.post_form(url("/revoke"),
                                       {{"token", fresh["refresh_token"]}, {"client_id", "spa"}},
                                       nullptr, {"Origin: http://127.0.0.1:9"});
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.header("Access-Control-Allow-Origin").value_or(""), "http://127.0.0.1:9");
  HttpResponse preflight = client_.request(
      "OPTIONS", url("/revoke"),
      {"Origin: http://127.0.0.1:9", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(preflight.status, 204) << preflight.body;
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin").value_or(""), "http://127.0.0.1:9");
}

TEST_F(Grants, LogoutRevokesTheRefreshTokensOfTheSessionsGrants) {
  add_app(GrantPolicy{RefreshTokens::kOfflineAccess});
  auto tokens = app_tokens("openid offline_access");
  HttpResponse out = client_.post_form(url("/logout"), {}, &browser_);
  ASSERT_EQ(out.status, 200) << out.body;  // the question page
  const std::string csrf = input_value(out.body, "csrf_token");
  HttpResponse done =
      client_.post_form(url("/logout"), {{"confirm", "yes"}, {"csrf_token", csrf}}, &browser_);
  ASSERT_LT(done.status, 400) << done.body;
  EXPECT_EQ(refresh_app(tokens["refresh_token"]).status, 400);
}

}  // namespace
}  // namespace keystep::httptest
