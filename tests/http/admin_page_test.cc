// The admin page Account setup > Authentication over HTTP: who may see it, CSRF, the
// Enforce Two Factor Authentication toggle with the seed's prompt and confirmation, turning
// it off, the lost-device reset and API tokens (also through the JSON API).
#include <gtest/gtest.h>

#include "tests/http/test_server.h"

namespace keystep::httptest {
namespace {

constexpr const char* kBoss = "boss@example.com";
constexpr const char* kBossPassword = "boss horse battery";
constexpr const char* kPage = "/account/authentication";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The text of the element with id `id` (tags inside it removed).
std::string element_text(const std::string& html, const std::string& id) {
  const auto at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const auto begin = html.find('>', at) + 1;
  return html.substr(begin, html.find('<', begin) - begin);
}

class AdminPageTest : public MfaHttpTest {
 protected:
  void SetUp() override {
    MfaHttpTest::SetUp();
    ASSERT_TRUE(server_->directory().create_user("acme", kBoss, kBossPassword, true));
    auto token = server_->admin_api().create_token("acme", kBoss, "test");
    ASSERT_TRUE(token) << token.error().message;
    boss_token_ = *token;
  }

  // Signs the boss in (password only) and opens the page; returns its CSRF token.
  std::string sign_in_boss() {
    sign_in_to_profile(kBoss, kBossPassword);
    return open_page();
  }
  // GET the page; expects 200 and returns the forms' CSRF token.
  std::string open_page() {
    page_ = client_.get(url(kPage), &browser_);
    EXPECT_EQ(page_.status, 200) << page_.body;
    EXPECT_TRUE(contains(page_.body, "Authentication: Configuration"));
    return input_value(page_.body, "csrf_token");
  }
  HttpResponse post(const std::string& csrf, Fields form) {
    form.emplace_back("csrf_token", csrf);
    return client_.post_form(url(kPage), form, &browser_);
  }
  // Turns on the boss's own 2FA through the profile pages and opens the admin page.
  std::string protect_boss() {
    ProfilePage profile = sign_in_to_profile(kBoss, kBossPassword);
    const std::string secret = secret_on(start_enable(profile));
    EXPECT_EQ(confirm_enable(profile, code_now(secret)).status, 200);
    return open_page();
  }
  HttpResponse api_get(const std::string& path, const std::string& token) {
    return client_.get(url(path), nullptr, {"Authorization: Bearer " + token});
  }
  Account acme() { return *server_->store().account_by_name("acme"); }

