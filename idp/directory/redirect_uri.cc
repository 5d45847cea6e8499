#include "idp/directory/redirect_uri.h"

#include <algorithm>

#include "base/url.h"

namespace keystep {
namespace {

Error invalid(std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, "invalid redirect URI: " + std::string(why));
}

bool is_scheme(std::string_view s) {
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  return !s.empty() && alpha(s.front()) && std::all_of(s.begin(), s.end(), [&](char c) {
    return alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
  });
}

}  // namespace

Status validate_redirect_uri(std::string_view uri) {
  if (uri.empty()) return invalid("empty");
  if (uri.size() > kMaxRedirectUriLength) return invalid("longer than 2048 bytes");
  if (uri.find('#') != std::string_view::npos) return invalid("must not have a fragment");
  if (!is_well_formed_uri_text(uri)) return invalid("character not allowed in a URI");
  const size_t colon = uri.find(':');
  if (colon == std::string_view::npos || !is_scheme(uri.substr(0, colon))) {
    return invalid("must be an absolute URI");
  }
  std::string scheme(uri.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });

  if (scheme == "http" || scheme == "https") {
    Result<ParsedUrl> url = parse_url(uri);
    if (!url) return invalid(url.error().message);
    if (scheme == "http" && url->host != "localhost" && url->host != "127.0.0.1" &&
        url->host != "[::1]") {
      return invalid("http is allowed only for loopback hosts; use https");
    }
    return {};
  }

  if (scheme.find('.') == std::string::npos) {
    return invalid("scheme must be https, loopback http, or a reverse-domain private-use scheme");
  }
  const std::string_view rest = uri.substr(colon + 1);
  if (rest.empty()) return invalid("nothing after the scheme");
  if (rest.substr(0, 2) == "//") {
    const std::string_view authority = rest.substr(2, rest.find_first_of("/?", 2) - 2);
    if (authority.find('@') != std::string_view::npos) return invalid("userinfo not allowed");
  }
  return {};
}

bool redirect_uri_registered(const std::vector<std::string>& registered,
                             std::string_view requested) {
  return std::find(registered.begin(), registered.end(), requested) != registered.end();
}

}  // namespace keystep
