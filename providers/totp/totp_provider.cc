#include "providers/totp/totp_provider.h"

#include <liboath/oath.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <utility>

#include "base/url.h"
#include "providers/oath_support.h"

namespace keystep {
namespace {

constexpr std::string_view kProviderId = "totp";
constexpr size_t kSecretBytes = 20;  // 160 bits, RFC 4226 §4's recommendation
constexpr size_t kWindow = 1;        // steps accepted either side of the current one

struct TotpParams {
  int flags = 0;  // oath_totp_flags: 0 is HMAC-SHA1
  unsigned digits = 6;
  unsigned period = 30;
};

const char* algorithm_name(int flags) {
  switch (flags) {
    case OATH_TOTP_HMAC_SHA256:
      return "SHA256";
    case OATH_TOTP_HMAC_SHA512:
      return "SHA512";
    default:
      return "SHA1";
  }
}

bool algorithm_flags(std::string_view name, int& flags) {
  if (name == "SHA1") {
    flags = 0;
  } else if (name == "SHA256") {
    flags = OATH_TOTP_HMAC_SHA256;
  } else if (name == "SHA512") {
    flags = OATH_TOTP_HMAC_SHA512;
  } else {
    return false;
  }
  return true;
}

// Values are read only after their type is checked (nlohmann's get throws otherwise).
bool read_algorithm(const nlohmann::json& value, int& flags) {
  return value.is_string() && algorithm_flags(value.get_ref<const std::string&>(), flags);
}

bool read_choice(const nlohmann::json& value, int64_t a, int64_t b, unsigned& out) {
  if (!value.is_number_integer()) return false;
  const int64_t v = value.get<int64_t>();
  if (v != a && v != b) return false;
  out = static_cast<unsigned>(v);
  return true;
}

Result<TotpParams> parse_settings(const ProviderSettings& settings) {
  TotpParams params;
  if (settings.is_null()) return params;
  if (!settings.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "totp must be an object");
  }
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (it.key() == "algorithm") {
      if (!read_algorithm(*it, params.flags)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "totp.algorithm must be SHA1, SHA256 or SHA512");
      }
    } else if (it.key() == "digits") {
      if (!read_choice(*it, 6, 8, params.digits)) {
        return make_error(ErrorCode::kInvalidArgument, "totp.digits must be 6 or 8");
      }
    } else if (it.key() == "period") {
      if (!read_choice(*it, 30, 60, params.period)) {
        return make_error(ErrorCode::kInvalidArgument, "totp.period must be 30 or 60");
      }
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown member totp." + it.key());
    }
  }
  return params;
}

nlohmann::json settings_json(const TotpParams& params) {
  return {{"algorithm", algorithm_name(params.flags)},
          {"digits", params.digits},
          {"period", params.period}};
}

ResponseInput code_input(unsigned min_digits, unsigned max_digits) {
  ResponseInput input;
  input.kind = InputKind::kTypedCode;
  input.min_length = static_cast<int>(min_digits);
  input.max_length = static_cast<int>(max_digits);
  input.characters = "0123456789";
  input.inputmode = "numeric";
  return input;
}

