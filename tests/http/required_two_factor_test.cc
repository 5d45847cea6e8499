// Applications that require two-factor authentication (issue 15, item 2): a client's
// require_two_factor and the claims parameter's essential acr. A user without a second factor
// is offered to set one up on the spot, or the client gets unmet_authentication_requirements;
// never a code at a lower acr.

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/http/mfa_steps.h"
#include "tests/support/account_mfa.h"

namespace keystep::httptest {
namespace {

constexpr const char* kAcr1fa = "urn:keystep:loa:1fa";
constexpr const char* kAcr2fa = "urn:keystep:loa:2fa";
constexpr const char* kEssential2fa =
    R"({"id_token":{"acr":{"essential":true,"values":["urn:keystep:loa:2fa"]}}})";

class RequiredTwoFactor : public MfaHttpTest {
 protected:
  void require_two_factor_for_spa() {
    auto spa = server_->store().client_by_id("spa");
    ASSERT_TRUE(spa);
    spa->require_two_factor = true;
    ASSERT_TRUE(server_->store().update_client(*spa));
  }
  // The error of a redirect to the spa, with its state and iss ("" when it is no such
  // redirect).
  std::string error_of(const HttpResponse& response) {
    if (response.status != 302 || response.location().rfind(TestServer::kSpaRedirect, 0) != 0) {
      ADD_FAILURE() << "expected a redirect to the client, got " << response.status << " "
                    << response.location() << ": " << response.body;
      return "";
    }
    const Fields q = query_of(response.location());
    EXPECT_FALSE(field(q, "code")) << "a code came with the error";
    EXPECT_EQ(field(q, "state").value_or(""), "st-123");
    EXPECT_EQ(field(q, "iss").value_or(""), server_->issuer());
    return field(q, "error").value_or("");
  }
};

TEST_F(RequiredTwoFactor, UserWithoutAFactorSetsOneUpOnTheSpotAndGetsA2faCode) {
  require_two_factor_for_spa();
  const Pkce pkce = make_pkce();
  SecondFactorPage setup = sign_in_to_second_factor(spa_request(pkce));
  ASSERT_EQ(setup.method, "setup");
  EXPECT_NE(setup.response.body.find("This application requires two-factor authentication"),
            std::string::npos);
  EXPECT_NE(setup.response.body.find("value=\"decline\""), std::string::npos);
  const std::string secret = secret_on(setup.response);
  const std::string code = code_of(submit_second_factor(setup, code_now(secret)));
  const nlohmann::json claims = id_token_claims(code, pkce);
  EXPECT_EQ(claims.value("acr", ""), kAcr2fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
}

TEST_F(RequiredTwoFactor, DecliningTellsTheClientUnmetRequirementsAndEndsTheFlow) {
  require_two_factor_for_spa();
  SecondFactorPage setup = sign_in_to_second_factor(spa_request(make_pkce()));
  ASSERT_EQ(setup.method, "setup");
  EXPECT_EQ(error_of(submit_second_factor(setup, "", "decline")),
            "unmet_authentication_requirements");
  // The flow is gone: neither a second decline nor the setup goes anywhere.
  EXPECT_EQ(submit_second_factor(setup, "", "setup").status, 400);
  // No session was made: the next request signs in again, and again meets the requirement.
  EXPECT_EQ(without_query(authorize(spa_request(make_pkce())).location()), url("/login"));
}

TEST_F(RequiredTwoFactor, AnAccountAllowingNothingToSetUpTellsTheClientAtOnce) {
  require_two_factor_for_spa();
  const User alice = stored_user(server_->alice_id());
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), alice.account_id, false,
                                           R"({"allowed_providers":[]})"));
  HttpResponse done = sign_in(spa_request(make_pkce()));
  ASSERT_EQ(done.status, 302);
  // The password step leads to the second step, which has nothing to offer.
  HttpResponse page = client_.get(done.location(), &browser_);
  EXPECT_EQ(error_of(page), "unmet_authentication_requirements");
}

TEST_F(RequiredTwoFactor, DeclineIsRefusedWhereNothingIsRequiredByTheApplication) {
  const User alice = stored_user(server_->alice_id());
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), alice.account_id, true));
  SecondFactorPage setup = sign_in_to_second_factor(spa_request(make_pkce()));
  ASSERT_EQ(setup.method, "setup");
  // The account's own requirement has no way around it.
  EXPECT_EQ(setup.response.body.find("value=\"decline\""), std::string::npos);
  EXPECT_EQ(submit_second_factor(setup, "", "decline").status, 409);
}

