#include "idp/observability/observability.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#ifndef KEYSTEP_VERSION
#define KEYSTEP_VERSION "unknown"
#endif
#ifndef KEYSTEP_GIT_COMMIT
#define KEYSTEP_GIT_COMMIT "unknown"
#endif

namespace keystep::obs {
namespace {

// Request latencies from 1 ms (discovery, JWKS) to 10 s (a slow Argon2id under load).
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10};

struct LogState {
  std::mutex mu;
  std::function<void(std::string_view)> output;
  std::shared_ptr<FILE> file;  // the file behind `output`, when it writes to one
};

LogState& log_state() {
  static LogState state;
  return state;
}

thread_local std::string t_request_id;

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis % 1000));
  return buffer;
}

// One system call per line, the newline included (stdio makes two on the unbuffered stderr),
// so that a line is one write(2) for whoever reads the pipe or file.
void write_to(FILE* file, std::string_view line) {
  const int fd = ::fileno(file);
  char newline = '\n';
  iovec parts[2] = {{const_cast<char*>(line.data()), line.size()}, {&newline, 1}};
  iovec* part = parts;
  int count = 2;
  while (count > 0) {
    const ssize_t written = ::writev(fd, part, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to say that the log cannot be written
    }
    auto left = static_cast<size_t>(written);
    while (count > 0 && left >= part->iov_len) {
      left -= part->iov_len;
      ++part;
      --count;
    }
    if (count > 0) {
      part->iov_base = static_cast<char*>(part->iov_base) + left;
      part->iov_len -= left;
    }
  }
}

void append_json(std::string& out, const nlohmann::json& value) {
  out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

KeystepMetrics::KeystepMetrics()
    : sign_ins(registry.counter("keystep_sign_ins_total", "Password sign-in attempts by result.",
                                {"result"})),
      second_factor_checks(registry.counter("keystep_second_factor_checks_total",
                                            "Second-factor login checks by provider and result.",
                                            {"provider", "result"})),
      lockouts(registry.counter("keystep_lockouts_total",
                                "Attempts refused because of a lockout wait, by step.", {"step"})),
      replays_refused(registry.counter("keystep_replays_refused_total",
                                       "Second-factor codes refused as already used.",
                                       {"provider"})),
      security_events(registry.counter("keystep_security_events_total",
                                       "Audit events recorded, by event name.", {"event"})),
      email_deliveries(registry.counter("keystep_email_delivery_attempts_total",
                                        "Outbox delivery attempts by result.", {"result"})),
      http_requests(registry.counter("keystep_http_requests_total",
                                     "HTTP requests answered, by route pattern, method and status.",
                                     {"route", "method", "status"})),
      http_duration(registry.histogram("keystep_http_request_duration_seconds",
                                       "Time from the parsed request to its answer, by route "
                                       "pattern and method.",
                                       {"route", "method"}, kLatencyBounds)) {}

KeystepMetrics& keystep_metrics() {
  static KeystepMetrics metrics;
  return metrics;
}

std::string_view build_version() { return KEYSTEP_VERSION; }
std::string_view build_commit() { return KEYSTEP_GIT_COMMIT; }

std::string render_metrics(MailStore& outbox, int64_t now) {
  std::vector<metrics::GaugeSample> gauges;
  gauges.push_back(
      {"keystep_build_info",
       "The version and git commit of this binary (always 1).",
       {{"version", std::string(build_version())}, {"commit", std::string(build_commit())}},
       1});
  auto summary = outbox.outbox_summary();
  gauges.push_back({"keystep_metrics_outbox_up",
                    "1 when the outbox could be read for this scrape.",
                    {},
                    summary ? 1.0 : 0.0});
  if (summary) {
    const char* help =
        "Emails in the outbox by state: pending (queued, waiting for delivery or a retry), "
        "sent (delivered in the last 30 days), failed (given up).";
    for (const auto& [state, value] :
         {std::pair{"pending", summary->pending}, std::pair{"sent", summary->sent},
          std::pair{"failed", summary->given_up}})
      gauges.push_back(
          {"keystep_outbox_emails", help, {{"state", state}}, static_cast<double>(value)});
    gauges.push_back(
        {"keystep_email_oldest_pending_age_seconds",
         "Age of the oldest email waiting for delivery; 0 when none waits.",
         {},
         static_cast<double>(summary->pending > 0
                                 ? std::max<int64_t>(0, now - summary->oldest_pending_created_at)
                                 : 0)});
  }
  return keystep_metrics().registry.render(gauges);
}

void set_log_output(std::function<void(std::string_view line)> output) {
  LogState& state = log_state();
  std::lock_guard lock(state.mu);
  state.output = std::move(output);
  state.file.reset();
}

Status log_to_file(const std::string& path) {
  if (path.empty() || path == "-") {
    set_log_output([](std::string_view line) { write_to(stderr, line); });
    return {};
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ErrorCode::kUnavailable,
                      "cannot open the log file " + path + ": " + std::strerror(errno));
  std::shared_ptr<FILE> file(::fdopen(fd, "a"), [](FILE* f) {
    if (f) std::fclose(f);
  });
  if (!file) {
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "cannot open the log file " + path);
  }
  LogState& state = log_state();
  std::lock_guard lock(state.mu);
  FILE* raw = file.get();
  state.output = [raw](std::string_view line) { write_to(raw, line); };
  state.file = std::move(file);
  return {};
}