  std::string boss_token_;
  HttpResponse page_;
};

TEST_F(AdminPageTest, WithoutASessionItStartsASignInThatComesBackHere) {
  HttpResponse start = client_.get(url(kPage), &browser_);
  ASSERT_EQ(start.status, 302);
  EXPECT_EQ(without_query(start.location()), url("/login"));
  LoginPage login = open_login_page(start.location());
  HttpResponse done = submit_login(login, kBoss, kBossPassword);
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(done.location(), url(kPage));
  open_page();
  EXPECT_TRUE(contains(page_.body, "Enforce Two Factor Authentication"));
  EXPECT_TRUE(contains(page_.body, "SHA1, 6 digits, a new code every 30 seconds"));
  EXPECT_TRUE(contains(page_.body, TestServer::kAliceEmail));
  // A POST without a session leads to the sign-in as well, changing nothing.
  new_browser();
  HttpResponse posted = client_.post_form(url(kPage), {{"action", "stop"}}, &browser_);
  EXPECT_EQ(posted.status, 302);
  EXPECT_EQ(without_query(posted.location()), url("/login"));
}

TEST_F(AdminPageTest, MemberWithoutThePermissionGets403AndNoNavigationLink) {
  ProfilePage profile = sign_in_to_profile();  // alice, a member
  EXPECT_FALSE(contains(profile.response.body, "href=\"/account/authentication\""));
  HttpResponse page = client_.get(url(kPage), &browser_);
  EXPECT_EQ(page.status, 403);
  EXPECT_TRUE(contains(page.body, "auth_settings.view"));
  HttpResponse posted = post(profile.csrf_token, {{"action", "create_token"}, {"name", "x"}});
  EXPECT_EQ(posted.status, 403);
  EXPECT_TRUE(server_->store().api_tokens(acme().id)->size() == 1);  // the boss's only
}

TEST_F(AdminPageTest, AdminsSeeTheNavigationLinkOnTheirProfile) {
  sign_in_to_profile(kBoss, kBossPassword);
  HttpResponse profile = client_.get(url("/profile"), &browser_);
  EXPECT_TRUE(contains(profile.body, "<a href=\"/account/authentication\">Account setup"));
}

TEST_F(AdminPageTest, ViewPermissionAloneShowsTheSettingsReadOnly) {
  ASSERT_TRUE(server_->give_custom_role(server_->alice_id(), "auditor", {"auth_settings.view"}));
  ProfilePage profile = sign_in_to_profile();
  EXPECT_TRUE(contains(profile.response.body, "href=\"/account/authentication\">Account setup"));
  open_page();
  EXPECT_TRUE(contains(page_.body, "Read-only"));
  EXPECT_TRUE(contains(page_.body, "aria-label=\"Enforce Two Factor Authentication\""));
  EXPECT_FALSE(contains(page_.body, "<form"));
  // The page has no forms; a hand-made one with the session's token is refused by the API.
  HttpResponse posted = post(profile.csrf_token, {{"action", "enforce"}, {"confirm", "yes"}});
  EXPECT_EQ(posted.status, 403);
  EXPECT_TRUE(contains(posted.body, "this needs the auth_settings.edit permission"));
  EXPECT_FALSE(acme().enforce_two_factor);
}

TEST_F(AdminPageTest, FormsWithoutTheSessionsCsrfTokenAre403) {
  protect_boss();
  HttpResponse none =
      client_.post_form(url(kPage), {{"action", "enforce"}, {"confirm", "yes"}}, &browser_);
  EXPECT_EQ(none.status, 403);
  HttpResponse wrong = post("not-the-token", {{"action", "enforce"}, {"confirm", "yes"}});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_TRUE(contains(wrong.body, "invalid_csrf_token"));
  EXPECT_FALSE(acme().enforce_two_factor);
}

TEST_F(AdminPageTest, ToggleWithoutOwnTwoFactorPromptsAndGoToSettingsShowsTheEnablePage) {
  const std::string csrf = sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "aria-checked=\"false\" aria-label=\"Enforce Two Factor"));
  HttpResponse prompt = post(csrf, {{"action", "enforce"}});
  ASSERT_EQ(prompt.status, 409) << prompt.body;
  EXPECT_TRUE(contains(prompt.body, "Protect your own login first"));
  EXPECT_TRUE(contains(prompt.body, "<form method=\"post\" action=\"/profile/two-factor\">"));
  EXPECT_TRUE(contains(prompt.body, ">Go to settings</button>"));
  EXPECT_FALSE(acme().enforce_two_factor);
  // Confirming does not get around it: the API's precondition holds for the page too.
  EXPECT_EQ(post(csrf, {{"action", "enforce"}, {"confirm", "yes"}}).status, 409);
  EXPECT_FALSE(acme().enforce_two_factor);

  // Go to settings: the form posts the profile's enable action with the same token.
  EXPECT_EQ(input_value(prompt.body, "action"), "enable");
  HttpResponse enable = start_enable(ProfilePage{prompt, input_value(prompt.body, "csrf_token")});
  ASSERT_EQ(enable.status, 200) << enable.body;
  EXPECT_TRUE(contains(enable.body, "Enable Two-Factor Authentication"));
  EXPECT_TRUE(contains(enable.body, "href=\"/account/authentication\">Account setup"));
  const std::string secret = secret_on(enable);
  HttpResponse codes = confirm_enable(ProfilePage{enable, csrf}, code_now(secret));
  ASSERT_EQ(codes.status, 200);
  EXPECT_TRUE(contains(codes.body, ">Back to Authentication settings</a>"));
  // Back on the page, the toggle now leads to the confirmation.
  EXPECT_EQ(post(open_page(), {{"action", "enforce"}}).status, 200);
}