TEST_F(RequiredTwoFactor, PasswordOnlySessionStepsUpAndNeverGetsA1faCode) {
  // Alice signs in to the spa with her password while it requires nothing.
  ASSERT_FALSE(sign_in_for_code(spa_request(make_pkce())).empty());
  require_two_factor_for_spa();
  // prompt=none cannot set anything up.
  EXPECT_EQ(error_of(authorize(with(spa_request(make_pkce()), "prompt", "none"))),
            "login_required");
  // Otherwise the session's password stands and only the second factor is asked: setup.
  const Pkce pkce = make_pkce();
  HttpResponse step_up = authorize(spa_request(pkce));
  ASSERT_EQ(without_query(step_up.location()), url("/login/second-factor"));
  SecondFactorPage setup = open_second_factor_page(step_up.location());
  ASSERT_EQ(setup.method, "setup");
  const std::string secret = secret_on(setup.response);
  const nlohmann::json claims =
      id_token_claims(code_of(submit_second_factor(setup, code_now(secret))), pkce);
  EXPECT_EQ(claims.value("acr", ""), kAcr2fa);
}

TEST_F(RequiredTwoFactor, EssentialAcrInTheClaimsParameterRequiresTheSecondFactor) {
  const Pkce pkce = make_pkce();
  SecondFactorPage setup =
      sign_in_to_second_factor(with(spa_request(pkce), "claims", kEssential2fa));
  ASSERT_EQ(setup.method, "setup");
  EXPECT_NE(setup.response.body.find("This application requires"), std::string::npos);
  const std::string secret = secret_on(setup.response);
  const nlohmann::json claims =
      id_token_claims(code_of(submit_second_factor(setup, code_now(secret))), pkce);
  EXPECT_EQ(claims.value("acr", ""), kAcr2fa);
  // Voluntary acr_values alone never asked this user (no factor) for one: the claims
  // parameter is how "two factors or nothing" is said.
}

TEST_F(RequiredTwoFactor, EssentialPasswordLevelIsReportedAsAskedByA2faSession) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  new_browser();
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(with(
      spa_request(pkce), "claims",
      R"({"id_token":{"acr":{"essential":true,"value":"urn:keystep:loa:1fa"}}})"));
  const nlohmann::json claims =
      id_token_claims(code_of(submit_second_factor(page, next_code(secret))), pkce);
  // OIDC Core §5.5.1.1: an essential acr is one of the values asked; 2fa includes 1fa.
  EXPECT_EQ(claims.value("acr", ""), kAcr1fa);
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
}

TEST_F(RequiredTwoFactor, ClaimsParameterErrorsAreRedirectedToTheClient) {
  EXPECT_EQ(error_of(authorize(with(spa_request(make_pkce()), "claims", "{not json"))),
            "invalid_request");
  EXPECT_EQ(error_of(authorize(with(spa_request(make_pkce()), "claims",
                                    R"({"id_token":{"acr":{"essential":"yes"}}})"))),
            "invalid_request");
  EXPECT_EQ(error_of(authorize(with(spa_request(make_pkce()), "claims",
                                    R"({"id_token":{"acr":{"essential":true}}})"))),
            "invalid_request");
  EXPECT_EQ(error_of(authorize(
                with(spa_request(make_pkce()), "claims",
                     R"({"id_token":{"acr":{"essential":true,"values":["urn:other:gold"]}}})"))),
            "unmet_authentication_requirements");
}

TEST_F(RequiredTwoFactor, ClaimsAskedByNameAreReleasedInTheIdTokenAndAtUserinfo) {
  const Pkce pkce = make_pkce();
  Fields request = with(spa_request(pkce), "scope", "openid");
  request = with(request, "claims",
                 R"({"id_token":{"email":null},"userinfo":{"acr":null,"amr":null,)"
                 R"("email_verified":{"essential":false}}})");
  const std::string code = sign_in_for_code(request);
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  const nlohmann::json claims = verify_id_token(tokens.json().value("id_token", ""));
  EXPECT_EQ(claims.value("email", ""), TestServer::kAliceEmail);
  EXPECT_FALSE(claims.contains("email_verified"));
  HttpResponse info = userinfo(tokens.json().value("access_token", ""));
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.json().value("acr", ""), kAcr1fa);
  EXPECT_EQ(info.json()["amr"], nlohmann::json({"pwd"}));
  EXPECT_EQ(info.json()["email_verified"], false);
  EXPECT_FALSE(info.json().contains("email"));
}

TEST_F(RequiredTwoFactor, DiscoveryAdvertisesTheClaimsParameterAndBackChannelLogout) {
  HttpResponse discovery = client_.get(url("/.well-known/openid-configuration"));
  ASSERT_EQ(discovery.status, 200);
  const nlohmann::json d = discovery.json();
  EXPECT_EQ(d["claims_parameter_supported"], true);
  const auto& supported = d["claims_supported"];
  EXPECT_NE(std::find(supported.begin(), supported.end(), "acr"), supported.end());
  EXPECT_EQ(d["backchannel_logout_supported"], true);
  EXPECT_EQ(d["backchannel_logout_session_supported"], true);
}

}  // namespace
}  // namespace keystep::httptest
