// `keystep-enroll fido2` against a real Keystep server on loopback and the tests' software
// security key (tests/support/soft_fido, behind libfido2's I/O functions): the admin API
// begins (201 with the creation options, kept pending 10 minutes), the key makes the
// credential, the confirm call verifies it through the webauthn provider; the same key then
// signs in (through the login pages of a relying party, and the server's second step directly)
// and the server verifies its assertion. Every failure the tool names (no key,
// several keys, wrong PIN, blocked PIN, no PIN source, no touch, a key registered already,
// the API's refusals) leaves nothing registered. The admin API's own answers: the options'
// contents, bodies it refuses, a refused response (400), confirmed twice (409), expired (410).
#include <fcntl.h>
#include <fido.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/crypto/encoding.h"
#include "tests/http/admin_fixture.h"
#include "tests/http/html_scrape.h"
#include "providers/webauthn/webauthn_provider.h"
#include "tests/support/soft_fido/soft_fido.h"
#include "tests/unit/test_util.h"
#include "tools/keystep-enroll/commands.h"
#include "tools/keystep-enroll/fido2_client.h"

namespace keystep::httptest {
namespace {

using testsupport::SoftFido;

[[maybe_unused]] const bool kFidoReady = (fido_init(0), true);

struct Outcome {
  int status = 0;
  std::string out;
  std::string err;
};

class EnrollFido2Test : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    allow({"totp", "webauthn"});
    setenv("KEYSTEP_TOKEN", boss_token_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("KEYSTEP_TOKEN");
    AdminApiTest::TearDown();
  }

