#include "providers/webauthn/webauthn_provider.h"

#include <algorithm>
#include <array>
#include <utility>

#include "base/crypto/encoding.h"
#include "providers/webauthn/assertion.h"
#include "providers/webauthn/client_data.h"

namespace keystep {
namespace {

using webauthn::AttestationType;

constexpr std::string_view kProviderId = "webauthn";
constexpr size_t kChallengeBytes = 32;          // §13.4.3: at least 16 random bytes
constexpr size_t kMaxCredentialIdBytes = 1023;  // §5.8.3
constexpr size_t kMaxAaguids = 100;
constexpr size_t kMaxTransports = 8;
// A posted credential is 1 to 4 kB (attestation certificates are the bulk); far more is not
// a browser's answer and is refused before it is parsed.
constexpr size_t kMaxResponseBytes = 64 * 1024;
constexpr std::array kUserVerification = {"discouraged", "preferred", "required"};
constexpr std::array kTransports = {"usb", "nfc", "ble", "smart-card", "hybrid", "internal"};
constexpr std::string_view kNoAaguid = "00000000-0000-0000-0000-000000000000";

struct Policy {
  std::string user_verification = "discouraged";
  bool trusted_attestation = false;
  std::vector<std::string> aaguids;  // canonical lower-case
};

nlohmann::json policy_json(const Policy& policy) {
  return {{"user_verification", policy.user_verification},
          {"attestation", policy.trusted_attestation ? "trusted" : "none"},
          {"aaguids", policy.aaguids}};
}

std::string aaguid_text(std::string_view bytes) {
  const std::string hex = hex_encode(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// The canonical form of an AAGUID an admin typed (any case), or "" when it is not one.
std::string canonical_aaguid(std::string_view text) {
  if (text.size() != 36) return {};
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    const bool dash_at = i == 8 || i == 13 || i == 18 || i == 23;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (dash_at ? c != '-' : !hex) return {};
  }
  return out;
}

Result<Policy> parse_policy(const ProviderSettings& settings, bool have_roots) {
  Policy policy;
  if (settings.is_null()) return policy;
  if (!settings.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "webauthn must be an object");
  }
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    const nlohmann::json& value = *it;
    if (it.key() == "user_verification") {
      if (!value.is_string() ||
          std::find(kUserVerification.begin(), kUserVerification.end(),
                    value.get_ref<const std::string&>()) == kUserVerification.end()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "webauthn.user_verification must be discouraged, preferred or "
                          "required");
      }
      policy.user_verification = value.get<std::string>();
    } else if (it.key() == "attestation") {
      if (value != "none" && value != "trusted") {
        return make_error(ErrorCode::kInvalidArgument,
                          "webauthn.attestation must be none or trusted");
      }
      policy.trusted_attestation = value == "trusted";
    } else if (it.key() == "aaguids") {
      if (!value.is_array() || value.size() > kMaxAaguids) {
        return make_error(ErrorCode::kInvalidArgument,
                          "webauthn.aaguids must be a list of at most 100 AAGUIDs");
      }
      for (const nlohmann::json& entry : value) {
        std::string aaguid =
            entry.is_string() ? canonical_aaguid(entry.get_ref<const std::string&>()) : "";
        if (aaguid.empty()) {
          return make_error(ErrorCode::kInvalidArgument,
                            "webauthn.aaguids entries must be AAGUIDs like "
                            "cb69481e-8ff7-4039-93ec-0a2729a154a8");
        }
        if (std::find(policy.aaguids.begin(), policy.aaguids.end(), aaguid) ==
            policy.aaguids.end()) {
          policy.aaguids.push_back(std::move(aaguid));
        }
      }
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown member webauthn." + it.key());
    }
  }
  if (policy.trusted_attestation && !have_roots) {
    return make_error(ErrorCode::kInvalidArgument,
                      "webauthn.attestation trusted needs attestation roots configured on the "
                      "server");
  }
  if (!policy.aaguids.empty() && !policy.trusted_attestation) {
    return make_error(ErrorCode::kInvalidArgument,
                      "webauthn.aaguids needs webauthn.attestation trusted: a key's model is "
                      "believed only from a verified attestation");
  }
  return policy;
}

