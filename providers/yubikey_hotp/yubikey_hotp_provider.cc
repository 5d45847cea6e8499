#include "providers/yubikey_hotp/yubikey_hotp_provider.h"

#include <liboath/oath.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <utility>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "providers/oath_support.h"
#include "providers/yubikey_hotp/key_output.h"

namespace keystep {
namespace {

constexpr std::string_view kProviderId = "yubikey_hotp";
constexpr size_t kSecretBytes = 20;       // a YubiKey's OATH-HOTP key: HMAC-SHA1's 160 bits
constexpr size_t kMinImportedBytes = 16;  // RFC 4226 §4 R6: at least 128 bits
constexpr int64_t kMaxLookAhead = 50;
constexpr int64_t kMaxSyncWindow = 10000;

// Read at every check, so it holds no heap memory: the accepted code lengths are at most two.
struct HotpSettings {
  std::array<unsigned, 2> digits{6, 8};  // the first digit_count ones, ascending
  size_t digit_count = 2;
  int64_t look_ahead = 10;
  int64_t sync_window = 1000;
  bool allow_no_token_id = true;
};

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::string(kProviderId) + "." + message);
}

// Values are read only after their type is checked (nlohmann's get throws otherwise).
bool read_digits(const nlohmann::json& value, unsigned& out) {
  if (!value.is_number_integer()) return false;
  const int64_t v = value.get<int64_t>();
  if (v != 6 && v != 8) return false;
  out = static_cast<unsigned>(v);
  return true;
}

bool read_range(const nlohmann::json& value, int64_t low, int64_t high, int64_t& out) {
  if (!value.is_number_integer()) return false;
  const int64_t v = value.get<int64_t>();
  if (v < low || v > high) return false;
  out = v;
  return true;
}

Result<HotpSettings> parse_settings(const ProviderSettings& settings) {
  HotpSettings out;
  if (settings.is_null()) return out;
  if (!settings.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "yubikey_hotp must be an object");
  }
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (it.key() == "digits") {
      bool ok = it->is_array() && !it->empty() && it->size() <= 2;
      unsigned first = 0;
      unsigned second = 0;
      ok = ok && read_digits((*it)[0], first) &&
           (it->size() == 1 || (read_digits((*it)[1], second) && second != first));
      if (!ok) return invalid("digits must be [6], [8] or [6, 8]");
      out.digit_count = it->size();
      out.digits = {std::min(first, it->size() == 1 ? first : second),
                    std::max(first, second)};
    } else if (it.key() == "look_ahead") {
      if (!read_range(*it, 1, kMaxLookAhead, out.look_ahead))
        return invalid("look_ahead must be 1 to 50");
    } else if (it.key() == "sync_window") {
      if (!read_range(*it, 0, kMaxSyncWindow, out.sync_window))
        return invalid("sync_window must be 0 to 10000");
    } else if (it.key() == "allow_no_token_id") {
      if (!it->is_boolean()) return invalid("allow_no_token_id must be true or false");
      out.allow_no_token_id = it->get<bool>();
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown member yubikey_hotp." + it.key());
    }
  }
  return out;
}

nlohmann::json settings_json(const HotpSettings& s) {
  return {{"digits", std::vector<unsigned>(s.digits.begin(), s.digits.begin() + s.digit_count)},
          {"look_ahead", s.look_ahead},
          {"sync_window", s.sync_window},
          {"allow_no_token_id", s.allow_no_token_id}};
}

// The settings a check runs under: the account's, stored valid; a row that no longer parses
// is a broken invariant, not the user's mistake.
Result<HotpSettings> settings_of(const ChallengeContext& context) {
  Result<HotpSettings> s = parse_settings(context.settings);
  if (!s) return make_error(ErrorCode::kInternal, "the account's YubiKey settings are damaged");
  return s;
}

// A stored credential carries exactly {"digits": 6|8}; anything else is a broken invariant.
bool parse_credential(const MfaCredential& credential, unsigned& digits) {
  const nlohmann::json& p = credential.params;
  if (credential.provider_id != kProviderId || credential.secret.empty() ||
      credential.counter < -1 || !p.is_object() || p.size() != 1)
    return false;
  const auto it = p.begin();
  return it.key() == "digits" && read_digits(*it, digits);
}

