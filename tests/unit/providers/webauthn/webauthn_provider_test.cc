#include "providers/webauthn/webauthn_provider.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/crypto/encoding.h"

namespace keystep {
namespace {

// Registrations and assertions recorded from Chromium's virtual authenticators by
// tests/e2e/webauthn/record_fixtures.mjs, each with the verdict the provider must reach
// (the cross-check tests/e2e/webauthn_crosscheck.test.mjs holds @simplewebauthn/server to
// the same verdicts).
const nlohmann::json& fixtures() {
  static const nlohmann::json loaded = [] {
    std::ifstream in(KEYSTEP_WEBAUTHN_FIXTURES);
    return nlohmann::json::parse(in, nullptr, false);
  }();
  return loaded;
}

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kUserId = 42;  // the fixtures' user handle is this id's 8 bytes

class CountingRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(next_++);
    return {};
  }

 private:
  unsigned next_ = 1;
};

class FailingRandom final : public Random {
 public:
  Status fill(unsigned char*, size_t) override {
    return make_error(ErrorCode::kUnavailable, "no entropy");
  }
};

const nlohmann::json& find_case(const char* list, std::string_view name) {
  for (const auto& c : fixtures()[list]) {
    if (c["name"] == name) return c;
  }
  ADD_FAILURE() << "no fixture " << list << " " << name;
  static const nlohmann::json none;
  return none;
}

// Member by member: ChallengeContext grows members the provider does not read.
ChallengeContext context_at(std::string rp_id, std::string origin) {
  ChallengeContext context;
  context.now = kNow;
  context.rp_id = std::move(rp_id);
  context.origin = std::move(origin);
  return context;
}

ChallengeContext context_for(const nlohmann::json& c) {
  return context_at(c.value("rp_id", fixtures()["rp_id"].get<std::string>()),
                    c.value("origin", fixtures()["origin"].get<std::string>()));
}

template <class T>
std::string verdict(const Result<T>& r) {
  return r ? "accept" : std::string(error_code_name(r.error().code));
}

// Why each refused fixture case is refused: a fragment of the provider's message, so that a
// case refused for another reason (a variant whose re-signing broke) fails its test.
std::string because(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> reasons = {
      {"wrong_challenge", "challenge is not this ceremony's"},
      {"origin_port", "origin is not this server's origin"},
      {"rp_id_hash", "rpIdHash"},
      {"cross_origin", "crossOrigin is set"},
      {"none_cross_origin", "crossOrigin is set"},
      {"type_create", "type is not webauthn.get"},
      {"none_type_get", "type is not webauthn.create"},
      {"uv_required_without_uv", "did not verify the user"},
      {"uv_required_bad_uv", "did not verify the user"},
      {"up_zero", "user presence"},
      {"bad_signature", "signature does not verify"},
      {"packed_self_bad_signature", "signature does not verify"},
      {"unknown_credential", "not registered for you"},
      {"replay", "already used"},
      {"counter_regression", "counter went backwards"}};
  const auto it = reasons.find(name);
  return it == reasons.end() ? "(no reason listed for this case)" : it->second;
}

void expect_verdict(const nlohmann::json& c, const Result<MfaCredential>& result) {
  EXPECT_EQ(verdict(result), c["expect"]) << (result ? "" : result.error().message);
  if (!result) {
    EXPECT_NE(result.error().message.find(because(c["name"].get<std::string>())), std::string::npos)
        << result.error().message;
  }
}

class WebAuthnProviderTest : public ::testing::Test {
 protected:
  WebAuthnProviderTest() : provider_(random_, webauthn::AttestationRoots()) {}

  static webauthn::AttestationRoots chromium_roots() {
    auto roots = webauthn::AttestationRoots::from_pem(
        {fixtures()["attestation_certificate"].get<std::string>()});
    EXPECT_TRUE(roots) << roots.error().message;
    return *roots;
  }

