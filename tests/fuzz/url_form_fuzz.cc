// Form and query decoding (base/url.h): url_decode, parse_form and their inverses, as every
// query string and form body the server receives goes through them.
//
// Input: a query string or form body, as sent. Properties:
//  - url_decode succeeds iff every '%' starts a two-hex-digit escape, and then
//    url_decode(url_encode(d)) == d; url_decode(url_encode(input)) == input for any bytes;
//  - url_encode's output is well-formed URI text made of unreserved characters and escapes;
//  - parse_form succeeds iff the escapes are well formed and every decoded name and value
//    is UTF-8 (so no parameter can carry bytes JSON or HTML would choke on); then
//    parse_form(encode_form(params)) == params (order and repeats kept);
//  - get_param returns the first non-empty value, has_duplicate counts non-empty values;
//  - append_query keeps the URL's fragment after the parameters it adds.
#include <cstddef>
#include <cstdint>

#include "base/url.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::Params;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool escapes_well_formed(std::string_view text, size_t& escapes) {
  escapes = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
    ++escapes;
    i += 2;
  }
  return true;
}

bool only_unreserved_and_escapes(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
      i += 2;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~')) {
      return false;
    }
  }
  return true;
}

// Whether every decoded name and value of a well-formed form body is UTF-8.
bool all_segments_utf8(std::string_view body) {
  while (!body.empty()) {
    const size_t amp = body.find('&');
    std::string_view segment = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    const size_t eq = segment.find('=');
    for (auto part : {segment.substr(0, eq),
                      eq == std::string_view::npos ? std::string_view() : segment.substr(eq + 1)}) {
      auto decoded = keystep::url_decode(part, true);
      if (!decoded || !keystep::fuzz::is_utf8(*decoded)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = keystep::fuzz::as_text(data, size);

  const std::string encoded = keystep::url_encode(input);
  FUZZ_CHECK(only_unreserved_and_escapes(encoded));
  FUZZ_CHECK(keystep::is_well_formed_uri_text(encoded));
  for (bool plus : {false, true}) {
    auto back = keystep::url_decode(encoded, plus);
    FUZZ_CHECK(back && *back == input);
  }

  size_t escapes = 0;
  const bool well_formed = escapes_well_formed(input, escapes);
  for (bool plus : {false, true}) {
    auto decoded = keystep::url_decode(input, plus);
    FUZZ_CHECK(decoded.ok() == well_formed);
    if (!decoded) continue;
    FUZZ_CHECK(decoded->size() == input.size() - 2 * escapes);
    auto again = keystep::url_decode(keystep::url_encode(*decoded), plus);
    FUZZ_CHECK(again && *again == *decoded);
  }

  auto params = keystep::parse_form(input);
  FUZZ_CHECK(params.ok() == (well_formed && all_segments_utf8(input)));
  if (!params) return 0;
  auto round_trip = keystep::parse_form(keystep::encode_form(*params));
  FUZZ_CHECK(round_trip && *round_trip == *params);

  // The first few names only: the check is quadratic in the number of parameters.
  for (size_t i = 0; i < params->size() && i < 8; ++i) {
    const std::string& name = (*params)[i].first;
    std::optional<std::string> first;
    int non_empty = 0;
    for (const auto& [n, v] : *params) {
      if (n != name || v.empty()) continue;
      if (!first) first = v;
      ++non_empty;
    }
    FUZZ_CHECK(keystep::get_param(*params, name) == first);
    FUZZ_CHECK(keystep::param(*params, name) == first.value_or(""));
    FUZZ_CHECK(keystep::has_duplicate(*params, name) == (non_empty > 1));
  }

  const std::string url = keystep::append_query("https://rp.example/cb?a=1#frag", *params);
  const std::string added = keystep::encode_form(*params);
  if (added.empty()) {
    FUZZ_CHECK(url == "https://rp.example/cb?a=1#frag");
  } else {
    FUZZ_CHECK(url == "https://rp.example/cb?a=1&" + added + "#frag");
  }
  return 0;
}
