// POST /token: the authorization code grant (PKCE, client authentication, replay) and the
// refresh token grant (rotation, reuse detection).

#include <gtest/gtest.h>

#include "base/crypto/encoding.h"
#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

class Token : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    pkce_ = make_pkce();
  }

  // A code for "spa" issued with pkce_.
  std::string spa_code() { return sign_in_for_code(spa_request(pkce_)); }
  // A code for "web" (no PKCE).
  std::string web_code() { return sign_in_for_code(web_request()); }

  Fields web_code_form(const std::string& code) const {
    return {{"grant_type", "authorization_code"},
            {"code", code},
            {"redirect_uri", TestServer::kWebRedirect}};
  }

  static std::string basic(const std::string& id, const std::string& secret) {
    return "Authorization: Basic " + base64_encode(id + ":" + secret);
  }

  HttpResponse token_post(const Fields& form, std::vector<std::string> headers = {}) {
    return client_.post_form(url("/token"), form, nullptr, std::move(headers));
  }

  static void expect_oauth_error(const HttpResponse& r, long status, const std::string& error) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.json().value("error", ""), error) << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
  }

  Pkce pkce_;
};

TEST_F(Token, PublicClientExchangesCodeWithPkce) {
  const std::string code = spa_code();
  ASSERT_FALSE(code.empty());
  HttpResponse r = exchange_spa_code(code, pkce_.verifier);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or("").rfind("application/json", 0), 0u);
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_EQ(r.header("Pragma"), "no-cache");
  const auto body = r.json();
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_FALSE(body.value("access_token", "").empty());
  EXPECT_FALSE(body.value("id_token", "").empty());
  EXPECT_FALSE(body.value("refresh_token", "").empty());
  EXPECT_GT(body.value("expires_in", 0), 0);
  EXPECT_EQ(body["scope"], "openid email");
}

