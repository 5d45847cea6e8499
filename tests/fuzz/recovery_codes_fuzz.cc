// Recovery-code response parsing and checking (providers/recovery_codes verify).
//
// Input: line 1 the credential's state as JSON (empty: the state of a real enrollment made
// once per process), then the response. "CODE0".."CODE9" at the start of the response
// becomes that shown code, so the accepting and replay paths are reached. Properties:
//  - no exception; a malformed state is kInternal;
//  - a response is normalised (spaces, tabs and '-' dropped, upper-cased): anything but 10
//    characters of the code alphabet is kInvalidArgument, an unknown code kDenied;
//  - a shown, unused code is accepted: exactly that entry becomes used, one code fewer
//    remains, and the same response is then kReplayed.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "providers/recovery_codes/recovery_codes_provider.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::ErrorCode;

constexpr std::string_view kAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

std::string normalize(std::string_view input) {
  std::string code;
  for (char c : input) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    code += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return code;
}

struct Enrolled {
  keystep::MfaCredential credential;
  std::vector<std::string> codes;
};

const Enrolled& enrolled(keystep::RecoveryCodesProvider& provider) {
  static const Enrolled e = [&] {
    auto enrollment = provider.begin_enrollment({1, 1, "alice@example.com", "Acme"}, nullptr);
    FUZZ_CHECK(enrollment.ok());
    auto confirmed = provider.finish_enrollment(enrollment->pending, "", {0, "", ""});
    FUZZ_CHECK(confirmed.ok());
    return Enrolled{*confirmed,
                   enrollment->client_options[keystep::kOptionCodes].get<std::vector<std::string>>()};
  }();
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 2);
  static keystep::OsRandom random;
  static keystep::RecoveryCodesProvider provider(random);
  const Enrolled& real = enrolled(provider);

  keystep::MfaCredential credential = real.credential;
  const bool real_state = fields[0].empty();
  if (!real_state) credential.state = nlohmann::json::parse(fields[0], nullptr, false);

  std::string response = fields[1];
  if (response.size() >= 5 && response.rfind("CODE", 0) == 0 && response[4] >= '0' &&
      response[4] <= '9') {
    response = real.codes[static_cast<size_t>(response[4] - '0')] + response.substr(5);
  }

  const keystep::Challenge challenge;
  auto result = provider.verify(credential, challenge, response, {42, "", ""});
  const std::string code = normalize(response);
  const bool shape = code.size() == 10 && code.find_first_not_of(kAlphabet) == std::string::npos;
  if (!result) {
    const ErrorCode e = result.error().code;
    FUZZ_CHECK(e == ErrorCode::kInternal || e == ErrorCode::kInvalidArgument ||
               e == ErrorCode::kDenied || e == ErrorCode::kReplayed);
    if (real_state) {
      FUZZ_CHECK(e != ErrorCode::kInternal && e != ErrorCode::kReplayed);  // none used yet
      FUZZ_CHECK((e == ErrorCode::kInvalidArgument) == !shape);
      if (e == ErrorCode::kDenied) {
        for (const auto& shown : real.codes) FUZZ_CHECK(normalize(shown) != code);
      }
    }
    return 0;
  }
  FUZZ_CHECK(shape);
  if (real_state) {
    bool shown = false;
    for (const auto& c : real.codes) shown = shown || normalize(c) == code;
    FUZZ_CHECK(shown);
  }
  FUZZ_CHECK(result->last_used_at == 42);
  FUZZ_CHECK(keystep::remaining_codes(*result) == keystep::remaining_codes(credential) - 1);
  int newly_used = 0;
  const auto& before = credential.state["codes"];
  const auto& after = result->state["codes"];
  FUZZ_CHECK(before.size() == after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    FUZZ_CHECK(before[i]["h"] == after[i]["h"]);
    if (!before[i]["used"].get<bool>() && after[i]["used"].get<bool>()) ++newly_used;
    if (before[i]["used"].get<bool>()) FUZZ_CHECK(after[i]["used"].get<bool>());
  }
  FUZZ_CHECK(newly_used == 1);
  auto again = provider.verify(*result, challenge, response, {43, "", ""});
  FUZZ_CHECK(!again && again.error().code == ErrorCode::kReplayed);
  return 0;
}