Error not_a_credential() {
  return make_error(ErrorCode::kInternal, "not a well-formed YubiKey credential");
}

// The offset from `start` of the moving factor whose code is `code`, looking at start ..
// start + window; nullopt when none has it.
Result<std::optional<uint64_t>> find_code(const std::string& secret, uint64_t start,
                                          uint64_t window, unsigned digits,
                                          std::string_view code) {
  if (int rc = oath_ready(); rc != OATH_OK) return oath_error(rc);
  ExpectedCode expected{code};
  const int rc = oath_hotp_validate_callback(secret.data(), secret.size(), start,
                                             static_cast<size_t>(window), digits,
                                             oath_compare_code, &expected);
  if (rc == OATH_INVALID_OTP) return std::optional<uint64_t>();
  if (rc < 0) return oath_error(rc);
  return std::optional<uint64_t>(static_cast<uint64_t>(rc));
}

// The token identifier a key output carries must be the credential's own; one without is
// accepted (typed by hand) unless the credential has none and the account refuses those.
Status identifier_allowed(const MfaCredential& credential, const KeyOutput& output,
                          const HotpSettings& settings) {
  if (!output.token_id.empty() && output.token_id != credential.lookup_key)
    return make_error(ErrorCode::kDenied, "the key's identifier is not this credential's");
  if (credential.lookup_key.empty() && output.token_id.empty() && !settings.allow_no_token_id)
    return make_error(ErrorCode::kDenied,
                      "this account accepts only keys that type their identifier");
  return {};
}

// "YubiKey 12345678" for the standard identifier ("ubhe" + the serial), else the identifier.
std::string label_of(std::string_view token_id) {
  if (token_id.empty()) return "YubiKey";
  if (token_id.substr(0, 4) == "ubhe") return "YubiKey " + std::string(token_id.substr(4));
  return "YubiKey " + std::string(token_id);
}

std::string base32_of(std::string_view secret) {
  std::string out;
  char* encoded = nullptr;
  size_t length = 0;
  if (oath_ready() != OATH_OK ||
      oath_base32_encode(secret.data(), secret.size(), &encoded, &length) != OATH_OK)
    return out;
  out.assign(encoded, length);
  std::free(encoded);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// 40 hexadecimal characters (20 bytes: how ykpersonalize and privacyIDEA write a YubiKey's
// key), or base32 of 16 to 20 bytes (how ykman takes it); spaces ignored.
Result<std::string> imported_secret(std::string_view text) {
  std::string compact;
  for (char c : text)
    if (c != ' ') compact += c;
  const Error bad = invalid(
      "secret must be 40 hexadecimal characters or base32 of 16 to 20 bytes");
  if (compact.size() == 2 * kSecretBytes &&
      std::all_of(compact.begin(), compact.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    std::string out(kSecretBytes, '\0');
    size_t length = out.size();
    if (oath_ready() != OATH_OK || oath_hex2bin(compact.c_str(), out.data(), &length) != OATH_OK)
      return bad;
    return out;
  }
  const bool base32 = !compact.empty() && std::all_of(compact.begin(), compact.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') || c == '=';
  });
  if (!base32 || oath_ready() != OATH_OK) return bad;
  char* decoded = nullptr;
  size_t length = 0;
  if (oath_base32_decode(compact.data(), compact.size(), &decoded, &length) != OATH_OK) return bad;
  std::string out(decoded, length);
  std::free(decoded);
  if (out.size() < kMinImportedBytes || out.size() > kSecretBytes) return bad;
  return out;
}

// The members a registration body may hold besides the secret: digits (checked against the
// account's), token_id and label. `allowed` lists the members this body may have.
struct RegistrationBody {
  unsigned digits = 0;
  std::string token_id;
  std::string label;
  int64_t counter = 0;
  std::string secret;  // base32 or hex as sent; "" when absent
};

Result<RegistrationBody> read_body(const nlohmann::json& body, const HotpSettings& settings,
                                   std::initializer_list<std::string_view> allowed) {
  if (!body.is_object())
    return make_error(ErrorCode::kInvalidArgument, "yubikey_hotp must be an object");
  RegistrationBody out;
  out.digits = settings.digits.front();
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      return make_error(ErrorCode::kInvalidArgument, "unknown member yubikey_hotp." + it.key());
    if (it.key() == "digits") {
      const auto accepted = settings.digits.begin() + settings.digit_count;
      if (!read_digits(*it, out.digits) ||
          std::find(settings.digits.begin(), accepted, out.digits) == accepted)
        return invalid(settings.digit_count == 2
                           ? "digits must be 6 or 8"
                           : "digits must be " + std::to_string(settings.digits.front()) +
                                 " in this account");
    } else if (it.key() == "token_id") {
      if (!it->is_string() || !valid_token_id(it->get_ref<const std::string&>()))
        return invalid("token_id must be 12 lower-case modhex letters (cbdefghijklnrtuv) or "
                       "digits, e.g. ubhe12345678");
      out.token_id = it->get<std::string>();
    } else if (it.key() == "label") {
      if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
          it->get_ref<const std::string&>().size() > kMaxCredentialLabel)
        return invalid("label must be 1 to 64 characters");
      out.label = it->get<std::string>();
    } else if (it.key() == "counter") {
      if (!read_range(*it, 0, int64_t{1} << 32, out.counter))
        return invalid("counter must be the moving factor of the key's next code, 0 or more");
    } else if (it.key() == "secret") {
      if (!it->is_string()) return invalid("secret must be a string");
      out.secret = it->get<std::string>();
    }
  }
  if (out.token_id.empty() && !settings.allow_no_token_id)
    return invalid("token_id is required: this account accepts only keys that type their "
                   "identifier");
  return out;
}

