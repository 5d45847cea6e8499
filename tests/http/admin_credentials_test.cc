// The credential admin API over HTTP: listing a member's factors (never a secret), removing
// one (audited, the member emailed, never the last), registering one through the provider
// (TOTP imports a base32 secret, sealed at rest, confirmed, no recovery codes), with the
// permissions and tenant isolation of the rest of the admin API.
#include <gtest/gtest.h>

#include "providers/totp/totp_provider.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

// RFC 6238's SHA1 seed, and the same in base32 as another server would show it.
constexpr const char* kSeed = "12345678901234567890";
constexpr const char* kSeedBase32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

class AdminCredentialsTest : public AdminApiTest {
 protected:
  std::string credentials_url(int64_t user_id, const std::string& account = "acme") {
    return url("/api/v1/accounts/" + account + "/members/" + std::to_string(user_id) +
               "/credentials");
  }
  int64_t boss_id() { return server_->store().user_by_email(acme().id, kBoss)->id; }
  int64_t alice_id() { return server_->alice_id(); }
  nlohmann::json list(int64_t user_id) {
    HttpResponse r = api("GET", credentials_url(user_id), boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["credentials"];
  }
  HttpResponse import(int64_t user_id, const std::string& secret = kSeedBase32) {
    return api("POST", credentials_url(user_id), boss_token_,
               nlohmann::json{{"provider", "totp"}, {"secret", secret}}.dump());
  }
  std::vector<OutgoingMail> mail_to(const std::string& email) {
    return *server_->outbox().mail_for(email);
  }
};

TEST_F(AdminCredentialsTest, TheListShowsEachFactorAndNeverItsSecret) {
  protect_boss();
  HttpResponse r = api("GET", credentials_url(boss_id()), boss_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json credentials = r.json()["credentials"];
  ASSERT_EQ(credentials.size(), 2u) << r.body;
  EXPECT_EQ(credentials[0]["provider"], "totp");
  EXPECT_EQ(credentials[0]["type"], "Authenticator app");
  EXPECT_EQ(credentials[0]["label"], "Authenticator app");
  EXPECT_EQ(credentials[0]["confirmed"], true);
  EXPECT_GT(credentials[0]["created_at"].get<int64_t>(), 0);
  EXPECT_EQ(credentials[1]["provider"], "recovery_code");
  for (const auto& c : credentials) {
    for (const char* member : {"id", "provider", "type", "label", "created_at", "last_used_at",
                               "confirmed", "possibly_cloned", "details"})
      EXPECT_TRUE(c.contains(member)) << member;
    EXPECT_EQ(c.size(), 9u) << c.dump();  // no secret, params or state
    EXPECT_EQ(c["possibly_cloned"], false);
  }
  EXPECT_EQ(r.json()["email"], kBoss);
  // The provider's public details: the app's parameters; recovery codes have none.
  EXPECT_EQ(credentials[0]["details"],
            (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}));
  EXPECT_EQ(credentials[1]["details"], nlohmann::json::object());
  // Nothing of the stored secret, sealed or not, is in the answer.
  const auto all = *server_->store().credentials_of_user(boss_id());
  for (const auto& stored : all) {
    EXPECT_EQ(r.body.find(base64_encode(stored.secret)), std::string::npos);
    EXPECT_EQ(r.body.find(totp_base32(stored.secret)), std::string::npos);
  }
  EXPECT_EQ(list(alice_id()), nlohmann::json::array());
}

TEST_F(AdminCredentialsTest, OneCredentialIsShownAsTheListShowsIt) {
  protect_boss();
  const nlohmann::json listed = list(boss_id());
  for (const auto& c : listed) {
    HttpResponse r = api("GET", credentials_url(boss_id()) + "/" +
                                    std::to_string(c["id"].get<int64_t>()),
                         boss_token_);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), c);
  }
  // A login that found the key's counter going backwards flags it; the admin sees the flag.
  auto stored = *server_->store().credentials_of_user(boss_id());
  MfaCredential flagged = stored[0];
  flagged.state[kPossiblyCloned] = true;
  ASSERT_TRUE(server_->store().update_credential(flagged, stored[0].version));
  HttpResponse r = api("GET", credentials_url(boss_id()) + "/" + std::to_string(flagged.id),
                       boss_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["possibly_cloned"], true);
  for (const auto& c : stored) {
    EXPECT_EQ(r.body.find(base64_encode(c.secret)), std::string::npos);
    EXPECT_EQ(r.body.find(totp_base32(c.secret)), std::string::npos);
  }
}

