// The token endpoint's client authentication and grant parsing (Provider::token) with a
// fuzzed form body and Authorization header, against the in-memory IdP of fuzz_support.h.
//
// Input: line 1 the Authorization header (empty: none; "basic-web" / "basic-spa": correct
// Basic credentials of client web / spa), then the raw form body, in which WEBSECRET stands
// for web's percent-encoded secret. Properties:
//  - no exception escapes; no 2xx (no code or refresh token exists that a fuzzer could
//    guess) and no 5xx;
//  - the body serialises as JSON: an object with an RFC 6749 §5.2 "error" code and a string
//    "error_description"; 401 iff invalid_client; WWW-Authenticate only on 401 and only
//    after Basic credentials;
//  - the request got past client authentication (invalid_grant, unsupported_grant_type,
//    invalid_scope) only with web's exact secret, by one method, or as public client spa
//    without a secret.
#include <cstddef>
#include <cstdint>
#include <set>

#include "base/crypto/encoding.h"
#include "base/url.h"
#include "http/error_table.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::fuzz::World;

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The client a request authenticates as by the rules of RFC 6749 §2.3.1, or "" if none.
std::string expected_client(const keystep::Params& form,
                            const std::optional<std::string>& authorization) {
  std::optional<std::string> id, secret;
  if (authorization && authorization->size() > 6 &&
      (authorization->rfind("Basic ", 0) == 0 || authorization->rfind("basic ", 0) == 0)) {
    auto decoded = keystep::base64_decode(authorization->substr(6));
    if (!decoded) return "";
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) return "";
    auto user = keystep::url_decode(decoded->substr(0, colon), true);
    auto pass = keystep::url_decode(decoded->substr(colon + 1), true);
    if (!user || !pass || keystep::get_param(form, "client_secret")) return "";
    if (auto form_id = keystep::get_param(form, "client_id"); form_id && *form_id != *user)
      return "";
    id = *user;
    secret = *pass;
  } else {
    id = keystep::get_param(form, "client_id");
    secret = keystep::get_param(form, "client_secret");
  }
  if (id == "web" && secret == World::kWebSecret) return "web";
  if (id == "spa" && !secret) return "spa";
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 2);
  auto form = keystep::parse_form(
      replace_all(fields[1], "WEBSECRET", keystep::url_encode(World::kWebSecret)));
  if (!form) return 0;  // the server answers 400 invalid_request
  std::optional<std::string> authorization;
  if (fields[0] == "basic-web") {
    authorization = "Basic " + keystep::base64_encode(std::string("web:") + World::kWebSecret);
  } else if (fields[0] == "basic-spa") {
    authorization = "Basic " + keystep::base64_encode("spa:");
  } else if (!fields[0].empty()) {
    authorization = fields[0];
  }
  World& w = keystep::fuzz::world();

  const keystep::ApiOutcome out = w.provider->token(*form, authorization, std::nullopt);
  // What the server sends (http/error_table.h).
  const int status = keystep::http::status_of(out);
  const nlohmann::json body = keystep::http::body_of(out);
  FUZZ_CHECK(status == 400 || status == 401);
  FUZZ_CHECK(body.is_object() && body.size() == 2);
  FUZZ_CHECK(body.contains("error") && body["error"].is_string());
  FUZZ_CHECK(body.contains("error_description") && body["error_description"].is_string());
  const std::string json = body.dump();  // throws on invalid UTF-8: a 500 at the server
  FUZZ_CHECK(!json.empty());

  static const std::set<std::string> kErrors = {"invalid_request",        "invalid_client",
                                                "invalid_grant",          "unauthorized_client",
                                                "unsupported_grant_type", "invalid_scope"};
  const std::string error = body["error"];
  FUZZ_CHECK(kErrors.count(error) == 1);
  FUZZ_CHECK((status == 401) == (error == "invalid_client"));
  if (!out.www_authenticate.empty()) {
    FUZZ_CHECK(status == 401);
    FUZZ_CHECK(authorization &&
               (authorization->rfind("Basic ", 0) == 0 || authorization->rfind("basic ", 0) == 0));
  }
  if (error == "invalid_grant" || error == "unsupported_grant_type" || error == "invalid_scope")
    FUZZ_CHECK(!expected_client(*form, authorization).empty());
  return 0;
}
