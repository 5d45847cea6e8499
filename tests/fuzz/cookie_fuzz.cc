// The Cookie header as the server reads it: Pistache's parser (Http::CookieJar::addFromRaw,
// which Pistache calls for every Cookie header, splitting it with Cookie::fromRaw) and then
// the lookups http/server.cc makes for ks_session, ks_flow and ks_signup (has, then get).
//
// Pistache is a system library built without coverage instrumentation, so libFuzzer sees
// only the edges of this file and Pistache's inline header code; the seeds and the
// dictionary-like mutations carry the rest.
//
// Input: the header's value. Properties:
//  - the parser either fills the jar or throws a std::exception (the server must answer
//    4xx to that: see docs/security.md); nothing else escapes, no memory error;
//  - every cookie in the jar can be looked up by its name, and get() never throws after
//    has() said yes;
//  - the value the server reads for its own cookies never spans into the next cookie (no
//    ';') and is text of the header.
// Pistache quirks the fuzzer showed, which hold and are therefore not asserted (see
// docs/security.md, Fuzzing): a part without '=' throws, or when another part follows, is
// glued to it ("junk; ks_session=v" is one cookie named "junk; ks_session"); of repeated
// names get() returns an arbitrary one.
#include <pistache/cookie.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "idp/provider.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header = keystep::fuzz::as_text(data, size);
  Pistache::Http::CookieJar jar;
  try {
    jar.addFromRaw(header.data(), header.size());
  } catch (const std::exception&) {
    return 0;
  }
  size_t count = 0;
  for (const auto& cookie : jar) {
    ++count;
    FUZZ_CHECK(jar.has(cookie.name));
    jar.get(cookie.name);
  }
  FUZZ_CHECK(count <= header.size());
  for (const char* name : {keystep::kSessionCookie, keystep::kFlowCookie, keystep::kSignupCookie}) {
    if (!jar.has(name)) continue;
    const auto value = jar.get(name).value;
    FUZZ_CHECK(value.find(';') == std::string::npos);
    FUZZ_CHECK(header.find(value) != std::string_view::npos);
  }
  return 0;
}
