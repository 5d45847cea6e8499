#pragma once
// Web origins (RFC 6454) a client's browser app may call /token and /userinfo from (CORS):
// the origins of its http(s) redirect URIs, where the app runs, and those it names besides.
// Stateless, thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "idp/store/model.h"

namespace keystep {

// An origin as a browser sends it: scheme://host[:port], scheme and host lower case, without
// the scheme's default port. On success returns `origin` in that form (a trailing '/' is
// dropped); kInvalidArgument for anything else (a path, a query, userinfo, "null", a scheme
// other than https, or http other than on a loopback host, as for redirect URIs).
Result<std::string> normalize_origin(std::string_view origin);

// The origin of an http or https URI in the normalized form; nullopt for another scheme
// (a native app's private-use redirect URI has none).
std::optional<std::string> origin_of(std::string_view uri);

// The origins `client` allows: its allowed_origins, then those of its redirect URIs, each once.
std::vector<std::string> allowed_origins(const Client& client);

// True when `origin`, exactly as the browser sent it, is one `client` allows.
bool origin_allowed(const Client& client, std::string_view origin);

}  // namespace keystep