TEST_F(AdminCredentialsTest, PermissionsAndTenantIsolation) {
  protect_boss();
  const int64_t boss_credential = list(boss_id())[0]["id"];
  const std::string one = credentials_url(boss_id()) + "/" + std::to_string(boss_credential);
  const std::string body = R"({"provider":"totp","secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"})";
  // A member without auth_settings.view/edit.
  EXPECT_EQ(api("GET", credentials_url(boss_id()), member_token_).status, 403);
  EXPECT_EQ(api("POST", credentials_url(alice_id()), member_token_, body).status, 403);
  EXPECT_EQ(api("DELETE", one, member_token_).status, 403);
  EXPECT_EQ(api("GET", one, member_token_).status, 403);
  EXPECT_EQ(client_.get(one).status, 401);
  // Another account's member, through this account or its own: 404 either way.
  const int64_t gadmin = server_->store()
                             .user_by_email(server_->store().account_by_name("globex")->id,
                                            "gadmin@example.com")
                             ->id;
  EXPECT_EQ(api("GET", credentials_url(gadmin), boss_token_).status, 404);
  EXPECT_EQ(api("POST", credentials_url(gadmin), boss_token_, body).status, 404);
  EXPECT_EQ(api("GET", credentials_url(gadmin, "globex"), boss_token_).status, 404);
  EXPECT_EQ(api("GET", url("/api/v1/accounts/acme/members/x/credentials"), boss_token_).status,
            404);
  // Another member's credential under this member's path: 404, and it stays.
  EXPECT_EQ(api("DELETE",
                credentials_url(alice_id()) + "/" + std::to_string(boss_credential),
                boss_token_)
                .status,
            404);
  EXPECT_EQ(api("GET", credentials_url(alice_id()) + "/" + std::to_string(boss_credential),
                boss_token_)
                .status,
            404);
  EXPECT_EQ(api("GET", credentials_url(boss_id()) + "/x", boss_token_).status, 404);
  EXPECT_EQ(api("GET", credentials_url(boss_id()) + "/99999999999999999999", boss_token_).status,
            404);
  EXPECT_EQ(api("DELETE", credentials_url(boss_id()) + "/x", boss_token_).status, 404);
  EXPECT_EQ(api("DELETE", credentials_url(boss_id()) + "/999999", boss_token_).status, 404);
  EXPECT_EQ(list(boss_id()).size(), 2u);
  EXPECT_EQ(client_.get(credentials_url(boss_id())).status, 401);
}

TEST_F(AdminCredentialsTest, ImportingATotpSecretRegistersAConfirmedFactorWithoutRecoveryCodes) {
  HttpResponse r = import(alice_id(), "gezd gnbv gy3t qojq gezd gnbv gy3t qojq");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["provider"], "totp");
  EXPECT_EQ(r.json()["confirmed"], true);
  EXPECT_EQ(r.json()["email_queued"], true);
  EXPECT_EQ(r.body.find("GEZD"), std::string::npos);
  const auto stored = *server_->store().credentials_of_user(alice_id());
  ASSERT_EQ(stored.size(), 1u);  // no recovery codes
  EXPECT_TRUE(stored[0].confirmed);
  EXPECT_EQ(stored[0].params,
            (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}));
  // Sealed at rest: the key bytes are not in the stored secret.
  EXPECT_EQ(stored[0].secret.find(kSeed), std::string::npos);
  EXPECT_NE(stored[0].secret, kSeed);
  // The member's own setting is theirs; the factor counts as set up.
  EXPECT_FALSE(stored_user(alice_id()).two_factor_enabled);
  EXPECT_TRUE(server_->two_factor().status(stored_user(alice_id()))->has_second_factor());
  // Audited and emailed.
  HttpResponse audit = api(
      "GET", url("/api/v1/accounts/acme/audit-events?event=mfa.credential_registered_by_admin"),
      boss_token_);
  ASSERT_EQ(audit.json()["events"].size(), 1u) << audit.body;
  EXPECT_EQ(audit.json()["events"][0]["user_id"], alice_id());
  const auto mail = mail_to(TestServer::kAliceEmail);
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0].subject, "A second factor was added (Acme)");
  EXPECT_NE(text_part(opened(mail[0])).find("An administrator of Acme added"),
            std::string::npos)
      << text_part(opened(mail[0]));
  EXPECT_EQ(opened(mail[0]).find("GEZD"), std::string::npos);

  // Alice turns 2FA on herself and signs in with a code of the imported key.
  ASSERT_TRUE(server_->store().set_two_factor_setting(alice_id(), true));
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_EQ(page.method, "totp");
  HttpResponse done = submit_second_factor(page, code_now(kSeed));
  EXPECT_EQ(done.status, 302) << done.body;
  EXPECT_FALSE(code_of(done).empty());
}

TEST_F(AdminCredentialsTest, ImportedSecretsTakeTheAccountsTotpSettings) {
  ASSERT_EQ(api("PUT", settings_url(), boss_token_, R"({"totp":{"digits":8}})").status, 200);
  ASSERT_EQ(import(alice_id()).status, 201);
  EXPECT_EQ((*server_->store().credentials_of_user(alice_id()))[0].params["digits"], 8);
}

