// A YubiKey registered through the admin API, as keystep-enroll does it: the server draws the
// secret and returns it once with a pending credential that expires; the code the key types
// confirms it; a pending registration can be deleted and expires. Also imports (secret sent)
// and the sign-in with the key's output.
#include <gtest/gtest.h>

#include "providers/yubikey_hotp/yubikey_hotp_provider.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kId = "ubhe12345678";

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

class YubikeyAdminTest : public AdminApiTest {
 protected:
  std::string credentials_url(int64_t user_id) {
    return url("/api/v1/accounts/acme/members/" + std::to_string(user_id) + "/credentials");
  }
  std::string confirm_url(int64_t user_id, int64_t id) {
    return credentials_url(user_id) + "/" + std::to_string(id) + "/confirm";
  }
  int64_t alice_id() { return server_->alice_id(); }
  HttpResponse begin(int64_t user_id, nlohmann::json body = {{"provider", "yubikey_hotp"},
                                                             {"label", "Desk key"},
                                                             {"digits", 6},
                                                             {"token_id", kId}}) {
    return api("POST", credentials_url(user_id), boss_token_, body.dump());
  }
  HttpResponse confirm(int64_t user_id, int64_t id, const std::string& code) {
    return api("POST", confirm_url(user_id, id), boss_token_,
               nlohmann::json{{"code", code}}.dump());
  }
  nlohmann::json list(int64_t user_id) {
    return api("GET", credentials_url(user_id), boss_token_).json()["credentials"];
  }
};

TEST_F(YubikeyAdminTest, BeginReturnsTheDrawnSecretOnceAndTheKeysCodeConfirmsIt) {
  const int64_t now = server_->clock().now();
  HttpResponse begun = begin(alice_id());
  ASSERT_EQ(begun.status, 201) << begun.body;
  const nlohmann::json b = begun.json();
  EXPECT_EQ(b["provider"], "yubikey_hotp");
  EXPECT_EQ(b["confirmed"], false);
  EXPECT_EQ(b["label"], "Desk key");
  EXPECT_EQ(b["digits"], 6);
  EXPECT_EQ(b["token_id"], kId);
  EXPECT_EQ(b["expires_at"], now + 600);
  const std::string hex = b["secret_hex"];
  ASSERT_EQ(hex.size(), 40u);
  EXPECT_EQ(b["secret_base32"].get<std::string>().size(), 32u);
  const std::string secret = hex_to_bytes(hex);
  const int64_t id = b["id"];

  // The list shows it pending, with its expiry, and never the secret; nobody was emailed.
  HttpResponse listed = api("GET", credentials_url(alice_id()), boss_token_);
  EXPECT_EQ(listed.body.find(hex), std::string::npos);
  ASSERT_EQ(list(alice_id()).size(), 1u);
  EXPECT_EQ(list(alice_id())[0]["confirmed"], false);
  EXPECT_EQ(list(alice_id())[0]["expires_at"], now + 600);
  EXPECT_TRUE(server_->outbox().mail_for(TestServer::kAliceEmail)->empty());
  // Stored sealed.
  EXPECT_EQ((*server_->store().credentials_of_user(alice_id()))[0].secret.find(secret),
            std::string::npos);

  // A wrong code, a malformed one, another key's: 400 invalid_code, still pending.
  for (const std::string& bad :
       {std::string(kId) + "000000", std::string("12"), "ubhe87654321" + *hotp_code(secret, 0, 6)}) {
    HttpResponse refused = confirm(alice_id(), id, bad);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(refused.json()["error"], "invalid_code");
  }
  EXPECT_EQ(api("POST", confirm_url(alice_id(), id), boss_token_, R"({"code":5})").status, 400);
  EXPECT_EQ(api("POST", confirm_url(alice_id(), id), boss_token_, R"({})").json()["error"],
            "invalid_request");

  HttpResponse confirmed = confirm(alice_id(), id, std::string(kId) + *hotp_code(secret, 0, 6));
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(confirmed.json()["confirmed"], true);
  EXPECT_EQ(confirmed.json()["id"], id);
  EXPECT_EQ(confirmed.json()["label"], "Desk key");
  EXPECT_EQ(confirmed.json()["email_queued"], true);
  EXPECT_FALSE(confirmed.json().contains("expires_at"));
  EXPECT_FALSE(confirmed.json().contains("secret_hex"));
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);

  HttpResponse again = confirm(alice_id(), id, std::string(kId) + *hotp_code(secret, 1, 6));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["error"], "already_confirmed");

  // Alice signs in typing the key's next output; the code used to confirm is spent.
  ASSERT_TRUE(server_->store().set_two_factor_setting(alice_id(), true));
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_EQ(page.method, "yubikey_hotp");
  EXPECT_EQ(submit_second_factor(page, std::string(kId) + *hotp_code(secret, 0, 6)).status, 401);
  page = open_second_factor_page(url("/login/second-factor?flow=" + page.flow));
  HttpResponse done = submit_second_factor(page, std::string(kId) + *hotp_code(secret, 1, 6));
  ASSERT_EQ(done.status, 302) << done.body;
  const nlohmann::json claims = id_token_claims(code_of(done), pkce);
  EXPECT_EQ(claims["amr"], (nlohmann::json{"pwd", "hwk", "otp", "mfa"}));
}

