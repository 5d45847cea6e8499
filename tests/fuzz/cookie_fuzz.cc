// The Cookie header as the server reads it: http/request_framer.h cookie_value, which the
// handlers call for ks_session, ks_flow and ks_signup (Pistache's own cookie parser is kept
// away from the header by the RequestFramer: it threw on a pair without '=').
//
// Input: the header's value. Properties:
//  - no exception; the value found never contains ';' (one cookie cannot smuggle another);
//  - it is the trimmed value of the first ';'-separated pair with an '=' whose trimmed name
//    is exactly the cookie's name: a pair without '=' ("junk; ks_session=v") or with another
//    name never hides or replaces it, and a later repeat never overrides the first.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "http/request_framer.h"
#include "idp/oidc/provider.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> expected(std::string_view header, std::string_view name) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    const std::string_view pair = header.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name)
      return std::string(trim(pair.substr(eq + 1)));
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header = keystep::fuzz::as_text(data, size);
  for (const char* name : {keystep::kSessionCookie, keystep::kFlowCookie, keystep::kSignupCookie}) {
    const auto value = keystep::http::cookie_value(header, name);
    if (value) FUZZ_CHECK(value->find(';') == std::string::npos);
    FUZZ_CHECK(value == expected(header, name));
  }
  return 0;
}
