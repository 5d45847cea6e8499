#include "providers/webauthn/rp_id.h"

#include <string>

#include "base/url.h"

namespace keystep::webauthn {

Status check_rp_id(std::string_view rp_id, std::string_view origin) {
  Result<ParsedUrl> url = parse_url(origin);
  if (!url || !url->path.empty() || url->query || url->fragment) {
    return make_error(ErrorCode::kInvalidArgument, "the WebAuthn origin " + std::string(origin) +
                                                       " is not a scheme, host and port");
  }
  const std::string& host = url->host;
  if (rp_id == host) return {};
  const Error refused = make_error(ErrorCode::kInvalidArgument,
                                   "the WebAuthn rp id " + std::string(rp_id) +
                                       " is neither the host of " + std::string(origin) +
                                       " nor a domain it belongs to (e.g. example.com for "
                                       "id.example.com)");
  // A suffix at a label boundary, of two labels or more, of a host that is a domain name.
  const bool ip_host =
      host.front() == '[' || host.find_first_not_of("0123456789.") == std::string::npos;
  if (ip_host || rp_id.empty() || rp_id.front() == '.' ||
      rp_id.find('.') == std::string_view::npos || host.size() <= rp_id.size() + 1 ||
      host.compare(host.size() - rp_id.size(), rp_id.size(), rp_id) != 0 ||
      host[host.size() - rp_id.size() - 1] != '.') {
    return refused;
  }
  for (char c : rp_id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return refused;
  }
  return {};
}

}  // namespace keystep::webauthn