// A stored credential carries exactly the three parameters; anything else is a broken
// invariant (a corrupted row or a credential routed to the wrong provider). This runs on
// every login: one pass over the members, which nlohmann::json keeps sorted by key.
bool parse_credential(const MfaCredential& credential, TotpParams& out) {
  const nlohmann::json& p = credential.params;
  if (credential.provider_id != kProviderId || credential.secret.empty() || !p.is_object() ||
      p.size() != 3) {
    return false;
  }
  auto it = p.begin();
  if (it.key() != "algorithm" || !read_algorithm(*it, out.flags)) return false;
  ++it;
  if (it.key() != "digits" || !read_choice(*it, 6, 8, out.digits)) return false;
  ++it;
  return it.key() == "period" && read_choice(*it, 30, 60, out.period);
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// On success the time step whose code equals `code`. liboath tries the current step, the next,
// then the previous: the previous step, the one most likely already used, is tried last.
Result<int64_t> match_step(const MfaCredential& credential, std::string_view code, int64_t now) {
  TotpParams params;
  if (!parse_credential(credential, params)) {
    return make_error(ErrorCode::kInternal, "not a well-formed TOTP credential");
  }
  if (code.size() != params.digits || !all_digits(code)) {
    return make_error(ErrorCode::kInvalidArgument, params.digits == 6
                                                       ? "the code must be 6 digits"
                                                       : "the code must be 8 digits");
  }
  if (now < 0) return make_error(ErrorCode::kInvalidArgument, "time before the epoch");
  if (int rc = oath_ready(); rc != OATH_OK) return oath_error(rc);

  ExpectedCode expected{code};
  uint64_t step = 0;
  const int rc = oath_totp_validate4_callback(
      credential.secret.data(), credential.secret.size(), static_cast<time_t>(now), params.period,
      OATH_TOTP_DEFAULT_START_TIME, params.digits, kWindow, nullptr, &step, params.flags,
      oath_compare_code, &expected);
  if (rc == OATH_INVALID_OTP) return make_error(ErrorCode::kDenied, "wrong code");
  if (rc < 0) return oath_error(rc);
  // In the first step after the epoch liboath's "previous step" wraps to 2^64-1.
  if (step > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return make_error(ErrorCode::kDenied, "wrong code");
  }
  return static_cast<int64_t>(step);
}

constexpr size_t kMinImportedBytes = 16;  // RFC 4226 §4 R6: at least 128 bits
constexpr size_t kMaxImportedBytes = 64;  // an HMAC block: a longer key is hashed down anyway

// RFC 4648 base32 as people copy it from other servers: any case, spaced in groups, with or
// without '=' padding. A length no encoder makes (1, 3 or 6 characters past a full group) is
// refused; the unused low bits of the last character are ignored.
Result<std::string> imported_secret(std::string_view text) {
  const Error bad = make_error(ErrorCode::kInvalidArgument,
                               "totp.secret must be base32 (RFC 4648: letters A-Z and digits 2-7)");
  const Error bad_size = make_error(
      ErrorCode::kInvalidArgument,
      "totp.secret must hold 16 to 64 bytes (26 to 103 base32 characters)");
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  size_t chars = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    uint32_t value = 0;
    if (c >= 'A' && c <= 'Z') {
      value = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      value = static_cast<uint32_t>(c - 'a');
    } else if (c >= '2' && c <= '7') {
      value = static_cast<uint32_t>(c - '2' + 26);
    } else {
      return bad;
    }
    if (padding) return bad;  // '=' only at the end
    bits = (bits << 5) | value;
    held += 5;
    ++chars;
    if (held >= 8) {
      held -= 8;
      out += static_cast<char>((bits >> held) & 0xff);
      if (out.size() > kMaxImportedBytes) return bad_size;
    }
  }
  const size_t tail = chars % 8;
  if (tail == 1 || tail == 3 || tail == 6) return bad;
  if (out.size() < kMinImportedBytes) return bad_size;
  return out;
}

}  // namespace

std::string totp_base32(std::string_view data) {
  std::string out;
  if (oath_ready() != OATH_OK) return out;
  char* encoded = nullptr;
  size_t encoded_len = 0;
  if (oath_base32_encode(data.data(), data.size(), &encoded, &encoded_len) != OATH_OK) {
    return out;
  }
  out.assign(encoded, encoded_len);
  std::free(encoded);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

Result<std::string> totp_code(std::string_view secret, std::string_view algorithm, unsigned digits,
                              unsigned period, int64_t now) {
  int flags = 0;
  if (!algorithm_flags(algorithm, flags) || digits < 6 || digits > 8 || period == 0 || now < 0) {
    return make_error(ErrorCode::kInvalidArgument, "bad TOTP parameters");
  }
  if (int rc = oath_ready(); rc != OATH_OK) return oath_error(rc);
  char otp[10] = {};
  const int rc = oath_totp_generate2(secret.data(), secret.size(), static_cast<time_t>(now), period,
                                     OATH_TOTP_DEFAULT_START_TIME, digits, flags, otp);
  if (rc != OATH_OK) return oath_error(rc);
  return std::string(otp, digits);
}

TotpProvider::TotpProvider(Random& random)
    : random_(random),
      info_{std::string(kProviderId), "Authenticator app", {"otp"}, ProviderKind::kSoft, false} {
  oath_ready();
}

const ProviderInfo& TotpProvider::info() const { return info_; }

Result<Enrollment> TotpProvider::begin_enrollment(const UserRef& user,
                                                  const ProviderSettings& settings) {
  Result<TotpParams> params = parse_settings(settings);
  if (!params) return params.error();
  if (user.email.empty() || user.issuer_label.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "TOTP enrollment needs the user's email and the issuer label");
  }
  if (int rc = oath_ready(); rc != OATH_OK) return oath_error(rc);
  Result<std::string> secret = random_bytes(random_, kSecretBytes);
  if (!secret) return secret.error();
  const std::string base32 = totp_base32(*secret);
  if (base32.empty()) return make_error(ErrorCode::kInternal, "base32 encoding failed");

  Enrollment enrollment;
  MfaCredential& pending = enrollment.pending;
  pending.user_id = user.user_id;
  pending.provider_id = std::string(kProviderId);
  pending.secret = std::move(*secret);
  pending.params = settings_json(*params);
  pending.counter = -1;
  pending.confirmed = false;

  const std::string issuer = url_encode(user.issuer_label);
  std::string grouped;
  for (size_t i = 0; i < base32.size(); i += 4) {
    if (i > 0) grouped += ' ';
    grouped.append(base32, i, 4);
  }
  enrollment.client_options = {
      {kOptionQrUri, "otpauth://totp/" + issuer + ":" + url_encode(user.email) +
                         "?secret=" + base32 + "&issuer=" + issuer +
                         "&algorithm=" + algorithm_name(params->flags) +
                         "&digits=" + std::to_string(params->digits) +
                         "&period=" + std::to_string(params->period)},
      {kOptionManualKey, std::move(grouped)}};
  enrollment.holds_secret = true;
  enrollment.input = code_input(params->digits, params->digits);
  return enrollment;
}