ResponseInput key_input(unsigned min_digits, unsigned max_digits, int responses) {
  ResponseInput input;
  input.kind = InputKind::kTypedCode;
  input.min_length = static_cast<int>(min_digits);
  input.max_length = static_cast<int>(kTokenIdLength + max_digits);
  // What a key types on QWERTY, AZERTY (its digit row) or with Caps Lock on.
  input.characters =
      "0123456789cbdefghijklnrtuvCBDEFGHIJKLNRTUV&\"'(-_\xC3\xA9\xC3\xA8\xC3\xA7\xC3\xA0";
  input.inputmode = "text";
  input.responses = responses;
  return input;
}

// A fresh pending credential and what programming a key with it needs.
Result<Enrollment> fresh_key(Random& random, const UserRef& user, unsigned digits,
                             std::string token_id, std::string label, int responses) {
  Result<std::string> secret = random_bytes(random, kSecretBytes);
  if (!secret) return secret.error();
  const std::string base32 = base32_of(*secret);
  if (base32.empty()) return make_error(ErrorCode::kInternal, "base32 encoding failed");
  Enrollment enrollment;
  MfaCredential& pending = enrollment.pending;
  pending.user_id = user.user_id;
  pending.provider_id = std::string(kProviderId);
  pending.params = {{"digits", digits}};
  pending.counter = -1;
  pending.confirmed = false;
  pending.lookup_key = std::move(token_id);
  pending.label = std::move(label);
  pending.state = {{"responses", responses}};
  enrollment.client_options = {{"secret_hex", hex_encode(*secret)},
                               {"secret_base32", base32},
                               {"digits", digits},
                               {"token_id", pending.lookup_key}};
  pending.secret = std::move(*secret);
  enrollment.holds_secret = true;
  enrollment.input = key_input(digits, digits, responses);
  return enrollment;
}

}  // namespace

Result<std::string> hotp_code(std::string_view secret, uint64_t moving_factor, unsigned digits) {
  if (secret.empty() || (digits != 6 && digits != 8))
    return make_error(ErrorCode::kInvalidArgument, "bad HOTP parameters");
  if (int rc = oath_ready(); rc != OATH_OK) return oath_error(rc);
  char otp[10] = {};
  const int rc = oath_hotp_generate(secret.data(), secret.size(), moving_factor, digits, false,
                                    OATH_HOTP_DYNAMIC_TRUNCATION, otp);
  if (rc != OATH_OK) return oath_error(rc);
  return std::string(otp, digits);
}