ResponseInput ceremony_input() {
  ResponseInput input;
  input.kind = InputKind::kBrowserCeremony;
  input.script = WebAuthnProvider::kScript;
  return input;
}

const std::string* string_at(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

// A base64url string member of `object` decoded, or nullopt when absent, not base64url or
// empty.
std::optional<std::string> decoded_at(const nlohmann::json& object, const char* name) {
  const std::string* text = string_at(object, name);
  if (!text) return std::nullopt;
  Result<std::string> bytes = base64url_decode(*text);
  if (!bytes || bytes->empty()) return std::nullopt;
  return std::move(*bytes);
}

// A member of the posted response decoded; kInvalidArgument naming it when absent or bad.
Result<std::string> bytes_at(const nlohmann::json& object, const char* name) {
  std::optional<std::string> bytes = decoded_at(object, name);
  if (!bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("the response's ") + name + " is missing or not base64url");
  }
  return std::move(*bytes);
}

// The PublicKeyCredential JSON a page posts: {"id", "rawId", "type": "public-key",
// "response": {...}}. On success returns the credential id (raw bytes) and the response.
struct PostedCredential {
  std::string id;
  nlohmann::json response;
};

Result<PostedCredential> parse_posted(std::string_view text) {
  const Error malformed = make_error(ErrorCode::kInvalidArgument,
                                     "the security key's answer is not a WebAuthn credential");
  if (text.size() > kMaxResponseBytes) return malformed;
  nlohmann::json posted = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!posted.is_object()) return malformed;
  const std::string* type = string_at(posted, "type");
  const std::string* id = string_at(posted, "id");
  const std::string* raw_id = string_at(posted, "rawId");
  auto response = posted.find("response");
  if (!type || *type != "public-key" || !id || (raw_id && *raw_id != *id) ||
      response == posted.end() || !response->is_object()) {
    return malformed;
  }
  Result<std::string> id_bytes = base64url_decode(*id);
  if (!id_bytes || id_bytes->empty() || id_bytes->size() > kMaxCredentialIdBytes) {
    return malformed;
  }
  return PostedCredential{std::move(*id_bytes), std::move(*response)};
}

// The transports a registration reported, the ones WebAuthn names, for allowCredentials.
nlohmann::json transports_of(const nlohmann::json& response) {
  nlohmann::json out = nlohmann::json::array();
  const auto it = response.find("transports");
  if (it == response.end() || !it->is_array()) return out;
  for (const nlohmann::json& t : *it) {
    if (out.size() == kMaxTransports) break;
    if (t.is_string() &&
        std::find(kTransports.begin(), kTransports.end(), t.get_ref<const std::string&>()) !=
            kTransports.end() &&
        std::find(out.begin(), out.end(), t) == out.end()) {
      out.push_back(t);
    }
  }
  return out;
}

// A confirmed credential's stored parts; false when it is not one this provider made.
struct StoredKey {
  int alg = 0;
  std::string public_key;
  bool backup_eligible = false;
  const std::string* user_verification = nullptr;
};

bool parse_stored(const MfaCredential& credential, StoredKey& out) {
  const nlohmann::json& p = credential.params;
  if (credential.provider_id != kProviderId || !credential.confirmed ||
      credential.lookup_key.empty() || !p.is_object()) {
    return false;
  }
  const auto alg = p.find("alg");
  const auto eligible = p.find("backup_eligible");
  const std::string* key = string_at(p, "public_key");
  out.user_verification = string_at(p, "user_verification");
  if (alg == p.end() || !alg->is_number_integer() || eligible == p.end() ||
      !eligible->is_boolean() || !key || !out.user_verification ||
      std::find(kUserVerification.begin(), kUserVerification.end(), *out.user_verification) ==
          kUserVerification.end()) {
    return false;
  }
  Result<std::string> key_bytes = base64url_decode(*key);
  if (!key_bytes) return false;
  out.alg = alg->get<int>();
  out.public_key = std::move(*key_bytes);
  out.backup_eligible = eligible->get<bool>();
  return true;
}

