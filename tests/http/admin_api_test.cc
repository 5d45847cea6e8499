// The admin API over HTTP: authentication (API tokens, browser session + CSRF), authorization
// (view/edit permissions, tenant isolation), the seed's preconditions for enforcement, members,
// the lost-device reset and the audit log.
#include <gtest/gtest.h>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

TEST_F(AdminApiTest, MissingOrBadTokenIs401) {
  HttpResponse none = client_.get(settings_url());
  EXPECT_EQ(none.status, 401);
  EXPECT_TRUE(none.header("WWW-Authenticate").has_value());
  EXPECT_EQ(api("GET", settings_url(), "ks_not-a-token").status, 401);
  HttpResponse basic = client_.get(settings_url(), nullptr, {"Authorization: Basic eDp5"});
  EXPECT_EQ(basic.status, 401);
}

TEST_F(AdminApiTest, AdminReadsSettingsByNameOrId) {
  HttpResponse r = api("GET", settings_url(), boss_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["enforce_two_factor"], false);
  EXPECT_EQ(r.json()["totp"],
            (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}));
  EXPECT_EQ(api("GET", settings_url(std::to_string(acme().id)), boss_token_).json(), r.json());
}

TEST_F(AdminApiTest, MemberGets403) {
  EXPECT_EQ(api("GET", settings_url(), member_token_).status, 403);
  EXPECT_EQ(api("PUT", settings_url(), member_token_, R"({"enforce_two_factor":false})").status,
            403);
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/members"), member_token_).status, 403);
}

TEST_F(AdminApiTest, AnotherAccountIsInvisible) {
  auto globex = server_->store().account_by_name("globex");
  EXPECT_EQ(api("GET", settings_url("globex"), boss_token_).status, 404);
  EXPECT_EQ(api("GET", settings_url(std::to_string(globex->id)), boss_token_).status, 404);
  EXPECT_EQ(api("GET", settings_url("no-such-account"), boss_token_).status, 404);
  EXPECT_EQ(
      api("PUT", settings_url("globex"), boss_token_, R"({"enforce_two_factor":true})").status,
      404);
}

TEST_F(AdminApiTest, EnforcingWithoutOwnTwoFactorIs409WithTheSettingsUrl) {
  HttpResponse r =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json()["error"], "own_two_factor_required");
  EXPECT_EQ(r.json()["settings_url"], url("/profile"));
  EXPECT_FALSE(acme().enforce_two_factor);
}

TEST_F(AdminApiTest, EnforcingWithoutConfirmationIsRefusedWithASummary) {
  protect_boss();
  HttpResponse r = api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true})");
  ASSERT_EQ(r.status, 428) << r.body;
  EXPECT_EQ(r.json()["error"], "confirmation_required");
  EXPECT_EQ(r.json()["summary"]["members"], 2);                     // boss and alice
  EXPECT_EQ(r.json()["summary"]["members_without_two_factor"], 1);  // alice
  EXPECT_EQ(r.json()["summary"]["emails_to_send"], 1);
  EXPECT_FALSE(acme().enforce_two_factor);
}

TEST_F(AdminApiTest, ConfirmedEnforcementTakesEffectOnceAndNeverFlipsUserSettings) {
  protect_boss();
  HttpResponse on =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json()["enforce_two_factor"], true);
  EXPECT_TRUE(acme().enforce_two_factor);
  // Alice's own setting stays off; the account setting alone now challenges her.
  EXPECT_FALSE(server_->store().user_by_id(server_->alice_id())->two_factor_enabled);
  EXPECT_TRUE(*server_->two_factor().second_factor_required(
      *server_->store().user_by_id(server_->alice_id())));
  // Repeating changes nothing and records nothing new.
  HttpResponse again =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  EXPECT_EQ(again.status, 200);
  HttpResponse audit =
      api("GET", url("/api/v1/accounts/acme/audit-events?event=account.two_factor_enforced"),
          boss_token_);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.json()["events"].size(), 1u);
  // Turning it off touches no user-level setting or credential.
  auto boss = *server_->store().user_by_email(acme().id, kBoss);
  HttpResponse off = api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":false})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_FALSE(acme().enforce_two_factor);
  EXPECT_TRUE(server_->store().user_by_id(boss.id)->two_factor_enabled);
  EXPECT_TRUE(server_->two_factor().status(boss)->has_totp);
  EXPECT_FALSE(*server_->two_factor().second_factor_required(
      *server_->store().user_by_id(server_->alice_id())));
}