ProviderSettings TotpProvider::default_settings() const { return settings_json(TotpParams{}); }

Result<ProviderSettings> TotpProvider::validate_settings(const ProviderSettings& settings) const {
  Result<TotpParams> params = parse_settings(settings);
  if (!params) return params.error();
  return settings_json(*params);
}

SettingsDescription TotpProvider::describe_settings() const {
  return {{{"algorithm", "Algorithm", {{"SHA1", "SHA1"}, {"SHA256", "SHA256"}, {"SHA512", "SHA512"}}},
           {"digits", "Digits", {{6, "6 digits"}, {8, "8 digits"}}},
           {"period", "Period", {{30, "30 seconds"}, {60, "60 seconds"}}}},
          "For authenticators set up from now on; ones already set up keep theirs. Most apps "
          "support only SHA1, 6 digits, 30 seconds."};
}

nlohmann::json TotpProvider::public_details(const MfaCredential& credential) const {
  if (!credential.params.is_object()) return nlohmann::json::object();
  Result<TotpParams> params = parse_settings(credential.params);
  return params ? settings_json(*params) : nlohmann::json::object();
}

std::vector<DetailField> TotpProvider::describe_details() const {
  return {{"algorithm", "Algorithm"}, {"digits", "Digits"}, {"period", "Period (seconds)"}};
}

Result<MfaCredential> TotpProvider::finish_enrollment(const MfaCredential& pending,
                                                      std::string_view response,
                                                      const ChallengeContext& context) {
  if (pending.confirmed) {
    return make_error(ErrorCode::kConflict, "the TOTP credential is already confirmed");
  }
  Result<MfaCredential> checked = verify(pending, Challenge{}, response, context);
  if (!checked) return checked.error();
  checked->confirmed = true;
  checked->label = info_.display_name;
  return checked;
}

Result<MfaCredential> TotpProvider::register_for(const UserRef& user, const nlohmann::json& body,
                                                 const ProviderSettings& settings,
                                                 const ChallengeContext& context) {
  Result<TotpParams> params = parse_settings(settings);
  if (!params) return params.error();
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "totp must be an object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "secret") {
      return make_error(ErrorCode::kInvalidArgument, "unknown member totp." + it.key());
    }
  }
  const auto secret = body.find("secret");
  if (secret == body.end() || !secret->is_string()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "totp.secret is required: the key in base32, as an authenticator app "
                      "takes it");
  }
  Result<std::string> key = imported_secret(secret->get_ref<const std::string&>());
  if (!key) return key.error();

  MfaCredential credential;
  credential.user_id = user.user_id;
  credential.provider_id = std::string(kProviderId);
  credential.secret = std::move(*key);
  credential.params = settings_json(*params);
  credential.counter = -1;
  credential.confirmed = true;
  credential.created_at = context.now;
  credential.label = info_.display_name;
  return credential;
}

Result<Challenge> TotpProvider::begin_challenge(std::span<const MfaCredential> credentials,
                                                const ChallengeContext&) {
  // Without credentials the field takes any length a TOTP code can have.
  unsigned min_digits = credentials.empty() ? 6 : 8;
  unsigned max_digits = credentials.empty() ? 8 : 6;
  for (const MfaCredential& credential : credentials) {
    TotpParams params;
    if (!parse_credential(credential, params)) {
      return make_error(ErrorCode::kInternal, "not a well-formed TOTP credential");
    }
    min_digits = std::min(min_digits, params.digits);
    max_digits = std::max(max_digits, params.digits);
  }
  Challenge challenge;
  challenge.input = code_input(min_digits, max_digits);
  return challenge;
}

Result<MfaCredential> TotpProvider::verify(const MfaCredential& credential, const Challenge&,
                                           std::string_view response,
                                           const ChallengeContext& context) {
  Result<int64_t> step = match_step(credential, response, context.now);
  if (!step) return step.error();
  if (*step <= credential.counter) {
    return make_error(ErrorCode::kReplayed, "this code was already used");
  }
  MfaCredential updated = credential;
  updated.counter = *step;
  updated.last_used_at = context.now;
  return updated;
}

}  // namespace keystep