// A PublicKeyCredentialDescriptorJSON of a confirmed credential, for excludeCredentials and
// allowCredentials: the transports tell the browser which ways to reach the key.
nlohmann::json descriptor(const MfaCredential& credential) {
  nlohmann::json entry = {{"type", "public-key"}, {"id", credential.lookup_key}};
  if (auto t = credential.params.find("transports");
      t != credential.params.end() && t->is_array() && !t->empty()) {
    entry["transports"] = *t;
  }
  return entry;
}

// `object`'s member `name` when it has the type `is` checks, else null: details shown from a
// row that another version or a hand edit wrote still never carry something unexpected.
nlohmann::json member_if(const nlohmann::json& object, const char* name,
                         bool (nlohmann::json::*is)() const noexcept) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it != object.end() && ((*it).*is)() ? *it : nlohmann::json(nullptr);
}

int strictness(std::string_view user_verification) {
  return static_cast<int>(
      std::find(kUserVerification.begin(), kUserVerification.end(), user_verification) -
      kUserVerification.begin());
}

}  // namespace

std::string user_handle(int64_t user_id) {
  std::string out(8, '\0');
  auto v = static_cast<uint64_t>(user_id);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

WebAuthnProvider::WebAuthnProvider(Random& random, webauthn::AttestationRoots roots)
    : random_(random),
      roots_(std::move(roots)),
      info_{std::string(kProviderId), "Security key", {"hwk"}, ProviderKind::kHardware, false} {}

const ProviderInfo& WebAuthnProvider::info() const { return info_; }

ProviderSettings WebAuthnProvider::default_settings() const { return policy_json(Policy{}); }

Result<ProviderSettings> WebAuthnProvider::validate_settings(
    const ProviderSettings& settings) const {
  Result<Policy> policy = parse_policy(settings, !roots_.empty());
  if (!policy) return policy.error();
  return policy_json(*policy);
}

SettingsDescription WebAuthnProvider::describe_settings() const {
  SettingField attestation{"attestation", "Attestation", {{"none", "Accept any security key"}}};
  if (!roots_.empty()) {
    attestation.choices.push_back({"trusted", "Only keys whose maker vouches for them"});
  }
  return {{{"user_verification",
            "User verification",
            {{"discouraged", "Touch only"},
             {"preferred", "PIN or fingerprint when the key has one"},
             {"required", "Always PIN or fingerprint"}}},
           std::move(attestation)},
          "Applies to keys added from now on. An allow-list of key models (AAGUIDs) is set "
          "through the admin API and needs trusted attestation."};
}

Result<Enrollment> WebAuthnProvider::begin_enrollment(const UserRef& user,
                                                      const ProviderSettings& settings) {
  return begin_enrollment_in_context(user, settings, {}, ChallengeContext{});
}

Result<Enrollment> WebAuthnProvider::begin_enrollment_in_context(
    const UserRef& user, const ProviderSettings& settings,
    std::span<const MfaCredential> existing, const ChallengeContext& context) {
  Result<Policy> policy = parse_policy(settings, !roots_.empty());
  if (!policy) return policy.error();
  if (user.email.empty() || user.issuer_label.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the user's email and issuer label are needed");
  }
  Result<std::string> challenge = random_bytes(random_, kChallengeBytes);
  if (!challenge) return challenge.error();

  nlohmann::json exclude = nlohmann::json::array();
  for (const MfaCredential& c : existing) {
    if (c.provider_id != kProviderId || !c.confirmed || c.lookup_key.empty()) continue;
    exclude.push_back(descriptor(c));
  }
  nlohmann::json rp = {{"name", user.issuer_label}};
  if (!context.rp_id.empty()) rp["id"] = context.rp_id;
  nlohmann::json params = nlohmann::json::array();
  for (int alg : {webauthn::kAlgEs256, webauthn::kAlgEdDsa, webauthn::kAlgRs256}) {
    params.push_back({{"type", "public-key"}, {"alg", alg}});
  }
  const nlohmann::json options = {{"rp", std::move(rp)},
                                  {"user",
                                   {{"id", base64url_encode(user_handle(user.user_id))},
                                    {"name", user.email},
                                    {"displayName", user.email}}},
                                  {"challenge", base64url_encode(*challenge)},
                                  {"pubKeyCredParams", std::move(params)},
                                  {"timeout", kCeremonySeconds * 1000},
                                  {"excludeCredentials", std::move(exclude)},
                                  {"authenticatorSelection",
                                   {{"residentKey", "discouraged"},
                                    {"requireResidentKey", false},
                                    {"userVerification", policy->user_verification}}},
                                  {"attestation", policy->trusted_attestation ? "direct" : "none"}};

  Enrollment enrollment;
  enrollment.pending.user_id = user.user_id;
  enrollment.pending.provider_id = std::string(kProviderId);
  enrollment.pending.params = policy_json(*policy);
  enrollment.pending.state = {{"challenge", base64url_encode(*challenge)}};
  enrollment.pending.created_at = context.now;
  enrollment.client_options[kOptionCeremony] = options;
  enrollment.input = ceremony_input();
  return enrollment;
}

Result<MfaCredential> WebAuthnProvider::finish_enrollment(const MfaCredential& pending,
                                                          std::string_view response,
                                                          const ChallengeContext& context) {
  if (pending.confirmed) {
    return make_error(ErrorCode::kConflict, "the security key is already registered");
  }
  if (pending.created_at > 0 && context.now > pending.created_at + kCeremonySeconds) {
    return make_error(ErrorCode::kExpired, "the registration took too long: start again");
  }
  const std::optional<std::string> challenge = decoded_at(pending.state, "challenge");
  Result<Policy> policy = parse_policy(pending.params, !roots_.empty());
  if (pending.provider_id != kProviderId || !challenge || !policy) {
    return make_error(ErrorCode::kInternal, "not a pending webauthn registration");
  }

  Result<PostedCredential> posted = parse_posted(response);
  if (!posted) return posted.error();
  Result<std::string> client_data = bytes_at(posted->response, "clientDataJSON");
  if (!client_data) return client_data.error();
  Result<std::string> attestation_object = bytes_at(posted->response, "attestationObject");
  if (!attestation_object) return attestation_object.error();
  if (Status s = webauthn::check_client_data(*client_data,
                                             {"webauthn.create", *challenge, context.origin});
      !s) {
    return s.error();
  }
  Result<webauthn::AttestedCredential> attested = webauthn::verify_attestation(
      *attestation_object,
      {context.rp_id, *client_data, policy->user_verification == "required", &roots_, context.now});
  if (!attested) return attested.error();
  if (attested->id != posted->id) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the response's id is not the registered credential's");
  }
  if (policy->trusted_attestation && attested->attestation != AttestationType::kTrusted) {
    return make_error(ErrorCode::kDenied,
                      "your account accepts only security keys whose maker vouches for them, "
                      "and this key's attestation does not reach a trusted authority");
  }
  const std::string aaguid = aaguid_text(attested->aaguid);
  if (!policy->aaguids.empty() &&
      std::find(policy->aaguids.begin(), policy->aaguids.end(), aaguid) == policy->aaguids.end()) {
    return make_error(ErrorCode::kDenied,
                      "this model of security key is not allowed in your account");
  }

  MfaCredential confirmed = pending;
  confirmed.confirmed = true;
  confirmed.secret.clear();
  confirmed.lookup_key = base64url_encode(attested->id);
  confirmed.counter = attested->sign_count;
  confirmed.params = {{"alg", attested->alg},
                      {"public_key", base64url_encode(attested->public_key)},
                      {"aaguid", aaguid},
                      {"fmt", attested->fmt},
                      {"attestation", webauthn::attestation_type_name(attested->attestation)},
                      {"backup_eligible", (attested->flags & webauthn::kFlagBackupEligible) != 0},
                      {"transports", transports_of(posted->response)},
                      {"user_verification", policy->user_verification},
                      {"user_verified", (attested->flags & webauthn::kFlagUserVerified) != 0}};
  confirmed.state.erase("challenge");
  confirmed.state["backup_state"] = (attested->flags & webauthn::kFlagBackupState) != 0;
  confirmed.state["user_verified"] = (attested->flags & webauthn::kFlagUserVerified) != 0;
  if (confirmed.label.empty()) confirmed.label = info_.display_name;
  confirmed.last_used_at = context.now;
  return confirmed;
}