TEST_F(AdminApiTest, BadBodiesAre400And415) {
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, "not json").status, 400);
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce":true})").status, 400);
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":"yes"})").status, 400);
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"totp":{"digits":7}})").status, 400);
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"totp":{"algorithm":"MD5"}})").status, 400);
  HttpResponse form = client_.request(
      "PUT", settings_url(),
      {"Authorization: Bearer " + boss_token_, "Content-Type: application/x-www-form-urlencoded"},
      std::string("enforce_two_factor=true"));
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(
      client_.request("DELETE", settings_url(), {"Authorization: Bearer " + boss_token_}).status,
      405);
}

TEST_F(AdminApiTest, TotpSettingsApplyToNewEnrollments) {
  HttpResponse r = api("PUT", settings_url(), boss_token_,
                       R"({"totp":{"algorithm":"SHA256","digits":8,"period":60}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["totp"]["digits"], 8);
  auto alice = *server_->store().user_by_id(server_->alice_id());
  auto view = server_->two_factor().begin_totp_enrollment(alice);
  ASSERT_TRUE(view);
  EXPECT_NE(view->otpauth_uri.find("algorithm=SHA256&digits=8&period=60"), std::string::npos)
      << view->otpauth_uri;
}

TEST_F(AdminApiTest, MembersListShowsTwoFactorState) {
  protect_boss();
  HttpResponse r = api("GET", url("/api/v1/accounts/acme/members"), boss_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json body = r.json();
  const nlohmann::json& members = body["members"];
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0]["email"], TestServer::kAliceEmail);
  EXPECT_EQ(members[0]["has_second_factor"], false);
  EXPECT_EQ(members[0]["role"], "member");
  EXPECT_EQ(members[1]["email"], kBoss);
  EXPECT_EQ(members[1]["has_second_factor"], true);
  EXPECT_EQ(members[1]["two_factor_enabled"], true);
}

TEST_F(AdminApiTest, ACredentialOfAProviderTheServerNoLongerHasIsNotTwoFactor) {
  // Alice confirmed a key of a provider this server no longer registers (its plugin was
  // removed): straight into the store, as the server that had the plugin left it.
  MfaCredential gone;
  gone.user_id = server_->alice_id();
  gone.provider_id = "retired_key";
  gone.secret = "key material";
  gone.created_at = clock().now();
  auto pending = server_->store().put_pending_credential(gone);
  ASSERT_TRUE(pending) << pending.error().message;
  MfaCredential confirmed = *pending;
  confirmed.confirmed = true;
  ASSERT_TRUE(server_->store().update_credential(confirmed, pending->version));
  auto alice = server_->store().user_by_id(server_->alice_id());
  ASSERT_TRUE(alice);
  auto status = server_->two_factor().status(*alice);
  ASSERT_TRUE(status);
  ASSERT_FALSE(status->has_second_factor());  // the sign-in forces her into the setup

  // The member list and the enforcement email answer the same.
  protect_boss();
  HttpResponse list = api("GET", url("/api/v1/accounts/acme/members"), boss_token_);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["members"][0]["email"], TestServer::kAliceEmail);
  EXPECT_EQ(list.json()["members"][0]["has_second_factor"], false);
  HttpResponse ask = api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true})");
  ASSERT_EQ(ask.status, 428) << ask.body;
  EXPECT_EQ(ask.json()["summary"]["members_without_two_factor"], 1);
  HttpResponse on =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json()["emails_queued"], 1);
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);
}

