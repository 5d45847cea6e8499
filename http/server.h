#pragma once
// The HTTP front of the IdP, on Pistache 0.0.5. Routes requests through a route table per
// router (http/route_table.h; user pages and OAuth endpoints, the admin API) to idp/
// (Provider, ProfilePages, OnboardingPages, AdminApi) and renders their outcomes. Handlers are thin: parse, one call into idp/, map the result.
//
// Pistache 0.0.5 traps handled here (see server.cc): HTTP/1.1 keep-alive by default, a
// request limit above 4096 bytes, PISTACHE_USE_SSL=1 set by CMake, and signals blocked by
// the caller before start().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/route_table.h"
#include "idp/admin/admin_api.h"
#include "idp/admin/admin_console.h"
#include "idp/admin/onboarding_pages.h"
#include "idp/observability/metrics_endpoint.h"
#include "idp/oidc/provider.h"
#include "idp/profile/profile_pages.h"
#include "idp/reset/password_reset.h"
#include "base/result.h"

namespace keystep::http {

class PasswordPool;

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;  // 0 picks a free port (tests)
  int threads = 2;
  size_t max_request_bytes = 64 * 1024;
  // The largest response (status line, headers and body) sent. A larger one is replaced by
  // 500 {"error":"server_error"}, so no response is ever left unsent.
  size_t max_response_bytes = 16 * 1024 * 1024;
  // Connections open at once. Past it a new connection is answered 503 with Retry-After and
  // closed. 0: default_max_connections() (http/connection_limits.h), below RLIMIT_NOFILE.
  size_t max_connections = 0;
  // A keep-alive connection without a request for this long is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Reverse proxies whose X-Forwarded-For is believed. A request from one of these addresses
  // is attributed to the nearest untrusted address in X-Forwarded-For (used for per-address
  // brute-force limits and the audit log); from anyone else the header is ignored.
  std::vector<std::string> trusted_proxies;
  // The pool that runs the handlers hashing passwords (POST /login, /signup,
  // /profile/two-factor) apart from the HTTP workers (http/password_pool.h): its threads, and
  // how many such requests may wait for one before the next is answered 503 with Retry-After.
  size_t password_threads = 1;
  size_t password_queue = 32;
};

// The client's address: `peer`, or, when `peer` is a trusted proxy, the nearest hop of
// X-Forwarded-For that is not one (a malformed header leaves the last trusted address).
std::string client_address(const std::string& peer, const std::optional<std::string>& forwarded,
                           const std::vector<std::string>& trusted_proxies);

class Server {
 public:
  Server(Provider& provider, ProfilePages& profile, OnboardingPages& onboarding,
         std::string issuer);
  // Serves the admin API under /api/v1 (without it those paths are 404). Call before start().
  void set_admin_api(AdminApi* admin);
  // Serves the admin page /account/authentication (without it that path is 404). Call before
  // start().
  void set_admin_console(AdminConsole* console);
  // Serves GET /metrics (without it that path is 404). Call before start().
  void set_metrics(MetricsEndpoint* metrics);
  // Serves "Forgot your password?" under /password/ (without it those paths are 404). Call
  // before start().
  void set_password_reset(PasswordResetPages* reset);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads. The calling thread must have blocked
  // SIGINT/SIGTERM/SIGPIPE if it wants to handle them itself (threads inherit the mask).
  // On failure (address in use, bad host) returns kUnavailable/kInvalidArgument.
  Status start(const ServerOptions& options);
  // The bound port (useful after binding port 0).
  uint16_t port() const;
  // The password pool (tests and monitoring); null before start().
  PasswordPool* password_pool();
  // The routes served, in lookup order (the admin API's first), fixed by start() from the
  // parts set before it; empty before start(). A path matching no route is answered 404, a
  // route asked with a method it lacks 405 with an Allow header.
  std::vector<RouteInfo> routes() const;
  // Stops accepting, finishes in-flight requests, joins the threads. Idempotent.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keystep::http
