// Security keys (the webauthn provider, issue 13) in the pages of the real server: the
// same-origin ceremony script, the profile's "Add a security key" page with its creation
// options (the relying party, the user handle, the user's keys excluded), the second step's
// ceremony with its request options, plain refusals, and the start-up checks of the
// configuration (webauthn.rp_id, webauthn.attestation_roots). The ceremonies themselves run
// in Chromium: tests/e2e/webauthn.test.mjs.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/crypto/encoding.h"
#include "providers/webauthn/webauthn_provider.h"
#include "tests/http/html_scrape.h"
#include "tests/http/mfa_steps.h"
#include "tests/support/account_mfa.h"
#include "tools/keystep/wiring.h"

namespace keystep::httptest {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The JSON a ceremony form carries in its data-options attribute.
nlohmann::json ceremony_options(const std::string& html) {
  const std::string marker = "data-options=\"";
  const auto at = html.find(marker);
  if (at == std::string::npos) return nullptr;
  const auto end = html.find('"', at + marker.size());
  return nlohmann::json::parse(html_unescape(html.substr(at + marker.size(), end - at - marker.size())),
                               nullptr, false);
}

class WebAuthnPages : public MfaHttpTest {
 protected:
  // Gives alice a confirmed security key as a registration would store it (its public key
  // is never checked here: no signature reaches the server in these tests).
  int64_t give_key(const std::string& credential_id) {
    MfaCredential c;
    c.user_id = server_->alice_id();
    c.provider_id = "webauthn";
    c.params = {{"alg", -7},
                {"public_key", base64url_encode(std::string(64, '\x01'))},
                {"aaguid", "00000000-0000-0000-0000-000000000000"},
                {"fmt", "none"},
                {"attestation", "none"},
                {"backup_eligible", false},
                {"transports", {"usb"}},
                {"user_verification", "discouraged"}};
    c.state = {{"backup_state", false}, {"user_verified", false}};
    c.counter = 5;
    c.confirmed = true;
    c.created_at = server_->clock().now();
    c.lookup_key = credential_id;
    c.label = "Desk key";
    auto sealed = server_->two_factor().sealed(c);
    EXPECT_TRUE(sealed);
    auto added = server_->store().add_credential(*sealed, 10);
    EXPECT_TRUE(added) << added.error().message;
    EXPECT_TRUE(server_->store().set_two_factor_setting(c.user_id, true));
    return added ? added->id : 0;
  }
  // Signs alice in to her profile and adds a security key there: its enable page.
  HttpResponse add_security_key() {
    ProfilePage profile = sign_in_to_profile();
    HttpResponse started = client_.post_form(
        url("/profile/two-factor/add"), {{"csrf_token", profile.csrf_token}, {"method", "webauthn"}},
        &browser_);
    EXPECT_EQ(started.status, 302) << started.body;
    return client_.get(started.location(), &browser_);
  }
};

TEST_F(WebAuthnPages, TheCeremonyScriptIsServedFromTheServersOwnOrigin) {
  HttpResponse script = client_.get(url("/assets/webauthn.js"));
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.header("Content-Type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_EQ(script.header("X-Content-Type-Options").value_or(""), "nosniff");
  EXPECT_TRUE(has(script.body, "navigator.credentials.create")) << script.body;
  EXPECT_TRUE(has(script.body, "navigator.credentials.get")) << script.body;
  EXPECT_EQ(client_.get(url("/assets/other.js")).status, 404);
  EXPECT_EQ(client_.get(url("/assets/../keystep.db")).status, 404);
}

TEST_F(WebAuthnPages, AddingAKeyOffersItsCreationOptions) {
  HttpResponse page = add_security_key();
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_TRUE(has(page.body, "<h1>Enable Two-Factor Authentication</h1>")) << "her first factor";
  EXPECT_TRUE(has(page.body, "data-ceremony=\"create\"")) << page.body;
  EXPECT_TRUE(has(page.body, "<label for=\"label\">Name</label>")) << page.body;
  EXPECT_TRUE(has(page.body, "<script src=\"/assets/webauthn.js\" defer></script>")) << page.body;
  EXPECT_FALSE(has(page.body, "<script>")) << "no inline script";
  EXPECT_TRUE(has(page.body, "Security keys need JavaScript")) << page.body;
  EXPECT_TRUE(has(page.header("Content-Security-Policy").value_or(""), "script-src 'self'"));
  const nlohmann::json options = ceremony_options(page.body);
  ASSERT_TRUE(options.is_object()) << page.body;
  EXPECT_EQ(options["rp"]["id"], "127.0.0.1") << "the issuer's host";
  EXPECT_FALSE(options["rp"]["name"].get<std::string>().empty());
  EXPECT_EQ(options["user"]["id"], base64url_encode(user_handle(server_->alice_id())));
  EXPECT_EQ(options["user"]["name"], TestServer::kAliceEmail);
  EXPECT_EQ(options["excludeCredentials"], nlohmann::json::array());
  EXPECT_EQ(base64url_decode(options["challenge"].get<std::string>())->size(), 32u);
}

TEST_F(WebAuthnPages, ANewKeysRegistrationExcludesTheUsersKeys) {
  give_key("ZGVzay1rZXk");
  auto enrollment = server_->two_factor().begin_enrollment(stored_user(server_->alice_id()),
                                                           "webauthn");
  ASSERT_TRUE(enrollment) << enrollment.error().message;
  const nlohmann::json& options = enrollment->client_options[kOptionCeremony];
  EXPECT_EQ(options["rp"]["id"], "127.0.0.1");
  ASSERT_EQ(options["excludeCredentials"].size(), 1u) << options.dump();
  EXPECT_EQ(options["excludeCredentials"][0]["id"], "ZGVzay1rZXk");
  EXPECT_EQ(options["excludeCredentials"][0]["transports"], nlohmann::json({"usb"}));
}

TEST_F(WebAuthnPages, AMalformedAnswerToTheCreationIsRefusedPlainlyAndTheKeyCanBeTouchedAgain) {
  HttpResponse page = add_security_key();
  ASSERT_EQ(page.status, 200) << page.body;
  const std::string csrf = input_value(page.body, "csrf_token");
  HttpResponse refused = client_.post_form(
      url("/profile/two-factor/enable"),
      {{"csrf_token", csrf}, {"method", "webauthn"}, {"label", "Desk key"}, {"code", "{ not json"}},
      &browser_);
  EXPECT_EQ(refused.status, 401);
  EXPECT_TRUE(has(refused.body, "The security key was refused (the security key&#39;s answer is "
                                "not a WebAuthn credential). Try again."))
      << refused.body;
  EXPECT_EQ(ceremony_options(refused.body)["challenge"], ceremony_options(page.body)["challenge"])
      << "the same registration goes on";

  server_->clock().advance(WebAuthnProvider::kCeremonySeconds + 1);
  HttpResponse late = client_.post_form(
      url("/profile/two-factor/enable"),
      {{"csrf_token", csrf}, {"method", "webauthn"}, {"label", "Desk key"}, {"code", "{}"}},
      &browser_);
  EXPECT_TRUE(has(late.body, "The key took too long to answer.")) << late.body;
  EXPECT_NE(ceremony_options(late.body)["challenge"], ceremony_options(page.body)["challenge"])
      << "a fresh challenge";
}

TEST_F(WebAuthnPages, TheSecondStepRunsTheCeremonyAndRefusesABadAnswerPlainly) {
  give_key("ZGVzay1rZXk");
  SecondFactorPage second = sign_in_to_second_factor(spa_request(make_pkce()));
  const std::string& html = second.response.body;
  EXPECT_EQ(second.method, "webauthn");
  EXPECT_TRUE(has(html, "data-ceremony=\"get\"")) << html;
  EXPECT_TRUE(has(html, "Use your Security key</button>")) << html;
  EXPECT_TRUE(has(html, "<script src=\"/assets/webauthn.js\" defer></script>")) << html;
  const nlohmann::json options = ceremony_options(html);
  ASSERT_TRUE(options.is_object()) << html;
  EXPECT_EQ(options["rpId"], "127.0.0.1");
  EXPECT_EQ(options["userVerification"], "discouraged");
  ASSERT_EQ(options["allowCredentials"].size(), 1u);
  EXPECT_EQ(options["allowCredentials"][0]["id"], "ZGVzay1rZXk");

  // An answer naming a key that is not alice's, longer than any typed code.
  const std::string answer =
      R"({"id":"b3RoZXIta2V5","rawId":"b3RoZXIta2V5","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}})";
  HttpResponse refused = submit_second_factor(second, answer);
  EXPECT_EQ(refused.status, 401);
  EXPECT_TRUE(has(refused.body, "Your security key was not accepted. Use a key registered for you, touch it when it blinks and try again.")) << refused.body;
  EXPECT_TRUE(has(refused.body, "data-ceremony=\"get\"")) << "a fresh ceremony";
}

