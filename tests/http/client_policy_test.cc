// Applications and members in an account's hands (issue 15 leftovers, issue 16's wording):
// an account's own requirement of two-factor authentication for a client (GET/PUT
// /api/v1/accounts/{a}/clients[/{id}]), removing a member (DELETE …/members/{id}), and the
// client's display name and home page on the sign-in and consent pages.

#include <gtest/gtest.h>

#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kGlobexAdmin = "gadmin@example.com";
constexpr const char* kGlobexPassword = "globex admin pass";
constexpr const char* kBackchannelUri = "http://127.0.0.1:9/backchannel";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ClientPolicy : public AdminApiTest {
 protected:
  std::string clients_url(const std::string& rest = "", const std::string& account = "acme") {
    return url("/api/v1/accounts/" + account + "/clients" + rest);
  }
  HttpResponse require_for_spa(bool required, const std::string& token) {
    return api("PUT", clients_url("/spa"), token,
               nlohmann::json{{"require_two_factor", required}}.dump());
  }
  // The spa entry of GET …/clients.
  nlohmann::json listed_spa() {
    HttpResponse r = api("GET", clients_url(), boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    const nlohmann::json body = r.json();
    for (const auto& c : body["clients"])
      if (c["client_id"] == "spa") return c;
    ADD_FAILURE() << "spa is not listed: " << r.body;
    return {};
  }
  size_t audit_count(const std::string& event) {
    HttpResponse r = api("GET", url("/api/v1/accounts/acme/audit-events?event=" + event),
                         boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["events"].size();
  }
};

TEST_F(ClientPolicy, ListShowsEveryClientWithTheAccountsAndItsOwnRequirement) {
  HttpResponse r = api("GET", clients_url(), boss_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_GE(r.json()["clients"].size(), 2u);
  const nlohmann::json spa = listed_spa();
  EXPECT_EQ(spa["name"], "spa");  // no display name: the client id
  EXPECT_EQ(spa["require_two_factor"], false);
  EXPECT_EQ(spa["required_by_account"], false);
  EXPECT_EQ(spa["required_by_client"], false);
  HttpResponse one = api("GET", clients_url("/spa"), boss_token_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json(), spa);
  EXPECT_EQ(api("GET", clients_url("/nope"), boss_token_).status, 404);
}

TEST_F(ClientPolicy, RequiringItSendsThisAccountsMembersToTheSetupAndNoOneElse) {
  HttpResponse put = require_for_spa(true, boss_token_);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["require_two_factor"], true);
  EXPECT_EQ(put.json()["required_by_account"], true);
  EXPECT_EQ(listed_spa()["required_by_account"], true);
  EXPECT_EQ(audit_count("client.two_factor_required"), 1u);

  // alice (acme, no second factor) is offered the setup the application requires.
  SecondFactorPage setup = sign_in_to_second_factor(spa_request(make_pkce()));
  ASSERT_EQ(setup.method, "setup");
  EXPECT_TRUE(contains(setup.response.body, "This application requires two-factor authentication"));
  // Declining tells the application, never a lower-level code.
  HttpResponse declined = submit_second_factor(setup, "", "decline");
  ASSERT_EQ(declined.status, 302);
  EXPECT_EQ(field(query_of(declined.location()), "error").value_or(""),
            "unmet_authentication_requirements");

  // globex's admin signs in to the same client with a password only.
  new_browser();
  const Pkce pkce = make_pkce();
  const std::string code = code_of(sign_in(spa_request(pkce), kGlobexAdmin, kGlobexPassword));
  EXPECT_EQ(id_token_claims(code, pkce).value("acr", ""), "urn:keystep:loa:1fa");
}

TEST_F(ClientPolicy, AnExistingPasswordSessionMustAddTheSecondFactorForTheClient) {
  const Pkce before = make_pkce();
  code_of(sign_in(spa_request(before)));
  ASSERT_EQ(require_for_spa(true, boss_token_).status, 200);
  // The session stands on the password only: the next authorization asks for the second
  // factor (here: its setup), it never gets a code.
  HttpResponse again = authorize(spa_request(make_pkce()));
  ASSERT_EQ(again.status, 302);
  EXPECT_TRUE(contains(again.location(), "/login")) << again.location();
  EXPECT_FALSE(field(query_of(again.location()), "code"));
}

TEST_F(ClientPolicy, NotRequiringItAgainLetsPasswordSignInsThroughButNotTheClientsOwnSetting) {
  ASSERT_EQ(require_for_spa(true, boss_token_).status, 200);
  HttpResponse off = require_for_spa(false, boss_token_);
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.json()["require_two_factor"], false);
  EXPECT_EQ(audit_count("client.two_factor_not_required"), 1u);
  const Pkce pkce = make_pkce();
  EXPECT_EQ(id_token_claims(code_of(sign_in(spa_request(pkce))), pkce).value("acr", ""),
            "urn:keystep:loa:1fa");
  // The client's own setting is the server operator's: the account cannot lift it.
  ClientChange own;
  own.require_two_factor = true;
  ASSERT_TRUE(server_->directory().update_client("spa", own));
  const nlohmann::json spa = listed_spa();
  EXPECT_EQ(spa["required_by_client"], true);
  EXPECT_EQ(spa["required_by_account"], false);
  EXPECT_EQ(spa["require_two_factor"], true);
}

TEST_F(ClientPolicy, ChangesNeedTheEditPermissionAndAWellFormedBody) {
  EXPECT_EQ(require_for_spa(true, member_token_).status, 403);
  EXPECT_EQ(api("GET", clients_url(), member_token_).status, 403);
  EXPECT_EQ(api("GET", clients_url("", "globex"), boss_token_).status, 404);
  EXPECT_EQ(api("PUT", clients_url("/spa"), boss_token_, R"({"require_two_factor":"yes"})").status,
            400);
  EXPECT_EQ(api("PUT", clients_url("/spa"), boss_token_, R"({"require_two_factor":true,"x":1})")
                .status,
            400);
  EXPECT_EQ(api("PUT", clients_url("/spa"), boss_token_, "{}").status, 400);
  EXPECT_EQ(api("PUT", clients_url("/nope"), boss_token_, R"({"require_two_factor":true})").status,
            404);
  EXPECT_EQ(listed_spa()["required_by_account"], false);
}

class MemberRemoval : public ClientPolicy {
 protected:
  std::string member_url(int64_t id) {
    return url("/api/v1/accounts/acme/members/" + std::to_string(id));
  }
  int64_t boss_id() {
    return server_->store().user_by_email(acme().id, kBoss)->id;
  }
};

TEST_F(MemberRemoval, EndsSessionsRevokesGrantsQueuesLogoutsEmailsAndAudits) {
  auto spa = server_->store().client_by_id("spa");
  ASSERT_TRUE(spa);
  spa->backchannel_logout_uri = kBackchannelUri;
  ASSERT_TRUE(server_->store().update_client(*spa));
  const nlohmann::json tokens = spa_tokens();
  ASSERT_TRUE(tokens.contains("refresh_token")) << tokens.dump();

  HttpResponse removed = api("DELETE", member_url(server_->alice_id()), boss_token_);
  ASSERT_EQ(removed.status, 200) << removed.body;
  const nlohmann::json body = removed.json();
  EXPECT_EQ(body["removed"], true);
  EXPECT_EQ(body["email"], TestServer::kAliceEmail);
  EXPECT_EQ(body["sessions_ended"], 1);
  EXPECT_EQ(body["grants_revoked"], 1);
  EXPECT_EQ(body["logouts_queued"], 1);
  EXPECT_EQ(body["email_queued"], true);

  // Gone: the user, the session (the browser must sign in again, and cannot), the tokens.
  EXPECT_FALSE(server_->store().user_by_id(server_->alice_id()));
  HttpResponse refreshed = refresh_spa(tokens.value("refresh_token", ""));
  EXPECT_EQ(refreshed.status, 400);
  EXPECT_EQ(refreshed.json().value("error", ""), "invalid_grant");
  EXPECT_EQ(userinfo(tokens.value("access_token", "")).status, 401);
  HttpResponse again = authorize(spa_request(make_pkce()));
  EXPECT_TRUE(contains(again.location(), "/login")) << again.location();
  // The application hears of it; the member is told; the admin's log keeps it.
  auto notices = server_->store().logout_notices_of("spa");
  ASSERT_TRUE(notices);
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].user_id, server_->alice_id());
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(mail);
  ASSERT_FALSE(mail->empty());
  EXPECT_TRUE(contains(mail->back().subject, "You were removed from"));
  EXPECT_TRUE(contains(text_part(opened(mail->back())), "signed out everywhere"));
  EXPECT_EQ(audit_count("member.removed"), 1u);
  // A second removal finds no one.
  EXPECT_EQ(api("DELETE", member_url(server_->alice_id()), boss_token_).status, 404);
}

