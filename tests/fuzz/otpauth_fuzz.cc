// otpauth URI building (providers/totp): the account label and the member's address go into
// the otpauth:// URI that the QR code and the setup email carry.
//
// Input: line 1 the email, line 2 the issuer label, then the settings as JSON (anything that
// is not JSON: null). Properties:
//  - no exception; bad settings or an empty email or label are kInvalidArgument;
//  - the URI is well-formed URI text "otpauth://totp/LABEL?QUERY" whose label decodes to
//    "issuer:email" and whose query holds exactly secret, issuer, algorithm, digits and
//    period, decoding to the base32 secret, the label and the credential's parameters;
//  - the display secret is the base32 secret in groups of four;
//  - the pending credential is unconfirmed, of provider "totp", with a 20-byte secret.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>

#include "base/url.h"
#include "providers/totp/totp_provider.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// name -> value of a query whose parts are percent-encoded (no '+' is ever written).
std::map<std::string, std::string> query_values(std::string_view query, size_t& count) {
  std::map<std::string, std::string> out;
  count = 0;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = part.find('=');
    FUZZ_CHECK(eq != std::string_view::npos);
    auto name = keystep::url_decode(part.substr(0, eq), false);
    auto value = keystep::url_decode(part.substr(eq + 1), false);
    FUZZ_CHECK(name.ok() && value.ok());
    out[*name] = *value;
    ++count;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 3);
  static keystep::OsRandom random;
  static keystep::TotpProvider provider(random);
  keystep::UserRef user{1, 1, fields[0], fields[1]};
  const nlohmann::json settings = nlohmann::json::parse(fields[2], nullptr, false);

  auto enrollment =
      provider.begin_enrollment(user, settings.is_discarded() ? nlohmann::json() : settings);
  if (user.email.empty() || user.issuer_label.empty()) FUZZ_CHECK(!enrollment);
  if (!enrollment) {
    FUZZ_CHECK(enrollment.error().code == keystep::ErrorCode::kInvalidArgument);
    return 0;
  }
  const keystep::MfaCredential& pending = enrollment->pending;
  FUZZ_CHECK(pending.provider_id == "totp" && !pending.confirmed);
  FUZZ_CHECK(pending.secret.size() == 20);

  const std::string uri = enrollment->client_options.value(keystep::kOptionQrUri, "");
  FUZZ_CHECK(keystep::is_well_formed_uri_text(uri));
  const std::string prefix = "otpauth://totp/";
  FUZZ_CHECK(uri.rfind(prefix, 0) == 0);
  const size_t question = uri.find('?');
  FUZZ_CHECK(question != std::string::npos && uri.find('#') == std::string::npos);
  auto label = keystep::url_decode(uri.substr(prefix.size(), question - prefix.size()), false);
  FUZZ_CHECK(label && *label == user.issuer_label + ":" + user.email);

  size_t count = 0;
  auto query = query_values(std::string_view(uri).substr(question + 1), count);
  FUZZ_CHECK(count == 5 && query.size() == 5);
  const std::string secret = keystep::totp_base32(pending.secret);
  FUZZ_CHECK(query["secret"] == secret);
  FUZZ_CHECK(query["issuer"] == user.issuer_label);
  FUZZ_CHECK(query["algorithm"] == pending.params["algorithm"].get<std::string>());
  FUZZ_CHECK(query["digits"] == std::to_string(pending.params["digits"].get<int>()));
  FUZZ_CHECK(query["period"] == std::to_string(pending.params["period"].get<int>()));

  std::string grouped;
  for (size_t i = 0; i < secret.size(); i += 4) {
    if (i > 0) grouped += ' ';
    grouped += secret.substr(i, 4);
  }
  FUZZ_CHECK(enrollment->client_options.value(keystep::kOptionManualKey, "") == grouped);
  return 0;
}
