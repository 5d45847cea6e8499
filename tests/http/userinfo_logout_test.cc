// GET/POST /userinfo and RP-initiated logout (/logout).

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

using Userinfo = KeystepHttpTest;

TEST_F(Userinfo, WithoutTokenIs401WithBearerChallenge) {
  HttpResponse r = client_.get(url("/userinfo"));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.header("WWW-Authenticate").value_or("").rfind("Bearer", 0), 0u)
      << r.header("WWW-Authenticate").value_or("(none)");
}

TEST_F(Userinfo, OtherAuthorizationSchemeIs401WithBearerChallenge) {
  HttpResponse r = client_.get(url("/userinfo"), nullptr, {"Authorization: Basic d2ViOng="});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate").value_or("").rfind("Bearer", 0), 0u);
}

TEST_F(Userinfo, BadTokenIs401InvalidToken) {
  HttpResponse r = userinfo("not-a-real-token");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.json().value("error", ""), "invalid_token");
  const std::string challenge = r.header("WWW-Authenticate").value_or("");
  EXPECT_EQ(challenge.rfind("Bearer", 0), 0u) << challenge;
  EXPECT_NE(challenge.find("error=\"invalid_token\""), std::string::npos) << challenge;
}

TEST_F(Userinfo, GoodTokenReturnsSubAndEmailWithEmailScope) {
  const auto tokens = spa_tokens();
  HttpResponse r = userinfo(tokens.value("access_token", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  const auto body = r.json();
  EXPECT_EQ(body["sub"], std::to_string(server_->alice_id()));
  EXPECT_EQ(body["email"], TestServer::kAliceEmail);
  // The same sub as the id_token.
  const auto claims = verify_id_token(tokens.value("id_token", ""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(body["sub"], claims["sub"]);
}

TEST_F(Userinfo, WithoutEmailScopeReturnsOnlySub) {
  const auto tokens = spa_tokens({{"scope", "openid"}});
  HttpResponse r = userinfo(tokens.value("access_token", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["sub"], std::to_string(server_->alice_id()));
  EXPECT_FALSE(r.json().contains("email"));
}

// RFC 6750 §2.2: the access token in a form body.
TEST_F(Userinfo, AcceptsTheAccessTokenInAFormBody) {
  const auto tokens = spa_tokens();
  HttpResponse r = client_.post_form(url("/userinfo"),
                                     {{"access_token", tokens.value("access_token", "")}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["sub"], std::to_string(server_->alice_id()));
  EXPECT_EQ(r.json()["email"], TestServer::kAliceEmail);

  HttpResponse bad = client_.post_form(url("/userinfo"), {{"access_token", "nope"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.json().value("error", ""), "invalid_token");
}

TEST_F(Userinfo, TheTokenInTheHeaderAndTheBodyAtOnceIsInvalidRequest) {
  const std::string access = spa_tokens().value("access_token", "");
  HttpResponse both = client_.post_form(url("/userinfo"), {{"access_token", access}}, nullptr,
                                        {"Authorization: Bearer " + access});
  EXPECT_EQ(both.status, 400) << both.body;
  EXPECT_EQ(both.json().value("error", ""), "invalid_request");
  HttpResponse twice =
      client_.post_form(url("/userinfo"), {{"access_token", access}, {"access_token", access}});
  EXPECT_EQ(twice.status, 400);
  HttpResponse malformed = client_.request(
      "POST", url("/userinfo"), {"Content-Type: application/x-www-form-urlencoded"},
      std::string("access_token=%ZZ"));
  EXPECT_EQ(malformed.status, 400);
}

TEST_F(Userinfo, AFormBodyIsNotReadFromAGetOrANonFormPost) {
  const std::string access = spa_tokens().value("access_token", "");
  HttpResponse json = client_.request("POST", url("/userinfo"),
                                      {"Content-Type: application/json",
                                       "Authorization: Bearer " + access},
                                      std::string(R"({"access_token":"x"})"));
  EXPECT_EQ(json.status, 200) << json.body;
  HttpResponse query = client_.get(url("/userinfo?access_token=" + access));
  EXPECT_EQ(query.status, 401);  // RFC 6750 §2.3 (URI query) is not supported
}

TEST_F(Userinfo, ProfileScopeGivesNameAndPreferredUsername) {
  ASSERT_TRUE(server_->directory().set_display_name("acme", TestServer::kAliceEmail,
                                                    "Alice Liddell"));
  const auto tokens = spa_tokens({{"scope", "openid profile"}});
  HttpResponse r = userinfo(tokens.value("access_token", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["name"], "Alice Liddell");
  EXPECT_EQ(r.json()["preferred_username"], TestServer::kAliceEmail);
  EXPECT_FALSE(r.json().contains("email"));  // that is the email scope's
  const auto claims = verify_id_token(tokens.value("id_token", ""));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["name"], "Alice Liddell");
  EXPECT_EQ(claims["preferred_username"], TestServer::kAliceEmail);
  EXPECT_EQ(tokens.value("scope", ""), "openid profile");
}

TEST_F(Userinfo, ProfileScopeWithoutADisplayNameGivesNoName) {
  const auto tokens = spa_tokens({{"scope", "openid profile"}});
  HttpResponse r = userinfo(tokens.value("access_token", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("name"));
  EXPECT_EQ(r.json()["preferred_username"], TestServer::kAliceEmail);
  EXPECT_FALSE(userinfo(spa_tokens().value("access_token", "")).json().contains("name"));
}

TEST_F(Userinfo, EmailVerifiedIsWhatTheUserWasCreatedWith) {
  // The seed's alice was created without --email-verified.
  const auto alice = spa_tokens();
  EXPECT_EQ(userinfo(alice.value("access_token", "")).json()["email_verified"], false);
  EXPECT_EQ(verify_id_token(alice.value("id_token", ""))["email_verified"], false);

  ASSERT_TRUE(server_->directory().create_user("acme", "vera@example.com", "vera's password",
                                               false, UserDetails{"", true}));
  browser_ = CookieJar();
  const Pkce pkce = make_pkce();
  const std::string code =
      sign_in_for_code(spa_request(pkce), "vera@example.com", "vera's password");
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  EXPECT_EQ(userinfo(tokens.json().value("access_token", "")).json()["email_verified"], true);
  EXPECT_EQ(verify_id_token(tokens.json().value("id_token", ""))["email_verified"], true);
}

TEST_F(Userinfo, AcceptsPost) {
  const auto tokens = spa_tokens();
  HttpResponse r =
      client_.request("POST", url("/userinfo"),
                      {"Authorization: Bearer " + tokens.value("access_token", "")}, std::string());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Userinfo, LowerCaseBearerSchemeIsAccepted) {
  const auto tokens = spa_tokens();
  HttpResponse r = client_.get(url("/userinfo"), nullptr,
                               {"Authorization: bearer " + tokens.value("access_token", "")});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Userinfo, RefreshTokenIsNotAnAccessToken) {
  const auto tokens = spa_tokens();
  EXPECT_EQ(userinfo(tokens.value("refresh_token", "")).status, 401);
}

TEST_F(Userinfo, ExpiredAccessTokenIs401) {
  const auto tokens = spa_tokens();
  clock().advance(601);
  EXPECT_EQ(userinfo(tokens.value("access_token", "")).status, 401);
}

TEST_F(Userinfo, DeleteIs405) {
  EXPECT_EQ(client_.request("DELETE", url("/userinfo")).status, 405);
}

class Logout : public KeystepHttpTest {
 protected:
  void SetUp() override {
    KeystepHttpTest::SetUp();
    tokens_ = spa_tokens();
    ASSERT_TRUE(tokens_.is_object());
    session_cookie_ = browser_.get("ks_session").value_or("");
    ASSERT_FALSE(session_cookie_.empty());
  }

  HttpResponse logout(const Fields& params) {
    return client_.get(url("/logout?" + encode_fields(params)), &browser_);
  }
  // The sign-out question's form, submitted.
  HttpResponse confirm_logout(Fields params) {
    params.emplace_back("confirm", "yes");
    params.emplace_back("csrf_token", session_csrf_token(session_cookie_));
    return client_.post_form(url("/logout"), params, &browser_);
  }

  nlohmann::json tokens_;
  std::string session_cookie_;
};

TEST_F(Logout, WithHintAndRegisteredUriRedirectsWithStateAndEndsEverything) {
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")},
                           {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect},
                           {"state", "bye-state"}});
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(without_query(r.location()), TestServer::kSpaLogoutRedirect);
  EXPECT_EQ(field(query_of(r.location()), "state"), "bye-state");

  auto cleared = r.set_cookie("ks_session");
  ASSERT_TRUE(cleared.has_value());
  EXPECT_EQ(cleared->attribute("max-age"), "0");
  EXPECT_TRUE(cleared->value.empty());
  EXPECT_FALSE(browser_.get("ks_session").has_value());

  // The session is gone on the server, not only in this browser's jar.
  browser_.set("ks_session", session_cookie_);
  HttpResponse silent = authorize(with(spa_request(make_pkce()), "prompt", "none"));
  ASSERT_EQ(silent.status, 302);
  EXPECT_EQ(field(query_of(silent.location()), "error"), "login_required") << silent.location();

  HttpResponse refreshed = refresh_spa(tokens_.value("refresh_token", ""));
  EXPECT_EQ(refreshed.status, 400) << refreshed.body;
  EXPECT_EQ(refreshed.json().value("error", ""), "invalid_grant");
  EXPECT_EQ(userinfo(tokens_.value("access_token", "")).status, 401);
}

TEST_F(Logout, WithClientIdAsksFirstThenRedirects) {
  HttpResponse r = logout({{"client_id", "spa"},
                           {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect},
                           {"state", "s1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("Sign out of Keystep?"), std::string::npos);
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
  // The form carries what the RP asked for; confirming signs out and goes back to it.
  HttpResponse done = confirm_logout({{"client_id", "spa"},
                                      {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect},
                                      {"state", "s1"}});
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(done.location(), std::string(TestServer::kSpaLogoutRedirect) + "?state=s1");
  EXPECT_FALSE(browser_.get("ks_session").has_value());
}

// Any page can link to /logout: without a hint naming this session, nothing ends unasked
// (OpenID RP-Initiated Logout §2).
TEST_F(Logout, WithoutHintTheSessionSurvivesUntilConfirmed) {
  HttpResponse r = logout({});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("name=\"confirm\" value=\"yes\""), std::string::npos);
  HttpResponse silent = authorize(with(spa_request(make_pkce()), "prompt", "none"));
  EXPECT_TRUE(field(query_of(silent.location()), "code").has_value()) << silent.location();
  // A forged confirmation (no or a wrong CSRF token) only asks again.
  HttpResponse forged = client_.post_form(url("/logout"), {{"confirm", "yes"}}, &browser_);
  EXPECT_EQ(forged.status, 200);
  EXPECT_NE(forged.body.find("Sign out of Keystep?"), std::string::npos);
  EXPECT_TRUE(browser_.get("ks_session").has_value());
}

TEST_F(Logout, HintOfAnotherSessionAsksFirst) {
  const std::string old_hint = tokens_.value("id_token", "");
  // This browser signs in again as someone else's session would: a new session, new sid.
  browser_ = CookieJar();
  ASSERT_TRUE(spa_tokens().is_object());
  HttpResponse r = logout({{"id_token_hint", old_hint}});
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Sign out of Keystep?"), std::string::npos);
  EXPECT_TRUE(browser_.get("ks_session").has_value());
}

TEST_F(Logout, HintWithoutCookieEndsTheHintedSession) {
  browser_ = CookieJar();
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refresh_spa(tokens_.value("refresh_token", "")).status, 400);
}

TEST_F(Logout, UnregisteredPostLogoutRedirectUriGetsAnErrorPage) {
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")},
                           {"post_logout_redirect_uri", "https://evil.example/bye"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_FALSE(r.header("Location").has_value());
  EXPECT_EQ(r.header("Content-Type").value_or("").rfind("text/html", 0), 0u);
}

TEST_F(Logout, RedirectUriOfAnotherClientGetsAnErrorPage) {
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")},
                           {"post_logout_redirect_uri", TestServer::kWebLogoutRedirect}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_FALSE(r.header("Location").has_value());
}

TEST_F(Logout, RedirectUriWithoutHintOrClientIdGetsAnErrorPage) {
  HttpResponse r = logout({{"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_FALSE(r.header("Location").has_value());
}

TEST_F(Logout, BadIdTokenHintGets400) {
  const std::string id_token = tokens_.value("id_token", "");
  // A signature that is not ours.
  std::string tampered = id_token;
  char& c = tampered[tampered.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  for (const std::string& hint :
       {std::string("garbage"), tampered, std::string("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")}) {
    HttpResponse r = logout(
        {{"id_token_hint", hint}, {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect}});
    EXPECT_EQ(r.status, 400) << hint << ": " << r.body;
    EXPECT_FALSE(r.header("Location").has_value());
  }
  // The session survived the bad requests.
  HttpResponse silent = authorize(with(spa_request(make_pkce()), "prompt", "none"));
  EXPECT_TRUE(field(query_of(silent.location()), "code").has_value()) << silent.location();
}

TEST_F(Logout, HintForAnotherClientIdGets400) {
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")},
                           {"client_id", "web"},
                           {"post_logout_redirect_uri", TestServer::kWebLogoutRedirect}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(Logout, ConfirmedWithoutParametersShowsTheSignedOutPageAndEndsTheSession) {
  HttpResponse r = confirm_logout({});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or("").rfind("text/html", 0), 0u);
  EXPECT_NE(r.body.find("signed out"), std::string::npos) << r.body;
  EXPECT_EQ(r.set_cookie("ks_session").value_or(SetCookie{}).attribute("max-age"), "0");
  browser_.set("ks_session", session_cookie_);
  HttpResponse silent = authorize(with(spa_request(make_pkce()), "prompt", "none"));
  EXPECT_EQ(field(query_of(silent.location()), "error"), "login_required");
}

TEST_F(Logout, PostFormWorksLikeGet) {
  HttpResponse r = client_.post_form(url("/logout"),
                                     {{"id_token_hint", tokens_.value("id_token", "")},
                                      {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect}},
                                     &browser_);
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.location(), TestServer::kSpaLogoutRedirect);
}

TEST_F(Logout, ExpiredIdTokenHintIsStillAccepted) {
  clock().advance(3600);
  HttpResponse r = logout({{"id_token_hint", tokens_.value("id_token", "")},
                           {"post_logout_redirect_uri", TestServer::kSpaLogoutRedirect}});
  EXPECT_EQ(r.status, 302) << r.body;
}

}  // namespace
}  // namespace keystep::httptest