TEST_F(AdminApiTest, ResetRemovesCredentialsEndsSessionsAndIsAudited) {
  enable_two_factor();  // alice, signed in on browser_
  const std::string alice = std::to_string(server_->alice_id());
  HttpResponse by_member =
      api("POST", url("/api/v1/accounts/acme/members/" + alice + "/two-factor/reset"),
          member_token_, "");
  EXPECT_EQ(by_member.status, 403);
  HttpResponse r = api("POST", url("/api/v1/accounts/acme/members/" + alice + "/two-factor/reset"),
                       boss_token_, "");
  ASSERT_EQ(r.status, 200) << r.body;
  auto user = *server_->store().user_by_id(server_->alice_id());
  EXPECT_FALSE(user.two_factor_enabled);
  EXPECT_TRUE(server_->store().credentials_of_user(user.id)->empty());
  // Her browser session is over: the profile asks her to sign in again.
  HttpResponse profile = client_.get(url("/profile"), &browser_);
  EXPECT_EQ(profile.status, 302);
  EXPECT_NE(profile.location().find("/login?flow="), std::string::npos);
  HttpResponse audit =
      api("GET", url("/api/v1/accounts/acme/audit-events?event=mfa.reset_by_admin&user=" + alice),
          boss_token_);
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ(audit.json()["events"].size(), 1u);
  // Unknown members and members of another account are 404.
  EXPECT_EQ(
      api("POST", url("/api/v1/accounts/acme/members/999999/two-factor/reset"), boss_token_, "")
          .status,
      404);
  EXPECT_EQ(api("POST",
                url("/api/v1/accounts/acme/members/" + std::to_string(server_->other_alice_id()) +
                    "/two-factor/reset"),
                boss_token_, "")
                .status,
            404);
}

TEST_F(AdminApiTest, AuditLogPagesNewestFirstWithFilters) {
  auto alice = *server_->store().user_by_id(server_->alice_id());
  for (int i = 0; i < 5; ++i) server_->two_factor().audit(alice, "test.event", "198.51.100.1");
  HttpResponse first =
      api("GET", url("/api/v1/accounts/acme/audit-events?limit=2&event=test.event"), boss_token_);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(first.json()["events"].size(), 2u);
  const int64_t next = first.json()["next_before"];
  EXPECT_GT(first.json()["events"][0]["id"].get<int64_t>(),
            first.json()["events"][1]["id"].get<int64_t>());
  HttpResponse rest =
      api("GET",
          url("/api/v1/accounts/acme/audit-events?limit=10&event=test.event&before=" +
              std::to_string(next)),
          boss_token_);
  ASSERT_EQ(rest.status, 200);
  EXPECT_EQ(rest.json()["events"].size(), 3u);
  EXPECT_FALSE(rest.json().contains("next_before"));
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/audit-events?limit=0"), boss_token_).status, 400);
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/audit-events?before=x"), boss_token_).status,
            400);
}

TEST_F(AdminApiTest, BrowserSessionWorksAndChangesNeedTheCsrfHeader) {
  ProfilePage profile = sign_in_to_profile(kBoss, kBossPassword);
  HttpResponse read = client_.get(settings_url(), &browser_);
  EXPECT_EQ(read.status, 200) << read.body;
  HttpResponse no_csrf = client_.request("PUT", settings_url(), {"Content-Type: application/json"},
                                         std::string(R"({"totp":{"digits":8}})"), &browser_);
  EXPECT_EQ(no_csrf.status, 403);
  HttpResponse with_csrf =
      client_.request("PUT", settings_url(),
                      {"Content-Type: application/json", "X-CSRF-Token: " + profile.csrf_token},
                      std::string(R"({"totp":{"digits":8}})"), &browser_);
  EXPECT_EQ(with_csrf.status, 200) << with_csrf.body;
}

TEST_F(AdminApiTest, RevokedTokenIs401) {
  auto tokens = server_->store().api_tokens(acme().id);
  ASSERT_TRUE(tokens);
  ASSERT_TRUE(server_->store().revoke_api_token(acme().id, tokens->front().id, clock().now()));
  EXPECT_EQ(api("GET", settings_url(), boss_token_).status, 401);
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

TEST_F(AdminApiTest, EnforcementEmailsMembersWithoutTwoFactorOnceWithTheirQrAndSecret) {
  protect_boss();
  HttpResponse on =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(on.status, 200) << on.body;
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(mail);
  ASSERT_EQ(mail->size(), 1u);
  // Sealed at rest: the secret it carries is not readable in the database.
  EXPECT_EQ((*mail)[0].mime.rfind(kSealedMimePrefix, 0), 0u);
  const std::string mime = opened((*mail)[0]);
  EXPECT_NE(mime.find("Content-Type: image/png"), std::string::npos);
  EXPECT_NE(mime.find("Content-ID: <qr>"), std::string::npos);
  // The boss already has 2FA: no setup email (only the notice of the factor he added).
  const auto boss_mail = server_->outbox().mail_for(kBoss);
  ASSERT_TRUE(boss_mail);
  for (const auto& m : *boss_mail)
    EXPECT_EQ(m.subject.rfind("A second factor was added", 0), 0u) << m.subject;
  // The secret in the email is the one the forced setup at sign-in shows.
  auto alice = *server_->store().user_by_id(server_->alice_id());
  auto pending = server_->two_factor().pending_totp_enrollment(alice);
  ASSERT_TRUE(pending);
  EXPECT_EQ((*mail)[0].subject, "Set up two-factor authentication for Acme");
  EXPECT_NE(text_part(mime).find(pending->display_secret), std::string::npos) << text_part(mime);
  // Repeating the request sends nothing twice.
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})")
                .status,
            200);
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);
}