void log_line(std::string_view level, nlohmann::json fields) {
  LogState& state = log_state();
  {
    std::lock_guard lock(state.mu);
    if (!state.output) return;
  }
  // Fixed fields first, in this order, so the lines read well without a JSON viewer; then the
  // others in key order. Written as text directly: an ordered_json built only to be dumped
  // cost as much as the rest of the line.
  std::string text = R"({"time":")" + rfc3339_now() + R"(","level":)";
  append_json(text, level);
  if (!t_request_id.empty() && !fields.contains("request_id")) {
    text += R"(,"request_id":)";
    append_json(text, t_request_id);
  }
  const auto msg = fields.find("msg");
  if (msg != fields.end()) {
    text += R"(,"msg":)";
    append_json(text, *msg);
  }
  for (const auto& [key, value] : fields.items()) {
    if (key == "msg") continue;
    text += ',';
    append_json(text, key);
    text += ':';
    append_json(text, value);
  }
  text += '}';
  // One lock for the whole line: lines from concurrent requests never interleave.
  std::lock_guard lock(state.mu);
  if (state.output) state.output(text);
}

const std::string& current_request_id() { return t_request_id; }

RequestScope::RequestScope(std::string request_id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(request_id);
}

RequestScope::~RequestScope() { t_request_id = std::move(previous_); }

void sign_in(std::string_view result, int64_t user_id, int64_t account_id,
             const std::string& address) {
  auto& m = keystep_metrics();
  m.sign_ins.with({std::string(result)}).inc();
  if (result == kSignInThrottled) m.lockouts.with({"password"}).inc();
  const bool ok = result == kSignInOk || result == kSignInSecondFactor;
  log_line(ok ? "info" : "warn", {{"msg", "security"},
                                  {"event", ok ? "signin.password_ok" : "signin.password_failed"},
                                  {"result", result},
                                  {"user_id", user_id},
                                  {"account_id", account_id},
                                  {"client", address}});
}

void second_factor_check(std::string_view provider, std::string_view result) {
  auto& m = keystep_metrics();
  m.second_factor_checks.with({std::string(provider), std::string(result)}).inc();
  if (result == kFactorLocked) m.lockouts.with({"second_factor"}).inc();
  if (result == kFactorReplayed) m.replays_refused.with({std::string(provider)}).inc();
}

void security_event(const AuditEvent& event) {
  keystep_metrics().security_events.with({event.event}).inc();
  const bool refusal = event.event.find("refused") != std::string::npos ||
                       event.event.find("locked") != std::string::npos;
  log_line(refusal ? "warn" : "info", {{"msg", "security"},
                                       {"event", event.event},
                                       {"user_id", event.user_id},
                                       {"account_id", event.account_id},
                                       {"client", event.address},
                                       {"detail", event.detail}});
}

void tokens_issued(std::string_view grant_type, const std::string& client_id, int64_t user_id) {
  log_line("info", {{"msg", "security"},
                    {"event", "token.issued"},
                    {"grant_type", grant_type},
                    {"client_id", client_id},
                    {"user_id", user_id}});
}

void email_delivery(bool sent) {
  keystep_metrics().email_deliveries.with({sent ? "sent" : "failed"}).inc();
}

}  // namespace keystep::obs