Result<Enrollment> WebAuthnProvider::begin_registration_for(
    const UserRef& user, const nlohmann::json& body, const ProviderSettings& settings,
    std::span<const MfaCredential> existing, const ChallengeContext& context) {
  if (!body.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "webauthn: the body must be an object");
  }
  std::string label;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "label") {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown member webauthn." + it.key() + " (a security key takes a label)");
    }
    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>().size() > kMaxCredentialLabel) {
      return make_error(ErrorCode::kInvalidArgument, "webauthn.label must be 1 to 64 characters");
    }
    label = it->get<std::string>();
  }
  Result<Enrollment> begun = begin_enrollment_in_context(user, settings, existing, context);
  if (begun) begun->pending.label = std::move(label);
  return begun;
}

Result<Challenge> WebAuthnProvider::begin_challenge(std::span<const MfaCredential> credentials,
                                                    const ChallengeContext& context) {
  // The account's settings were validated when saved; the roots are not what is asked here.
  Result<Policy> account = parse_policy(context.settings, /*have_roots=*/true);
  if (!account) return account.error();
  nlohmann::json allow = nlohmann::json::array();
  std::string user_verification = account->user_verification;
  for (const MfaCredential& credential : credentials) {
    StoredKey key;
    if (!parse_stored(credential, key)) {
      return make_error(ErrorCode::kInternal, "not a well-formed webauthn credential");
    }
    if (strictness(*key.user_verification) > strictness(user_verification)) {
      user_verification = *key.user_verification;
    }
    allow.push_back(descriptor(credential));
  }
  Result<std::string> bytes = random_bytes(random_, kChallengeBytes);
  if (!bytes) return bytes.error();
  Challenge challenge;
  challenge.server_state = base64url_encode(*bytes);
  challenge.expires_at = context.now + kCeremonySeconds;
  challenge.client_options = {{"challenge", challenge.server_state},
                              {"timeout", kCeremonySeconds * 1000},
                              {"userVerification", user_verification},
                              {"allowCredentials", std::move(allow)}};
  if (!context.rp_id.empty()) challenge.client_options["rpId"] = context.rp_id;
  challenge.input = ceremony_input();
  return challenge;
}