TEST_F(AdminCredentialsTest, BadRegistrationsAre400WithTheProvidersMessage) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"})", "provider is required"},
      {R"({"provider":"sms"})", "sms is not a second factor of this server"},
      {R"({"provider":"recovery_code"})", "recovery_code is not a second factor"},
      {R"({"provider":"totp"})", "totp.secret is required"},
      {R"({"provider":"totp","secret":"GEZDGNBVGY3TQOJQ"})", "totp.secret must hold 16 to 64"},
      {R"({"provider":"totp","secret":"not base32!"})", "totp.secret must be base32"},
      {R"({"provider":"totp","secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","digits":8})",
       "unknown member totp.digits"},
      {"[]", "the body must be a JSON object"},
  };
  for (const auto& [body, message] : cases) {
    HttpResponse r = api("POST", credentials_url(alice_id()), boss_token_, body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(r.json()["error"], "invalid_request") << body;
    EXPECT_NE(r.json().value("error_description", "").find(message), std::string::npos)
        << body << ": " << r.body;
  }
  EXPECT_TRUE(server_->store().credentials_of_user(alice_id())->empty());
  EXPECT_TRUE(mail_to(TestServer::kAliceEmail).empty());
  HttpResponse form = client_.request(
      "POST", credentials_url(alice_id()),
      {"Authorization: Bearer " + boss_token_, "Content-Type: application/x-www-form-urlencoded"},
      std::string("provider=totp"));
  EXPECT_EQ(form.status, 415);
}

TEST_F(AdminCredentialsTest, AMemberHoldsAtMostTheCapOfAProvider) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(import(alice_id()).status, 201) << i;
  HttpResponse sixth = import(alice_id());
  EXPECT_EQ(sixth.status, 409) << sixth.body;
  EXPECT_EQ(sixth.json()["error"], "conflict");
  EXPECT_EQ(list(alice_id()).size(), 5u);
}

TEST_F(AdminCredentialsTest, RemovingAFactorIsAuditedAndEmailedButNeverTheLast) {
  protect_boss();
  ASSERT_EQ(import(boss_id()).status, 201);
  const nlohmann::json before = list(boss_id());
  ASSERT_EQ(before.size(), 3u);  // the app, its recovery codes, the imported key
  const int64_t first = before[0]["id"];
  const int64_t imported = before[2]["id"];
  const size_t mail_before = mail_to(kBoss).size();

  HttpResponse removed =
      api("DELETE", credentials_url(boss_id()) + "/" + std::to_string(first), boss_token_);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(removed.json()["removed"], true);
  EXPECT_EQ(removed.json()["id"], first);
  EXPECT_EQ(removed.json()["email_queued"], true);
  const nlohmann::json after = list(boss_id());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1]["id"], imported);
  const auto mail = mail_to(kBoss);
  ASSERT_EQ(mail.size(), mail_before + 1);
  EXPECT_EQ(mail.back().subject, "A second factor was removed (Acme)");
  EXPECT_NE(text_part(opened(mail.back())).find("removed a second factor from your sign-in: "
                                                "Authenticator app"),
            std::string::npos)
      << text_part(opened(mail.back()));
  HttpResponse audit = api(
      "GET", url("/api/v1/accounts/acme/audit-events?event=mfa.credential_removed_by_admin"),
      boss_token_);
  ASSERT_EQ(audit.json()["events"].size(), 1u) << audit.body;
  EXPECT_NE(audit.json()["events"][0]["detail"].get<std::string>().find(std::to_string(first)),
            std::string::npos);

  // The last second factor stays (the reset removes it); nothing changes, nobody is emailed.
  HttpResponse last =
      api("DELETE", credentials_url(boss_id()) + "/" + std::to_string(imported), boss_token_);
  EXPECT_EQ(last.status, 409) << last.body;
  EXPECT_NE(last.json().value("error_description", "").find("last second factor"),
            std::string::npos)
      << last.body;
  EXPECT_EQ(list(boss_id()), after);
  EXPECT_EQ(mail_to(kBoss).size(), mail_before + 1);
  // Removing it again is 404.
  EXPECT_EQ(
      api("DELETE", credentials_url(boss_id()) + "/" + std::to_string(first), boss_token_).status,
      404);
}

// With the test plugin (static_code, which keeps the interface's default register_for).
class AdminCredentialsPluginTest : public AdminCredentialsTest {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugins = {std::string(KEYSTEP_TEST_PLUGIN_DIR) + "/good.so"};
    return options;
  }
};

TEST_F(AdminCredentialsPluginTest, AProviderDecidesWhetherAnAdministratorMayRegisterIt) {
  HttpResponse r = api("POST", credentials_url(alice_id()), boss_token_,
                       R"({"provider":"static_code","code":"424242"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error_description"],
            "Static test code cannot be registered by an administrator");
}

TEST_F(AdminCredentialsPluginTest, AProviderTheAccountDoesNotAllowIs403) {
  ASSERT_EQ(
      api("PUT", settings_url(), boss_token_, R"({"allowed_providers":["static_code"]})").status,
      200);
  HttpResponse r = import(alice_id());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json()["error"], "method_not_allowed");
  EXPECT_TRUE(server_->store().credentials_of_user(alice_id())->empty());
}

}  // namespace
}  // namespace keystep::httptest