TEST_F(AdminPageTest, ToggleWithOwnTwoFactorAsksForConfirmationWithCountsAndChangesNothing) {
  const std::string csrf = protect_boss();
  HttpResponse confirm = post(csrf, {{"action", "enforce"}});
  ASSERT_EQ(confirm.status, 200) << confirm.body;
  // The counts, then what happens in the API's own words (its 428 summary).
  HttpResponse api =
      client_.request("PUT", url("/api/v1/accounts/acme/authentication-settings"),
                      {"Authorization: Bearer " + boss_token_, "Content-Type: application/json"},
                      std::string(R"({"enforce_two_factor":true})"));
  ASSERT_EQ(api.status, 428) << api.body;
  std::string effect = api.json()["summary"]["effect"];
  effect[0] = 'M';
  EXPECT_EQ(effect.rfind("Members without two-factor authentication are emailed ", 0), 0u);
  EXPECT_EQ(element_text(confirm.body, "confirm-summary"),
            "Enforce two-factor authentication for all 2 members? 1 member has no 2FA yet (1 "
            "email to send). " +
                effect + ".");
  EXPECT_TRUE(contains(confirm.body, ">Confirm</button>"));
  EXPECT_EQ(input_value(confirm.body, "confirm"), "yes");
  EXPECT_FALSE(acme().enforce_two_factor);
  EXPECT_TRUE(server_->store().mail_for(TestServer::kAliceEmail)->empty());
}