std::optional<std::string> WebAuthnProvider::lookup_key(std::string_view response) const {
  Result<PostedCredential> posted = parse_posted(response);
  if (!posted) return std::nullopt;
  return base64url_encode(posted->id);
}

Result<MfaCredential> WebAuthnProvider::verify(const MfaCredential& credential,
                                               const Challenge& challenge,
                                               std::string_view response,
                                               const ChallengeContext& context) {
  Result<Policy> account = parse_policy(context.settings, /*have_roots=*/true);
  if (!account) return account.error();
  StoredKey key;
  const Result<std::string> expected_challenge = base64url_decode(challenge.server_state);
  if (!parse_stored(credential, key) || !expected_challenge ||
      expected_challenge->size() != kChallengeBytes) {
    return make_error(ErrorCode::kInternal, "not a well-formed webauthn credential or challenge");
  }
  if (challenge.expires_at != 0 && context.now > challenge.expires_at) {
    return make_error(ErrorCode::kExpired, "the sign-in took too long: try again");
  }
  Result<PostedCredential> posted = parse_posted(response);
  if (!posted) return posted.error();
  if (base64url_encode(posted->id) != credential.lookup_key) {
    return make_error(ErrorCode::kDenied, "this security key is not registered for you");
  }
  // §7.2 step 6: a user handle, when the key returns one, must be the credential owner's.
  // Keys without resident credentials send none: null, absent, or (some clients) "".
  if (auto handle = posted->response.find("userHandle");
      handle != posted->response.end() && !handle->is_null() && *handle != "") {
    Result<std::string> sent = bytes_at(posted->response, "userHandle");
    if (!sent) return sent.error();
    if (*sent != user_handle(credential.user_id)) {
      return make_error(ErrorCode::kDenied, "this security key is not registered for you");
    }
  }
  Result<std::string> client_data = bytes_at(posted->response, "clientDataJSON");
  if (!client_data) return client_data.error();
  Result<std::string> auth_data = bytes_at(posted->response, "authenticatorData");
  if (!auth_data) return auth_data.error();
  Result<std::string> signature = bytes_at(posted->response, "signature");
  if (!signature) return signature.error();
  if (Status s = webauthn::check_client_data(*client_data,
                                             {"webauthn.get", *expected_challenge, context.origin});
      !s) {
    return s.error();
  }
  Result<webauthn::AssertedData> asserted = webauthn::verify_assertion(
      *auth_data, *signature,
      {context.rp_id, *client_data,
       *key.user_verification == "required" || account->user_verification == "required", key.alg,
       key.public_key});
  if (!asserted) return asserted.error();
  // §6.1.3: backup eligibility is fixed when the credential is made.
  if (((asserted->flags & webauthn::kFlagBackupEligible) != 0) != key.backup_eligible) {
    return make_error(ErrorCode::kDenied, "the key's backup eligibility changed");
  }
  if (const std::string* last = string_at(credential.state, "last_challenge");
      last && *last == challenge.server_state) {
    return make_error(ErrorCode::kReplayed, "this sign-in was already used");
  }
  // §6.1.1: a counter that does not move forward means two copies of the key are signing.
  const int64_t received = asserted->sign_count;
  const int64_t stored = std::max<int64_t>(credential.counter, 0);
  if ((stored != 0 || received != 0) && received <= stored) {
    return make_error(ErrorCode::kCloned,
                      "the security key's signature counter went backwards: it may have been "
                      "copied");
  }
  MfaCredential updated = credential;
  updated.counter = received;
  updated.last_used_at = context.now;
  updated.state["backup_state"] = (asserted->flags & webauthn::kFlagBackupState) != 0;
  updated.state["user_verified"] = (asserted->flags & webauthn::kFlagUserVerified) != 0;
  updated.state["last_challenge"] = challenge.server_state;
  return updated;
}

