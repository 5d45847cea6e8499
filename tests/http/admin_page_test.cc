// The admin page Account setup > Authentication over HTTP: who may see it, CSRF, the
// Enforce Two-Factor Authentication toggle with the seed's prompt and confirmation, turning
// it off, the two-factor settings form, inviting members and revoking invitations, the
// lost-device reset and API tokens (also through the JSON API).
#include <gtest/gtest.h>

#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kDave = "dave@example.com";
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

// The admin fixture's accounts and tokens (boss's and alice's), seen through the page.
class AdminPageTest : public AdminApiTest {
 protected:
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
  nlohmann::json settings() {
    HttpResponse r = api("GET", settings_url(), boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  HttpResponse invite_by_api(const std::string& email) {
    return api("POST", url("/api/v1/accounts/acme/invitations"), boss_token_,
               nlohmann::json{{"email", email}}.dump());
  }
  nlohmann::json invitations() {
    HttpResponse r = api("GET", url("/api/v1/accounts/acme/invitations"), boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["invitations"];
  }

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
  EXPECT_TRUE(contains(page_.body, "Enforce Two-Factor Authentication"));
  EXPECT_TRUE(contains(page_.body, "Authenticator app: SHA1, 6 digits, 30 seconds."));
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
  EXPECT_TRUE(contains(page.body, "Only administrators of your account can open"));
  EXPECT_FALSE(contains(page.body, "auth_settings"));  // no permission names for members
  // Nor a member's credentials, their own included.
  HttpResponse screen = client_.get(
      url(std::string(kPage) + "?member=" + std::to_string(server_->alice_id())), &browser_);
  EXPECT_EQ(screen.status, 403);
  EXPECT_FALSE(contains(screen.body, "Credentials of"));
  HttpResponse posted = post(profile.csrf_token, {{"action", "create_token"}, {"name", "x"}});
  EXPECT_EQ(posted.status, 403);
  EXPECT_EQ(server_->store().api_tokens(acme().id)->size(), 2u);  // the fixture's only
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
  EXPECT_TRUE(contains(page_.body, "aria-label=\"Enforce Two-Factor Authentication\""));
  EXPECT_FALSE(contains(page_.body, "<form"));
  // The page has no forms; a hand-made one with the session's token is refused by the API.
  HttpResponse posted = post(profile.csrf_token, {{"action", "enforce"}, {"confirm", "yes"}});
  EXPECT_EQ(posted.status, 403);
  EXPECT_TRUE(contains(posted.body, "Only administrators of your account who may change"));
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
  EXPECT_TRUE(contains(page_.body, "aria-checked=\"false\" aria-label=\"Enforce Two-Factor"));
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
  EXPECT_TRUE(server_->outbox().mail_for(TestServer::kAliceEmail)->empty());
}

TEST_F(AdminPageTest, ConfirmEnforcesQueuesEmailsAndShowsTheToggleOn) {
  const std::string csrf = protect_boss();
  HttpResponse done = post(csrf, {{"action", "enforce"}, {"confirm", "yes"}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(contains(done.body, "aria-checked=\"true\" aria-label=\"Enforce Two-Factor"));
  EXPECT_TRUE(contains(done.body, "1 member without it was emailed how to set it up"));
  EXPECT_TRUE(acme().enforce_two_factor);
  HttpResponse api = api_get("/api/v1/accounts/acme/authentication-settings", boss_token_);
  EXPECT_EQ(api.json()["enforce_two_factor"], true);
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);
  // The boss already has 2FA: no setup email (only the notice of the factor he added).
  const auto boss_mail = server_->outbox().mail_for(kBoss);
  ASSERT_TRUE(boss_mail);
  for (const auto& m : *boss_mail)
    EXPECT_EQ(m.subject.rfind("A second factor was added", 0), 0u) << m.subject;
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
  EXPECT_TRUE(contains(off.body, "aria-checked=\"false\" aria-label=\"Enforce Two-Factor"));
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
  // The notice of the factor she added, then the reset's email.
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_EQ(mail->size(), 2u);
  EXPECT_EQ(mail->back().subject, "Your two-factor authentication was reset");
  // Unknown members are a 404 on the page.
  HttpResponse unknown = post(csrf, {{"action", "reset"}, {"user_id", "999999"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(contains(unknown.body, "no such member"));
  EXPECT_EQ(post(csrf, {{"action", "dance"}}).status, 400);
}

TEST_F(AdminPageTest, MemberScreenShowsEachSecurityKeysModelAndFormat) {
  // Two keys of alice's as the webauthn provider stores them: a CTAP2 key's packed
  // attestation vouched for by a root, and a U2F key, which names no model.
  const auto key = [&](const char* label, const char* lookup, const char* aaguid, const char* fmt) {
    MfaCredential c;
    c.user_id = server_->alice_id();
    c.provider_id = "webauthn";
    c.confirmed = true;
    c.label = label;
    c.lookup_key = lookup;
    c.created_at = 1'800'000'000;
    c.params = {{"alg", -7},         {"public_key", "cHVibGljLWtleS1ieXRlcw"},
                {"aaguid", aaguid},  {"fmt", fmt},
                {"attestation", "trusted"}, {"backup_eligible", false},
                {"transports", {"usb", "nfc"}}, {"user_verification", "discouraged"},
                {"user_verified", true}};
    c.state = {{"backup_state", false}, {"user_verified", true}};
    auto added = server_->store().add_credential(c, 10);
    ASSERT_TRUE(added) << added.error().message;
  };
  key("Desk key", "ZGVzaw", "01020304-0506-0708-0102-030405060708", "packed");
  key("Old <U2F> key", "dTJm", "00000000-0000-0000-0000-000000000000", "fido-u2f");
  const std::string alice = std::to_string(server_->alice_id());
  sign_in_boss();
  const std::string link = std::string(kPage) + "?member=" + alice;
  EXPECT_TRUE(contains(page_.body, "href=\"" + link +
                                       "\" aria-label=\"Credentials of alice@example.com\""))
      << page_.body;

  HttpResponse screen = client_.get(url(link), &browser_);
  ASSERT_EQ(screen.status, 200) << screen.body;
  EXPECT_TRUE(contains(screen.body, "<h2>Credentials of alice@example.com</h2>"));
  EXPECT_TRUE(contains(screen.body, "<td>Desk key</td>"));
  EXPECT_TRUE(contains(screen.body, "<td>Old &lt;U2F&gt; key</td>")) << "labels are escaped";
  EXPECT_TRUE(contains(screen.body,
                       "<dt>Model (AAGUID)</dt><dd>01020304-0506-0708-0102-030405060708</dd>"
                       "<dt>Attestation format</dt><dd>packed</dd><dt>Attestation</dt>"
                       "<dd>trusted</dd>"))
      << screen.body;
  EXPECT_TRUE(contains(screen.body,
                       "<dt>Model (AAGUID)</dt><dd>not known</dd><dt>Attestation format</dt>"
                       "<dd>fido-u2f</dd>"));
  EXPECT_TRUE(contains(screen.body, "<dt>Transports</dt><dd>usb, nfc</dd>"));
  EXPECT_FALSE(contains(screen.body, "cHVibGljLWtleS1ieXRlcw")) << "never the public key";
  EXPECT_FALSE(contains(screen.body, "May have been copied"));

  // A member of another account, or no member at all: the page says so with a 404.
  const int64_t gadmin = server_->store()
                             .user_by_email(server_->store().account_by_name("globex")->id,
                                            "gadmin@example.com")
                             ->id;
  for (const std::string& who : {std::to_string(gadmin), std::string("x")}) {
    HttpResponse other = client_.get(url(std::string(kPage) + "?member=" + who), &browser_);
    EXPECT_EQ(other.status, 404) << who;
    EXPECT_TRUE(contains(other.body, "No such member in your account.")) << who;
    EXPECT_FALSE(contains(other.body, "gadmin@example.com")) << who;
  }
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
  ASSERT_EQ(tokens->size(), 3u);
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
  EXPECT_EQ(list.json()["tokens"].size(), 3u);
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
  EXPECT_EQ(api_get("/api/v1/accounts/acme/tokens", member_token_).status, 403);
  EXPECT_EQ(
      client_
          .request("POST", tokens_url,
                   {"Authorization: Bearer " + member_token_, "Content-Type: application/json"},
                   std::string(R"({"name":"x"})"))
          .status,
      403);
}

// The two-factor settings form as the browser sends it.
Fields settings_form(const std::string& mode, const std::vector<std::string>& providers,
                     const std::string& digits = "6") {
  Fields form = {{"action", "save_settings"}, {"enrollment_email", mode}};
  for (const auto& id : providers) form.emplace_back("allowed_providers", id);
  form.emplace_back("totp_algorithm", "SHA1");
  form.emplace_back("totp_digits", digits);
  form.emplace_back("totp_period", "30");
  return form;
}

TEST_F(AdminPageTest, InviteFromThePageCreatesTheInvitationAndQueuesOneEmail) {
  const std::string csrf = sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "<form id=\"invite\""));
  EXPECT_TRUE(contains(page_.body, "No invitations yet."));
  HttpResponse sent =
      post(csrf, {{"action", "invite"}, {"email", "Dave@Example.com"}, {"role", "member"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_TRUE(contains(sent.body,
                       "<p class=\"notice\" role=\"status\">Invitation sent to "
                       "dave@example.com.</p>"));
  const nlohmann::json list = invitations();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["email"], kDave);
  EXPECT_EQ(list[0]["role"], "member");
  EXPECT_EQ(list[0]["status"], "pending");
  EXPECT_EQ(server_->outbox().mail_for(kDave)->size(), 1u);
  EXPECT_TRUE(contains(sent.body, "<table id=\"invitations\">"));
  EXPECT_TRUE(contains(sent.body,
                       "<td>dave@example.com</td><td>member</td><td><span "
                       "class=\"on\">pending</span>"));
  EXPECT_TRUE(contains(sent.body, "aria-label=\"Revoke the invitation of dave@example.com\""));

  // Again while it is open: the same invitation, no second email.
  HttpResponse again = post(csrf, {{"action", "invite"}, {"email", kDave}, {"role", "member"}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(contains(again.body,
                       "dave@example.com already has an open invitation; no new "
                       "email was sent."));
  EXPECT_EQ(invitations().size(), 1u);
  EXPECT_EQ(server_->outbox().mail_for(kDave)->size(), 1u);
  // Another role while it is open is the API's 409.
  HttpResponse other = post(csrf, {{"action", "invite"}, {"email", kDave}, {"role", "admin"}});
  EXPECT_EQ(other.status, 409);
  EXPECT_TRUE(contains(other.body, "has an open invitation as member; revoke it to invite again"));
  EXPECT_EQ(server_->outbox().mail_for(kDave)->size(), 1u);
}

TEST_F(AdminPageTest, InvitingAnExistingMemberShowsTheApisErrorWith409) {
  const std::string csrf = sign_in_boss();
  HttpResponse member =
      post(csrf, {{"action", "invite"}, {"email", TestServer::kAliceEmail}, {"role", "member"}});
  EXPECT_EQ(member.status, 409);
  EXPECT_TRUE(contains(member.body,
                       "<p class=\"error\" role=\"alert\" id=\"page-error\">alice@example.com is "
                       "already a member of the account</p>"));
  // The error is about the invite form's email field: described by it, focused.
  EXPECT_TRUE(contains(member.body,
                       "name=\"email\" autocomplete=\"off\" required aria-invalid=\"true\" "
                       "aria-describedby=\"page-error\" autofocus>"))
      << member.body;
  EXPECT_TRUE(contains(member.body, "Authentication: Configuration"));
  EXPECT_TRUE(invitations().empty());
  EXPECT_TRUE(server_->outbox().mail_for(TestServer::kAliceEmail)->empty());
  EXPECT_EQ(post(csrf, {{"action", "invite"}, {"email", "not an address"}}).status, 400);
  EXPECT_EQ(post(csrf, {{"action", "invite"}, {"email", kDave}, {"role", "owner"}}).status, 400);
  EXPECT_TRUE(invitations().empty());
}

TEST_F(AdminPageTest, RevokeTurnsTheInvitationRevokedAndItsButtonGoes) {
  const std::string csrf = sign_in_boss();
  ASSERT_EQ(post(csrf, {{"action", "invite"}, {"email", kDave}, {"role", "admin"}}).status, 200);
  const std::string id = std::to_string(invitations()[0]["id"].get<int64_t>());
  HttpResponse revoked = post(csrf, {{"action", "revoke_invitation"}, {"invitation_id", id}});
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_TRUE(contains(
      revoked.body, "The invitation to dave@example.com was revoked: its link no longer works."));
  EXPECT_EQ(invitations()[0]["status"], "revoked");
  EXPECT_TRUE(contains(revoked.body,
                       "<td>dave@example.com</td><td>admin</td><td><span "
                       "class=\"off\">revoked</span>"));
  EXPECT_FALSE(contains(revoked.body, "Revoke the invitation of dave@example.com"));
  HttpResponse again = post(csrf, {{"action", "revoke_invitation"}, {"invitation_id", id}});
  EXPECT_EQ(again.status, 404);
  EXPECT_TRUE(contains(again.body, "no such open invitation"));
}

TEST_F(AdminPageTest, SettingsSavedOnThePageAreWhatTheApiReturns) {
  const std::string csrf = sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "<form id=\"two-factor-settings\""));
  EXPECT_TRUE(contains(page_.body, "name=\"enrollment_email\" value=\"qr_code\" checked"));
  EXPECT_TRUE(contains(page_.body,
                       "name=\"allowed_providers\" value=\"totp\" checked><span>"
                       "Authenticator app <small><code>totp</code></small>"));
  HttpResponse saved = post(csrf, {{"action", "save_settings"},
                                   {"enrollment_email", "link"},
                                   {"allowed_providers", "totp"},
                                   {"totp_algorithm", "SHA256"},
                                   {"totp_digits", "8"},
                                   {"totp_period", "60"}});
  ASSERT_EQ(saved.status, 200) << saved.body;
  EXPECT_TRUE(contains(saved.body, "The two-factor settings were saved."));
  const nlohmann::json now = settings();
  EXPECT_EQ(now["enrollment_email"], "link");
  EXPECT_EQ(now["allowed_providers"], nlohmann::json({"totp"}));
  EXPECT_EQ(now["totp"], nlohmann::json({{"algorithm", "SHA256"}, {"digits", 8}, {"period", 60}}));
  EXPECT_EQ(now["enforce_two_factor"], false);
  EXPECT_TRUE(contains(saved.body, "name=\"enrollment_email\" value=\"link\" checked"));
  EXPECT_TRUE(contains(saved.body, "<option value=\"SHA256\" selected>"));
  EXPECT_TRUE(contains(saved.body, "<option value=\"8\" selected>"));
  EXPECT_TRUE(contains(saved.body, "<option value=\"60\" selected>"));
  EXPECT_TRUE(contains(saved.body, "Authenticator app: SHA256, 8 digits, 60 seconds."));

  // What the API refuses is shown with its status, and nothing changes.
  HttpResponse digits = post(csrf, settings_form("qr_code", {"totp"}, "7"));
  EXPECT_EQ(digits.status, 400);
  EXPECT_TRUE(contains(digits.body,
                       "<p class=\"error\" role=\"alert\" id=\"page-error\">totp.digits must be 6 or "
                       "8</p>"));
  HttpResponse none = post(csrf, settings_form("qr_code", {}));
  EXPECT_EQ(none.status, 400);
  EXPECT_TRUE(contains(none.body, "allowed_providers must be a non-empty array"));
  HttpResponse mode = post(csrf, settings_form("sms", {"totp"}));
  EXPECT_EQ(mode.status, 400);
  EXPECT_TRUE(contains(mode.body, "enrollment_email must be &quot;qr_code&quot; or &quot;link"));
  EXPECT_EQ(settings(), now);
}

TEST_F(AdminPageTest, LinkModeThenEnforceFromThePageEmailsAnEnrollLinkAndNoSecret) {
  const std::string csrf = protect_boss();
  ASSERT_EQ(post(csrf, settings_form("link", {"totp"})).status, 200);
  HttpResponse confirm = post(csrf, {{"action", "enforce"}});
  ASSERT_EQ(confirm.status, 200) << confirm.body;
  EXPECT_TRUE(contains(element_text(confirm.body, "confirm-summary"),
                       "emailed a single-use enrollment link"));
  ASSERT_EQ(post(csrf, {{"action", "enforce"}, {"confirm", "yes"}}).status, 200);
  EXPECT_TRUE(acme().enforce_two_factor);
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_EQ(mail->size(), 1u);
  const std::string text = text_part(opened((*mail)[0]));
  EXPECT_TRUE(contains(text, url("/enroll?token="))) << text;
  EXPECT_FALSE(contains(text, "otpauth"));
  EXPECT_FALSE(contains(text, "secret key"));
  // No secret exists yet: the link leads to a sign-in before one is made.
  EXPECT_TRUE(server_->store().credentials_of_user(server_->alice_id())->empty());
}

TEST_F(AdminPageTest, ViewersSeeSettingsAndInvitationsButNoForms) {
  ASSERT_EQ(invite_by_api(kDave).status, 201);
  ASSERT_TRUE(server_->give_custom_role(server_->alice_id(), "auditor", {"auth_settings.view"}));
  ProfilePage profile = sign_in_to_profile();
  open_page();
  EXPECT_FALSE(contains(page_.body, "<form"));
  EXPECT_FALSE(contains(page_.body, "<input"));
  EXPECT_TRUE(contains(page_.body, "<h2>Two-factor settings</h2>"));
  EXPECT_TRUE(contains(page_.body,
                       "<th>Enforcement email</th><td>QR code and secret key in the "
                       "email</td>"));
  EXPECT_TRUE(contains(page_.body, "<th>Allowed providers</th><td>Authenticator app"));
  EXPECT_TRUE(contains(page_.body, "<td>dave@example.com</td><td>member</td>"));
  EXPECT_FALSE(contains(page_.body, "Revoke the invitation"));
  EXPECT_FALSE(contains(page_.body, "Invite a member"));
  // Hand-made forms with the session's token are refused by the API.
  const std::string id = std::to_string(invitations()[0]["id"].get<int64_t>());
  EXPECT_EQ(post(profile.csrf_token, {{"action", "invite"}, {"email", "erin@example.com"}}).status,
            403);
  EXPECT_EQ(post(profile.csrf_token, settings_form("link", {"totp"})).status, 403);
  EXPECT_EQ(
      post(profile.csrf_token, {{"action", "revoke_invitation"}, {"invitation_id", id}}).status,
      403);
  EXPECT_EQ(invitations().size(), 1u);
  EXPECT_EQ(invitations()[0]["status"], "pending");
  EXPECT_EQ(settings()["enrollment_email"], "qr_code");
}

TEST_F(AdminPageTest, NewFormsWithoutTheSessionsCsrfTokenAre403) {
  ASSERT_EQ(invite_by_api(kDave).status, 201);
  sign_in_boss();
  const std::string id = std::to_string(invitations()[0]["id"].get<int64_t>());
  for (const std::string token : {"", "not-the-token"}) {
    EXPECT_EQ(post(token, {{"action", "invite"}, {"email", "erin@example.com"}}).status, 403);
    EXPECT_EQ(post(token, settings_form("link", {"totp"})).status, 403);
    EXPECT_EQ(post(token, {{"action", "revoke_invitation"}, {"invitation_id", id}}).status, 403);
  }
  EXPECT_EQ(invitations().size(), 1u);
  EXPECT_EQ(invitations()[0]["status"], "pending");
  EXPECT_TRUE(server_->outbox().mail_for("erin@example.com")->empty());
  EXPECT_EQ(settings()["enrollment_email"], "qr_code");
}

// A server with a second factor besides the authenticator app (the test plugin's
// "static_code", display name "Static test code").
class AdminPagePluginTest : public AdminPageTest {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugins = {std::string(KEYSTEP_TEST_PLUGIN_DIR) + "/good.so"};
    return options;
  }
};

TEST_F(AdminPagePluginTest, DisallowingTheAuthenticatorAppWhileEnforcedShows409AndChangesNothing) {
  const std::string csrf = protect_boss();
  EXPECT_TRUE(contains(page_.body, "value=\"static_code\" checked><span>Static test code"));
  EXPECT_TRUE(contains(page_.body, "value=\"totp\" checked><span>Authenticator app"));
  // Allowing only the plugin is fine while nothing is enforced.
  HttpResponse plugin_only = post(csrf, settings_form("qr_code", {"static_code"}));
  ASSERT_EQ(plugin_only.status, 200) << plugin_only.body;
  EXPECT_TRUE(contains(plugin_only.body, "value=\"totp\"><span>Authenticator app"));
  ASSERT_EQ(post(csrf, settings_form("qr_code", {"static_code", "totp"})).status, 200);
  ASSERT_EQ(post(csrf, {{"action", "enforce"}, {"confirm", "yes"}}).status, 200);
  const nlohmann::json before = settings();
  ASSERT_EQ(before["enforce_two_factor"], true);

  HttpResponse refused = post(csrf, settings_form("link", {"static_code"}, "8"));
  EXPECT_EQ(refused.status, 409);
  EXPECT_TRUE(contains(refused.body,
                       "<p class=\"error\" role=\"alert\" id=\"page-error\">the setup members are "
                       "asked for at sign-in enrolls an authenticator app: keep "
                       "totp in allowed_providers while two-factor authentication "
                       "is enforced</p>"));
  EXPECT_TRUE(contains(refused.body, "value=\"totp\" checked><span>Authenticator app"));
  EXPECT_EQ(settings(), before);
  EXPECT_EQ(before["allowed_providers"], nlohmann::json({"static_code", "totp"}));
  EXPECT_EQ(before["enrollment_email"], "qr_code");
  EXPECT_EQ(before["totp"]["digits"], 6);
}

}  // namespace
}  // namespace keystep::httptest

// Issue 9 (hardening): lists are paged, the reset names the API tokens it revoked, and tokens
// created on the page may expire.
namespace keystep::httptest {
namespace {

// The rows of the table with id `id`.
size_t table_rows(const std::string& html, const std::string& id) {
  const auto begin = html.find("<table id=\"" + id + "\">");
  if (begin == std::string::npos) return 0;
  const auto body = html.find("<tbody>", begin);
  const auto end = html.find("</table>", begin);
  size_t rows = 0;
  for (auto at = html.find("<tr>", body); at != std::string::npos && at < end;
       at = html.find("<tr>", at + 1))
    ++rows;
  return rows;
}

TEST_F(AdminPageTest, MembersAndTokensArePagedWithNextAndPreviousLinks) {
  for (int i = 0; i < 60; ++i) {
    User user{0,   acme().id,   "m" + std::to_string(100 + i) + "@example.com",
              "x", kRoleMember, clock().now()};
    ASSERT_TRUE(server_->store().create_user(user));
  }
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(server_->admin_api().create_token("acme", kBoss, "t"));
  sign_in_boss();
  EXPECT_EQ(table_rows(page_.body, "members"), 50u);
  EXPECT_EQ(table_rows(page_.body, "api-tokens"), 50u);
  EXPECT_TRUE(contains(page_.body, "href=\"/account/authentication?members_page=2\""))
      << page_.body;
  EXPECT_TRUE(contains(page_.body, "href=\"/account/authentication?tokens_page=2\""));
  EXPECT_FALSE(contains(page_.body, "members_page=0"));
  HttpResponse second = client_.get(url(std::string(kPage) + "?members_page=2"), &browser_);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(table_rows(second.body, "members"), 12u);  // 62 members in all
  EXPECT_TRUE(contains(second.body, "href=\"/account/authentication?members_page=1\""));
  EXPECT_FALSE(contains(second.body, "members_page=3"));
  HttpResponse past = client_.get(url(std::string(kPage) + "?members_page=x"), &browser_);
  EXPECT_EQ(past.status, 400);
}

TEST_F(AdminPageTest, EnforcingNamesTheMembersWhoseAddressCannotBeEmailed) {
  User bad{0, acme().id, "jos\xc3\xa9@example.com", "x", kRoleMember, clock().now()};
  ASSERT_TRUE(server_->store().create_user(bad));
  const std::string csrf = protect_boss();
  HttpResponse done = post(csrf, {{"action", "enforce"}, {"confirm", "yes"}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(contains(done.body, "1 member without it was emailed how to set it up"));
  EXPECT_TRUE(contains(done.body, "Not emailed, because their address cannot receive email: "
                                  "jos\xc3\xa9@example.com"))
      << done.body;
}

TEST_F(AdminPageTest, ResetNamesTheApiTokensItRevoked) {
  enable_two_factor();  // alice, who has the fixture's token "test"
  new_browser();
  const std::string csrf = sign_in_boss();
  HttpResponse reset =
      post(csrf, {{"action", "reset"}, {"user_id", std::to_string(server_->alice_id())}});
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_TRUE(contains(reset.body, "API tokens revoked: test")) << reset.body;
  EXPECT_EQ(api_get("/api/v1/accounts/acme/members", member_token_).status, 401);
}

TEST_F(AdminPageTest, TokenCreatedWithAnExpiryShowsItAndStopsWorkingThen) {
  const std::string csrf = sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "name=\"expires_in\""));
  HttpResponse created =
      post(csrf, {{"action", "create_token"}, {"name", "ci"}, {"expires_in", "2592000"}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string token = element_text(created.body, "new-token");
  open_page();
  EXPECT_TRUE(contains(page_.body, "2025-07-15 15:06 UTC")) << page_.body;  // kStart + 30 days
  EXPECT_EQ(post(csrf, {{"action", "create_token"}, {"name", "x"}, {"expires_in", "soon"}}).status,
            400);
  clock().advance(2592000);
  EXPECT_EQ(api_get("/api/v1/accounts/acme/members", token).status, 401);
  new_browser();  // the boss's session ended meanwhile
  sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "<span class=\"off\">Expired</span>"));
}

TEST_F(AdminPageTest, ApplicationsRequireTwoFactorAfterAConfirmationAndStopAtOnce) {
  const std::string csrf = sign_in_boss();
  EXPECT_TRUE(contains(page_.body, "<h2>Applications</h2>"));
  EXPECT_TRUE(contains(page_.body,
                       "aria-label=\"Require two-factor authentication for spa\">Require</button>"));
  // First a confirmation that says whom it asks, and nothing changed yet.
  HttpResponse asked =
      post(csrf, {{"action", "client_two_factor"}, {"client_id", "spa"}, {"require", "yes"}});
  ASSERT_EQ(asked.status, 200) << asked.body;
  EXPECT_TRUE(contains(asked.body, "Require two-factor authentication for spa?"));
  EXPECT_TRUE(contains(asked.body, "Every member of acme who signs in to spa will need a second "
                                   "factor"));
  EXPECT_TRUE(server_->store().clients_requiring_two_factor(acme().id)->empty());
  HttpResponse confirmed = post(csrf, {{"action", "client_two_factor"},
                                       {"client_id", "spa"},
                                       {"require", "yes"},
                                       {"confirm", "yes"}});
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_TRUE(contains(confirmed.body, "Members now need two-factor authentication to sign in to "
                                       "spa"));
  EXPECT_TRUE(contains(confirmed.body, ">Stop requiring</button>"));
  EXPECT_EQ(*server_->store().clients_requiring_two_factor(acme().id),
            std::vector<std::string>{"spa"});
  HttpResponse stopped =
      post(csrf, {{"action", "client_two_factor"}, {"client_id", "spa"}, {"require", "no"}});
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_TRUE(contains(stopped.body, "no longer requires two-factor authentication for spa"));
  EXPECT_TRUE(server_->store().clients_requiring_two_factor(acme().id)->empty());
  // Unknown applications are a 404 on the page; a form without the CSRF token a 403.
  EXPECT_EQ(post(csrf, {{"action", "client_two_factor"}, {"client_id", "nope"}, {"require", "yes"}})
                .status,
            404);
  EXPECT_EQ(client_
                .post_form(url(kPage),
                           {{"action", "client_two_factor"}, {"client_id", "spa"},
                            {"require", "no"}},
                           &browser_)
                .status,
            403);
}

TEST_F(AdminPageTest, RemoveAsksForConfirmationThenRemovesTheMember) {
  const std::string csrf = sign_in_boss();
  const std::string alice = std::to_string(server_->alice_id());
  EXPECT_TRUE(contains(page_.body, "aria-label=\"Remove alice@example.com\">Remove</button>"));
  EXPECT_FALSE(contains(page_.body, "aria-label=\"Remove boss@example.com\""));
  HttpResponse asked = post(csrf, {{"action", "remove"}, {"user_id", alice}});
  ASSERT_EQ(asked.status, 200) << asked.body;
  EXPECT_TRUE(contains(asked.body, "Remove alice@example.com from acme?"));
  EXPECT_TRUE(contains(asked.body, "This cannot be undone."));
  EXPECT_TRUE(server_->store().user_by_id(server_->alice_id()));
  HttpResponse removed = post(csrf, {{"action", "remove"}, {"user_id", alice}, {"confirm", "yes"}});
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_TRUE(contains(removed.body, "alice@example.com was removed from the account and signed "
                                     "out everywhere; they were emailed."));
  EXPECT_FALSE(server_->store().user_by_id(server_->alice_id()));
  EXPECT_FALSE(contains(removed.body, "Remove alice@example.com"));
  // Gone now: asking again names no one and removes nothing.
  EXPECT_EQ(post(csrf, {{"action", "remove"}, {"user_id", alice}}).status, 404);
  // Yourself: the API refuses, whatever the form says.
  const std::string boss = std::to_string(server_->store().user_by_email(acme().id, kBoss)->id);
  HttpResponse self = post(csrf, {{"action", "remove"}, {"user_id", boss}, {"confirm", "yes"}});
  EXPECT_EQ(self.status, 409);
  EXPECT_TRUE(contains(self.body, "you cannot remove yourself"));
}

}  // namespace
}  // namespace keystep::httptest