  // The pending credential begin_enrollment would have made for the case's challenge.
  static MfaCredential pending_for(const nlohmann::json& c, nlohmann::json settings = {}) {
    MfaCredential pending;
    pending.user_id = kUserId;
    pending.provider_id = "webauthn";
    if (settings.is_null()) settings = {{"user_verification", c["user_verification"]}};
    pending.params = settings;
    pending.state = {{"challenge", c["challenge"]}, {"view", {{"kept", true}}}};
    pending.created_at = kNow - 10;
    return pending;
  }

  Result<MfaCredential> finish(WebAuthnProvider& provider, const nlohmann::json& c,
                               nlohmann::json settings = {}) {
    return provider.finish_enrollment(pending_for(c, std::move(settings)), c["response"].dump(),
                                      context_for(c));
  }

  // A confirmed credential of the named registration, as stored after `stored_count`.
  MfaCredential registered(std::string_view name) {
    auto confirmed = finish(provider_, find_case("registrations", name));
    EXPECT_TRUE(confirmed) << name << ": " << confirmed.error().message;
    return confirmed ? *confirmed : MfaCredential{};
  }

  Result<MfaCredential> verify_case(const nlohmann::json& c) {
    MfaCredential credential = registered(c["registration"].get<std::string>());
    credential.counter = c["stored_count"].get<int64_t>();
    credential.params["user_verification"] = c["user_verification"];
    if (c.contains("last_challenge")) credential.state["last_challenge"] = c["last_challenge"];
    Challenge challenge;
    challenge.server_state = c["challenge"].get<std::string>();
    challenge.expires_at = kNow + 60;
    return provider_.verify(credential, challenge, c["response"].dump(), context_for(c));
  }

  CountingRandom random_;
  WebAuthnProvider provider_;
};

TEST_F(WebAuthnProviderTest, FixturesWereRecorded) {
  ASSERT_TRUE(fixtures().is_object()) << "tests/fixtures/webauthn/fixtures.json is missing";
  EXPECT_GE(fixtures()["registrations"].size(), 10u);
  EXPECT_GE(fixtures()["assertions"].size(), 15u);
}

TEST_F(WebAuthnProviderTest, EveryRecordedRegistrationGetsItsVerdict) {
  for (const auto& c : fixtures()["registrations"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto result = finish(provider_, c);
    expect_verdict(c, result);
    if (result && c.contains("attestation")) {
      EXPECT_EQ(result->params["attestation"], c["attestation"]);
    }
  }
}

TEST_F(WebAuthnProviderTest, EveryRecordedAssertionGetsItsVerdict) {
  for (const auto& c : fixtures()["assertions"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    expect_verdict(c, verify_case(c));
  }
}

TEST_F(WebAuthnProviderTest, ConfirmedCredentialHoldsTheKeyAndItsFacts) {
  const auto& c = find_case("registrations", "packed_full");
  auto confirmed = finish(provider_, c);
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  EXPECT_TRUE(confirmed->confirmed);
  EXPECT_TRUE(confirmed->secret.empty());
  EXPECT_EQ(confirmed->lookup_key, c["response"]["id"]);
  EXPECT_EQ(confirmed->label, "Security key");
  EXPECT_EQ(confirmed->last_used_at, kNow);
  EXPECT_EQ(confirmed->params["alg"], -7);
  EXPECT_EQ(confirmed->params["fmt"], "packed");
  EXPECT_EQ(confirmed->params["attestation"], "basic");  // no roots configured
  EXPECT_EQ(confirmed->params["transports"], nlohmann::json::array({"usb"}));
  EXPECT_EQ(confirmed->params["backup_eligible"], false);
  EXPECT_EQ(confirmed->params["public_key"].get<std::string>().size(), 86u);  // 64 bytes
  EXPECT_EQ(confirmed->params["aaguid"].get<std::string>().size(), 36u);
  EXPECT_FALSE(confirmed->state.contains("challenge"));
  EXPECT_TRUE(confirmed->state.contains("view")) << "the core's members are kept";
  EXPECT_EQ(confirmed->state["backup_state"], false);
  EXPECT_GE(confirmed->counter, 0);
}

TEST_F(WebAuthnProviderTest, EdDsaAndRs256KeysAreStoredWithTheirAlgorithm) {
  EXPECT_EQ(registered("packed_eddsa").params["alg"], -8);
  EXPECT_EQ(registered("packed_rs256").params["alg"], -257);
  EXPECT_EQ(registered("fido_u2f").params["fmt"], "fido-u2f");
  EXPECT_EQ(registered("packed_self").params["attestation"], "self");
  EXPECT_EQ(registered("none").params["attestation"], "none");
}

TEST_F(WebAuthnProviderTest, TrustedAttestationNeedsAChainToAConfiguredRoot) {
  WebAuthnProvider trusting(random_, chromium_roots());
  const nlohmann::json policy = {{"attestation", "trusted"}};
  auto full = finish(trusting, find_case("registrations", "packed_full"), policy);
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->params["attestation"], "trusted");
  EXPECT_EQ(full->params["user_verification"], "discouraged");
  for (const char* weaker : {"packed_self", "none"}) {
    auto refused = finish(trusting, find_case("registrations", weaker), policy);
    ASSERT_FALSE(refused) << weaker;
    EXPECT_EQ(refused.error().code, ErrorCode::kDenied) << weaker;
  }
  // Without the root the same registration only reaches "basic", which the policy refuses.
  WebAuthnProvider other(random_, webauthn::AttestationRoots());
  auto untrusted = finish(other, find_case("registrations", "packed_full"), policy);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, ErrorCode::kInternal) << "settings this server cannot hold";
}

