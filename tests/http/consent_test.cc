// Consent (issue 15 item 4): a third-party client gets a code only once the user allowed the
// scopes it asks for, on a consent page; the consent is remembered per user and client and
// revocable from the profile ("Apps with access"); prompt=consent always shows the page;
// prompt=none answers consent_required when consent is missing. First-party clients get no
// page.

#include <gtest/gtest.h>

#include "tests/http/html_scrape.h"
#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

constexpr const char* kRedirect = "https://partner.example/cb";
constexpr const char* kSecret = "partner-secret-0123456789-abcdefghijklmnopq";

class Consent : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    GrantPolicy third_party;
    third_party.first_party = false;
    ASSERT_TRUE(server_->directory().create_client(
        {"partner", {kRedirect}, {}, std::string(kSecret), {}, third_party}));
  }

  static Fields partner_request(const std::string& scope = "openid email") {
    return {{"client_id", "partner"}, {"redirect_uri", kRedirect}, {"response_type", "code"},
            {"scope", scope},         {"state", "ps"},             {"nonce", "pn"}};
  }

  // The consent page a response redirects to (status 0 when it does not).
  HttpResponse follow_to_consent(const HttpResponse& r) {
    if (r.status != 302 || r.location().rfind(url("/consent?"), 0) != 0) {
      ADD_FAILURE() << "no redirect to the consent page: " << r.status << " " << r.location()
                    << " " << r.body;
      return {};
    }
    return client_.get(r.location(), &browser_);
  }

  HttpResponse decide(const HttpResponse& page, const std::string& decision) {
    return client_.post_form(url("/consent"),
                             {{"request", input_value(page.body, "request")},
                              {"csrf_token", input_value(page.body, "csrf_token")},
                              {"decision", decision}},
                             &browser_);
  }

  static std::string code_of(const HttpResponse& r) {
    if (r.status != 302 || without_query(r.location()) != kRedirect) return "";
    return field(query_of(r.location()), "code").value_or("");
  }

  HttpResponse exchange(const std::string& code) {
    return client_.post_form(url("/token"), {{"grant_type", "authorization_code"},
                                             {"code", code},
                                             {"redirect_uri", kRedirect},
                                             {"client_id", "partner"},
                                             {"client_secret", kSecret}});
  }

  // Signs in for the partner and allows it: the code.
  std::string sign_in_and_allow(const Fields& request = partner_request()) {
    HttpResponse page = follow_to_consent(sign_in(request));
    EXPECT_EQ(page.status, 200) << page.body;
    return code_of(decide(page, "allow"));
  }
};

TEST_F(Consent, AThirdPartyClientGetsACodeOnlyAfterTheUserAllowsItsScopes) {
  HttpResponse page = follow_to_consent(sign_in(partner_request()));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("partner"), std::string::npos);
  EXPECT_NE(page.body.find("See your email address"), std::string::npos);
  EXPECT_NE(page.body.find(TestServer::kAliceEmail), std::string::npos);
  EXPECT_TRUE(page.header("Content-Security-Policy"));
  HttpResponse allowed = decide(page, "allow");
  const std::string code = code_of(allowed);
  ASSERT_FALSE(code.empty()) << allowed.status << " " << allowed.location();
  EXPECT_EQ(field(query_of(allowed.location()), "state"), "ps");
  HttpResponse tokens = exchange(code);
  EXPECT_EQ(tokens.status, 200) << tokens.body;
}

TEST_F(Consent, TheConsentIsRememberedUntilMoreIsAskedFor) {
  ASSERT_FALSE(sign_in_and_allow().empty());
  // The session and the consent answer at once.
  HttpResponse again = authorize(partner_request("openid"));
  EXPECT_FALSE(code_of(again).empty()) << again.location();
  HttpResponse none = authorize(with(partner_request(), "prompt", "none"));
  EXPECT_FALSE(code_of(none).empty()) << none.location();
  // offline_access was not allowed: the page again, listing it.
  HttpResponse more = authorize(partner_request("openid email offline_access"));
  HttpResponse page = follow_to_consent(more);
  EXPECT_NE(page.body.find("Keep access while you are not using it"), std::string::npos);
  ASSERT_FALSE(code_of(decide(page, "allow")).empty());
  EXPECT_FALSE(code_of(authorize(partner_request("openid offline_access"))).empty());
}

TEST_F(Consent, PromptNoneWithoutConsentAnswersConsentRequired) {
  // A session without consent: sign in for the first-party client first.
  ASSERT_FALSE(sign_in_for_code(web_request()).empty());
  HttpResponse r = authorize(with(partner_request(), "prompt", "none"));
  ASSERT_EQ(r.status, 302);
  EXPECT_EQ(without_query(r.location()), kRedirect);
  EXPECT_EQ(field(query_of(r.location()), "error"), "consent_required");
  EXPECT_EQ(field(query_of(r.location()), "state"), "ps");
}

