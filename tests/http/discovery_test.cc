// Discovery, JWKS and the small fixed endpoints.

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

using Discovery = KeystepHttpTest;
using Jwks = KeystepHttpTest;

TEST_F(Discovery, ServesJsonWithTheConfiguredIssuerAndEndpoints) {
  HttpResponse r = client_.get(url("/.well-known/openid-configuration"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or("").rfind("application/json", 0), 0u);
  const auto doc = r.json();
  ASSERT_TRUE(doc.is_object()) << r.body;
  EXPECT_EQ(doc["issuer"], server_->issuer());
  EXPECT_EQ(doc["authorization_endpoint"], url("/authorize"));
  EXPECT_EQ(doc["token_endpoint"], url("/token"));
  EXPECT_EQ(doc["userinfo_endpoint"], url("/userinfo"));
  EXPECT_EQ(doc["jwks_uri"], url("/jwks.json"));
  EXPECT_EQ(doc["end_session_endpoint"], url("/logout"));
  EXPECT_EQ(doc["revocation_endpoint"], url("/revoke"));
  EXPECT_EQ(doc["introspection_endpoint"], url("/introspect"));
  EXPECT_EQ(doc["introspection_endpoint_auth_methods_supported"],
            nlohmann::json::array({"client_secret_basic", "client_secret_post"}));
  EXPECT_EQ(doc["response_types_supported"], nlohmann::json::array({"code"}));
  EXPECT_EQ(doc["code_challenge_methods_supported"], nlohmann::json::array({"S256"}));
  EXPECT_EQ(doc["authorization_response_iss_parameter_supported"], true);
  EXPECT_EQ(doc["request_parameter_supported"], false);
}

// prompt_values_supported lists what /authorize honours (authorize_test.cc and
// consent_test.cc pin each value).
TEST_F(Discovery, AdvertisesThePromptValuesHonouredAndTheProfileScopeWithItsClaims) {
  const auto doc = client_.get(url("/.well-known/openid-configuration")).json();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["prompt_values_supported"],
            nlohmann::json::array({"none", "login", "consent", "select_account"}));
  EXPECT_EQ(doc["scopes_supported"],
            nlohmann::json::array({"openid", "email", "profile", "offline_access"}));
  for (const char* claim : {"email", "email_verified", "name", "preferred_username"}) {
    EXPECT_NE(std::find(doc["claims_supported"].begin(), doc["claims_supported"].end(), claim),
              doc["claims_supported"].end())
        << claim;
  }
  EXPECT_EQ(doc["request_uri_parameter_supported"], false);
}

TEST_F(Discovery, EveryAdvertisedEndpointIsServed) {
  const auto doc = client_.get(url("/.well-known/openid-configuration")).json();
  ASSERT_TRUE(doc.is_object());
  // None of these may be 404: the client library would have been sent nowhere.
  for (const char* key : {"authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                          "jwks_uri", "end_session_endpoint"}) {
    HttpResponse r = client_.get(doc[key].get<std::string>());
    EXPECT_NE(r.status, 404) << key;
    EXPECT_NE(r.status, 0) << key << ": " << r.transport_error;
  }
}

TEST_F(Discovery, RefusesPost) {
  HttpResponse r = client_.post_form(url("/.well-known/openid-configuration"), {});
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(r.header("Allow").has_value());
}

TEST_F(Jwks, PublishesTheSigningKeyWithKidKtyAlgUse) {
  HttpResponse r = client_.get(url("/jwks.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto jwks = r.json();
  ASSERT_TRUE(jwks.contains("keys")) << r.body;
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const auto& key = jwks["keys"][0];
  EXPECT_TRUE(key["kid"].is_string() && !key["kid"].get<std::string>().empty());
  EXPECT_EQ(key["kty"], "RSA");
  EXPECT_EQ(key["alg"], "RS256");
  EXPECT_EQ(key["use"], "sig");
  EXPECT_TRUE(key.contains("n") && key.contains("e"));
  // Only the public half.
  for (const char* private_member : {"d", "p", "q", "dp", "dq", "qi"})
    EXPECT_FALSE(key.contains(private_member)) << private_member;
}

TEST_F(Jwks, RefusesPost) { EXPECT_EQ(client_.post_form(url("/jwks.json"), {}).status, 405); }

}  // namespace
}  // namespace keystep::httptest
