// Redirect-URI validation (idp/directory/redirect_uri.h) and the URL parser under it (base/url.h
// parse_url): what a client may register and what an authorization request must match.
//
// Input: lines; every line but the last is a candidate for registration, the last one is
// the redirect_uri of a request. Properties:
//  - a requested URI is accepted iff it is byte-for-byte one of the registered ones (never
//    a prefix, a case variant or a normalised form);
//  - a URI validate_redirect_uri accepts is at most 2048 bytes of URI characters without a
//    fragment, and is https, http on a loopback host, or a scheme containing a '.' (so never
//    javascript:, data:, file: ...); an http(s) one parses with parse_url and has no
//    userinfo;
//  - parse_url's result has a lower-case http(s) scheme and host, a port in 1..65535, and
//    parsing the URL put back together gives the same components.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "idp/directory/redirect_uri.h"
#include "base/url.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return s;
}

bool has_upper(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string render(const keystep::ParsedUrl& url) {
  std::string out = url.scheme + "://" + url.host;
  if (url.port) out += ":" + std::to_string(*url.port);
  out += url.path;
  if (url.query) out += "?" + *url.query;
  if (url.fragment) out += "#" + *url.fragment;
  return out;
}

bool same(const keystep::ParsedUrl& a, const keystep::ParsedUrl& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.path == b.path &&
         a.query == b.query && a.fragment == b.fragment;
}

void check_parse_url(const std::string& text) {
  auto url = keystep::parse_url(text);
  if (!url) return;
  FUZZ_CHECK(keystep::is_well_formed_uri_text(text));
  FUZZ_CHECK(url->scheme == "http" || url->scheme == "https");
  FUZZ_CHECK(!url->host.empty() && !has_upper(url->host));
  FUZZ_CHECK(url->host.find('@') == std::string::npos);
  FUZZ_CHECK(!url->port || *url->port >= 1);
  auto again = keystep::parse_url(render(*url));
  FUZZ_CHECK(again && same(*again, *url));
}

void check_validation(const std::string& uri) {
  if (!keystep::validate_redirect_uri(uri)) return;
  FUZZ_CHECK(!uri.empty() && uri.size() <= keystep::kMaxRedirectUriLength);
  FUZZ_CHECK(uri.find('#') == std::string::npos);
  FUZZ_CHECK(keystep::is_well_formed_uri_text(uri));
  const size_t colon = uri.find(':');
  FUZZ_CHECK(colon != std::string::npos && colon > 0);
  const std::string scheme = lower(uri.substr(0, colon));
  if (scheme == "http" || scheme == "https") {
    auto url = keystep::parse_url(uri);
    FUZZ_CHECK(url.ok());
    FUZZ_CHECK(!url->fragment);
    if (scheme == "http")
      FUZZ_CHECK(url->host == "localhost" || url->host == "127.0.0.1" || url->host == "[::1]");
  } else {
    FUZZ_CHECK(scheme.find('.') != std::string::npos);
    FUZZ_CHECK(scheme != "javascript" && scheme != "data" && scheme != "file" &&
               scheme != "vbscript" && scheme != "blob");
    if (uri.compare(colon + 1, 2, "//") == 0) {
      const size_t end = uri.find_first_of("/?", colon + 3);
      const std::string authority =
          uri.substr(colon + 3, end == std::string::npos ? std::string::npos : end - colon - 3);
      FUZZ_CHECK(authority.find('@') == std::string::npos);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> lines;
  std::string_view text = keystep::fuzz::as_text(data, size);
  while (true) {
    const size_t newline = text.find('\n');
    lines.emplace_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  const std::string requested = lines.back();
  lines.pop_back();

  std::vector<std::string> registered;
  for (const auto& line : lines) {
    check_parse_url(line);
    check_validation(line);
    if (keystep::validate_redirect_uri(line)) registered.push_back(line);
  }
  check_parse_url(requested);
  check_validation(requested);
  const bool listed =
      std::find(registered.begin(), registered.end(), requested) != registered.end();
  FUZZ_CHECK(keystep::redirect_uri_registered(registered, requested) == listed);
  // Near misses of a registered URI are never accepted.
  for (const auto& uri : registered) {
    for (const std::string& variant :
         {uri + "/", uri + "?", uri + "#", uri + "x", lower(uri), uri.substr(0, uri.size() - 1)}) {
      if (std::find(registered.begin(), registered.end(), variant) == registered.end())
        FUZZ_CHECK(!keystep::redirect_uri_registered(registered, variant));
    }
  }
  return 0;
}