TEST_F(Consent, PromptConsentShowsThePageEvenAfterConsentAndForFirstPartyClients) {
  ASSERT_FALSE(sign_in_and_allow().empty());
  HttpResponse page = follow_to_consent(authorize(with(partner_request(), "prompt", "consent")));
  EXPECT_EQ(page.status, 200);
  EXPECT_FALSE(code_of(decide(page, "allow")).empty());

  const Pkce pkce = make_pkce();
  HttpResponse spa = authorize(with(spa_request(pkce), "prompt", "consent"));
  HttpResponse spa_page = follow_to_consent(spa);
  ASSERT_EQ(spa_page.status, 200);
  HttpResponse allowed = decide(spa_page, "allow");
  ASSERT_EQ(allowed.status, 302);
  EXPECT_EQ(without_query(allowed.location()), TestServer::kSpaRedirect);
  EXPECT_TRUE(field(query_of(allowed.location()), "code"));
}

TEST_F(Consent, AFirstPartyClientGetsNoConsentPage) {
  EXPECT_FALSE(sign_in_for_code(web_request()).empty());
}

TEST_F(Consent, DenyingSendsAccessDeniedAndRemembersNothing) {
  HttpResponse page = follow_to_consent(sign_in(partner_request()));
  HttpResponse denied = decide(page, "deny");
  ASSERT_EQ(denied.status, 302);
  EXPECT_EQ(without_query(denied.location()), kRedirect);
  EXPECT_EQ(field(query_of(denied.location()), "error"), "access_denied");
  EXPECT_FALSE(field(query_of(denied.location()), "code"));
  // Asked again next time.
  EXPECT_EQ(follow_to_consent(authorize(partner_request())).status, 200);
}

TEST_F(Consent, TheFormIsSingleUseAndBoundToItsSessionAndCsrfToken) {
  HttpResponse page = follow_to_consent(sign_in(partner_request()));
  ASSERT_EQ(page.status, 200);
  const std::string request = input_value(page.body, "request");

  HttpResponse forged = client_.post_form(
      url("/consent"), {{"request", request}, {"csrf_token", "forged"}, {"decision", "allow"}},
      &browser_);
  EXPECT_EQ(forged.status, 403);

  // Another browser with a session of its own cannot answer it.
  CookieJar mine = browser_;
  browser_ = CookieJar();
  ASSERT_FALSE(sign_in_for_code(web_request()).empty());
  HttpResponse elsewhere = decide(page, "allow");
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  CookieJar none;
  HttpResponse signed_out = client_.get(url("/consent?request=" + request), &none);
  EXPECT_EQ(signed_out.status, 401) << signed_out.body;

  browser_ = mine;
  EXPECT_FALSE(code_of(decide(page, "allow")).empty());
  HttpResponse twice = decide(page, "allow");
  EXPECT_EQ(twice.status, 400) << twice.body;
  EXPECT_EQ(client_.get(url("/consent?request=unknown"), &browser_).status, 400);
}

TEST_F(Consent, TheConsentPageExpiresWithTheSignInFlowLifetime) {
  HttpResponse page = follow_to_consent(sign_in(partner_request()));
  clock().advance(15 * 60);
  EXPECT_EQ(decide(page, "allow").status, 400);
}

TEST_F(Consent, RevokingAnAppFromTheProfileEndsItsTokensAndAsksAgain) {
  const std::string code = sign_in_and_allow(partner_request("openid email offline_access"));
  ASSERT_FALSE(code.empty());
  auto tokens = exchange(code).json();
  ASSERT_TRUE(tokens.contains("refresh_token")) << tokens;

  HttpResponse profile = client_.get(url("/profile"), &browser_);
  ASSERT_EQ(profile.status, 200);
  EXPECT_NE(profile.body.find("Apps with access"), std::string::npos);
  EXPECT_NE(profile.body.find("action=\"/profile/apps/revoke\""), std::string::npos);
  HttpResponse revoked = client_.post_form(
      url("/profile/apps/revoke"),
      {{"csrf_token", input_value(profile.body, "csrf_token")}, {"client_id", "partner"}},
      &browser_);
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_NE(revoked.body.find("partner no longer has access."), std::string::npos);
  EXPECT_NE(revoked.body.find("No other application has access."), std::string::npos);

  EXPECT_EQ(userinfo(tokens["access_token"]).status, 401);
  HttpResponse refresh = client_.post_form(url("/token"),
                                           {{"grant_type", "refresh_token"},
                                            {"refresh_token", tokens["refresh_token"]},
                                            {"client_id", "partner"},
                                            {"client_secret", kSecret}});
  EXPECT_EQ(refresh.status, 400);
  EXPECT_EQ(follow_to_consent(authorize(partner_request())).status, 200);

  HttpResponse unknown = client_.post_form(
      url("/profile/apps/revoke"),
      {{"csrf_token", input_value(profile.body, "csrf_token")}, {"client_id", "partner"}},
      &browser_);
  EXPECT_EQ(unknown.status, 404);
  HttpResponse forged = client_.post_form(url("/profile/apps/revoke"),
                                          {{"csrf_token", "x"}, {"client_id", "partner"}},
                                          &browser_);
  EXPECT_EQ(forged.status, 403);
}

}  // namespace
}  // namespace keystep::httptest