YubikeyHotpProvider::YubikeyHotpProvider(Random& random)
    : random_(random),
      info_{std::string(kProviderId), "YubiKey", {"hwk", "otp"}, ProviderKind::kHardware, false} {
  oath_ready();
}

const ProviderInfo& YubikeyHotpProvider::info() const { return info_; }

ProviderSettings YubikeyHotpProvider::default_settings() const {
  return settings_json(HotpSettings{});
}

Result<ProviderSettings> YubikeyHotpProvider::validate_settings(
    const ProviderSettings& settings) const {
  Result<HotpSettings> parsed = parse_settings(settings);
  if (!parsed) return parsed.error();
  return settings_json(*parsed);
}

SettingsDescription YubikeyHotpProvider::describe_settings() const {
  return {{{"digits", "Digits", {{{6, 8}, "6 or 8 digits"}, {{6}, "6 digits"}, {{8}, "8 digits"}}},
           {"look_ahead",
            "Look-ahead window",
            // The default first: a value set through the API that the page does not list
            // shows (and saves) as the default rather than as the narrowest window.
            {{10, "10 codes"}, {1, "1 code"}, {5, "5 codes"}, {20, "20 codes"}, {50, "50 codes"}}},
           {"sync_window",
            "Resynchronisation window",
            {{1000, "1000 codes"}, {0, "Off"}, {100, "100 codes"}, {10000, "10000 codes"}}},
           {"allow_no_token_id",
            "Keys without identifier",
            {{true, "Allowed"}, {false, "Refused"}}}},
          "A key's code is accepted up to the look-ahead window ahead of the expected one (each "
          "guess has window + 1 chances in a million with 6 digits); one further ahead, within "
          "the resynchronisation window, asks for the key's next code."};
}

Result<Enrollment> YubikeyHotpProvider::begin_enrollment(const UserRef& user,
                                                         const ProviderSettings& settings) {
  Result<HotpSettings> s = parse_settings(settings);
  if (!s) return s.error();
  const unsigned digits = s->digits.front();
  auto enrollment = fresh_key(random_, user, digits, "", "", 2);
  if (!enrollment) return enrollment.error();
  const std::string base32 = enrollment->client_options["secret_base32"].get<std::string>();
  std::string grouped;
  for (size_t i = 0; i < base32.size(); i += 4) {
    if (i > 0) grouped += ' ';
    grouped.append(base32, i, 4);
  }
  enrollment->client_options[kOptionManualKey] = std::move(grouped);
  enrollment->client_options[kOptionCommand] = "ykman otp hotp 2 " + base32 + " --digits " +
                                          std::to_string(digits) +
                                          " --counter 0 --identifier -";
  return enrollment;
}

Result<Enrollment> YubikeyHotpProvider::begin_registration_for(const UserRef& user,
                                                               const nlohmann::json& body,
                                                               const ProviderSettings& settings,
                                                               std::span<const MfaCredential>,
                                                               const ChallengeContext&) {
  Result<HotpSettings> s = parse_settings(settings);
  if (!s) return s.error();
  auto read = read_body(body, *s, {"digits", "token_id", "label"});
  if (!read) return read.error();
  std::string label = read->label.empty() ? label_of(read->token_id) : read->label;
  return fresh_key(random_, user, read->digits, read->token_id, std::move(label), 1);
}

