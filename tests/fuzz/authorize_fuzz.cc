// The authorization request (idp/provider.h Provider::authorize) with a fuzzed query, as the
// server makes it: the raw query string through parse_form (a failure there is the
// server's 400), then one authorize() call against the in-memory IdP of fuzz_support.h.
//
// Input: line 1 the browser's session cookie ("session": the member's live session, empty:
// none, anything else: that value), then the raw query string. Properties:
//  - no exception escapes; the outcome is an error page (400) or a 302;
//  - a 302 goes either to this issuer's /login or /login/second-factor with a new flow
//    (and sets the flow cookie), or to the redirect_uri of the request, which is
//    byte-for-byte one registered for the client_id of the request: never an open redirect;
//  - a redirect to the client carries iss and the request's state; it carries a code only
//    for a browser with a live session, and never alongside an error.
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "base/url.h"
#include "http/error_table.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::WebOutcome;
using keystep::fuzz::World;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 2);
  auto query = keystep::parse_form(fields[1]);
  if (!query) return 0;  // the server answers 400 invalid_request
  World& w = keystep::fuzz::world();

  keystep::BrowserContext browser;
  browser.client_address = "192.0.2.1";
  const bool live_session = fields[0] == "session";
  if (live_session) {
    browser.session_cookie = w.session_cookie;
  } else if (!fields[0].empty()) {
    browser.session_cookie = fields[0];
  }

  const WebOutcome out = w.provider->authorize(*query, browser);
  if (out.kind == WebOutcome::Kind::kErrorPage) {
    FUZZ_CHECK(out.fault && keystep::http::status_of(out) == 400);
    FUZZ_CHECK(!out.error.description.empty());
    FUZZ_CHECK(out.cookies.empty());
    return 0;
  }
  FUZZ_CHECK(out.kind == WebOutcome::Kind::kRedirect && keystep::http::status_of(out) == 302);
  const std::string& location = out.location;
  const std::string issuer = World::kIssuer;
  if (starts_with(location, issuer + "/login?flow=") ||
      starts_with(location, issuer + "/login/second-factor?flow=")) {
    FUZZ_CHECK(out.cookies.size() == 1 && out.cookies[0].name == keystep::kFlowCookie);
    FUZZ_CHECK(out.cookies[0].secure);
    return 0;
  }

  static const std::map<std::string, std::vector<std::string>> registered = {
      {"spa", {World::kSpaRedirect, World::kNativeRedirect}}, {"web", {World::kWebRedirect}}};
  const auto client = registered.find(keystep::param(*query, "client_id"));
  FUZZ_CHECK(client != registered.end());
  const std::string redirect_uri = keystep::param(*query, "redirect_uri");
  FUZZ_CHECK(std::find(client->second.begin(), client->second.end(), redirect_uri) !=
             client->second.end());
  FUZZ_CHECK(starts_with(location, redirect_uri));
  FUZZ_CHECK(location.size() > redirect_uri.size() &&
             (location[redirect_uri.size()] == '?' || location[redirect_uri.size()] == '&'));
  FUZZ_CHECK(out.cookies.empty());

  auto params = keystep::parse_form(location.substr(redirect_uri.size() + 1));
  FUZZ_CHECK(params.ok());
  FUZZ_CHECK(keystep::param(*params, "iss") == issuer);
  FUZZ_CHECK(keystep::param(*params, "state") == keystep::param(*query, "state"));
  const bool has_code = keystep::get_param(*params, "code").has_value();
  const bool has_error = keystep::get_param(*params, "error").has_value();
  FUZZ_CHECK(has_code != has_error);
  if (has_code) FUZZ_CHECK(live_session);
  return 0;
}
