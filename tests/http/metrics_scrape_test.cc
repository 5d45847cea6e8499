// GET /metrics over HTTP: who may scrape (address, bearer token, forwarded requests), that the
// exposition text parses line by line, that the counters move with sign-ins and second-factor
// refusals, the per-route latency histograms; and the request id: in the X-Request-Id
// header, the JSON log line of the request and the audit rows it caused.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "idp/observability/observability.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kToken = "metrics-token-0123456789abcdef";

// One parsed sample line.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text format (0.0.4) strictly, line by line: "# HELP name text",
// "# TYPE name counter|gauge|histogram" (each once per family, before its samples), and
// samples `name{label="value",…} value` whose name belongs to a declared family. Adds a
// failure for every line that does not conform.
std::vector<Sample> parse_exposition(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$))re");
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the text must end with a newline";
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(helps.insert(m[1]).second) << "HELP twice: " << line;
      continue;
    }
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(types.emplace(m[1], m[2]).second) << "TYPE twice: " << line;
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not a sample line: '" << line << "'";
      continue;
    }
    Sample sample{m[1], {}, 0};
    const std::string value = m[4];
    sample.value = value == "+Inf" ? INFINITY : value == "-Inf" ? -INFINITY : std::stod(value);
    std::string labels = m[3];
    while (!labels.empty()) {
      std::smatch l;
      if (!std::regex_search(labels, l, kLabel) || l.position(0) != 0) {
        ADD_FAILURE() << "bad labels in: " << line;
        break;
      }
      EXPECT_TRUE(sample.labels.emplace(l[1], l[2]).second) << "label twice: " << line;
      labels = l.suffix();
    }
    std::string family = sample.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (!types.count(family) && family.size() > s.size() &&
          family.compare(family.size() - s.size(), s.size(), s) == 0 &&
          types.count(family.substr(0, family.size() - s.size())) &&
          types[family.substr(0, family.size() - s.size())] == "histogram")
        family.resize(family.size() - s.size());
    }
    EXPECT_TRUE(types.count(family)) << "sample before or without its TYPE: " << line;
    EXPECT_TRUE(helps.count(family)) << "sample without HELP: " << line;
    samples.push_back(sample);
  }
  return samples;
}

// The value of the sample `name` with exactly `labels`; 0 when absent (a counter not yet
// incremented is not listed).
double value_of(const std::vector<Sample>& samples, const std::string& name,
                const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples)
    if (s.name == name && s.labels == labels) return s.value;
  return 0;
}

