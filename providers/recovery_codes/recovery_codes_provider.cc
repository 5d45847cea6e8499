#include "providers/recovery_codes/recovery_codes_provider.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"

namespace keystep {
namespace {

constexpr std::string_view kProviderId = "recovery_code";
constexpr std::string_view kAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
constexpr size_t kCodeLength = 10;
constexpr size_t kKeyBytes = 32;

// Bytes at or above this are redrawn so that byte % 31 is uniform.
constexpr unsigned kUnbiasedLimit = 256 - 256 % kAlphabet.size();

bool in_alphabet(char c) { return kAlphabet.find(c) != std::string_view::npos; }

// On success the code as stored: separators and spaces removed, upper case. Empty when the
// result is not kCodeLength alphabet characters.
std::string normalize(std::string_view input) {
  std::string code;
  for (char c : input) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!in_alphabet(c) || code.size() == kCodeLength) return {};
    code += c;
  }
  return code.size() == kCodeLength ? code : std::string();
}

Result<std::string> random_code(Random& random) {
  std::string code;
  unsigned char pool[32];
  while (code.size() < kCodeLength) {
    if (Status s = random.fill(pool, sizeof pool); !s) return s.error();
    for (unsigned char b : pool) {
      if (b >= kUnbiasedLimit || code.size() == kCodeLength) continue;
      code += kAlphabet[b % kAlphabet.size()];
    }
  }
  return code;
}

std::string code_hash(std::string_view key, std::string_view code) {
  return base64url_encode(hmac_sha256(key, code));
}

bool well_formed(const MfaCredential& credential) {
  if (credential.provider_id != kProviderId || credential.secret.size() != kKeyBytes ||
      !credential.state.is_object()) {
    return false;
  }
  const auto codes = credential.state.find("codes");
  if (codes == credential.state.end() || !codes->is_array()) return false;
  return std::all_of(codes->begin(), codes->end(), [](const nlohmann::json& entry) {
    if (!entry.is_object()) return false;
    const auto h = entry.find("h");
    const auto used = entry.find("used");
    return h != entry.end() && h->is_string() && used != entry.end() && used->is_boolean();
  });
}

}  // namespace

int remaining_codes(const MfaCredential& credential) {
  if (!well_formed(credential)) return 0;
  int left = 0;
  for (const nlohmann::json& entry : credential.state["codes"]) {
    if (!entry["used"].get<bool>()) ++left;
  }
  return left;
}

RecoveryCodesProvider::RecoveryCodesProvider(Random& random)
    : random_(random),
      info_{std::string(kProviderId), "Recovery code", {"otp"}, ProviderKind::kSoft, true} {}

const ProviderInfo& RecoveryCodesProvider::info() const { return info_; }

Result<Enrollment> RecoveryCodesProvider::begin_enrollment(const UserRef& user,
                                                           const ProviderSettings& settings) {
  if (Result<ProviderSettings> checked = validate_settings(settings); !checked) {
    return checked.error();
  }
  Result<std::string> key = random_bytes(random_, kKeyBytes);
  if (!key) return key.error();

  // Two equal codes among ten happen with p < 1e-13; many mean a broken Random.
  std::vector<std::string> codes;
  for (int draws = 0; codes.size() < static_cast<size_t>(kCodeCount); ++draws) {
    if (draws == 100) {
      return make_error(ErrorCode::kInternal, "the random source keeps repeating itself");
    }
    Result<std::string> code = random_code(random_);
    if (!code) return code.error();
    if (std::find(codes.begin(), codes.end(), *code) == codes.end()) {
      codes.push_back(std::move(*code));
    }
  }

  Enrollment enrollment;
  MfaCredential& pending = enrollment.pending;
  pending.user_id = user.user_id;
  pending.provider_id = std::string(kProviderId);
  pending.params = nlohmann::json::object();
  nlohmann::json entries = nlohmann::json::array();
  nlohmann::json shown = nlohmann::json::array();
  for (const std::string& code : codes) {
    entries.push_back({{"h", code_hash(*key, code)}, {"used", false}});
    shown.push_back(code.substr(0, 5) + "-" + code.substr(5));
  }
  pending.state = {{"codes", std::move(entries)}};
  pending.secret = std::move(*key);
  pending.counter = -1;
  pending.confirmed = false;
  enrollment.client_options = {{kOptionCodes, std::move(shown)}};
  enrollment.holds_secret = true;
  enrollment.input.kind = InputKind::kNone;
  return enrollment;
}

Result<MfaCredential> RecoveryCodesProvider::finish_enrollment(const MfaCredential& pending,
                                                               std::string_view,
                                                               const ChallengeContext&) {
  if (!well_formed(pending)) {
    return make_error(ErrorCode::kInternal, "not a well-formed recovery-code credential");
  }
  MfaCredential confirmed = pending;
  confirmed.confirmed = true;
  return confirmed;
}

Result<Challenge> RecoveryCodesProvider::begin_challenge(std::span<const MfaCredential>,
                                                         const ChallengeContext&) {
  Challenge challenge;
  challenge.input.kind = InputKind::kTypedCode;
  challenge.input.min_length = static_cast<int>(kCodeLength);
  challenge.input.max_length = static_cast<int>(kCodeLength) + 1;  // "ABCDE-23456"
  challenge.input.characters = std::string(kAlphabet) + "abcdefghjkmnpqrstuvwxyz-";
  challenge.input.inputmode = "text";
  return challenge;
}

Result<MfaCredential> RecoveryCodesProvider::verify(const MfaCredential& credential,
                                                    const Challenge&, std::string_view response,
                                                    const ChallengeContext& context) {
  if (!well_formed(credential)) {
    return make_error(ErrorCode::kInternal, "not a well-formed recovery-code credential");
  }
  const std::string code = normalize(response);
  if (code.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a recovery code is 10 letters and digits, like ABCDE-23456");
  }
  const std::string hash = code_hash(credential.secret, code);
  // No early exit: the time taken does not depend on which entry matched.
  const nlohmann::json& entries = credential.state["codes"];
  size_t match = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (constant_time_equal(entries[i]["h"].get_ref<const std::string&>(), hash)) match = i;
  }
  if (match == entries.size()) return make_error(ErrorCode::kDenied, "wrong recovery code");
  if (entries[match]["used"].get<bool>()) {
    return make_error(ErrorCode::kReplayed, "this recovery code was already used");
  }
  MfaCredential updated = credential;
  updated.state["codes"][match]["used"] = true;
  updated.last_used_at = context.now;
  return updated;
}

}  // namespace keystep
