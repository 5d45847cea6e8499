#include "http/request_log.h"

#include <array>
#include <cmath>
#include <vector>

#include "idp/admin/admin_console.h"
#include "base/crypto/random.h"

namespace keystep::http {
namespace {

constexpr std::array<std::string_view, 18> kFixedRoutes = {"/",
                                                           "/.well-known/openid-configuration",
                                                           "/jwks.json",
                                                           "/authorize",
                                                           "/login",
                                                           "/login/second-factor",
                                                           "/profile",
                                                           "/profile/two-factor",
                                                           "/profile/two-factor/enable",
                                                           "/profile/recovery-codes",
                                                           "/signup",
                                                           "/enroll",
                                                           kAuthenticationPagePath,
                                                           "/token",
                                                           "/userinfo",
                                                           "/logout",
                                                           "/healthz",
                                                           "/metrics"};

// The admin API's routes (http/server.cc route_admin), after /api/v1/accounts/{account}/.
std::string admin_route(std::string_view rest) {
  std::vector<std::string_view> parts;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  const std::string base = "/api/v1/accounts/{account}/";
  if (parts.size() == 2 &&
      (parts[1] == "authentication-settings" || parts[1] == "members" ||
       parts[1] == "invitations" || parts[1] == "tokens" || parts[1] == "audit-events"))
    return base + std::string(parts[1]);
  if (parts.size() == 3 && parts[1] == "invitations") return base + "invitations/{invitation}";
  if (parts.size() == 3 && parts[1] == "tokens") return base + "tokens/{token}";
  if (parts.size() == 5 && parts[1] == "members" && parts[3] == "two-factor" && parts[4] == "reset")
    return base + "members/{member}/two-factor/reset";
  return "unmatched";
}

}  // namespace

std::string route_pattern(std::string_view path) {
  for (const auto route : kFixedRoutes)
    if (path == route) return std::string(route);
  constexpr std::string_view kAdminPrefix = "/api/v1/accounts/";
  if (path.substr(0, kAdminPrefix.size()) == kAdminPrefix)
    return admin_route(path.substr(kAdminPrefix.size()));
  return "unmatched";
}

std::string method_label(std::string_view method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
    if (method == known) return known;
  return "OTHER";
}

std::string new_request_id() {
  static thread_local OsRandom random;
  auto id = random_token(random, 16);
  // The system's randomness failing leaves a request without an id rather than unanswered.
  return id ? *id : std::string("-");
}

RequestLog::RequestLog(std::string_view method, std::string_view path, std::string client)
    : record_{new_request_id(), route_pattern(path), method_label(method), std::move(client),
              std::chrono::steady_clock::now()},
      scope_(record_.id) {}

void RequestRecord::finish(int status) const {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Microseconds are enough, and short numbers keep a log line from containing by chance
  // the digits of a code that a log search (tests/e2e/log_secrets.test.mjs) looks for.
  const double duration_ms = std::round(seconds * 1e6) / 1e3;
  auto& m = obs::keystep_metrics();
  m.http_requests.with({route, method, std::to_string(status)}).inc();
  m.http_duration.with({route, method}).observe(seconds);
  obs::log_line(status >= 500 ? "error" : "info", {{"msg", "request"},
                                                   {"method", method},
                                                   {"route", route},
                                                   {"status", status},
                                                   {"duration_ms", duration_ms},
                                                   {"client", client}});
}

}  // namespace keystep::http