TEST_F(YubikeyAdminTest, PendingRegistrationExpiresAndIsPurged) {
  HttpResponse begun = begin(alice_id());
  ASSERT_EQ(begun.status, 201) << begun.body;
  const std::string secret = hex_to_bytes(begun.json()["secret_hex"]);
  server_->clock().advance(600);
  HttpResponse late = confirm(alice_id(), begun.json()["id"], std::string(kId) + *hotp_code(secret, 0, 6));
  EXPECT_EQ(late.status, 410) << late.body;
  EXPECT_EQ(late.json()["error"], "registration_expired");
  ASSERT_TRUE(server_->store().purge_expired(server_->clock().now()));
  EXPECT_TRUE(list(alice_id()).empty());
  // The key's identifier is free again.
  EXPECT_EQ(begin(alice_id()).status, 201);
}

TEST_F(YubikeyAdminTest, DeletingAPendingRegistrationLeavesNothingAndEmailsNobody) {
  HttpResponse begun = begin(alice_id());
  ASSERT_EQ(begun.status, 201) << begun.body;
  const int64_t id = begun.json()["id"];
  HttpResponse removed =
      api("DELETE", credentials_url(alice_id()) + "/" + std::to_string(id), boss_token_);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(removed.json()["email_queued"], false);
  EXPECT_TRUE(list(alice_id()).empty());
  EXPECT_TRUE(server_->outbox().mail_for(TestServer::kAliceEmail)->empty());
  EXPECT_EQ(confirm(alice_id(), id, "ubhe12345678123456").status, 404);
}

TEST_F(YubikeyAdminTest, RefusesBadBodiesAndKeysRegisteredToAnother) {
  for (const auto& body : {nlohmann::json{{"provider", "yubikey_hotp"}, {"digits", 7}},
                           nlohmann::json{{"provider", "yubikey_hotp"}, {"token_id", "UBHE1234"}},
                           nlohmann::json{{"provider", "yubikey_hotp"}, {"unknown", 1}}}) {
    HttpResponse r = begin(alice_id(), body);
    EXPECT_EQ(r.status, 400) << body.dump() << r.body;
    EXPECT_EQ(r.json()["error"], "invalid_request");
  }
  ASSERT_EQ(begin(alice_id()).status, 201);
  const int64_t boss = server_->store().user_by_email(acme().id, kBoss)->id;
  HttpResponse taken = begin(boss);
  EXPECT_EQ(taken.status, 409) << taken.body;
  // Members without the permission, and other accounts: as for every credential call.
  EXPECT_EQ(api("POST", credentials_url(alice_id()), member_token_,
                R"({"provider":"yubikey_hotp"})")
                .status,
            403);
  EXPECT_EQ(api("POST", confirm_url(alice_id(), 999999), boss_token_, R"({"code":"123456"})")
                .status,
            404);
}

TEST_F(YubikeyAdminTest, ImportWithSecretIsConfirmedAtOnce) {
  HttpResponse r = begin(alice_id(), {{"provider", "yubikey_hotp"},
                                      {"secret", "3132333435363738393031323334353637383930"},
                                      {"digits", 6},
                                      {"token_id", kId},
                                      {"counter", 3}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["confirmed"], true);
  EXPECT_EQ(r.json()["label"], "YubiKey 12345678");
  EXPECT_FALSE(r.json().contains("secret_hex"));
  EXPECT_EQ(r.body.find("3132333435"), std::string::npos);
  const auto stored = *server_->store().credentials_of_user(alice_id());
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].counter, 2);
  EXPECT_EQ(stored[0].lookup_key, kId);
  EXPECT_EQ(begin(alice_id(), {{"provider", "yubikey_hotp"}, {"secret", "zz"}, {"digits", 6}})
                .status,
            400);
}

}  // namespace
}  // namespace keystep::httptest