TEST_F(AdminApiTest, ResetEmailsTheMember) {
  const std::string alice = std::to_string(server_->alice_id());
  ASSERT_EQ(api("POST", url("/api/v1/accounts/acme/members/" + alice + "/two-factor/reset"),
                boss_token_, "")
                .status,
            200);
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(mail);
  ASSERT_EQ(mail->size(), 1u);
  EXPECT_EQ((*mail)[0].subject, "Your two-factor authentication was reset");
}

}  // namespace
}  // namespace keystep::httptest

// Issue 9 (hardening): the lost-device reset revokes by user, API tokens may expire,
// addresses are checked once and one bad recipient blocks nobody, lists are paged, and a
// body with a duplicate key is refused.
namespace keystep::httptest {
namespace {

std::string reset_url(int64_t user_id) {
  return "/api/v1/accounts/acme/members/" + std::to_string(user_id) + "/two-factor/reset";
}

TEST_F(AdminApiTest, ResetRevokesRefreshTokensWhoseSessionExpiredAndWasPurged) {
  const auto tokens = spa_tokens();  // alice signs in and gets a refresh token
  const std::string refresh = tokens.value("refresh_token", "");
  ASSERT_FALSE(refresh.empty());
  // Her session (12 h) ends and is purged; the refresh token (30 days) lives on.
  clock().advance(13 * 3600);
  ASSERT_TRUE(server_->store().purge_expired(clock().now()));
  HttpResponse r = api("POST", url(reset_url(server_->alice_id())), boss_token_, "");
  ASSERT_EQ(r.status, 200) << r.body;
  HttpResponse refreshed = refresh_spa(refresh);
  EXPECT_EQ(refreshed.status, 400) << refreshed.body;
  EXPECT_EQ(refreshed.json().value("error", ""), "invalid_grant");
  EXPECT_EQ(r.json().value("grants_revoked", 0), 1) << r.body;
}

TEST_F(AdminApiTest, ResetRevokesTheMembersApiTokensAndListsThemInTheAnswer) {
  HttpResponse r = api("POST", url(reset_url(server_->alice_id())), boss_token_, "");
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json revoked = r.json()["api_tokens_revoked"];
  ASSERT_EQ(revoked.size(), 1u) << r.body;
  EXPECT_EQ(revoked[0]["name"], "test");
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/members"), member_token_).status, 401);
  // The admin's own token is not the member's: it still works.
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/members"), boss_token_).status, 200);
  HttpResponse audit =
      api("GET", url("/api/v1/accounts/acme/audit-events?event=mfa.reset_by_admin"), boss_token_);
  ASSERT_EQ(audit.json()["events"].size(), 1u);
  EXPECT_NE(audit.json()["events"][0]["detail"].get<std::string>().find("test"), std::string::npos);
}

TEST_F(AdminApiTest, ApiTokensCanExpire) {
  const std::string tokens_url = url("/api/v1/accounts/acme/tokens");
  HttpResponse created = api("POST", tokens_url, boss_token_, R"({"name":"ci","expires_in":3600})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["expires_at"], clock().now() + 3600);
  const std::string token = created.json()["token"];
  EXPECT_EQ(api("GET", settings_url(), token).status, 200);
  HttpResponse list = api("GET", tokens_url, boss_token_);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json()["tokens"].back()["expires_at"], clock().now() + 3600);
  EXPECT_EQ(list.json()["tokens"].back()["status"], "active");
  EXPECT_EQ(list.json()["tokens"].front()["expires_at"], 0);  // the fixture's never expire
  clock().advance(3600);
  HttpResponse expired = api("GET", settings_url(), token);
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  EXPECT_EQ(api("GET", tokens_url, boss_token_).json()["tokens"].back()["status"], "expired");
  // expires_at (Unix seconds) works too.
  const std::string at = std::to_string(clock().now() + 86400);
  HttpResponse by_date =
      api("POST", tokens_url, boss_token_, R"({"name":"ci2","expires_at":)" + at + "}");
  ASSERT_EQ(by_date.status, 201) << by_date.body;
  EXPECT_EQ(std::to_string(by_date.json()["expires_at"].get<int64_t>()), at);
  for (const std::string& bad : std::vector<std::string>{
           R"({"name":"x","expires_in":0})", R"({"name":"x","expires_in":-5})",
           R"({"name":"x","expires_in":"3600"})", R"({"name":"x","expires_in":1.5})",
           R"({"name":"x","expires_in":999999999999})", R"({"name":"x","expires_at":1})",
           R"({"name":"x","expires_in":60,"expires_at":)" + at + "}"}) {
    HttpResponse r = api("POST", tokens_url, boss_token_, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
  }
}

TEST_F(AdminApiTest, NonAsciiAddressesAreRefusedWhenInvited) {
  HttpResponse r = api("POST", url("/api/v1/accounts/acme/invitations"), boss_token_,
                       R"({"email":"jos\u00e9@example.com"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"], "invalid_request");
  auto created = server_->directory().create_user("acme", "jos\xc3\xa9@example.com",
                                                  "long enough password", false);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AdminApiTest, AnInvitationStoredWithABadAddressSignsNobodyUp) {
  Invitation invitation;
  invitation.account_id = acme().id;
  invitation.email = "jos\xc3\xa9@example.com";
  invitation.role = kRoleMember;
  invitation.token_hash = sha256_b64url("legacy-invitation-token");
  invitation.created_at = clock().now();
  invitation.expires_at = clock().now() + 3600;
  ASSERT_TRUE(server_->store().create_invitation(invitation, {}));
  HttpResponse page = client_.get(url("/signup?invitation=legacy-invitation-token"));
  EXPECT_EQ(page.status, 400) << page.body;
}

TEST_F(AdminApiTest, OneBadRecipientDoesNotBlockEnforcementForTheOthers) {
  // An address stored before addresses were checked (straight into the store).
  User bad{0, acme().id, "jos\xc3\xa9@example.com", "x", kRoleMember, clock().now()};
  auto stored = server_->store().create_user(bad);
  ASSERT_TRUE(stored);
  protect_boss();
  HttpResponse ask = api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true})");
  ASSERT_EQ(ask.status, 428) << ask.body;
  EXPECT_EQ(ask.json()["summary"]["emails_to_send"], 1);
  EXPECT_EQ(ask.json()["summary"]["skipped_recipients"].size(), 1u);
  HttpResponse on =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_TRUE(acme().enforce_two_factor);
  EXPECT_EQ(on.json()["emails_queued"], 1);
  ASSERT_EQ(on.json()["skipped_recipients"].size(), 1u);
  EXPECT_EQ(on.json()["skipped_recipients"][0]["user_id"], stored->id);
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);
  HttpResponse audit =
      api("GET", url("/api/v1/accounts/acme/audit-events?event=account.two_factor_enforced"),
          boss_token_);
  ASSERT_EQ(audit.json()["events"].size(), 1u);
  EXPECT_NE(audit.json()["events"][0]["detail"].get<std::string>().find("skipped"),
            std::string::npos);
  // Resetting that member works too: the reset is done, only its email is skipped.
  HttpResponse reset = api("POST", url(reset_url(stored->id)), boss_token_, "");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.json()["email_queued"], false);
}