TEST_F(MemberRemoval, NobodyRemovesThemselvesOrTheLastAdminOrAnotherAccountsMember) {
  HttpResponse self = api("DELETE", member_url(boss_id()), boss_token_);
  EXPECT_EQ(self.status, 409) << self.body;
  EXPECT_TRUE(contains(self.body, "cannot remove yourself"));
  const int64_t gadmin = server_->store().user_by_email(
      server_->store().account_by_name("globex")->id, kGlobexAdmin)->id;
  EXPECT_EQ(api("DELETE", member_url(gadmin), boss_token_).status, 404);
  EXPECT_EQ(api("DELETE", member_url(server_->alice_id()), member_token_).status, 403);
  // The store refuses the last admin, whoever asks.
  auto last = server_->store().remove_member(gadmin, clock().now(), {});
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(server_->store().user_by_id(gadmin));
  EXPECT_TRUE(server_->store().user_by_id(boss_id()));
}

class ClientDisplay : public ClientPolicy {};

TEST_F(ClientDisplay, TheSignInPageNamesTheApplicationByItsDisplayNameWithItsHomePage) {
  HttpResponse plain = client_.get(authorize(spa_request(make_pkce())).location(), &browser_);
  EXPECT_TRUE(contains(plain.body, "to continue to <strong>spa</strong>")) << plain.body;
  ClientChange change;
  change.display_name = "Harness <Single Page>";
  change.home_uri = "https://spa.example/";
  ASSERT_TRUE(server_->directory().update_client("spa", change));
  new_browser();
  HttpResponse page = client_.get(authorize(spa_request(make_pkce())).location(), &browser_);
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.body, "to continue to <a class=\"link\" href=\"https://spa.example/\">"
                                  "<strong>Harness &lt;Single Page&gt;</strong></a>"))
      << page.body;
  EXPECT_FALSE(contains(page.body, "<strong>spa</strong>"));
}

