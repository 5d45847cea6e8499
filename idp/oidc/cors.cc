#include "idp/oidc/cors.h"

#include <algorithm>

#include "idp/directory/origin.h"

namespace keystep {

std::optional<std::string> CorsPolicy::for_client(const Client& client,
                                                  const std::optional<std::string>& origin) {
  if (!origin || !origin_allowed(client, *origin)) return std::nullopt;
  return origin;
}

std::optional<std::string> CorsPolicy::for_any_client(
    const std::optional<std::string>& origin) const {
  if (!origin) return std::nullopt;
  // Browsers send Origin on cross-origin requests (and same-origin POSTs), so the scan runs
  // for browser apps' calls, whose preflights the browser caches (Access-Control-Max-Age).
  auto clients = clients_.clients();
  if (!clients) return std::nullopt;
  const bool allowed = std::any_of(clients->begin(), clients->end(),
                                   [&](const Client& c) { return origin_allowed(c, *origin); });
  if (!allowed) return std::nullopt;
  return origin;
}

}  // namespace keystep