TEST_F(WebAuthnPages, TheAccountsUserVerificationPolicyReachesTheSignInRequest) {
  give_key("ZGVzay1rZXk");
  auto account = server_->store().account_by_name("acme");
  ASSERT_TRUE(account);
  auto settings = nlohmann::json::parse(account->mfa_settings_json, nullptr, false);
  if (!settings.is_object()) settings = nlohmann::json::object();
  settings["webauthn"] = {{"user_verification", "required"}};
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), account->id, false, settings.dump()));
  SecondFactorPage second = sign_in_to_second_factor(spa_request(make_pkce()));
  EXPECT_EQ(ceremony_options(second.response.body)["userVerification"], "required");
}

TEST(WebAuthnConfiguration, TheRelyingPartyIdAndAttestationRootsAreCheckedAtStartUp) {
  IdpConfig config;
  config.issuer = "https://id.example.com";
  EXPECT_TRUE(builtin_options(config));
  config.webauthn_rp_id = "example.com";
  EXPECT_TRUE(builtin_options(config));
  config.webauthn_rp_id = "example.org";
  auto other = builtin_options(config);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(has(other.error().message, "webauthn.rp_id")) << other.error().message;
  config.webauthn_rp_id = "com";
  EXPECT_FALSE(builtin_options(config));
  config.webauthn_rp_id = "";

  const auto dir = std::filesystem::temp_directory_path() /
                   ("keystep-roots-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  config.webauthn_attestation_roots = (dir / "missing.pem").string();
  auto missing = builtin_options(config);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(has(missing.error().message, "webauthn.attestation_roots: cannot read"))
      << missing.error().message;
  std::ofstream(dir / "junk.pem") << "not a certificate\n";
  config.webauthn_attestation_roots = (dir / "junk.pem").string();
  auto junk = builtin_options(config);
  ASSERT_FALSE(junk);
  EXPECT_TRUE(has(junk.error().message, "junk.pem")) << junk.error().message;

  std::ifstream fixtures(KEYSTEP_WEBAUTHN_FIXTURES);
  const auto recorded = nlohmann::json::parse(fixtures, nullptr, false);
  ASSERT_TRUE(recorded.is_object());
  std::ofstream(dir / "roots.pem") << recorded["attestation_certificate"].get<std::string>();
  config.webauthn_attestation_roots = (dir / "roots.pem").string();
  auto roots = builtin_options(config);
  ASSERT_TRUE(roots) << roots.error().message;
  EXPECT_FALSE(roots->attestation_roots.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keystep::httptest