TEST_F(ClientDisplay, TheConsentPageAndTheProfileNameTheApplication) {
  NewClient partner{"partner", {"https://partner.example/cb"}, {},
                    std::string("partner-secret-0123456789-abcdefghijklmnopq")};
  partner.grants.first_party = false;
  partner.display_name = "Partner Reports";
  ASSERT_TRUE(server_->directory().create_client(partner));
  HttpResponse done = sign_in({{"client_id", "partner"},
                               {"redirect_uri", "https://partner.example/cb"},
                               {"response_type", "code"},
                               {"scope", "openid email"},
                               {"state", "ps"},
                               {"nonce", "pn"}});
  ASSERT_EQ(done.status, 302);
  ASSERT_TRUE(contains(done.location(), "/consent?")) << done.location();
  HttpResponse consent = client_.get(done.location(), &browser_);
  ASSERT_EQ(consent.status, 200);
  EXPECT_TRUE(contains(consent.body, "<h1>Allow <strong>Partner Reports</strong> access?</h1>"))
      << consent.body;
  EXPECT_TRUE(contains(consent.body, "<title>Allow Partner Reports?"));
  HttpResponse allowed = client_.post_form(
      url("/consent"),
      {{"request", input_value(consent.body, "request")},
       {"csrf_token", input_value(consent.body, "csrf_token")},
       {"decision", "allow"}},
      &browser_);
  ASSERT_EQ(allowed.status, 302);
  HttpResponse profile = client_.get(url("/profile"), &browser_);
  EXPECT_TRUE(contains(profile.body, "<td><strong>Partner Reports</strong></td>")) << profile.body;
}

TEST_F(ClientDisplay, DisplayFieldsAreCheckedWhenSet) {
  ClientChange bad_logo;
  bad_logo.logo_uri = "http://evil.example/logo.png";  // http only on loopback
  auto refused = server_->directory().update_client("spa", bad_logo);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "http://evil.example/logo.png: a logo URI is not valid: http is allowed only for "
            "loopback hosts; use https");
  ClientChange bad_home;
  bad_home.home_uri = "javascript:alert(1)";
  EXPECT_FALSE(server_->directory().update_client("spa", bad_home));
  ClientChange bad_name;
  bad_name.display_name = std::string("tab\there");
  EXPECT_FALSE(server_->directory().update_client("spa", bad_name));
  ClientChange good;
  good.logo_uri = "https://spa.example/logo.png";
  good.home_uri = "http://localhost:3000/";
  auto updated = server_->directory().update_client("spa", good);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(server_->store().client_by_id("spa")->logo_uri, "https://spa.example/logo.png");
  EXPECT_EQ(server_->store().client_by_id("spa")->home_uri, "http://localhost:3000/");
}

}  // namespace
}  // namespace keystep::httptest
