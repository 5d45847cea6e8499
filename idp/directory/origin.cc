#include "idp/directory/origin.h"

#include <algorithm>

#include "base/url.h"

namespace keystep {
namespace {

std::string serialize(const ParsedUrl& url) {
  std::string origin = url.scheme + "://" + url.host;
  const uint16_t default_port = url.scheme == "https" ? 443 : 80;
  if (url.port && *url.port != default_port) origin += ":" + std::to_string(*url.port);
  return origin;
}

bool loopback(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

}  // namespace

Result<std::string> normalize_origin(std::string_view origin) {
  auto invalid = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid origin " + std::string(origin) + ": " + why +
                          " (an origin is scheme://host[:port], e.g. https://app.example.com)");
  };
  auto url = parse_url(origin);
  if (!url) return invalid(url.error().message);
  if ((!url->path.empty() && url->path != "/") || url->query || url->fragment)
    return invalid("no path, query or fragment");
  if (url->scheme == "http" && !loopback(url->host))
    return invalid("http is allowed only for loopback hosts; use https");
  return serialize(*url);
}

std::optional<std::string> origin_of(std::string_view uri) {
  auto url = parse_url(uri);
  if (!url) return std::nullopt;
  return serialize(*url);
}

std::vector<std::string> allowed_origins(const Client& client) {
  std::vector<std::string> origins = client.allowed_origins;
  for (const auto& uri : client.redirect_uris) {
    auto origin = origin_of(uri);
    if (origin && std::find(origins.begin(), origins.end(), *origin) == origins.end())
      origins.push_back(*origin);
  }
  return origins;
}

bool origin_allowed(const Client& client, std::string_view origin) {
  // Compared as sent: browsers serialize origins the way normalize_origin does, so anything
  // else is no browser's Origin and matches nothing.
  const auto origins = allowed_origins(client);
  return std::find(origins.begin(), origins.end(), origin) != origins.end();
}

}  // namespace keystep