  void set_webauthn(const nlohmann::json& settings) {
    HttpResponse r = api("PUT", settings_url(), boss_token_,
                         nlohmann::json{{"webauthn", settings}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  int64_t alice_id() { return server_->alice_id(); }
  std::string credentials_url(int64_t user) {
    return url("/api/v1/accounts/acme/members/" + std::to_string(user) + "/credentials");
  }
  std::string confirm_url(int64_t user, int64_t credential) {
    return credentials_url(user) + "/" + std::to_string(credential) + "/confirm";
  }
  // The member's webauthn credentials as the admin API lists them.
  std::vector<nlohmann::json> security_keys(int64_t user) {
    HttpResponse r = api("GET", credentials_url(user), boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<nlohmann::json> keys;
    const nlohmann::json answer = r.json();
    for (const auto& c : answer["credentials"])
      if (c["provider"] == "webauthn") keys.push_back(c);
    return keys;
  }
  std::string pin_file(const std::string& pin) {
    const std::string path = dir_.file("pin");
    std::ofstream(path) << pin << "\n";
    return path;
  }

  // keystep-enroll fido2 for alice (unless `words` name another --user) with `keys` plugged in.
  Outcome run(std::vector<SoftFido*> keys, std::vector<std::string> words) {
    std::vector<std::string> argv_words = {"keystep-enroll", "fido2",   "--issuer",
                                           server_->issuer(), "--account", "acme"};
    if (std::find(words.begin(), words.end(), "--user") == words.end()) {
      argv_words.push_back("--user");
      argv_words.push_back(TestServer::kAliceEmail);
    }
    argv_words.insert(argv_words.end(), words.begin(), words.end());
    std::vector<char*> argv;
    for (auto& w : argv_words) argv.push_back(w.data());
    std::ostringstream out, err;
    auto* saved_out = std::cout.rdbuf(out.rdbuf());
    auto* saved_err = std::cerr.rdbuf(err.rdbuf());
    const int status = enroll::enroll_main(
        static_cast<int>(argv.size()), argv.data(),
        [] {
          return Result<std::unique_ptr<enroll::YubiKeyDevice>>(
              enroll::open_failure(enroll::OpenFailure::kNoKey));
        },
        enroll::Fido2Keys{testsupport::manifest_of(std::move(keys)), &SoftFido::io()});
    std::cout.rdbuf(saved_out);
    std::cerr.rdbuf(saved_err);
    return {status, out.str(), err.str()};
  }

  // A sign-in's second step with `key`: the server begins the challenge over alice's keys,
  // the key answers it for the issuer's origin, the server verifies the assertion. The amr
  // values on success; the refusal's code otherwise.
  Result<std::vector<std::string>> sign_in_with(SoftFido& key, const char* pin = nullptr) {
    auto alice = server_->store().user_by_id(alice_id());
    if (!alice) return alice.error();
    auto challenge = server_->two_factor().begin_login_challenge(*alice, "webauthn");
    if (!challenge) return challenge.error();
    auto response = testsupport::sign_in(key, challenge->client_options, origin(), pin);
    if (!response) return response.error();
    StepRefusal refusal;
    auto amr = server_->two_factor().verify_login(*alice, "webauthn", *response, "127.0.0.1",
                                                  refusal, *challenge);
    if (!amr) return make_error(refusal.code, refusal.message);
    return amr;
  }
  std::string origin() {
    auto o = enroll::origin_of(server_->issuer());
    EXPECT_TRUE(o);
    return o ? *o : "";
  }
  bool audited(const std::string& event) {
    auto events = server_->store().audit_events(acme().id, 0, 500);
    EXPECT_TRUE(events);
    return events && std::any_of(events->begin(), events->end(),
                                 [&](const AuditEvent& e) { return e.event == event; });
  }

  // The tool failed with exit 1, said `fragment`, and left alice without a security key,
  // pending or not.
  void expect_nothing_registered(const Outcome& outcome, const std::string& fragment,
                                 int status = 1) {
    EXPECT_EQ(outcome.status, status) << outcome.err;
    EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
    EXPECT_TRUE(security_keys(alice_id()).empty());
  }

  testutil::TempDir dir_;
};

TEST_F(EnrollFido2Test, RegistersAKeyThatThenSignsIn) {
  SoftFido key("soft:enroll-plain", {});
  const Outcome done = run({&key}, {});
  ASSERT_EQ(done.status, 0) << done.err;
  EXPECT_NE(done.out.find("Using the security key soft:enroll-plain (Keystep Soft FIDO2)"),
            std::string::npos)
      << done.out;
  EXPECT_NE(done.out.find("Touch the security key"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("Registered the security key for alice@example.com as credential "),
            std::string::npos)
      << done.out;
  EXPECT_EQ(key.touches(), 1);

  const auto keys = security_keys(alice_id());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["confirmed"], true);
  EXPECT_EQ(keys[0]["label"], "Security key");
  EXPECT_FALSE(keys[0].contains("expires_at"));
  // The administrator sees the key's model and how it attested: the soft key's AAGUID, packed
  // self attestation (vouched for by nobody), and never its public key.
  EXPECT_EQ(keys[0]["details"]["aaguid"], "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a");
  EXPECT_EQ(keys[0]["details"]["attestation_format"], "packed");
  EXPECT_EQ(keys[0]["details"]["attestation"], "self");
  EXPECT_EQ(keys[0]["details"]["backup_eligible"], false);
  EXPECT_EQ(keys[0]["possibly_cloned"], false);
  const auto stored = *server_->store().credentials_of_user(alice_id());
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(keys[0].dump().find(stored[0].params["public_key"].get<std::string>()),
            std::string::npos);
  EXPECT_TRUE(audited("mfa.credential_registration_begun_by_admin"));
  EXPECT_TRUE(audited("mfa.credential_registered_by_admin"));
  // The member is told a key was added on their behalf.
  EXPECT_EQ(server_->outbox().mail_for(TestServer::kAliceEmail)->size(), 1u);

  auto amr = sign_in_with(key);
  ASSERT_TRUE(amr) << amr.error().message;
  EXPECT_NE(std::find(amr->begin(), amr->end(), "hwk"), amr->end());
  EXPECT_EQ(key.touches(), 2);
  // Another key holds no credential of alice's: it cannot answer.
  SoftFido stranger("soft:enroll-stranger", {});
  EXPECT_FALSE(sign_in_with(stranger));
}

TEST_F(EnrollFido2Test, TheRegisteredKeySignsInThroughTheLoginPagesOfARelyingParty) {
  SoftFido key("soft:enroll-pages", {});
  ASSERT_EQ(run({&key}, {}).status, 0);
  ASSERT_TRUE(server_->store().set_two_factor_setting(alice_id(), true));
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  ASSERT_EQ(page.method, "webauthn") << page.response.body;
  const nlohmann::json options = nlohmann::json::parse(
      attribute_value(page.response.body, "data-options"), nullptr, false);
  ASSERT_TRUE(options.is_object()) << page.response.body;
  // What the page's script would post after navigator.credentials.get() with this key.
  auto answer = testsupport::sign_in(key, options, origin(), nullptr);
  ASSERT_TRUE(answer) << answer.error().message;
  HttpResponse done = submit_second_factor(page, *answer);
  ASSERT_EQ(done.status, 302) << done.body;
  const nlohmann::json claims = id_token_claims(code_of(done), pkce);
  EXPECT_NE(std::find(claims["amr"].begin(), claims["amr"].end(), "hwk"), claims["amr"].end())
      << claims.dump();
}

TEST_F(EnrollFido2Test, KeyWithPinTakesItFromThePinFileAndKeepsTheLabel) {
  SoftFido key("soft:enroll-pin", {.pin = "4711"});
  const Outcome done =
      run({&key}, {"--pin-file", pin_file("4711"), "--label", "Ada's blue key"});
  ASSERT_EQ(done.status, 0) << done.err;
  const auto keys = security_keys(alice_id());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["label"], "Ada's blue key");
  const auto stored = *server_->store().credentials_of_user(alice_id());
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].state["user_verified"], true);  // the PIN verified the user
  auto amr = sign_in_with(key, "4711");
  ASSERT_TRUE(amr) << amr.error().message;
}

TEST_F(EnrollFido2Test, AccountRequiringUserVerificationRefusesAKeyWithoutPin) {
  set_webauthn({{"user_verification", "required"}});
  SoftFido plain("soft:enroll-uv-plain", {});
  expect_nothing_registered(run({&plain}, {}),
                            "the account requires user verification and this key has no PIN", 2);
  SoftFido with_pin("soft:enroll-uv-pin", {.pin = "4711"});
  ASSERT_EQ(run({&with_pin}, {"--pin-file", pin_file("4711")}).status, 0);
  ASSERT_EQ(security_keys(alice_id()).size(), 1u);
}

TEST_F(EnrollFido2Test, WrongPinSaysTriesLeftAndRegistersNothing) {
  SoftFido key("soft:enroll-wrong-pin", {.pin = "4711"});
  const Outcome refused = run({&key}, {"--pin-file", pin_file("1234")});
  expect_nothing_registered(refused, "wrong PIN (7 tries left before the key blocks its PIN)");
  EXPECT_NE(refused.err.find("; nothing was registered"), std::string::npos) << refused.err;
  EXPECT_EQ(key.touches(), 0);
}

TEST_F(EnrollFido2Test, BlockedPinIsReportedAndRegistersNothing) {
  SoftFido key("soft:enroll-blocked", {.pin = "4711"});
  // Eight wrong PINs block it (a replug after every third, as the key demands).
  for (int i = 0; i < 8; ++i) {
    if (i % 3 == 0) key.replug();
    run({&key}, {"--pin-file", pin_file("0000")});
  }
  ASSERT_EQ(key.pin_retries(), 0);
  key.replug();
  expect_nothing_registered(run({&key}, {"--pin-file", pin_file("4711")}),
                            "the key's PIN is blocked (too many wrong PINs)");
}

TEST_F(EnrollFido2Test, KeyWithPinAndNoWayToAskSaysWhereThePinComesFrom) {
  SoftFido key("soft:enroll-no-tty", {.pin = "4711"});
  // Run in a child without a controlling terminal, so /dev/tty cannot be opened and nobody
  // can be asked, whether or not the test itself runs on a terminal.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::setsid();
    const Outcome outcome = run({&key}, {});
    const std::string report = std::to_string(outcome.status) + "\n" + outcome.err;
    [[maybe_unused]] ssize_t n = ::write(pipe_fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, n);
  ::close(pipe_fds[0]);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  const auto newline = report.find('\n');
  ASSERT_NE(newline, std::string::npos) << report;
  expect_nothing_registered(Outcome{std::stoi(report.substr(0, newline)), "",
                                    report.substr(newline + 1)},
                            "the key has a PIN and none was given; nothing was registered (the "
                            "PIN is read from the terminal, or from the first line of "
                            "--pin-file)");
}

TEST_F(EnrollFido2Test, NoKeyAndSeveralKeysAreRefusedBeforeTheServerIsAsked) {
  expect_nothing_registered(run({}, {}), "no FIDO2 security key found: plug one in");
  SoftFido first("soft:enroll-first", {});
  SoftFido second("soft:enroll-second", {});
  const Outcome several = run({&first, &second}, {});
  expect_nothing_registered(several, "several security keys are plugged in: choose one with --device",
                            2);
  EXPECT_NE(several.err.find("soft:enroll-first"), std::string::npos) << several.err;
  EXPECT_NE(several.err.find("soft:enroll-second"), std::string::npos) << several.err;
  expect_nothing_registered(run({&first, &second}, {"--device", "soft:elsewhere"}),
                            "no security key at soft:elsewhere");
  EXPECT_FALSE(audited("mfa.credential_registration_begun_by_admin"));

  ASSERT_EQ(run({&first, &second}, {"--device", "soft:enroll-second"}).status, 0);
  EXPECT_EQ(first.touches(), 0);
  EXPECT_EQ(second.touches(), 1);
  ASSERT_TRUE(sign_in_with(second));
}

TEST_F(EnrollFido2Test, UntouchedKeyTimesOutAndRegistersNothing) {
  SoftFido key("soft:enroll-untouched", {});
  key.set_touch(false);
  expect_nothing_registered(run({&key}, {}), "the key was not touched in time");
  EXPECT_TRUE(audited("mfa.credential_removed_by_admin"));  // the pending one, removed again
}

TEST_F(EnrollFido2Test, KeyRegisteredAlreadyIsExcluded) {
  SoftFido key("soft:enroll-twice", {});
  ASSERT_EQ(run({&key}, {}).status, 0);
  const Outcome again = run({&key}, {});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("this key is already registered for this user"), std::string::npos)
      << again.err;
  EXPECT_EQ(security_keys(alice_id()).size(), 1u);  // the second pending one removed again
}

TEST_F(EnrollFido2Test, RefusalsOfTheApiSayWhatToDo) {
  SoftFido key("soft:enroll-api", {});
  allow({"totp"});
  expect_nothing_registered(run({&key}, {}),
                            "the account does not allow this kind of key (403: webauthn is not "
                            "in the account's allowed_providers); add webauthn to its "
                            "allowed_providers");
  allow({"totp", "webauthn"});
  expect_nothing_registered(run({&key}, {"--user", "nobody@example.com"}),
                            "no member nobody@example.com in account acme");
  setenv("KEYSTEP_TOKEN", "ks_not-a-token", 1);
  expect_nothing_registered(run({&key}, {}), "the API token was refused (401");
  setenv("KEYSTEP_TOKEN", member_token_.c_str(), 1);
  expect_nothing_registered(run({&key}, {}), "not allowed (403");
  EXPECT_EQ(key.touches(), 0);
}

TEST_F(EnrollFido2Test, BeginAnswersTheCreationOptionsAndKeepsThemTenMinutes) {
  SoftFido held("soft:enroll-held", {});
  ASSERT_EQ(run({&held}, {}).status, 0);
  const int64_t now = server_->clock().now();
  HttpResponse begun = api("POST", credentials_url(alice_id()), boss_token_,
                           R"({"provider":"webauthn","label":"Spare"})");
  ASSERT_EQ(begun.status, 201) << begun.body;
  const nlohmann::json b = begun.json();
  EXPECT_EQ(b["confirmed"], false);
  EXPECT_EQ(b["expires_at"], now + 600);
  const nlohmann::json& options = b["ceremony"];
  EXPECT_EQ(base64url_decode(options["challenge"].get<std::string>())->size(), 32u);
  EXPECT_EQ(options["rp"]["id"], "127.0.0.1");
  EXPECT_EQ(options["user"]["name"], TestServer::kAliceEmail);
  EXPECT_EQ(*base64url_decode(options["user"]["id"].get<std::string>()),
            user_handle(alice_id()));
  EXPECT_EQ(options["pubKeyCredParams"][0]["alg"], -7);
  EXPECT_EQ(options["attestation"], "none");
  EXPECT_GT(options["timeout"], 0);
  ASSERT_EQ(options["excludeCredentials"].size(), 1u);  // the key alice holds
  const auto stored = *server_->store().credentials_of_user(alice_id());
  EXPECT_EQ(options["excludeCredentials"][0]["id"], stored[0].lookup_key);
  // The challenge is kept server-side, not only sent.
  const auto pending = std::find_if(stored.begin(), stored.end(),
                                    [](const MfaCredential& c) { return !c.confirmed; });
  ASSERT_NE(pending, stored.end());
  EXPECT_EQ(pending->state["challenge"], options["challenge"]);
}

TEST_F(EnrollFido2Test, ConfirmRefusesBadBodiesAndResponsesAndExpires) {
  for (const char* body : {R"({"provider":"webauthn","label":""})",
                           R"({"provider":"webauthn","digits":6})",
                           R"({"provider":"webauthn","label":5})"}) {
    HttpResponse refused = api("POST", credentials_url(alice_id()), boss_token_, body);
    EXPECT_EQ(refused.status, 400) << body << " " << refused.body;
    EXPECT_EQ(refused.json()["error"], "invalid_request") << body;
  }
  HttpResponse begun =
      api("POST", credentials_url(alice_id()), boss_token_, R"({"provider":"webauthn"})");
  ASSERT_EQ(begun.status, 201) << begun.body;
  const int64_t id = begun.json()["id"];
  for (const char* body : {R"({})", R"({"response":"text"})", R"({"response":{},"code":"1"})"}) {
    HttpResponse refused = api("POST", confirm_url(alice_id(), id), boss_token_, body);
    EXPECT_EQ(refused.status, 400) << body;
    EXPECT_EQ(refused.json()["error"], "invalid_request") << body;
  }
  HttpResponse garbage = api("POST", confirm_url(alice_id(), id), boss_token_,
                             R"({"response":{"type":"public-key","id":"AAAA"}})");
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_EQ(garbage.json()["error"], "invalid_code");
  EXPECT_TRUE(audited("mfa.credential_confirmation_refused"));

  // A response the key made for this challenge, confirmed: the second time is 409.
  SoftFido key("soft:enroll-confirm", {});
  auto made = enroll::fido2_register(
      enroll::Fido2Keys{testsupport::manifest_of({&key}), &SoftFido::io()},
      enroll::Fido2Request{begun.json()["ceremony"], origin(), ""}, [](int) {
        return std::optional<std::string>();
      });
  ASSERT_TRUE(made) << made.error().message;
  const std::string body = nlohmann::json{{"response", nlohmann::json::parse(*made)}}.dump();
  // For another origin (the port differs) it is refused.
  {
    HttpResponse other = api("POST", credentials_url(alice_id()), boss_token_,
                             R"({"provider":"webauthn"})");
    ASSERT_EQ(other.status, 201);
    auto elsewhere = enroll::fido2_register(
        enroll::Fido2Keys{testsupport::manifest_of({&key}), &SoftFido::io()},
        enroll::Fido2Request{other.json()["ceremony"], "http://127.0.0.1:1", ""},
        [](int) { return std::optional<std::string>(); });
    ASSERT_TRUE(elsewhere) << elsewhere.error().message;
    HttpResponse refused =
        api("POST", confirm_url(alice_id(), other.json()["id"]), boss_token_,
            nlohmann::json{{"response", nlohmann::json::parse(*elsewhere)}}.dump());
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(refused.json()["error"], "invalid_code");
  }
  // Beginning again replaced the first pending registration: its id is gone.
  EXPECT_EQ(api("POST", confirm_url(alice_id(), id), boss_token_, body).status, 404);

  HttpResponse third =
      api("POST", credentials_url(alice_id()), boss_token_, R"({"provider":"webauthn"})");
  ASSERT_EQ(third.status, 201);
  const int64_t third_id = third.json()["id"];
  auto answer = enroll::fido2_register(
      enroll::Fido2Keys{testsupport::manifest_of({&key}), &SoftFido::io()},
      enroll::Fido2Request{third.json()["ceremony"], origin(), ""},
      [](int) { return std::optional<std::string>(); });
  ASSERT_TRUE(answer);
  const std::string third_body =
      nlohmann::json{{"response", nlohmann::json::parse(*answer)}}.dump();
  HttpResponse confirmed = api("POST", confirm_url(alice_id(), third_id), boss_token_, third_body);
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(confirmed.json()["confirmed"], true);
  EXPECT_EQ(confirmed.json()["email_queued"], true);
  HttpResponse again = api("POST", confirm_url(alice_id(), third_id), boss_token_, third_body);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["error"], "already_confirmed");

  // Past the ceremony's five minutes the key's answer comes too late (410), and past ten
  // minutes the pending registration itself has expired (410).
  SoftFido spare("soft:enroll-late", {});
  for (int64_t wait : {int64_t{301}, int64_t{600}}) {
    HttpResponse late =
        api("POST", credentials_url(alice_id()), boss_token_, R"({"provider":"webauthn"})");
    ASSERT_EQ(late.status, 201);
    auto made_late = enroll::fido2_register(
        enroll::Fido2Keys{testsupport::manifest_of({&spare}), &SoftFido::io()},
        enroll::Fido2Request{late.json()["ceremony"], origin(), ""},
        [](int) { return std::optional<std::string>(); });
    ASSERT_TRUE(made_late);
    server_->clock().advance(wait);
    HttpResponse expired =
        api("POST", confirm_url(alice_id(), late.json()["id"]), boss_token_,
            nlohmann::json{{"response", nlohmann::json::parse(*made_late)}}.dump());
    EXPECT_EQ(expired.status, 410) << wait << " " << expired.body;
    EXPECT_EQ(expired.json()["error"], "registration_expired");
  }
}

}  // namespace
}  // namespace keystep::httptest
