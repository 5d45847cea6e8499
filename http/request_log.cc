#include "http/request_log.h"

#include <cmath>

#include "base/crypto/random.h"

namespace keystep::http {
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

RequestLog::RequestLog(std::string_view method, std::string route, std::string client)
    : record_{new_request_id(), std::move(route), method_label(method), std::move(client),
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