Result<MfaCredential> YubikeyHotpProvider::register_for(const UserRef& user,
                                                        const nlohmann::json& body,
                                                        const ProviderSettings& settings,
                                                        const ChallengeContext& context) {
  Result<HotpSettings> s = parse_settings(settings);
  if (!s) return s.error();
  auto read = read_body(body, *s, {"secret", "digits", "token_id", "label", "counter"});
  if (!read) return read.error();
  if (read->secret.empty())
    return invalid("secret is required to import a key (without it, the server draws one and "
                   "the registration is confirmed with the key's code)");
  if (!body.contains("digits")) return invalid("digits is required to import a key: 6 or 8");
  Result<std::string> key = imported_secret(read->secret);
  if (!key) return key.error();
  MfaCredential credential;
  credential.user_id = user.user_id;
  credential.provider_id = std::string(kProviderId);
  credential.secret = std::move(*key);
  credential.params = {{"digits", read->digits}};
  credential.counter = read->counter - 1;
  credential.confirmed = true;
  credential.created_at = context.now;
  credential.lookup_key = read->token_id;
  credential.label = read->label.empty() ? label_of(read->token_id) : read->label;
  return credential;
}

nlohmann::json YubikeyHotpProvider::public_details(const MfaCredential& credential) const {
  unsigned digits = 0;
  const auto it = credential.params.is_object() ? credential.params.find("digits")
                                                : credential.params.end();
  const bool has_digits = it != credential.params.end() && read_digits(*it, digits);
  return {{"token_id", valid_token_id(credential.lookup_key) ? nlohmann::json(credential.lookup_key)
                                                             : nlohmann::json(nullptr)},
          {"digits", has_digits ? nlohmann::json(digits) : nlohmann::json(nullptr)}};
}

std::vector<DetailField> YubikeyHotpProvider::describe_details() const {
  return {{"token_id", "Token identifier"}, {"digits", "Digits"}};
}

Result<MfaCredential> YubikeyHotpProvider::finish_enrollment(const MfaCredential& pending,
                                                             std::string_view response,
                                                             const ChallengeContext& context) {
  if (pending.confirmed)
    return make_error(ErrorCode::kConflict, "the YubiKey credential is already confirmed");
  unsigned digits = 0;
  if (!parse_credential(pending, digits)) return not_a_credential();
  Result<HotpSettings> s = settings_of(context);
  if (!s) return s.error();
  const int64_t count = pending.state.value("responses", int64_t{1});
  if (count < 1 || count > 2) return not_a_credential();
  auto outputs = read_key_outputs(response, digits, static_cast<size_t>(count));
  if (!outputs) return outputs.error();
  const KeyOutput& first = outputs->front();
  if (!pending.lookup_key.empty() && first.token_id != pending.lookup_key)
    return make_error(ErrorCode::kDenied,
                      first.token_id.empty() ? "the key typed no identifier; it was registered with "
                                               "one: program it with its identifier"
                                             : "the code comes from another key");
  if (first.token_id.empty() && !s->allow_no_token_id)
    return make_error(ErrorCode::kDenied,
                      "this account accepts only keys that type their identifier");
  const uint64_t start = static_cast<uint64_t>(pending.counter + 1);
  auto found = find_code(pending.secret, start, static_cast<uint64_t>(s->look_ahead), digits,
                         first.code);
  if (!found) return found.error();
  if (!*found) return make_error(ErrorCode::kDenied, "wrong code");
  const uint64_t moving_factor = start + **found;
  for (size_t i = 1; i < outputs->size(); ++i) {
    auto next = hotp_code(pending.secret, moving_factor + i, digits);
    if (!next) return next.error();
    if (!constant_time_equal(*next, (*outputs)[i].code))
      return make_error(ErrorCode::kDenied, "the codes are not consecutive codes of this key");
  }
  MfaCredential confirmed = pending;
  confirmed.confirmed = true;
  confirmed.counter = static_cast<int64_t>(moving_factor + outputs->size() - 1);
  confirmed.last_used_at = context.now;
  confirmed.lookup_key = first.token_id;
  confirmed.state.erase("responses");
  if (confirmed.label.empty()) confirmed.label = label_of(first.token_id);
  return confirmed;
}

Result<Challenge> YubikeyHotpProvider::begin_challenge(std::span<const MfaCredential> credentials,
                                                       const ChallengeContext&) {
  unsigned min_digits = credentials.empty() ? 6 : 8;
  unsigned max_digits = credentials.empty() ? 8 : 6;
  for (const MfaCredential& credential : credentials) {
    unsigned digits = 0;
    if (!parse_credential(credential, digits)) return not_a_credential();
    min_digits = std::min(min_digits, digits);
    max_digits = std::max(max_digits, digits);
  }
  Challenge challenge;
  challenge.input = key_input(min_digits, max_digits, 1);
  return challenge;
}

