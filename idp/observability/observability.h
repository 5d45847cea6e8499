#pragma once
// Keystep's metrics and structured log (docs/operations.md "Metrics" and "Logs").
//
// - keystep_metrics(): the process-wide registry (idp/metrics.h) with Keystep's metric
//   families; render_metrics() adds the gauges read at scrape time (outbox, build info).
// - The log: one JSON object per line (time, level, msg, request_id, …) written to the
//   output set by set_log_output (none by default: the library is silent until `keystep
//   serve` or a test chooses where lines go). Nothing secret is ever passed to it: callers
//   give route patterns, ids, event names and result names, never a path, query, form value,
//   header, cookie, code or token.
// - The request context: the HTTP layer opens a RequestScope per request on the worker
//   thread that handles it (Pistache handles a request on one thread from onRequest to the
//   answer); security events and audit rows written meanwhile carry its request id, like a
//   logging library's diagnostic context, without threading the id through every call.
//
// Thread-safety: every function may be called concurrently.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "idp/store/mail_store.h"
#include "idp/observability/metrics.h"
#include "idp/store/mfa_store.h"
#include "base/result.h"

namespace keystep::obs {

// Label values of keystep_sign_ins_total{result} (the password step).
inline constexpr std::string_view kSignInOk = "ok";  // signed in, no second step
inline constexpr std::string_view kSignInSecondFactor = "second_factor_required";
inline constexpr std::string_view kSignInWrongPassword = "wrong_password";  // or unknown email
inline constexpr std::string_view kSignInThrottled = "throttled";
// Label values of keystep_second_factor_checks_total{result}.
inline constexpr std::string_view kFactorAccepted = "accepted";
inline constexpr std::string_view kFactorDenied = "denied";
inline constexpr std::string_view kFactorReplayed = "replayed";
inline constexpr std::string_view kFactorLocked = "locked";

struct KeystepMetrics {
  metrics::Registry registry;
  // keystep_sign_ins_total{result}
  metrics::CounterFamily& sign_ins;
  // keystep_second_factor_checks_total{provider, result}
  metrics::CounterFamily& second_factor_checks;
  // keystep_lockouts_total{step}: attempts refused because of a lockout wait
  metrics::CounterFamily& lockouts;
  // keystep_replays_refused_total{provider}
  metrics::CounterFamily& replays_refused;
  // keystep_security_events_total{event}: every audit event
  metrics::CounterFamily& security_events;
  // keystep_email_delivery_attempts_total{result="sent"|"failed"}
  metrics::CounterFamily& email_deliveries;
  // keystep_http_requests_total{route, method, status}
  metrics::CounterFamily& http_requests;
  // keystep_http_request_duration_seconds{route, method}
  metrics::HistogramFamily& http_duration;

  KeystepMetrics();
};
KeystepMetrics& keystep_metrics();

// The exposition text: every family, the outbox gauges (from `outbox`, ages against `now`)
// and keystep_build_info. An outbox read failure leaves its gauges out and sets
// keystep_metrics_outbox_up to 0.
std::string render_metrics(MailStore& outbox, int64_t now);

// The version and git commit this binary was built from ("unknown" when not known).
std::string_view build_version();
std::string_view build_commit();

// ---- The log

// Where complete lines go (each without its newline). Empty function: logging off.
void set_log_output(std::function<void(std::string_view line)> output);
// Opens `path` for appending (0600 when created) and sends lines there; "" or "-" means
// standard error. kUnavailable when the file cannot be opened.
Status log_to_file(const std::string& path);
// Writes `fields` as one line, adding "time" (UTC, RFC 3339 with milliseconds), "level" and
// the current request id when in a request and not already set.
void log_line(std::string_view level, nlohmann::json fields);

// ---- The request context

// The id of the request this thread is handling, "" outside one.
const std::string& current_request_id();

class RequestScope {
 public:
  explicit RequestScope(std::string request_id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};

// ---- Events (one call where each happens)

// The password step's outcome; user_id/account_id 0 when no user was identified.
void sign_in(std::string_view result, int64_t user_id, int64_t account_id,
             const std::string& address);
// A second-factor check's outcome (also counts lockouts and replays).
void second_factor_check(std::string_view provider, std::string_view result);
// An audit event (TwoFactor::audit): logged and counted.
void security_event(const AuditEvent& event);
// A token endpoint grant that issued tokens.
void tokens_issued(std::string_view grant_type, const std::string& client_id, int64_t user_id);
// One delivery attempt of the outbox.
void email_delivery(bool sent);

}  // namespace keystep::obs