TEST_F(Token, IdTokenVerifiesAgainstJwksAndCarriesTheExpectedClaims) {
  const int64_t login_time = clock().now();
  const std::string code = spa_code();
  clock().advance(5);
  HttpResponse r = exchange_spa_code(code, pkce_.verifier);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto claims = verify_id_token(r.json().value("id_token", ""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["iss"], server_->issuer());
  EXPECT_EQ(claims["aud"], "spa");
  EXPECT_EQ(claims["sub"], std::to_string(server_->alice_id()));
  EXPECT_EQ(claims["nonce"], "n-456");
  EXPECT_EQ(claims["auth_time"], login_time);
  EXPECT_EQ(claims["iat"], login_time + 5);
  EXPECT_TRUE(claims["sid"].is_string() && !claims["sid"].get<std::string>().empty());
  const auto discovery = client_.get(url("/.well-known/openid-configuration")).json();
  ASSERT_TRUE(claims["acr"].is_string());
  EXPECT_NE(std::find(discovery["acr_values_supported"].begin(),
                      discovery["acr_values_supported"].end(), claims["acr"]),
            discovery["acr_values_supported"].end())
      << claims["acr"];
  EXPECT_EQ(claims["amr"], nlohmann::json::array({"pwd"}));
  ASSERT_TRUE(claims["exp"].is_number_integer() && claims["iat"].is_number_integer());
  EXPECT_GT(claims["exp"].get<int64_t>(), claims["iat"].get<int64_t>());
  EXPECT_EQ(claims["email"], TestServer::kAliceEmail);
}

TEST_F(Token, IdTokenHeaderNamesThePublishedKid) {
  const std::string code = spa_code();
  HttpResponse r = exchange_spa_code(code, pkce_.verifier);
  ASSERT_EQ(r.status, 200);
  const std::string id_token = r.json().value("id_token", "");
  auto header = base64url_decode(id_token.substr(0, id_token.find('.')));
  ASSERT_TRUE(header);
  const auto h = nlohmann::json::parse(*header, nullptr, false);
  EXPECT_EQ(h["alg"], "RS256");
  const auto jwks = client_.get(url("/jwks.json")).json();
  EXPECT_EQ(h["kid"], jwks["keys"][0]["kid"]);
}

TEST_F(Token, WrongCodeVerifierIsInvalidGrant) {
  const std::string code = spa_code();
  expect_oauth_error(exchange_spa_code(code, make_pkce().verifier), 400, "invalid_grant");
}

TEST_F(Token, MissingCodeVerifierIsInvalidGrant) {
  const std::string code = spa_code();
  HttpResponse r = token_post({{"grant_type", "authorization_code"},
                               {"code", code},
                               {"redirect_uri", TestServer::kSpaRedirect},
                               {"client_id", "spa"}});
  expect_oauth_error(r, 400, "invalid_grant");
}

TEST_F(Token, WrongRedirectUriIsInvalidGrant) {
  const std::string code = spa_code();
  HttpResponse r = token_post({{"grant_type", "authorization_code"},
                               {"code", code},
                               {"redirect_uri", "http://127.0.0.1:9/other"},
                               {"client_id", "spa"},
                               {"code_verifier", pkce_.verifier}});
  expect_oauth_error(r, 400, "invalid_grant");
}

TEST_F(Token, UnknownCodeIsInvalidGrant) {
  expect_oauth_error(exchange_spa_code("no-such-code", pkce_.verifier), 400, "invalid_grant");
}

TEST_F(Token, MissingCodeIsInvalidRequest) {
  HttpResponse r = token_post({{"grant_type", "authorization_code"},
                               {"redirect_uri", TestServer::kSpaRedirect},
                               {"client_id", "spa"},
                               {"code_verifier", pkce_.verifier}});
  expect_oauth_error(r, 400, "invalid_request");
}

TEST_F(Token, ReusedCodeIsInvalidGrantAndRevokesTheFirstTokens) {
  const std::string code = spa_code();
  HttpResponse first = exchange_spa_code(code, pkce_.verifier);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string access = first.json().value("access_token", "");
  const std::string refresh = first.json().value("refresh_token", "");
  ASSERT_EQ(userinfo(access).status, 200);

  expect_oauth_error(exchange_spa_code(code, pkce_.verifier), 400, "invalid_grant");
  HttpResponse after = userinfo(access);
  EXPECT_EQ(after.status, 401) << "the first exchange's access token must be revoked";
  expect_oauth_error(refresh_spa(refresh), 400, "invalid_grant");
}

// Another node's replay of the code revokes the grant after this exchange redeemed the code
// and before it stored the tokens: the exchange is refused as the replay's victim
// (invalid_grant, nothing to retry), not answered 503 or 500, and no token of it works.
TEST_F(Token, CodeWhoseGrantWasRevokedDuringTheExchangeIsInvalidGrant) {
  const std::string code = spa_code();
  ASSERT_TRUE(server_->revoke_grants_when_redeemed().ok());
  HttpResponse r = exchange_spa_code(code, pkce_.verifier);
  expect_oauth_error(r, 400, "invalid_grant");
  EXPECT_FALSE(r.header("Retry-After").has_value());
  EXPECT_EQ(r.json().value("access_token", ""), "");
  expect_oauth_error(exchange_spa_code(code, pkce_.verifier), 400, "invalid_grant");
}

TEST_F(Token, ExpiredCodeIsInvalidGrant) {
  const std::string code = spa_code();
  clock().advance(61);
  expect_oauth_error(exchange_spa_code(code, pkce_.verifier), 400, "invalid_grant");
}

TEST_F(Token, CodeIssuedToAnotherClientIsInvalidGrant) {
  const std::string code = spa_code();
  HttpResponse r = token_post({{"grant_type", "authorization_code"},
                               {"code", code},
                               {"redirect_uri", TestServer::kSpaRedirect},
                               {"code_verifier", pkce_.verifier}},
                              {basic("web", TestServer::kWebSecret)});
  expect_oauth_error(r, 400, "invalid_grant");
  // And the code is spent for its real client too.
  expect_oauth_error(exchange_spa_code(code, pkce_.verifier), 400, "invalid_grant");
}

TEST_F(Token, ConfidentialClientAuthenticatesWithClientSecretBasic) {
  const std::string code = web_code();
  ASSERT_FALSE(code.empty());
  HttpResponse r = token_post(web_code_form(code), {basic("web", TestServer::kWebSecret)});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto claims = verify_id_token(r.json().value("id_token", ""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["aud"], "web");
  EXPECT_EQ(claims["nonce"], "web-nonce");
  EXPECT_FALSE(claims.contains("email")) << "scope was only openid";
}

TEST_F(Token, ConfidentialClientAuthenticatesWithClientSecretPost) {
  const std::string code = web_code();
  Fields form = web_code_form(code);
  form.emplace_back("client_id", "web");
  form.emplace_back("client_secret", TestServer::kWebSecret);
  HttpResponse r = token_post(form);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().value("access_token", "").empty());
}

TEST_F(Token, ConfidentialClientMayAlsoUsePkce) {
  const std::string code = sign_in_for_code(with(
      with(web_request(), "code_challenge", pkce_.challenge), "code_challenge_method", "S256"));
  Fields form = web_code_form(code);
  form.emplace_back("code_verifier", pkce_.verifier);
  EXPECT_EQ(token_post(form, {basic("web", TestServer::kWebSecret)}).status, 200);
}

TEST_F(Token, WrongSecretWithBasicIs401InvalidClientWithWwwAuthenticate) {
  const std::string code = web_code();
  HttpResponse r =
      token_post(web_code_form(code), {basic("web", "wrong-secret-wrong-secret-wrong-secret!!")});
  expect_oauth_error(r, 401, "invalid_client");
  EXPECT_EQ(r.header("WWW-Authenticate").value_or("").rfind("Basic", 0), 0u)
      << r.header("WWW-Authenticate").value_or("(none)");
  // The code was not consumed by the failed attempt.
  EXPECT_EQ(token_post(web_code_form(code), {basic("web", TestServer::kWebSecret)}).status, 200);
}

TEST_F(Token, WrongSecretWithPostIs401InvalidClient) {
  const std::string code = web_code();
  Fields form = web_code_form(code);
  form.emplace_back("client_id", "web");
  form.emplace_back("client_secret", "wrong-secret-wrong-secret-wrong-secret!!");
  expect_oauth_error(token_post(form), 401, "invalid_client");
}

TEST_F(Token, MalformedBasicCredentialsAre401InvalidClient) {
  const std::string code = web_code();
  HttpResponse r = token_post(web_code_form(code), {"Authorization: Basic !!!not-base64"});
  expect_oauth_error(r, 401, "invalid_client");
  EXPECT_TRUE(r.header("WWW-Authenticate").has_value());
}

TEST_F(Token, ConfidentialClientWithoutSecretIs401InvalidClient) {
  const std::string code = web_code();
  Fields form = web_code_form(code);
  form.emplace_back("client_id", "web");
  expect_oauth_error(token_post(form), 401, "invalid_client");
}

TEST_F(Token, UnknownClientIs401InvalidClient) {
  Fields form = {{"grant_type", "authorization_code"}, {"code", "x"}, {"client_id", "nobody"}};
  expect_oauth_error(token_post(form), 401, "invalid_client");
}

TEST_F(Token, NoClientAtAllIs401InvalidClient) {
  expect_oauth_error(token_post({{"grant_type", "authorization_code"}, {"code", "x"}}), 401,
                     "invalid_client");
}

TEST_F(Token, PublicClientSendingASecretIs401InvalidClient) {
  const std::string code = spa_code();
  HttpResponse r = token_post({{"grant_type", "authorization_code"},
                               {"code", code},
                               {"redirect_uri", TestServer::kSpaRedirect},
                               {"client_id", "spa"},
                               {"client_secret", "anything-at-all"},
                               {"code_verifier", pkce_.verifier}});
  expect_oauth_error(r, 401, "invalid_client");
}

TEST_F(Token, BothAuthenticationMethodsAtOnceIs400) {
  const std::string code = web_code();
  Fields form = web_code_form(code);
  form.emplace_back("client_secret", TestServer::kWebSecret);
  HttpResponse r = token_post(form, {basic("web", TestServer::kWebSecret)});
  expect_oauth_error(r, 400, "invalid_request");
}

TEST_F(Token, UnknownGrantTypeIsUnsupportedGrantType) {
  HttpResponse r = token_post({{"grant_type", "password"},
                               {"username", TestServer::kAliceEmail},
                               {"password", TestServer::kAlicePassword}},
                              {basic("web", TestServer::kWebSecret)});
  expect_oauth_error(r, 400, "unsupported_grant_type");
}

TEST_F(Token, MissingGrantTypeIsInvalidRequest) {
  expect_oauth_error(token_post({}, {basic("web", TestServer::kWebSecret)}), 400,
                     "invalid_request");
}

TEST_F(Token, RepeatedParameterIsInvalidRequest) {
  const std::string code = web_code();
  Fields form = web_code_form(code);
  form.emplace_back("code", "another");
  expect_oauth_error(token_post(form, {basic("web", TestServer::kWebSecret)}), 400,
                     "invalid_request");
}

TEST_F(Token, NonFormContentTypeIs400) {
  HttpResponse r =
      client_.request("POST", url("/token"), {"Content-Type: application/json"},
                      std::string(R"({"grant_type":"authorization_code","client_id":"spa"})"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().value("error", ""), "invalid_request");
}

TEST_F(Token, MissingContentTypeIs400) {
  HttpResponse r = client_.request("POST", url("/token"), {}, std::string("grant_type=x"));
  EXPECT_EQ(r.status, 400) << r.body;
}

// OPTIONS is the CORS preflight (issue 15; cors_test.cc).
TEST_F(Token, GetIs405) {
  HttpResponse r = client_.get(url("/token"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "POST, OPTIONS");
}

using Refresh = Token;

TEST_F(Refresh, RotatesTheRefreshTokenAndRefusesTheOldOne) {
  const auto tokens = spa_tokens();
  const std::string old_refresh = tokens.value("refresh_token", "");
  ASSERT_FALSE(old_refresh.empty());

  HttpResponse r = refresh_spa(old_refresh);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  const auto body = r.json();
  const std::string new_refresh = body.value("refresh_token", "");
  EXPECT_FALSE(new_refresh.empty());
  EXPECT_NE(new_refresh, old_refresh);
  const std::string new_access = body.value("access_token", "");
  EXPECT_NE(new_access, tokens.value("access_token", ""));
  EXPECT_EQ(userinfo(new_access).status, 200);
  const auto claims = verify_id_token(body.value("id_token", ""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["sub"], std::to_string(server_->alice_id()));
  EXPECT_FALSE(claims.contains("nonce")) << "a refreshed id_token carries no nonce";

  expect_oauth_error(refresh_spa(old_refresh), 400, "invalid_grant");
}

TEST_F(Refresh, ReusingTheOldTokenRevokesTheNewOneToo) {
  const auto tokens = spa_tokens();
  const std::string old_refresh = tokens.value("refresh_token", "");
  HttpResponse rotated = refresh_spa(old_refresh);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_refresh = rotated.json().value("refresh_token", "");
  const std::string new_access = rotated.json().value("access_token", "");

  expect_oauth_error(refresh_spa(old_refresh), 400, "invalid_grant");  // theft detected
  expect_oauth_error(refresh_spa(new_refresh), 400, "invalid_grant");
  EXPECT_EQ(userinfo(new_access).status, 401);
  EXPECT_EQ(userinfo(tokens.value("access_token", "")).status, 401);
}

TEST_F(Refresh, ByAnotherClientIsInvalidGrant) {
  const auto tokens = spa_tokens();
  const std::string refresh = tokens.value("refresh_token", "");
  HttpResponse r = token_post({{"grant_type", "refresh_token"}, {"refresh_token", refresh}},
                              {basic("web", TestServer::kWebSecret)});
  expect_oauth_error(r, 400, "invalid_grant");
  // The rightful client can still use it.
  EXPECT_EQ(refresh_spa(refresh).status, 200);
}

TEST_F(Refresh, UnknownTokenIsInvalidGrant) {
  expect_oauth_error(refresh_spa("no-such-refresh-token"), 400, "invalid_grant");
}

TEST_F(Refresh, MissingTokenIsInvalidRequest) {
  HttpResponse r = token_post({{"grant_type", "refresh_token"}, {"client_id", "spa"}});
  expect_oauth_error(r, 400, "invalid_request");
}

TEST_F(Refresh, ExpiredTokenIsInvalidGrant) {
  const auto tokens = spa_tokens();
  clock().advance(30 * 24 * 3600 + 1);
  expect_oauth_error(refresh_spa(tokens.value("refresh_token", "")), 400, "invalid_grant");
}

TEST_F(Refresh, WiderScopeIsInvalidScope) {
  const auto tokens = spa_tokens({{"scope", "openid"}});
  HttpResponse r = token_post({{"grant_type", "refresh_token"},
                               {"refresh_token", tokens.value("refresh_token", "")},
                               {"client_id", "spa"},
                               {"scope", "openid email"}});
  expect_oauth_error(r, 400, "invalid_scope");
}

// RFC 6749 §6: a narrower scope is applied to what the refresh issues, not only validated.
TEST_F(Refresh, NarrowerScopeAppliesToTheNewAccessTokenAndIdToken) {
  const auto tokens = spa_tokens();  // openid email
  HttpResponse r = token_post({{"grant_type", "refresh_token"},
                               {"refresh_token", tokens.value("refresh_token", "")},
                               {"client_id", "spa"},
                               {"scope", "openid"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = r.json();
  EXPECT_EQ(body.value("scope", ""), "openid");
  EXPECT_FALSE(verify_id_token(body.value("id_token", "")).contains("email"));
  HttpResponse info = userinfo(body.value("access_token", ""));
  ASSERT_EQ(info.status, 200);
  EXPECT_FALSE(info.json().contains("email")) << info.body;
  // The rotated refresh token keeps the whole grant.
  HttpResponse wide = refresh_spa(body.value("refresh_token", ""));
  ASSERT_EQ(wide.status, 200);
  EXPECT_EQ(wide.json().value("scope", ""), "openid email");
  EXPECT_TRUE(userinfo(wide.json().value("access_token", "")).json().contains("email"));
}

TEST_F(Refresh, ScopeWithoutOpenidGetsNoIdTokenAndNoUserinfo) {
  const auto tokens = spa_tokens();
  HttpResponse r = token_post({{"grant_type", "refresh_token"},
                               {"refresh_token", tokens.value("refresh_token", "")},
                               {"client_id", "spa"},
                               {"scope", "email"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("id_token"));
  EXPECT_EQ(userinfo(r.json().value("access_token", "")).status, 403);
}

}  // namespace
}  // namespace keystep::httptest