TEST_F(AdminApiTest, MembersInvitationsAndTokensArePaged) {
  HttpResponse first = api("GET", url("/api/v1/accounts/acme/members?limit=1"), boss_token_);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["members"].size(), 1u);
  EXPECT_EQ(first.json()["members"][0]["email"], TestServer::kAliceEmail);
  EXPECT_EQ(first.json()["total"], 2);
  EXPECT_EQ(first.json()["next_page"], 2);
  HttpResponse second =
      api("GET", url("/api/v1/accounts/acme/members?limit=1&page=2"), boss_token_);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json()["members"][0]["email"], kBoss);
  EXPECT_FALSE(second.json().contains("next_page"));
  HttpResponse tokens = api("GET", url("/api/v1/accounts/acme/tokens?limit=1&page=2"), boss_token_);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  EXPECT_EQ(tokens.json()["tokens"].size(), 1u);
  EXPECT_EQ(tokens.json()["total"], 2);
  for (const char* email : {"a@example.com", "b@example.com", "c@example.com"})
    ASSERT_EQ(api("POST", url("/api/v1/accounts/acme/invitations"), boss_token_,
                  nlohmann::json{{"email", email}}.dump())
                  .status,
              201);
  HttpResponse invitations =
      api("GET", url("/api/v1/accounts/acme/invitations?limit=2"), boss_token_);
  ASSERT_EQ(invitations.status, 200) << invitations.body;
  EXPECT_EQ(invitations.json()["invitations"].size(), 2u);
  EXPECT_EQ(invitations.json()["invitations"][0]["email"], "c@example.com");  // newest first
  EXPECT_EQ(invitations.json()["total"], 3);
  for (const char* query : {"limit=0", "limit=501", "limit=x", "page=0", "page=-1", "page=y"})
    EXPECT_EQ(
        api("GET", url(std::string("/api/v1/accounts/acme/members?") + query), boss_token_).status,
        400)
        << query;
}

