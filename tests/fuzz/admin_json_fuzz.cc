// Admin JSON bodies (idp/admin_api.h): PUT authentication-settings, POST invitations and
// POST tokens, called as the account's admin against the in-memory IdP of fuzz_support.h,
// through the one body parser (idp/json_body.h parse_json_object).
//
// Input: line 1 the endpoint ("settings", "invite" or "token"; anything else: settings),
// then the body. Properties:
//  - no exception escapes; the answer is 200, 201, 400, 409 or 428, never 5xx (a body that
//    passed validation must not fail later, e.g. in the mail it queues) and never
//    401/403/404 for the account's admin;
//  - the answer serialises as JSON (valid UTF-8): an object, with a string "error" on 4xx;
//  - a body parse_json_object refuses (not JSON, not an object, duplicate names, too deep)
//    is a 400; one it accepts is the object nlohmann::json parses;
//  - after a 200 to PUT settings, GET settings shows what the body set; an invitation is for
//    the normalised address of the body; a new token carries the token once and its name
//    is 1-64 printable characters.
#include <cstddef>
#include <cstdint>

#include "base/json_body.h"
#include "http/error_table.h"
#include "idp/directory/directory.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::ApiOutcome;

// The status the server sends for `out` (http/error_table.h).
int status(const ApiOutcome& out) { return keystep::http::status_of(out); }

void check_answer(const ApiOutcome& out) {
  const int sent = status(out);
  FUZZ_CHECK(sent == 200 || sent == 201 || sent == 400 || sent == 409 || sent == 428);
  const nlohmann::json body = keystep::http::body_of(out);
  FUZZ_CHECK(body.is_object());
  const std::string json = body.dump();  // throws on invalid UTF-8: a 500 at the server
  FUZZ_CHECK(!json.empty());
  if (sent >= 400) FUZZ_CHECK(body.contains("error") && body["error"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 2);
  const std::string& body = fields[1];
  keystep::fuzz::World& w = keystep::fuzz::world();
  const keystep::Caller admin{w.admin, false};
  const std::string address = "192.0.2.1";

  auto parsed = keystep::parse_json_object(body);
  if (parsed) {
    const auto plain = nlohmann::json::parse(body, nullptr, false);
    FUZZ_CHECK(plain.is_object() && plain == *parsed);
  }

  ApiOutcome out;
  if (fields[0] == "invite") {
    out = w.admin_api->invite(admin, "acme", body, address);
    check_answer(out);
    if (status(out) == 200 || status(out) == 201) {
      FUZZ_CHECK(parsed.ok());
      auto email = keystep::normalize_email((*parsed)["email"].get<std::string>());
      FUZZ_CHECK(email && out.body["email"] == *email);
    }
  } else if (fields[0] == "token") {
    out = w.admin_api->create_token(admin, "acme", body, address);
    check_answer(out);
    if (status(out) == 201) {
      FUZZ_CHECK(parsed.ok());
      FUZZ_CHECK(out.body["token"].is_string() && !out.body["token"].get<std::string>().empty());
      const std::string name = (*parsed)["name"];
      FUZZ_CHECK(!name.empty() && name.size() <= 64);
    }
  } else {
    out = w.admin_api->put_settings(admin, "acme", body, address);
    check_answer(out);
    if (status(out) == 200) {
      FUZZ_CHECK(parsed.ok());
      const ApiOutcome now = w.admin_api->get_settings(admin, "acme");
      FUZZ_CHECK(status(now) == 200);
      for (const char* key : {"enforce_two_factor", "enrollment_email", "allowed_providers"}) {
        if (!parsed->contains(key)) continue;
        if (std::string(key) == "allowed_providers") {
          for (const auto& id : (*parsed)[key])
            FUZZ_CHECK(std::find(now.body[key].begin(), now.body[key].end(), id) !=
                       now.body[key].end());
        } else {
          FUZZ_CHECK(now.body[key] == (*parsed)[key]);
        }
      }
      if (parsed->contains("totp")) {
        for (const auto& [k, v] : (*parsed)["totp"].items()) FUZZ_CHECK(now.body["totp"][k] == v);
      }
    }
  }
  if (!parsed) FUZZ_CHECK(status(out) == 400);
  return 0;
}