std::vector<std::string> WebAuthnProvider::amr_of(const MfaCredential& verified) const {
  const auto uv = verified.state.find("user_verified");
  if (uv != verified.state.end() && uv->is_boolean() && uv->get<bool>()) {
    return {"hwk", "user", "pin"};
  }
  return info_.amr;
}

nlohmann::json WebAuthnProvider::public_details(const MfaCredential& credential) const {
  if (!credential.confirmed) return nlohmann::json::object();
  const nlohmann::json& p = credential.params;
  const std::string* stored = string_at(p, "aaguid");
  const std::string aaguid = stored ? canonical_aaguid(*stored) : "";
  // U2F keys, and keys whose browser was asked for no attestation, name no model: zeros.
  nlohmann::json model = aaguid.empty() || aaguid == kNoAaguid ? nlohmann::json(nullptr)
                                                               : nlohmann::json(aaguid);
  nlohmann::json transports = nlohmann::json::array();
  for (const nlohmann::json& t : member_if(p, "transports", &nlohmann::json::is_array)) {
    if (t.is_string() && std::find(kTransports.begin(), kTransports.end(), t) != kTransports.end())
      transports.push_back(t);
  }
  return {{"aaguid", std::move(model)},
          {"attestation_format", member_if(p, "fmt", &nlohmann::json::is_string)},
          {"attestation", member_if(p, "attestation", &nlohmann::json::is_string)},
          {"user_verified", member_if(p, "user_verified", &nlohmann::json::is_boolean)},
          {"backup_eligible", member_if(p, "backup_eligible", &nlohmann::json::is_boolean)},
          {"backed_up", member_if(credential.state, "backup_state", &nlohmann::json::is_boolean)},
          {"transports", std::move(transports)}};
}

std::vector<DetailField> WebAuthnProvider::describe_details() const {
  return {{"aaguid", "Model (AAGUID)"},
          {"attestation_format", "Attestation format"},
          {"attestation", "Attestation"},
          {"user_verified", "Verified its user when registered"},
          {"backup_eligible", "Can be backed up (synced passkey)"},
          {"backed_up", "Backed up"},
          {"transports", "Transports"}};
}

}  // namespace keystep