TEST_F(AdminApiTest, DuplicateKeysInABodyAre400) {
  protect_boss();
  HttpResponse r = api("PUT", settings_url(), boss_token_,
                       R"({"enforce_two_factor":true,"confirm":false,"confirm":true})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"], "invalid_request");
  EXPECT_FALSE(acme().enforce_two_factor);
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"totp":{"digits":6,"digits":8}})").status,
            400);
  EXPECT_EQ(api("POST", url("/api/v1/accounts/acme/invitations"), boss_token_,
                R"({"email":"a@example.com","email":"b@example.com"})")
                .status,
            400);
  EXPECT_EQ(
      api("POST", url("/api/v1/accounts/acme/tokens"), boss_token_, R"({"name":"a","name":"b"})")
          .status,
      400);
  // The same key in two different objects is no duplicate.
  EXPECT_EQ(api("PUT", settings_url(), boss_token_, R"({"totp":{"digits":6}})").status, 200);
}

// Issue 15: an administrator sets the name a member goes by; the members list shows it and
// the profile scope's name claim carries it.
TEST_F(AdminApiTest, AnAdministratorSetsAMembersDisplayName) {
  const std::string alice = std::to_string(server_->alice_id());
  const std::string path = url("/api/v1/accounts/acme/members/" + alice + "/display-name");
  HttpResponse set = api("PUT", path, boss_token_, R"({"display_name":"Alice Liddell"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json(), nlohmann::json({{"id", server_->alice_id()},
                                        {"email", TestServer::kAliceEmail},
                                        {"display_name", "Alice Liddell"}}));
  auto members = api("GET", url("/api/v1/accounts/acme/members"), boss_token_).json()["members"];
  bool listed = false;
  for (const auto& m : members) {
    if (m["email"] == TestServer::kAliceEmail) listed = m["display_name"] == "Alice Liddell";
    EXPECT_TRUE(m["display_name"].is_string()) << m;
  }
  EXPECT_TRUE(listed) << members;
  auto tokens = spa_tokens({{"scope", "openid profile"}});
  EXPECT_EQ(userinfo(tokens["access_token"]).json()["name"], "Alice Liddell");

  EXPECT_EQ(api("PUT", path, boss_token_, R"({"display_name":"\u0007bell"})").status, 400);
  EXPECT_EQ(api("PUT", path, boss_token_, R"({"name":"x"})").status, 400);
  EXPECT_EQ(api("PUT", path, boss_token_, R"({"display_name":3})").status, 400);
  EXPECT_EQ(api("PUT", path, member_token_, R"({"display_name":"Me"})").status, 403);
  const std::string other = std::to_string(server_->other_alice_id());
  EXPECT_EQ(api("PUT", url("/api/v1/accounts/acme/members/" + other + "/display-name"),
                boss_token_, R"({"display_name":"Not mine"})")
                .status,
            404);
  HttpResponse cleared = api("PUT", path, boss_token_, R"({"display_name":""})");
  EXPECT_EQ(cleared.status, 200);
  EXPECT_EQ(server_->store().user_by_id(server_->alice_id())->display_name, "");
}

}  // namespace
}  // namespace keystep::httptest