TEST_F(WebAuthnProviderTest, AaguidAllowListHoldsOnlyForVerifiedAttestation) {
  WebAuthnProvider trusting(random_, chromium_roots());
  const auto& full = find_case("registrations", "packed_full");
  const std::string chromium_aaguid = registered("packed_full").params["aaguid"];
  std::string upper = chromium_aaguid;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto allowed = finish(trusting, full, {{"attestation", "trusted"}, {"aaguids", {upper}}});
  ASSERT_TRUE(allowed) << allowed.error().message;

  auto other_model =
      finish(trusting, full,
             {{"attestation", "trusted"}, {"aaguids", {"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}});
  ASSERT_FALSE(other_model);
  EXPECT_EQ(other_model.error().code, ErrorCode::kDenied);
  EXPECT_EQ(other_model.error().message,
            "this model of security key is not allowed in your account");

  // Self attestation can claim any AAGUID: it never passes an allow-list, even one holding
  // the AAGUID it claims (the zero AAGUID of the recorded key here).
  auto self =
      finish(trusting, find_case("registrations", "packed_self"),
             {{"attestation", "trusted"}, {"aaguids", {"00000000-0000-0000-0000-000000000000"}}});
  ASSERT_FALSE(self);
  EXPECT_EQ(self.error().code, ErrorCode::kDenied);
}

TEST_F(WebAuthnProviderTest, RegistrationRequiresUserVerificationWhenThePolicyDoes) {
  auto refused =
      finish(provider_, find_case("registrations", "none"), {{"user_verification", "required"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_NE(refused.error().message.find("verify the user"), std::string::npos);
}

TEST_F(WebAuthnProviderTest, FinishEnrollmentRefusesConfirmedExpiredAndMalformed) {
  const auto& c = find_case("registrations", "none");
  MfaCredential pending = pending_for(c);
  pending.confirmed = true;
  auto confirmed = provider_.finish_enrollment(pending, c["response"].dump(), context_for(c));
  ASSERT_FALSE(confirmed);
  EXPECT_EQ(confirmed.error().code, ErrorCode::kConflict);

  pending = pending_for(c);
  pending.created_at = kNow - WebAuthnProvider::kCeremonySeconds - 1;
  auto expired = provider_.finish_enrollment(pending, c["response"].dump(), context_for(c));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kExpired);

  for (const std::string bad : {"", "123456", "{}", R"({"type":"public-key","id":"AA"})",
                                R"({"type":"public-key","id":"!!","response":{}})"}) {
    auto malformed = provider_.finish_enrollment(pending_for(c), bad, context_for(c));
    ASSERT_FALSE(malformed) << bad;
    EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  // A browser's answer padded past 64 kB: refused before it is parsed.
  auto oversized = provider_.finish_enrollment(
      pending_for(c), c["response"].dump() + std::string(64 * 1024, ' '), context_for(c));
  ASSERT_FALSE(oversized);
  EXPECT_EQ(oversized.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(
      provider_.finish_enrollment(pending_for(c), c["response"].dump() + "  ", context_for(c)));

  nlohmann::json other_id = c["response"];
  other_id["id"] = other_id["rawId"] = base64url_encode("another credential");
  auto mismatch = provider_.finish_enrollment(pending_for(c), other_id.dump(), context_for(c));
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(WebAuthnProviderTest, BeginRegistrationOffersTheCreationOptions) {
  MfaCredential held = registered("packed_full");
  MfaCredential pending_other;  // not confirmed: not excluded
  pending_other.provider_id = "webauthn";
  pending_other.lookup_key = "xyz";
  const std::vector<MfaCredential> existing = {held, pending_other};
  auto enrollment = provider_.begin_enrollment_in_context(
      {kUserId, 7, "ada@example.com", "Harness-Inc"}, {{"user_verification", "preferred"}},
      existing, context_at("id.example.com", "https://id.example.com"));
  ASSERT_TRUE(enrollment) << enrollment.error().message;
  const auto& options = enrollment->client_options[kOptionCeremony];
  EXPECT_EQ(options["rp"], (nlohmann::json{{"name", "Harness-Inc"}, {"id", "id.example.com"}}));
  EXPECT_EQ(options["user"]["id"], fixtures()["user_handle"]);
  EXPECT_EQ(options["user"]["name"], "ada@example.com");
  auto challenge = base64url_decode(options["challenge"].get<std::string>());
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->size(), 32u);
  EXPECT_EQ(options["pubKeyCredParams"][0]["alg"], -7);
  EXPECT_EQ(options["pubKeyCredParams"].size(), 3u);
  EXPECT_EQ(options["excludeCredentials"],
            (nlohmann::json::array(
                {{{"type", "public-key"}, {"id", held.lookup_key}, {"transports", {"usb"}}}})));
  EXPECT_EQ(options["authenticatorSelection"]["userVerification"], "preferred");
  EXPECT_EQ(options["authenticatorSelection"]["residentKey"], "discouraged");
  EXPECT_EQ(options["attestation"], "none");
  EXPECT_EQ(options["timeout"], WebAuthnProvider::kCeremonySeconds * 1000);
  EXPECT_FALSE(enrollment->holds_secret);
  EXPECT_EQ(enrollment->input.kind, InputKind::kBrowserCeremony);
  EXPECT_EQ(enrollment->input.script, "/assets/webauthn.js");
  EXPECT_FALSE(enrollment->pending.confirmed);
  EXPECT_EQ(enrollment->pending.state["challenge"], options["challenge"]);
  EXPECT_EQ(enrollment->pending.params["user_verification"], "preferred");
  EXPECT_EQ(enrollment->pending.created_at, kNow);

  auto second = provider_.begin_enrollment({kUserId, 7, "ada@example.com", "Harness-Inc"}, {});
  ASSERT_TRUE(second);
  EXPECT_NE(second->client_options[kOptionCeremony]["challenge"], options["challenge"]);
  EXPECT_FALSE(second->client_options[kOptionCeremony]["rp"].contains("id"));
}

TEST_F(WebAuthnProviderTest, BeginRegistrationRefusesBadInput) {
  auto no_email = provider_.begin_enrollment({kUserId, 7, "", "Harness-Inc"}, {});
  ASSERT_FALSE(no_email);
  EXPECT_EQ(no_email.error().code, ErrorCode::kInvalidArgument);
  auto bad_settings =
      provider_.begin_enrollment({kUserId, 7, "a@b", "X"}, {{"user_verification", "always"}});
  ASSERT_FALSE(bad_settings);
  EXPECT_EQ(bad_settings.error().code, ErrorCode::kInvalidArgument);
  FailingRandom failing;
  WebAuthnProvider broken(failing, webauthn::AttestationRoots());
  auto no_entropy = broken.begin_enrollment({kUserId, 7, "a@b", "X"}, {});
  ASSERT_FALSE(no_entropy);
  EXPECT_EQ(no_entropy.error().code, ErrorCode::kUnavailable);
}

TEST_F(WebAuthnProviderTest, SettingsAreValidatedAndNormalized) {
  const nlohmann::json defaults = {{"user_verification", "discouraged"},
                                   {"attestation", "none"},
                                   {"aaguids", nlohmann::json::array()}};
  EXPECT_EQ(provider_.default_settings(), defaults);
  EXPECT_EQ(*provider_.validate_settings(nlohmann::json::object()), defaults);
  EXPECT_EQ(*provider_.validate_settings(nullptr), defaults);
  EXPECT_EQ(
      (*provider_.validate_settings({{"user_verification", "required"}}))["user_verification"],
      "required");
  const std::vector<std::pair<nlohmann::json, std::string>> refused = {
      {{{"user_verification", "sometimes"}},
       "webauthn.user_verification must be discouraged, preferred or required"},
      {{{"attestation", "direct"}}, "webauthn.attestation must be none or trusted"},
      {{{"attestation", "trusted"}},
       "webauthn.attestation trusted needs attestation roots configured on the server"},
      {{{"aaguids", {"not-an-aaguid"}}},
       "webauthn.aaguids entries must be AAGUIDs like cb69481e-8ff7-4039-93ec-0a2729a154a8"},
      {{{"rp_id", "x"}}, "unknown member webauthn.rp_id"},
      {"none", "webauthn must be an object"},
  };
  for (const auto& [settings, message] : refused) {
    auto result = provider_.validate_settings(settings);
    ASSERT_FALSE(result) << settings;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message, message);
  }

  WebAuthnProvider trusting(random_, chromium_roots());
  auto list = trusting.validate_settings(
      {{"attestation", "trusted"},
       {"aaguids",
        {"CB69481E-8FF7-4039-93EC-0A2729A154A8", "cb69481e-8ff7-4039-93ec-0a2729a154a8"}}});
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ((*list)["aaguids"], nlohmann::json::array({"cb69481e-8ff7-4039-93ec-0a2729a154a8"}));
  auto unverified =
      trusting.validate_settings({{"aaguids", {"cb69481e-8ff7-4039-93ec-0a2729a154a8"}}});
  ASSERT_FALSE(unverified);
  EXPECT_EQ(unverified.error().message,
            "webauthn.aaguids needs webauthn.attestation trusted: a key's model is believed "
            "only from a verified attestation");
  EXPECT_EQ(trusting.describe_settings().fields[1].choices.size(), 2u);
  EXPECT_EQ(provider_.describe_settings().fields[1].choices.size(), 1u);
}

TEST_F(WebAuthnProviderTest, AttestationRootsRefuseTextWithoutACertificate) {
  auto bad = webauthn::AttestationRoots::from_pem({"not a certificate"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "attestation root 0 is not a PEM certificate");
  EXPECT_TRUE(webauthn::AttestationRoots().empty());
  EXPECT_FALSE(chromium_roots().empty());
}

TEST_F(WebAuthnProviderTest, BeginChallengeAllowsTheUsersKeys) {
  MfaCredential a = registered("packed_full");
  MfaCredential b = registered("fido_u2f");
  b.params["user_verification"] = "required";
  const std::vector<MfaCredential> keys = {a, b};
  auto challenge = provider_.begin_challenge(keys, context_at("localhost", "http://localhost"));
  ASSERT_TRUE(challenge) << challenge.error().message;
  auto bytes = base64url_decode(challenge->server_state);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 32u);
  EXPECT_EQ(challenge->expires_at, kNow + WebAuthnProvider::kCeremonySeconds);
  const auto& options = challenge->client_options;
  EXPECT_EQ(options["challenge"], challenge->server_state);
  EXPECT_EQ(options["rpId"], "localhost");
  EXPECT_EQ(options["userVerification"], "required") << "the strictest policy wins";
  ASSERT_EQ(options["allowCredentials"].size(), 2u);
  EXPECT_EQ(options["allowCredentials"][0]["id"], a.lookup_key);
  EXPECT_EQ(options["allowCredentials"][1]["id"], b.lookup_key);
  EXPECT_EQ(challenge->input.kind, InputKind::kBrowserCeremony);

  MfaCredential foreign = a;
  foreign.provider_id = "totp";
  const std::vector<MfaCredential> wrong = {foreign};
  auto refused = provider_.begin_challenge(wrong, context_at("localhost", "http://localhost"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
}

TEST_F(WebAuthnProviderTest, LookupKeyIsTheResponsesCredentialId) {
  const auto& c = find_case("assertions", "packed_ok");
  EXPECT_EQ(provider_.lookup_key(c["response"].dump()), registered("packed_full").lookup_key);
  EXPECT_EQ(provider_.lookup_key("123456"), std::nullopt);
  EXPECT_EQ(provider_.lookup_key(R"({"type":"public-key","id":"a+b","response":{}})"),
            std::nullopt);
  nlohmann::json other_raw = c["response"];
  other_raw["rawId"] = "AAAA";
  EXPECT_EQ(provider_.lookup_key(other_raw.dump()), std::nullopt);
}

TEST_F(WebAuthnProviderTest, AcceptedAssertionUpdatesCounterAndReplayGuard) {
  const auto& c = find_case("assertions", "packed_ok");
  MfaCredential credential = registered("packed_full");
  credential.counter = 0;
  Challenge challenge;
  challenge.server_state = c["challenge"].get<std::string>();
  challenge.expires_at = kNow + 60;
  auto updated = provider_.verify(credential, challenge, c["response"].dump(), context_for(c));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_GT(updated->counter, 0);
  EXPECT_EQ(updated->last_used_at, kNow);
  EXPECT_EQ(updated->state["last_challenge"], challenge.server_state);
  EXPECT_EQ(updated->state["user_verified"], false) << "asked with userVerification discouraged";
  EXPECT_EQ(updated->lookup_key, credential.lookup_key);

  // The same assertion again, against the credential as stored after the first use.
  auto again = provider_.verify(*updated, challenge, c["response"].dump(), context_for(c));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kReplayed);
}

TEST_F(WebAuthnProviderTest, UserVerificationIsRecordedForTheAmr) {
  const auto& c = find_case("assertions", "uv_required_with_uv");
  auto updated = verify_case(c);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->state["user_verified"], true);
}

TEST_F(WebAuthnProviderTest, AmrNamesUserAndPinOnlyWhenTheKeyVerifiedItsUser) {
  auto verified = verify_case(find_case("assertions", "uv_required_with_uv"));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(provider_.amr_of(*verified), (std::vector<std::string>{"hwk", "user", "pin"}));
  auto touched = verify_case(find_case("assertions", "packed_ok"));
  ASSERT_TRUE(touched) << touched.error().message;
  EXPECT_EQ(provider_.amr_of(*touched), std::vector<std::string>{"hwk"});
}

// A key registered while the account did not ask for user verification is held to the
// account's policy once it does: the request asks for it and an answer without it is refused.
TEST_F(WebAuthnProviderTest, TheAccountsCurrentUserVerificationPolicyHolds) {
  const auto& c = find_case("assertions", "uv_required_without_uv");
  MfaCredential credential = registered(c["registration"].get<std::string>());
  credential.counter = c["stored_count"].get<int64_t>();
  credential.params["user_verification"] = "discouraged";
  ChallengeContext context = context_for(c);
  context.settings = {{"user_verification", "required"}};
  const std::vector<MfaCredential> keys = {credential};
  auto begun = provider_.begin_challenge(keys, context);
  ASSERT_TRUE(begun) << begun.error().message;
  EXPECT_EQ(begun->client_options["userVerification"], "required");

  Challenge challenge;
  challenge.server_state = c["challenge"].get<std::string>();
  challenge.expires_at = kNow + 60;
  auto refused = provider_.verify(credential, challenge, c["response"].dump(), context);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  context.settings = {{"user_verification", "preferred"}};
  EXPECT_TRUE(provider_.verify(credential, challenge, c["response"].dump(), context));

  context.settings = {{"user_verification", "always"}};
  auto corrupt = provider_.begin_challenge(keys, context);
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(WebAuthnProviderTest, KeysWithoutACounterPassAtZero) {
  const auto& c = find_case("assertions", "none_ok");
  MfaCredential credential = registered("none");
  credential.counter = 0;
  Challenge challenge{c["challenge"].get<std::string>(), {}, kNow + 60, {}};
  auto updated = provider_.verify(credential, challenge, c["response"].dump(), context_for(c));
  ASSERT_TRUE(updated) << updated.error().message;
}

TEST_F(WebAuthnProviderTest, VerifyRefusesExpiredChallengeAndAnotherUsersHandle) {
  const auto& c = find_case("assertions", "packed_ok");
  MfaCredential credential = registered("packed_full");
  credential.counter = 0;
  Challenge challenge{c["challenge"].get<std::string>(), {}, kNow - 1, {}};
  auto expired = provider_.verify(credential, challenge, c["response"].dump(), context_for(c));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kExpired);

  challenge.expires_at = kNow + 60;
  nlohmann::json with_handle = c["response"];
  with_handle["response"]["userHandle"] = base64url_encode(user_handle(kUserId + 1));
  auto other_user = provider_.verify(credential, challenge, with_handle.dump(), context_for(c));
  ASSERT_FALSE(other_user);
  EXPECT_EQ(other_user.error().code, ErrorCode::kDenied);
  for (const nlohmann::json& handle :
       {fixtures()["user_handle"], nlohmann::json(""), nlohmann::json(nullptr)}) {
    with_handle["response"]["userHandle"] = handle;
    EXPECT_TRUE(provider_.verify(credential, challenge, with_handle.dump(), context_for(c)))
        << handle;
  }
  with_handle["response"]["userHandle"] = 7;
  auto not_text = provider_.verify(credential, challenge, with_handle.dump(), context_for(c));
  ASSERT_FALSE(not_text);
  EXPECT_EQ(not_text.error().code, ErrorCode::kInvalidArgument);

  auto malformed = provider_.verify(credential, challenge, "123456", context_for(c));
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);

  for (const char* member : {"public_key", "alg", "backup_eligible", "user_verification"}) {
    MfaCredential broken = credential;
    broken.params.erase(member);
    auto internal = provider_.verify(broken, challenge, c["response"].dump(), context_for(c));
    ASSERT_FALSE(internal) << member;
    EXPECT_EQ(internal.error().code, ErrorCode::kInternal) << member;
  }
  MfaCredential odd_policy = credential;
  odd_policy.params["user_verification"] = "sometimes";
  auto odd = provider_.verify(odd_policy, challenge, c["response"].dump(), context_for(c));
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, ErrorCode::kInternal);
}

TEST_F(WebAuthnProviderTest, BackupEligibilityMayNotChange) {
  const auto& c = find_case("assertions", "packed_ok");
  MfaCredential credential = registered("packed_full");
  credential.counter = 0;
  credential.params["backup_eligible"] = true;
  Challenge challenge{c["challenge"].get<std::string>(), {}, kNow + 60, {}};
  auto refused = provider_.verify(credential, challenge, c["response"].dump(), context_for(c));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
}

TEST_F(WebAuthnProviderTest, UserHandleIsTheUserIdBigEndian) {
  EXPECT_EQ(base64url_encode(user_handle(kUserId)), fixtures()["user_handle"]);
  EXPECT_EQ(user_handle(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
}

// The AAGUID of Chromium's CTAP2 virtual authenticator (device/fido/virtual_fido_device.cc),
// which the fixtures' packed registrations carry.
constexpr const char* kChromiumAaguid = "01020304-0506-0708-0102-030405060708";

TEST_F(WebAuthnProviderTest, PublicDetailsOfAPackedKeyNameItsModelAndAttestation) {
  const nlohmann::json details = provider_.public_details(registered("packed_full"));
  EXPECT_EQ(details, (nlohmann::json{{"aaguid", kChromiumAaguid},
                                     {"attestation_format", "packed"},
                                     {"attestation", "basic"},
                                     {"user_verified", true},
                                     {"backup_eligible", false},
                                     {"backed_up", false},
                                     {"transports", {"usb"}}}));
  // Against the attestation certificate as a root, the same key is vouched for.
  WebAuthnProvider trusting(random_, chromium_roots());
  auto confirmed = finish(trusting, find_case("registrations", "packed_full"));
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  EXPECT_EQ(trusting.public_details(*confirmed)["attestation"], "trusted");
  EXPECT_EQ(trusting.public_details(*confirmed)["aaguid"], kChromiumAaguid);
}

TEST_F(WebAuthnProviderTest, PublicDetailsOfU2fNoneAndSelfAttestedKeysNameNoModel) {
  const nlohmann::json u2f = provider_.public_details(registered("fido_u2f"));
  EXPECT_EQ(u2f["aaguid"], nullptr);
  EXPECT_EQ(u2f["attestation_format"], "fido-u2f");
  EXPECT_EQ(u2f["attestation"], "basic");
  const nlohmann::json none = provider_.public_details(registered("none"));
  EXPECT_EQ(none["aaguid"], nullptr);
  EXPECT_EQ(none["attestation_format"], "none");
  EXPECT_EQ(none["attestation"], "none");
  EXPECT_EQ(none["user_verified"], false);
  const nlohmann::json self = provider_.public_details(registered("packed_self"));
  EXPECT_EQ(self["attestation_format"], "packed");
  EXPECT_EQ(self["attestation"], "self");
}

TEST_F(WebAuthnProviderTest, PublicDetailsNeverCarryTheKeyOrReplayState) {
  std::vector<std::string> described;
  for (const DetailField& field : provider_.describe_details()) described.push_back(field.key);
  for (const auto& c : fixtures()["registrations"]) {
    if (c["expect"] != "accept") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    MfaCredential key = registered(c["name"].get<std::string>());
    key.counter = 987654321;
    key.state["last_challenge"] = "bGFzdC1jaGFsbGVuZ2U";
    const nlohmann::json details = provider_.public_details(key);
    std::vector<std::string> members;
    for (const auto& item : details.items()) members.push_back(item.key());
    std::sort(members.begin(), members.end());
    std::vector<std::string> sorted = described;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(members, sorted) << "every member labelled, nothing else";
    const std::string text = details.dump();
    EXPECT_EQ(text.find(key.params["public_key"].get<std::string>()), std::string::npos);
    EXPECT_EQ(text.find("987654321"), std::string::npos);
    EXPECT_EQ(text.find("bGFzdC1jaGFsbGVuZ2U"), std::string::npos);
  }
}

TEST_F(WebAuthnProviderTest, PublicDetailsOfPendingAndDamagedRowsShowNothingUnexpected) {
  // A registration under way holds the account's policy and a challenge, not a key.
  MfaCredential pending = pending_for(find_case("registrations", "packed_full"));
  EXPECT_EQ(provider_.public_details(pending), nlohmann::json::object());
  // A key registered before user_verified was recorded, and a row edited by hand.
  MfaCredential older = registered("packed_full");
  older.params.erase("user_verified");
  EXPECT_EQ(provider_.public_details(older)["user_verified"], nullptr);
  MfaCredential damaged = registered("packed_full");
  damaged.params["aaguid"] = "<script>";
  damaged.params["fmt"] = 7;
  damaged.params["transports"] = {"usb", "carrier-pigeon", 3};
  damaged.state = nullptr;
  const nlohmann::json details = provider_.public_details(damaged);
  EXPECT_EQ(details["aaguid"], nullptr);
  EXPECT_EQ(details["attestation_format"], nullptr);
  EXPECT_EQ(details["transports"], nlohmann::json::array({"usb"}));
  EXPECT_EQ(details["backed_up"], nullptr);
  damaged.params = "not an object";
  EXPECT_EQ(provider_.public_details(damaged)["aaguid"], nullptr);
}

}  // namespace
}  // namespace keystep