std::optional<std::string> YubikeyHotpProvider::lookup_key(std::string_view response) const {
  static constexpr unsigned kLengths[] = {6, 8};
  auto output = read_key_output(response, kLengths);
  if (!output || output->token_id.empty()) return std::nullopt;
  return output->token_id;
}

Result<MfaCredential> YubikeyHotpProvider::verify(const MfaCredential& credential,
                                                  const Challenge&, std::string_view response,
                                                  const ChallengeContext& context) {
  unsigned digits = 0;
  if (!parse_credential(credential, digits)) return not_a_credential();
  Result<HotpSettings> s = settings_of(context);
  if (!s) return s.error();
  const unsigned lengths[] = {digits};
  auto output = read_key_output(response, lengths);
  if (!output) return output.error();
  if (Status allowed = identifier_allowed(credential, *output, *s); !allowed)
    return allowed.error();

  const uint64_t start = static_cast<uint64_t>(credential.counter + 1);
  const uint64_t look_ahead = static_cast<uint64_t>(s->look_ahead);
  auto found = find_code(credential.secret, start, look_ahead, digits, output->code);
  if (!found) return found.error();
  if (*found) {
    Result<MfaCredential> updated(credential);  // built in place: one copy, no move
    updated->counter = static_cast<int64_t>(start + **found);
    updated->last_used_at = context.now;
    return updated;
  }
  // Only a miss pays for these: one more HMAC for the replay, the sync window for a resync.
  if (credential.counter >= 0) {
    auto last = hotp_code(credential.secret, static_cast<uint64_t>(credential.counter), digits);
    if (!last) return last.error();
    if (constant_time_equal(*last, output->code))
      return make_error(ErrorCode::kReplayed, "this code was already used");
  }
  const uint64_t sync = static_cast<uint64_t>(s->sync_window);
  if (sync > look_ahead) {
    auto ahead = find_code(credential.secret, start + look_ahead + 1, sync - look_ahead - 1,
                           digits, output->code);
    if (!ahead) return ahead.error();
    if (*ahead)
      return make_error(ErrorCode::kOutOfSync,
                        "the key is ahead of the server: its next code resynchronises it");
  }
  return make_error(ErrorCode::kDenied, "wrong code");
}

Result<MfaCredential> YubikeyHotpProvider::resync(const MfaCredential& credential,
                                                  std::string_view first, std::string_view second,
                                                  const ChallengeContext& context) {
  unsigned digits = 0;
  if (!parse_credential(credential, digits)) return not_a_credential();
  Result<HotpSettings> s = settings_of(context);
  if (!s) return s.error();
  const unsigned lengths[] = {digits};
  auto one = read_key_output(first, lengths);
  if (!one) return one.error();
  auto two = read_key_output(second, lengths);
  if (!two) return two.error();
  for (const KeyOutput* output : {&*one, &*two}) {
    if (Status allowed = identifier_allowed(credential, *output, *s); !allowed)
      return allowed.error();
  }
  const uint64_t start = static_cast<uint64_t>(credential.counter + 1);
  const uint64_t window = static_cast<uint64_t>(std::max(s->sync_window, s->look_ahead));
  auto found = find_code(credential.secret, start, window, digits, one->code);
  if (!found) return found.error();
  if (!*found) return make_error(ErrorCode::kDenied, "wrong code");
  const uint64_t moving_factor = start + **found + 1;
  auto next = hotp_code(credential.secret, moving_factor, digits);
  if (!next) return next.error();
  if (!constant_time_equal(*next, two->code))
    return make_error(ErrorCode::kDenied, "the two codes are not consecutive codes of this key");
  MfaCredential updated = credential;
  updated.counter = static_cast<int64_t>(moving_factor);
  updated.last_used_at = context.now;
  return updated;
}

}  // namespace keystep