TEST_F(AdminPageTest, ConfirmEnforcesQueuesEmailsAndShowsTheToggleOn) {
  const std::string csrf = protect_boss();
  HttpResponse done = post(csrf, {{"action", "enforce"}, {"confirm", "yes"}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(contains(done.body, "aria-checked=\"true\" aria-label=\"Enforce Two Factor"));
  EXPECT_TRUE(contains(done.body, "1 member without it was emailed how to set it up"));
  EXPECT_TRUE(acme().enforce_two_factor);
  HttpResponse api = api_get("/api/v1/accounts/acme/authentication-settings", boss_token_);
  EXPECT_EQ(api.json()["enforce_two_factor"], true);
  EXPECT_EQ(server_->store().mail_for(TestServer::kAliceEmail)->size(), 1u);
  EXPECT_TRUE(server_->store().mail_for(kBoss)->empty());
  HttpResponse audit =
      api_get("/api/v1/accounts/acme/audit-events?event=account.two_factor_enforced", boss_token_);
  EXPECT_EQ(audit.json()["events"].size(), 1u);
  // Alice's own setting is untouched; the account setting alone now challenges her.
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(AdminPageTest, StopTurnsEnforcementOffAndLeavesUserSettingsAlone) {
  const std::string csrf = protect_boss();
  ASSERT_EQ(post(csrf, {{"action", "enforce"}, {"confirm", "yes"}}).status, 200);
  HttpResponse off = post(csrf, {{"action", "stop"}});
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_TRUE(contains(off.body, "no longer enforced"));
  EXPECT_TRUE(contains(off.body, "aria-checked=\"false\" aria-label=\"Enforce Two Factor"));
  EXPECT_FALSE(acme().enforce_two_factor);
  auto boss = *server_->store().user_by_email(acme().id, kBoss);
  EXPECT_TRUE(boss.two_factor_enabled);
  EXPECT_TRUE(server_->two_factor().status(boss)->has_totp);
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
}

TEST_F(AdminPageTest, ResetRemovesAMembersTwoFactorAndEmailsThem) {
  enable_two_factor();  // alice
  new_browser();
  const std::string csrf = sign_in_boss();
  const std::string alice = std::to_string(server_->alice_id());
  EXPECT_TRUE(contains(page_.body, "aria-label=\"Reset 2FA of alice@example.com\""));
  HttpResponse reset = post(csrf, {{"action", "reset"}, {"user_id", alice}});
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_TRUE(contains(reset.body, "Two-factor authentication of alice@example.com was reset"));
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
  EXPECT_TRUE(server_->store().credentials_of_user(server_->alice_id())->empty());
  EXPECT_EQ(server_->store().mail_for(TestServer::kAliceEmail)->size(), 1u);
  // Unknown members are a 404 on the page.
  HttpResponse unknown = post(csrf, {{"action", "reset"}, {"user_id", "999999"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(contains(unknown.body, "no such member"));
  EXPECT_EQ(post(csrf, {{"action", "dance"}}).status, 400);
}

TEST_F(AdminPageTest, TokenIsShownOnceWorksAsBearerAndRevokingMakesIt401) {
  const std::string csrf = sign_in_boss();
  HttpResponse created = post(csrf, {{"action", "create_token"}, {"name", "deploy <script>"}});
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_TRUE(contains(created.body, "shown only this once"));
  EXPECT_TRUE(contains(created.body, "deploy &lt;script&gt;"));
  const std::string token = element_text(created.body, "new-token");
  ASSERT_EQ(token.rfind("ks_", 0), 0u) << created.body;
  EXPECT_EQ(api_get("/api/v1/accounts/acme/authentication-settings", token).status, 200);
  // Listed by name afterwards, never shown again.
  open_page();
  EXPECT_FALSE(contains(page_.body, token));
  EXPECT_TRUE(contains(page_.body, "aria-label=\"Revoke deploy &lt;script&gt;\""));
  auto tokens = server_->store().api_tokens(acme().id);
  ASSERT_EQ(tokens->size(), 2u);
  HttpResponse revoked =
      post(csrf, {{"action", "revoke_token"}, {"token_id", std::to_string(tokens->back().id)}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_TRUE(contains(revoked.body, "was revoked"));
  EXPECT_EQ(api_get("/api/v1/accounts/acme/authentication-settings", token).status, 401);
  EXPECT_EQ(
      post(csrf, {{"action", "revoke_token"}, {"token_id", std::to_string(tokens->back().id)}})
          .status,
      404);
  EXPECT_EQ(post(csrf, {{"action", "create_token"}, {"name", ""}}).status, 400);
}

TEST_F(AdminPageTest, TokensJsonApiCreatesOnceListsAndRevokes) {
  const std::vector<std::string> auth = {"Authorization: Bearer " + boss_token_,
                                         "Content-Type: application/json"};
  const std::string tokens_url = url("/api/v1/accounts/acme/tokens");
  HttpResponse created = client_.request("POST", tokens_url, auth, std::string(R"({"name":"ci"})"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string token = created.json()["token"];
  const int64_t id = created.json()["id"];
  EXPECT_EQ(created.json()["user_email"], kBoss);
  HttpResponse list = api_get("/api/v1/accounts/acme/tokens", token);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json()["tokens"].size(), 2u);
  EXPECT_FALSE(contains(list.body, token));
  EXPECT_FALSE(contains(list.body, "token_hash"));
  EXPECT_EQ(client_.request("POST", tokens_url, auth, std::string(R"({"name":""})")).status, 400);
  EXPECT_EQ(client_.request("POST", tokens_url, auth, std::string(R"({"nom":"x"})")).status, 400);
  EXPECT_EQ(client_
                .request("POST", tokens_url, {auth[0], "Content-Type: text/plain"},
                         std::string(R"({"name":"x"})"))
                .status,
            415);
  const std::string one = tokens_url + "/" + std::to_string(id);
  EXPECT_EQ(client_.request("DELETE", one, {auth[0]}).status, 200);
  EXPECT_EQ(client_.request("DELETE", one, {auth[0]}).status, 404);
  EXPECT_EQ(api_get("/api/v1/accounts/acme/tokens", token).status, 401);
  auto member = server_->admin_api().create_token("acme", TestServer::kAliceEmail, "m");
  ASSERT_TRUE(member);
  EXPECT_EQ(api_get("/api/v1/accounts/acme/tokens", *member).status, 403);
  EXPECT_EQ(client_
                .request("POST", tokens_url,
                         {"Authorization: Bearer " + *member, "Content-Type: application/json"},
                         std::string(R"({"name":"x"})"))
                .status,
            403);
}

}  // namespace
}  // namespace keystep::httptest
