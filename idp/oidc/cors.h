#pragma once
// Which web origins may read the OIDC endpoints' answers from script (CORS, the Fetch
// standard), so that a browser app (a SPA) can use discovery, the JWKS, /token and
// /userinfo. An origin is allowed by a client when the client allows it
// (idp/directory/origin.h: its redirect URIs' origins and its allowed origins). Answers never
// allow credentials (cookies): a browser app authenticates with its tokens alone.
//
// Thread-safety: every method may be called concurrently.

#include <optional>
#include <string>

#include "idp/store/store.h"

namespace keystep {

class CorsPolicy {
 public:
  explicit CorsPolicy(ClientStore& clients) : clients_(clients) {}

  // `origin` when `client` allows it, else nullopt (also without an origin: a same-origin
  // or non-browser request).
  static std::optional<std::string> for_client(const Client& client,
                                               const std::optional<std::string>& origin);
  // `origin` when some client allows it, else nullopt (also when the clients cannot be read).
  // For what no single client is asking: the documents every app reads (discovery, JWKS),
  // preflights (which carry no credentials to name a client), and errors answered before a
  // client is known.
  std::optional<std::string> for_any_client(const std::optional<std::string>& origin) const;

 private:
  ClientStore& clients_;
};

}  // namespace keystep
