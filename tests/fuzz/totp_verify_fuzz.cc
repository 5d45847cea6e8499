// TOTP response parsing and checking (providers/totp verify): the code a user types at the
// second step, against a credential as the store returns it.
//
// Input: line 1 the credential's params as JSON (empty: SHA1, 6 digits, 30 s), line 2 its
// counter, line 3 the time, then the response. A response "CUR", "PREV" or "NEXT" becomes
// that step's real code (followed by whatever comes after it), so the accepting and
// replay paths are reached. Properties:
//  - no exception; params that are not exactly {algorithm, digits, period} with allowed
//    values are kInternal, never a crash or an acceptance;
//  - with well-formed params a response that is not exactly `digits` ASCII digits is
//    kInvalidArgument;
//  - an accepted response is the real code of a step in now-1..now+1 after the counter; the
//    result records that step and the time; verifying it again is kReplayed;
//  - the real code of the current step is accepted when its step is after the counter.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "providers/totp/totp_provider.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::ErrorCode;

constexpr std::string_view kSecret = "12345678901234567890";  // RFC 6238's test key

int64_t number(const std::string& text, int64_t fallback) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : fallback;
}

bool well_formed(const nlohmann::json& p) {
  if (!p.is_object() || p.size() != 3 || !p.contains("algorithm") || !p.contains("digits") ||
      !p.contains("period"))
    return false;
  const auto& a = p["algorithm"];
  const auto& d = p["digits"];
  const auto& s = p["period"];
  return a.is_string() && (a == "SHA1" || a == "SHA256" || a == "SHA512") &&
         d.is_number_integer() && (d == 6 || d == 8) && s.is_number_integer() &&
         (s == 30 || s == 60);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 4);
  static keystep::OsRandom random;
  static keystep::TotpProvider provider(random);

  keystep::MfaCredential credential;
  credential.provider_id = "totp";
  credential.secret = std::string(kSecret);
  credential.params = fields[0].empty()
                          ? nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}
                          : nlohmann::json::parse(fields[0], nullptr, false);
  credential.counter = number(fields[1], -1);
  credential.confirmed = true;
  const int64_t now = number(fields[2], keystep::fuzz::FixedClock::kStart);
  const bool good_params = well_formed(credential.params);

  std::string response = fields[3];
  int64_t substituted_step = -1;
  if (good_params && now >= 0) {
    const std::string algorithm = credential.params["algorithm"];
    const unsigned digits = credential.params["digits"];
    const unsigned period = credential.params["period"];
    for (const auto& [word, delta] :
         {std::pair<std::string_view, int64_t>{"CUR", 0}, {"PREV", -1}, {"NEXT", 1}}) {
      if (response.rfind(word, 0) != 0) continue;
      const int64_t at = now + delta * static_cast<int64_t>(period);
      if (at < 0) break;
      auto code = keystep::totp_code(kSecret, algorithm, digits, period, at);
      FUZZ_CHECK(code.ok());
      response = *code + response.substr(word.size());
      substituted_step = at / period;
      break;
    }
  }

  const keystep::Challenge challenge;
  const keystep::ChallengeContext context{now, "", "", nullptr};
  auto result = provider.verify(credential, challenge, response, context);
  if (!good_params) {
    FUZZ_CHECK(!result && result.error().code == ErrorCode::kInternal);
    return 0;
  }
  const unsigned digits = credential.params["digits"];
  const unsigned period = credential.params["period"];
  const bool shape =
      response.size() == digits &&
      std::all_of(response.begin(), response.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!shape) FUZZ_CHECK(!result && result.error().code == ErrorCode::kInvalidArgument);
  if (shape && substituted_step >= 0 && response.size() == digits &&
      substituted_step > credential.counter && substituted_step == now / period) {
    FUZZ_CHECK(result.ok());
  }
  if (!result) {
    FUZZ_CHECK(result.error().code == ErrorCode::kInvalidArgument ||
               result.error().code == ErrorCode::kDenied ||
               result.error().code == ErrorCode::kReplayed);
    return 0;
  }
  const int64_t step = result->counter;
  FUZZ_CHECK(step > credential.counter);
  FUZZ_CHECK(step >= now / period - 1 && step <= now / period + 1);
  auto expected = keystep::totp_code(kSecret, credential.params["algorithm"].get<std::string>(),
                                     digits, period, step * period);
  FUZZ_CHECK(expected && *expected == response);
  FUZZ_CHECK(result->last_used_at == now);
  auto again = provider.verify(*result, challenge, response, context);
  FUZZ_CHECK(!again && again.error().code == ErrorCode::kReplayed);
  return 0;
}