// Collects the JSON log lines written while it lives.
class LogCapture {
 public:
  LogCapture() {
    obs::set_log_output([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { obs::set_log_output({}); }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class Metrics : public MfaHttpTest {
 protected:
  std::vector<Sample> scrape() {
    HttpResponse r = client_.get(url("/metrics"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
    return parse_exposition(r.body);
  }
};

TEST_F(Metrics, LoopbackMayScrapeByDefaultAndTheTextParses) {
  HttpResponse r = client_.get(url("/metrics"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Cache-Control").value_or(""), "no-store");
  const auto samples = parse_exposition(r.body);
  EXPECT_EQ(value_of(samples, "keystep_build_info",
                     {{"version", std::string(obs::build_version())},
                      {"commit", std::string(obs::build_commit())}}),
            1);
  EXPECT_NE(obs::build_version(), "unknown");
  EXPECT_EQ(value_of(samples, "keystep_metrics_outbox_up"), 1);
  EXPECT_EQ(value_of(samples, "keystep_email_oldest_pending_age_seconds"), 0);
}

TEST_F(Metrics, PostIs405) {
  HttpResponse r = client_.post_form(url("/metrics"), {});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow").value_or(""), "GET");
}

class MetricsElsewhere : public Metrics {
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.metrics_allow = std::vector<std::string>{"192.0.2.7"};
    return options;
  }
};

TEST_F(MetricsElsewhere, AnAddressNotAllowedIs403WithAJsonError) {
  HttpResponse r = client_.get(url("/metrics"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.json().value("error", ""), "forbidden") << r.body;
  EXPECT_FALSE(r.json().value("error_description", "").empty()) << r.body;
  EXPECT_EQ(r.body.find("keystep_"), std::string::npos);
  // A bearer token is refused when none is configured.
  HttpResponse bearer =
      client_.get(url("/metrics"), nullptr, {"Authorization: Bearer anything-at-all-here"});
  EXPECT_EQ(bearer.status, 401) << bearer.body;
}

class MetricsWithToken : public Metrics {
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.metrics_allow = std::vector<std::string>{};
    options.metrics_token = kToken;
    return options;
  }
};

TEST_F(MetricsWithToken, TheTokenIsNeededAndEnough) {
  HttpResponse none = client_.get(url("/metrics"));
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.json().value("error", ""), "unauthorized") << none.body;
  EXPECT_EQ(none.header("WWW-Authenticate").value_or(""), "Bearer realm=\"keystep metrics\"");
  HttpResponse wrong =
      client_.get(url("/metrics"), nullptr, {std::string("Authorization: Bearer ") + kToken + "x"});
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(wrong.json().value("error", ""), "invalid_token") << wrong.body;
  HttpResponse basic = client_.get(url("/metrics"), nullptr, {"Authorization: Basic Zm9vOmJhcg=="});
  EXPECT_EQ(basic.status, 401) << basic.body;
  HttpResponse right =
      client_.get(url("/metrics"), nullptr, {std::string("Authorization: Bearer ") + kToken});
  ASSERT_EQ(right.status, 200) << right.body;
  parse_exposition(right.body);
  HttpResponse lower =
      client_.get(url("/metrics"), nullptr, {std::string("Authorization: bearer ") + kToken});
  EXPECT_EQ(lower.status, 200);
}

TEST_F(Metrics, ARequestForwardedByAnUntrustedProxyIsNotTakenForLoopback) {
  // A reverse proxy on the same host makes every client look like 127.0.0.1.
  for (const char* h :
       {"X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9"}) {
    HttpResponse r = client_.get(url("/metrics"), nullptr, {h});
    EXPECT_EQ(r.status, 403) << h << ": " << r.body;
  }
}

class MetricsBehindTrustedProxy : public Metrics {
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.trusted_proxies = {"127.0.0.1"};
    options.metrics_allow = std::vector<std::string>{"198.51.100.4"};
    return options;
  }
};

TEST_F(MetricsBehindTrustedProxy, TheForwardedClientAddressDecides) {
  EXPECT_EQ(client_.get(url("/metrics"), nullptr, {"X-Forwarded-For: 198.51.100.4"}).status, 200);
  EXPECT_EQ(client_.get(url("/metrics"), nullptr, {"X-Forwarded-For: 203.0.113.9"}).status, 403);
  EXPECT_EQ(client_.get(url("/metrics")).status, 403);  // the proxy itself is not allowed
}

TEST_F(Metrics, AFailedSignInMovesTheSignInCounters) {
  const auto before = scrape();
  HttpResponse failed = sign_in(spa_request(make_pkce()), TestServer::kAliceEmail, "wrong pass");
  EXPECT_EQ(failed.status, 401);
  new_browser();
  EXPECT_FALSE(sign_in_for_code(spa_request(make_pkce())).empty());
  const auto after = scrape();
  const auto moved = [&](const char* result) {
    return value_of(after, "keystep_sign_ins_total", {{"result", result}}) -
           value_of(before, "keystep_sign_ins_total", {{"result", result}});
  };
  // Tests in other processes have their own registry; in this one only this test runs now.
  EXPECT_EQ(moved("wrong_password"), 1);
  EXPECT_EQ(moved("ok"), 1);
}

TEST_F(Metrics, ThrottledSignInsCountAsPasswordLockouts) {
  const auto before = scrape();
  int throttled = 0;
  for (int i = 0; i < 8 && throttled == 0; ++i) {
    new_browser();
    if (sign_in(spa_request(make_pkce()), TestServer::kAliceEmail, "wrong pass").status == 429)
      ++throttled;
  }
  ASSERT_EQ(throttled, 1);
  const auto after = scrape();
  EXPECT_EQ(value_of(after, "keystep_sign_ins_total", {{"result", "throttled"}}) -
                value_of(before, "keystep_sign_ins_total", {{"result", "throttled"}}),
            1);
  EXPECT_EQ(value_of(after, "keystep_lockouts_total", {{"step", "password"}}) -
                value_of(before, "keystep_lockouts_total", {{"step", "password"}}),
            1);
}

TEST_F(Metrics, SecondFactorRefusalsAndReplaysAreCounted) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  new_browser();
  const auto before = scrape();
  const auto moved = [&](const std::vector<Sample>& after, const char* name,
                         const std::map<std::string, std::string>& labels) {
    return value_of(after, name, labels) - value_of(before, name, labels);
  };
  SecondFactorPage page = sign_in_to_second_factor(spa_request(make_pkce()));
  EXPECT_EQ(submit_second_factor(page, wrong_code(secret)).status, 401);
  // The enrollment used the current step: typing it again is a replay.
  EXPECT_EQ(submit_second_factor(page, code_now(secret)).status, 401);
  EXPECT_FALSE(code_of(submit_second_factor(page, next_code(secret))).empty());
  const auto after = scrape();
  EXPECT_EQ(moved(after, "keystep_second_factor_checks_total",
                  {{"provider", "totp"}, {"result", "denied"}}),
            1);
  EXPECT_EQ(moved(after, "keystep_second_factor_checks_total",
                  {{"provider", "totp"}, {"result", "replayed"}}),
            1);
  EXPECT_EQ(moved(after, "keystep_second_factor_checks_total",
                  {{"provider", "totp"}, {"result", "accepted"}}),
            1);
  EXPECT_EQ(moved(after, "keystep_replays_refused_total", {{"provider", "totp"}}), 1);
  EXPECT_EQ(moved(after, "keystep_sign_ins_total", {{"result", "second_factor_required"}}), 1);
  EXPECT_EQ(moved(after, "keystep_security_events_total", {{"event", "mfa.code_refused"}}), 1);
}

TEST_F(Metrics, EveryRouteHasItsOwnHistogramLabelledByPatternNotPath) {
  client_.get(url("/.well-known/openid-configuration"));
  client_.get(url("/jwks.json"));
  client_.get(url("/no/such/path/with/a-secret-looking-part"));
  client_.get(url("/api/v1/accounts/acme/tokens/12345"));
  const auto samples = scrape();
  std::set<std::string> routes;
  for (const auto& s : samples) {
    if (s.name != "keystep_http_request_duration_seconds_bucket") continue;
    routes.insert(s.labels.at("route"));
    EXPECT_TRUE(s.labels.count("method"));
    EXPECT_TRUE(s.labels.count("le"));
  }
  EXPECT_TRUE(routes.count("/.well-known/openid-configuration"));
  EXPECT_TRUE(routes.count("/jwks.json"));
  EXPECT_TRUE(routes.count("unmatched"));
  EXPECT_TRUE(routes.count("/api/v1/accounts/{account}/tokens/{token}"));
  for (const auto& r : routes) {
    EXPECT_EQ(r.find("secret"), std::string::npos) << r;
    EXPECT_EQ(r.find("12345"), std::string::npos) << r;
  }
  // Buckets are cumulative and end with +Inf = _count.
  const std::map<std::string, std::string> jwks = {{"route", "/jwks.json"}, {"method", "GET"}};
  double previous = 0;
  double inf = -1;
  for (const auto& s : samples) {
    if (s.name != "keystep_http_request_duration_seconds_bucket") continue;
    if (s.labels.at("route") != "/jwks.json" || s.labels.at("method") != "GET") continue;
    EXPECT_GE(s.value, previous);
    previous = s.value;
    if (s.labels.at("le") == "+Inf") inf = s.value;
  }
  EXPECT_GE(inf, 1);
  EXPECT_EQ(inf, value_of(samples, "keystep_http_request_duration_seconds_count", jwks));
  EXPECT_GE(value_of(samples, "keystep_http_requests_total",
                     {{"route", "/jwks.json"}, {"method", "GET"}, {"status", "200"}}),
            1);
}

TEST_F(Metrics, TheOutboxGaugesReadTheQueue) {
  OutgoingMail mail;
  mail.dedupe_key = "metrics-test";
  mail.to = "bob@example.com";
  mail.subject = "s";
  mail.mime = "m";
  mail.created_at = clock().now();
  mail.next_attempt_at = clock().now();
  ASSERT_TRUE(server_->outbox().enqueue_mail(mail));
  clock().advance(90);
  const auto samples = scrape();
  EXPECT_EQ(value_of(samples, "keystep_outbox_emails", {{"state", "pending"}}), 1);
  EXPECT_EQ(value_of(samples, "keystep_outbox_emails", {{"state", "sent"}}), 0);
  EXPECT_EQ(value_of(samples, "keystep_outbox_emails", {{"state", "failed"}}), 0);
  EXPECT_EQ(value_of(samples, "keystep_email_oldest_pending_age_seconds"), 90);
}

TEST_F(Metrics, EachAnswerHasARequestIdThatTheLogLineAndAuditRowsCarry) {
  LogCapture log;
  HttpResponse one = client_.get(url("/healthz"));
  HttpResponse two = client_.get(url("/healthz"));
  const std::string id = one.header("X-Request-Id").value_or("");
  EXPECT_EQ(id.size(), 22u) << id;
  EXPECT_NE(id, two.header("X-Request-Id").value_or(""));

  // Enrolling writes an audit row ("mfa.enabled") under the request that confirmed it.
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  auto events = server_->store().audit_events(
      server_->store().user_by_id(server_->alice_id())->account_id, 0, 10);
  ASSERT_TRUE(events);
  ASSERT_FALSE(events->empty());
  const AuditEvent& enabled = events->front();
  EXPECT_EQ(enabled.event, "mfa.enabled");
  EXPECT_EQ(enabled.request_id.size(), 22u);

  bool request_line = false;
  bool security_line = false;
  for (const auto& text : log.lines()) {
    const auto line = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(line.is_discarded()) << text;
    EXPECT_TRUE(line.contains("time")) << text;
    EXPECT_TRUE(line.contains("level")) << text;
    EXPECT_FALSE(line.value("request_id", "").empty()) << text;
    EXPECT_EQ(text.find(TestServer::kAlicePassword), std::string::npos) << text;
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
    if (line.value("request_id", "") == id) {
      request_line = true;
      EXPECT_EQ(line.value("msg", ""), "request") << text;
      EXPECT_EQ(line.value("route", ""), "/healthz") << text;
      EXPECT_EQ(line.value("method", ""), "GET") << text;
      EXPECT_EQ(line.value("status", 0), 200) << text;
      EXPECT_EQ(line.value("client", ""), "127.0.0.1") << text;
      EXPECT_TRUE(line.contains("duration_ms")) << text;
    }
    if (line.value("request_id", "") == enabled.request_id &&
        line.value("event", "") == "mfa.enabled") {
      security_line = true;
      EXPECT_EQ(line.value("user_id", 0), server_->alice_id()) << text;
    }
  }
  EXPECT_TRUE(request_line);
  EXPECT_TRUE(security_line);
}

class MetricsAdmin : public AdminApiTest {};

TEST_F(MetricsAdmin, TheAuditEventsListingGivesTheRequestIdOfEachEvent) {
  HttpResponse created = api("POST", url("/api/v1/accounts/acme/tokens"), boss_token_,
                             R"({"name":"request id test"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.header("X-Request-Id").value_or("");
  ASSERT_FALSE(id.empty());
  HttpResponse listed =
      api("GET", url("/api/v1/accounts/acme/audit-events?event=api_token.created&limit=1"),
          boss_token_);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto events = listed.json()["events"];
  ASSERT_EQ(events.size(), 1u) << listed.body;
  EXPECT_EQ(events[0].value("detail", ""), "request id test");
  EXPECT_EQ(events[0].value("request_id", ""), id);
}

}  // namespace
}  // namespace keystep::httptest

namespace keystep::httptest {
namespace {

// Answers sent outside ResponseWriter::send (HEAD) or from the password pool's thread are
// logged with their real status, and a pooled sign-in's security event keeps the request id.
TEST_F(Metrics, HeadAndPasswordPoolAnswersAreLoggedWithTheirStatusAndRequestId) {
  LogCapture log;
  HttpResponse head = client_.request("HEAD", url("/healthz"));
  ASSERT_EQ(head.status, 200);
  const std::string head_id = head.header("X-Request-Id").value_or("");

  HttpResponse login = authorize(spa_request(make_pkce()));
  LoginPage page = open_login_page(login.location());
  HttpResponse wrong = submit_login(page, TestServer::kAliceEmail, "not the password");
  ASSERT_EQ(wrong.status, 401);
  const std::string login_id = wrong.header("X-Request-Id").value_or("");
  ASSERT_FALSE(login_id.empty());

  int head_status = 0;
  int login_status = 0;
  bool login_event = false;
  for (const auto& text : log.lines()) {
    const auto line = nlohmann::json::parse(text, nullptr, false);
    if (line.is_discarded()) continue;
    const std::string id = line.value("request_id", "");
    if (id == head_id && line.value("msg", "") == "request") head_status = line.value("status", 0);
    if (id == login_id && line.value("msg", "") == "request")
      login_status = line.value("status", 0);
    if (id == login_id && line.value("event", "") == "signin.password_failed") login_event = true;
  }
  EXPECT_EQ(head_status, 200);
  EXPECT_EQ(login_status, 401);
  EXPECT_TRUE(login_event) << "the pooled sign-in's event carries its request id";
}

}  // namespace
}  // namespace keystep::httptest
