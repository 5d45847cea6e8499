#include "http/server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>

#include "base/url.h"
#include "http/admin_pages.h"
#include "http/connection_limits.h"
#include "http/error_table.h"
#include "http/pages.h"
#include "http/password_pool.h"
#include "http/request_framer.h"
#include "http/request_log.h"

namespace keystep::http {
namespace {

namespace Ph = Pistache::Http;

constexpr const char* kHtmlSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'";

// Pistache 0.0.5 never writes Raw response headers; only typed ones go on the wire. This
// typed header carries any name and value.
class AnyHeader final : public Ph::Header::Header {
 public:
  AnyHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& out) const override { out << value_; }
  // Deliberately unlike any typed header's hash, so tryGet<T>() never mistakes this for T.
  uint64_t hash() const override { return Ph::Header::detail::hash("keystep-any-header"); }

 private:
  std::string name_;
  std::string value_;
};

void add_raw(Ph::ResponseWriter& response, const std::string& name, const std::string& value) {
  response.headers().add(std::make_shared<AnyHeader>(name, value));
}

// What the handler remembers about one connection (Pistache peer data).
struct PeerState {
  PeerState(size_t max_request_bytes, Pistache::Tcp::Transport* transport)
      : framer(max_request_bytes), transport(transport) {}
  RequestFramer framer;
  Pistache::Tcp::Transport* transport;  // the connection's thread (Peer keeps it private)
  RequestHead request;                  // the request being received or answered
  std::shared_ptr<void> slot;           // this connection's place under the connection cap
  bool answered = false;                // Router::onRequest ran for the last complete request
  bool refused = false;                 // answered and closing: whatever else arrives is ignored
  int head_status = 0;  // the status of the last HEAD answer (not sent by ResponseWriter::send)
};
constexpr const char* kPeerState = "keystep.peer";

std::shared_ptr<PeerState> peer_state(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  return peer ? std::static_pointer_cast<PeerState>(peer->tryGetData(kPeerState)) : nullptr;
}

// The status line and headers Pistache would write, with the Content-Length of `length`
// bytes, and no body: the answer to HEAD (RFC 9110 §9.3.2). Pistache 0.0.5 always writes the
// body after the headers it is given.
void send_headers_only(Ph::ResponseWriter& response,
                       const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                       Pistache::Tcp::Transport& transport, int status,
                       const std::string& content_type, size_t length) {
  std::ostringstream head;
  head << "HTTP/1.1 " << status << ' ' << Ph::codeString(static_cast<Ph::Code>(status)) << "\r\n";
  for (const auto& h : response.headers().list()) {
    head << h->name() << ": ";
    h->write(head);
    head << "\r\n";
  }
  for (const auto& c : response.cookies()) head << "Set-Cookie: " << c << "\r\n";
  head << "Content-Type: " << content_type << "\r\nContent-Length: " << length << "\r\n\r\n";
  peer->setIdle(true);  // as ResponseWriter::send does: the keep-alive timeout applies again
  const std::string text = head.str();
  transport.asyncWrite(peer->fd(), Pistache::RawBuffer(text, text.size()));
}

// Sends the response, or for HEAD its headers only.
void send_payload(Ph::ResponseWriter& response, int status, const std::string& content_type,
                  const std::string& body) {
  const auto peer = response.getPeer();
  const auto state = peer_state(peer);
  if (state && state->request.method == "HEAD") {
    state->head_status = status;
    return send_headers_only(response, peer, *state->transport, status, content_type, body.size());
  }
  const int fd = peer ? peer->fd() : -1;
  auto synchronous = std::make_shared<bool>(true);
  response.send(static_cast<Ph::Code>(status), body, Ph::Mime::MediaType::fromString(content_type))
      .then([](ssize_t) {},
            [fd, synchronous](std::exception_ptr) {
              // Refused before anything was written (headers over the margin): close rather
              // than leave the client waiting. Later failures are the peer's disconnection.
              if (*synchronous && fd >= 0) ::shutdown(fd, SHUT_RDWR);
            });
  *synchronous = false;
}

void send_text(Ph::ResponseWriter& response, int status, const std::string& content_type,
               const std::string& body) {
  // Pistache refuses a response larger than its buffer by writing nothing at all, which
  // leaves the client waiting. Headers are a few hundred bytes; keep a margin for them.
  const size_t limit = response.rdbuf()->maxSize();
  if (body.size() + std::min<size_t>(16 * 1024, limit / 4) > limit) {
    obs::log_line("error", {{"msg", "response exceeds max_response_bytes; answering 500"},
                            {"bytes", body.size()}});
    return send_payload(response, 500, "application/json",
                        R"({"error":"server_error","error_description":"response too large"})");
  }
  send_payload(response, status, content_type, body);
}

void send_json(Ph::ResponseWriter& response, int status, const nlohmann::json& body,
               bool no_store) {
  if (no_store) {
    add_raw(response, "Cache-Control", "no-store");
    add_raw(response, "Pragma", "no-cache");
  }
  send_text(response, status, "application/json",
            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void send_html(Ph::ResponseWriter& response, int status, const std::string& html) {
  add_raw(response, "Cache-Control", "no-store");
  add_raw(response, "Content-Security-Policy", kHtmlSecurityPolicy);
  add_raw(response, "X-Frame-Options", "DENY");
  add_raw(response, "X-Content-Type-Options", "nosniff");
  add_raw(response, "Referrer-Policy", "no-referrer");
  send_text(response, status, "text/html; charset=utf-8", html);
}

void set_cookies(Ph::ResponseWriter& response, const std::vector<CookieToSet>& cookies) {
  for (const auto& c : cookies) {
    Ph::Cookie cookie(c.name, c.value);
    cookie.path = c.path;
    if (c.max_age >= 0) cookie.maxAge = static_cast<int>(c.max_age);
    cookie.httpOnly = true;
    cookie.secure = c.secure;
    cookie.ext["SameSite"] = "Lax";
    response.cookies().add(cookie);
  }
}

void send_web(Ph::ResponseWriter& response, const WebOutcome& out) {
  set_cookies(response, out.cookies);
  switch (out.kind) {
    case WebOutcome::Kind::kRedirect:
      add_raw(response, "Location", out.location);
      add_raw(response, "Cache-Control", "no-store");
      response.send(static_cast<Ph::Code>(status_of(out)));
      return;
    case WebOutcome::Kind::kLoginPage:
      if (out.retry_after > 0) add_raw(response, "Retry-After", std::to_string(out.retry_after));
      send_html(response, status_of(out), render_login_page(out.login));
      return;
    case WebOutcome::Kind::kSecondFactorPage:
      if (out.retry_after > 0) add_raw(response, "Retry-After", std::to_string(out.retry_after));
      send_html(response, status_of(out), render_second_factor_page(out.second));
      return;
    case WebOutcome::Kind::kProfilePage:
      if (out.retry_after > 0) add_raw(response, "Retry-After", std::to_string(out.retry_after));
      send_html(response, status_of(out), render_profile_page(out.profile));
      return;
    case WebOutcome::Kind::kEnableTwoFactorPage:
      send_html(response, status_of(out), render_enable_two_factor_page(out.profile));
      return;
    case WebOutcome::Kind::kRecoveryCodesPage:
      send_html(response, status_of(out), render_recovery_codes_page(out.profile));
      return;
    case WebOutcome::Kind::kErrorPage:
      send_html(response, status_of(out), render_error_page(*out.fault, out.error));
      return;
    case WebOutcome::Kind::kLoggedOutPage:
      send_html(response, status_of(out), render_logged_out_page());
      return;
    case WebOutcome::Kind::kSignupPage:
      send_html(response, status_of(out), render_signup_page(out.signup));
      return;
    case WebOutcome::Kind::kLogoutConfirmPage:
      send_html(response, status_of(out), render_logout_confirm_page(out.logout));
      return;
  }
}

void send_console(Ph::ResponseWriter& response, const ConsoleOutcome& out) {
  if (!out.is_page) return send_web(response, out.web);
  send_html(response, status_of(out), render_authentication_page(out.view));
}

void send_metrics(Ph::ResponseWriter& response, const MetricsAnswer& out) {
  if (!out.www_authenticate.empty()) add_raw(response, "WWW-Authenticate", out.www_authenticate);
  add_raw(response, "Cache-Control", "no-store");
  if (out.fault)
    return send_json(response, status_of(out),
                     {{"error", error_answer(*out.fault).error}, {"error_description", out.body}},
                     false);
  send_text(response, 200, "text/plain; version=0.0.4; charset=utf-8", out.body);
}

void send_api(Ph::ResponseWriter& response, const ApiOutcome& out) {
  if (!out.www_authenticate.empty()) add_raw(response, "WWW-Authenticate", out.www_authenticate);
  send_json(response, status_of(out), body_of(out), true);
}

std::optional<std::string> header(const Ph::Request& request, const std::string& name) {
  auto raw = request.headers().tryGetRaw(name);
  if (!raw) return std::nullopt;
  return raw->value();
}

// The Cookie header reaches us renamed by the RequestFramer, unparsed: Pistache's own parser
// throws on a pair without '='.
std::optional<std::string> cookie(const Ph::Request& request, const std::string& name) {
  auto raw = header(request, kCookieHeader);
  if (!raw) return std::nullopt;
  return cookie_value(*raw, name);
}

// Pistache keeps query values in an unordered map, losing order and repeated names, which
// OAuth requires us to refuse. The raw request target the RequestFramer saw is used instead
// when it belongs to this request; otherwise Pistache's rebuilt query is the fallback.
Result<Params> query_params(const Ph::Request& request, const std::string& raw_target) {
  std::string query;
  const auto mark = raw_target.find('?');
  if (!raw_target.empty() && raw_target.substr(0, mark) == request.resource()) {
    if (mark != std::string::npos) query = raw_target.substr(mark + 1);
    const auto hash = query.find('#');
    if (hash != std::string::npos) query.resize(hash);
  } else {
    query = request.query().as_str();
    if (!query.empty()) query.erase(0, 1);
  }
  if (query.empty()) return Params{};
  return parse_form(query);
}

bool is_form(const Ph::Request& request) {
  auto type = header(request, "Content-Type");
  if (!type) return false;
  std::string lower = *type;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return lower.rfind("application/x-www-form-urlencoded", 0) == 0;
}

}  // namespace

std::string client_address(const std::string& peer, const std::optional<std::string>& forwarded,
                           const std::vector<std::string>& trusted_proxies) {
  const auto trusted = [&](const std::string& a) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), a) != trusted_proxies.end();
  };
  std::string address = peer;
  if (!trusted(address) || !forwarded) return address;
  // Walk X-Forwarded-For from the nearest hop outwards, past every trusted proxy.
  std::string_view rest = *forwarded;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (hop.empty() || hop.size() > 64) return address;
    address = std::string(hop);
    if (!trusted(address)) return address;
  }
  return address;
}

// Routes each parsed request to the Provider and renders the outcome.
class Router : public Ph::Handler {
 public:
  HTTP_PROTOTYPE(Router)

  Router(Provider* provider, AdminApi* const* admin, AdminConsole* const* console,
         MetricsEndpoint* const* metrics, const std::string* issuer,
         const std::vector<std::string>* trusted_proxies, PasswordPool* password_pool)
      : provider_(provider),
        admin_(admin),
        console_(console),
        metrics_(metrics),
        issuer_(issuer),
        trusted_proxies_(trusted_proxies),
        password_pool_(password_pool) {}

  void onRequest(const Ph::Request& request, Ph::ResponseWriter response) override {
    keep_alive_by_default(request, response);
    RequestLog log(Ph::methodString(request.method()), request.resource(),
                   client_address(request));
    add_raw(response, "X-Request-Id", log.id());
    std::string raw_target;
    if (auto state = peer_state(response.getPeer())) {
      state->answered = true;
      raw_target = state->request.target;
    }
    raw_target_ = &raw_target;
    log_ = &log;
    try {
      route(request, response);
    } catch (const std::exception&) {
      // Nothing below should throw; if a library does, answer 500 and keep serving.
      send_json(response, 500, {{"error", "server_error"}}, true);
    }
    int status = static_cast<int>(response.getResponseCode());
    if (auto state = peer_state(response.getPeer()); state && state->request.method == "HEAD")
      status = state->head_status;
    log.finish(status);
  }

 private:
  // Pistache 0.0.5 answers "Connection: Close" (and closes) whenever the request has no
  // Connection header, although HTTP/1.1 connections are persistent by default. Restore the
  // HTTP/1.1 default; HTTP/1.0 clients still need to ask for keep-alive.
  static void keep_alive_by_default(const Ph::Request& request, Ph::ResponseWriter& response) {
    auto connection = request.headers().tryGet<Ph::Header::Connection>();
    if (!connection && request.version() == Ph::Version::Http11) {
      response.headers().remove<Ph::Header::Connection>();
      response.headers().add<Ph::Header::Connection>(Ph::ConnectionControl::KeepAlive);
    }
  }

  // Runs `call`, a handler that hashes a password, on the password pool and sends its outcome
  // from there, so this worker's other connections are not kept waiting; when the pool's
  // queue is full, answers 503 with Retry-After at once. Takes over the response.
  void on_password_pool(Ph::ResponseWriter& response, std::function<WebOutcome()> call) {
    auto writer = std::make_shared<Ph::ResponseWriter>(std::move(response));
    // The answer is logged where it is sent, and the handler's security events and audit rows
    // carry this request's id on the pool thread too.
    const RequestRecord record = log_->hand_off();
    const bool queued = password_pool_->try_submit([writer, record, call = std::move(call)] {
      obs::RequestScope scope(record.id);
      std::optional<WebOutcome> out;
      try {
        out = call();
      } catch (const std::exception&) {
        // Nothing below should throw; if a library does, answer 500 and keep serving.
      }
      // Logged before the answer leaves: a client holding the answer finds the line written.
      record.finish(out ? status_of(*out) : 500);
      if (out) return send_web(*writer, *out);
      send_json(*writer, 500, {{"error", "server_error"}}, true);
    });
    if (queued) return;
    add_raw(*writer, "Retry-After", "1");
    send_web(*writer, unavailable_page("Too many sign-ins at this moment. Try again in a moment."));
    record.finish(503);
  }

  BrowserContext browser(const Ph::Request& request) const {
    return BrowserContext{cookie(request, kSessionCookie), cookie(request, kFlowCookie),
                          client_address(request), cookie(request, kSignupCookie)};
  }

  std::string client_address(const Ph::Request& request) const {
    return keystep::http::client_address(request.address().host(),
                                         header(request, "X-Forwarded-For"), *trusted_proxies_);
  }

  void route(const Ph::Request& request, Ph::ResponseWriter& response) {
    const std::string& path = request.resource();
    const Ph::Method method = request.method();
    // HEAD is answered (headers only, see send_text) where GET only reads; elsewhere it is
    // 405, since GET there has effects (a flow, a CSRF token, the end of a session).
    const bool head_allowed = path == "/.well-known/openid-configuration" || path == "/jwks.json" ||
                              path == "/healthz" || path == "/";
    const bool get = method == Ph::Method::Get || (method == Ph::Method::Head && head_allowed);
    const bool post = method == Ph::Method::Post;
    auto method_not_allowed = [&](const char* allow) {
      add_raw(response, "Allow", allow);
      send_json(response, 405, {{"error", "method_not_allowed"}}, false);
    };
    auto bad_form = [&](const std::string& why) {
      send_json(response, 400, {{"error", "invalid_request"}, {"error_description", why}}, true);
    };
    // The body of a POST endpoint, or an error already sent.
    auto form_body = [&]() -> std::optional<Params> {
      if (!is_form(request)) {
        bad_form("the body must be application/x-www-form-urlencoded");
        return std::nullopt;
      }
      auto form = parse_form(request.body());
      if (!form) {
        bad_form(form.error().message);
        return std::nullopt;
      }
      return *form;
    };
    auto query = [&]() -> std::optional<Params> {
      auto q = query_params(request, *raw_target_);
      if (!q) {
        send_web(response, error_page(Fault::kInvalidRequest, q.error().message));
        return std::nullopt;
      }
      return *q;
    };

    if (route_admin(request, response)) return;
    if (path == "/.well-known/openid-configuration") {
      if (!get) return method_not_allowed("GET");
      add_raw(response, "Cache-Control", "public, max-age=300");
      return send_text(response, 200, "application/json", provider_->discovery_document());
    }
    if (path == "/jwks.json") {
      if (!get) return method_not_allowed("GET");
      auto jwks = provider_->jwks_document();
      if (!jwks) {
        return send_api(response, api_unavailable(jwks.error().message));
      }
      add_raw(response, "Cache-Control", "public, max-age=60");
      return send_text(response, 200, "application/json", **jwks);
    }
    if (path == "/authorize") {
      std::optional<Params> params;
      if (get) params = query();
      else if (post) params = form_body();
      else return method_not_allowed("GET, POST");
      if (!params) return;
      return send_web(response, provider_->authorize(*params, browser(request)));
    }
    if (path == "/login") {
      if (get) {
        auto params = query();
        if (!params) return;
        return send_web(response, provider_->login_page(*params, browser(request)));
      }
      if (!post) return method_not_allowed("GET, POST");
      auto form = form_body();
      if (!form) return;
      return on_password_pool(response, [this, form = std::move(*form), b = browser(request)] {
        return provider_->login_submit(form, b);
      });
    }
    if (path == "/login/second-factor") {
      if (get) {
        auto params = query();
        if (!params) return;
        return send_web(response, provider_->second_factor_page(*params, browser(request)));
      }
      if (!post) return method_not_allowed("GET, POST");
      auto form = form_body();
      if (!form) return;
      return send_web(response, provider_->second_factor_submit(*form, browser(request)));
    }
    if (path == "/profile") {
      if (!get) return method_not_allowed("GET");
      return send_web(response, provider_->profile(browser(request)));
    }
    if (path == "/profile/two-factor") {
      if (!post) return method_not_allowed("POST");
      auto form = form_body();
      if (!form) return;
      return on_password_pool(response, [this, form = std::move(*form), b = browser(request)] {
        return provider_->profile_two_factor(form, b);
      });
    }
    if (path == "/profile/two-factor/enable") {
      if (get) return send_web(response, provider_->profile_enable_page(browser(request)));
      if (!post) return method_not_allowed("GET, POST");
      auto form = form_body();
      if (!form) return;
      return send_web(response, provider_->profile_enable_submit(*form, browser(request)));
    }
    if (path == "/profile/recovery-codes") {
      if (!post) return method_not_allowed("POST");
      auto form = form_body();
      if (!form) return;
      return send_web(response, provider_->profile_recovery_codes(*form, browser(request)));
    }
    if (path == "/signup") {
      if (get) {
        auto params = query();
        if (!params) return;
        return send_web(response, provider_->signup_page(*params, browser(request)));
      }
      if (!post) return method_not_allowed("GET, POST");
      auto form = form_body();
      if (!form) return;
      return on_password_pool(response, [this, form = std::move(*form), b = browser(request)] {
        return provider_->signup_submit(form, b);
      });
    }
    if (path == "/enroll") {
      if (!get) return method_not_allowed("GET");
      auto params = query();
      if (!params) return;
      return send_web(response, provider_->enrollment_link(*params, browser(request)));
    }
    if (path == kAuthenticationPagePath && *console_ != nullptr) {
      if (get) {
        auto params = query();
        if (!params) return;
        return send_console(response, (*console_)->page(*params, browser(request)));
      }
      if (!post) return method_not_allowed("GET, POST");
      auto form = form_body();
      if (!form) return;
      return send_console(response, (*console_)->submit(*form, browser(request)));
    }
    if (path == "/token") {
      if (!post) return method_not_allowed("POST");
      auto form = form_body();
      if (!form) return;
      return send_api(response, provider_->token(*form, header(request, "Authorization")));
    }
    if (path == "/userinfo") {
      if (!get && !post) return method_not_allowed("GET, POST");
      return send_api(response, provider_->userinfo(header(request, "Authorization")));
    }
    if (path == "/logout") {
      std::optional<Params> params;
      if (get) params = query();
      else if (post) params = form_body();
      else return method_not_allowed("GET, POST");
      if (!params) return;
      return send_web(response, provider_->end_session(*params, browser(request)));
    }
    if (path == "/metrics" && *metrics_ != nullptr) {
      if (!get) return method_not_allowed("GET");
      return send_metrics(response, (*metrics_)->scrape(client_address(request),
                                                        untrusted_forwarding(request),
                                                        header(request, "Authorization")));
    }
    if (path == "/healthz") {
      if (!get) return method_not_allowed("GET");
      return send_text(response, 200, "text/plain", "ok\n");
    }
    if (path == "/") {
      if (!get) return method_not_allowed("GET");
      return send_html(response, 200, render_home_page(*issuer_));
    }
    send_json(response, 404, {{"error", "not_found"}}, false);
  }

  // True when the request names a forwarded client but its peer is no trusted proxy.
  bool untrusted_forwarding(const Ph::Request& request) const {
    const auto& proxies = *trusted_proxies_;
    if (std::find(proxies.begin(), proxies.end(), request.address().host()) != proxies.end())
      return false;
    return header(request, "X-Forwarded-For") || header(request, "Forwarded") ||
           header(request, "X-Real-IP");
  }

  // /api/v1/accounts/{account}/… ; false when the path is not an admin API path.
  bool route_admin(const Ph::Request& request, Ph::ResponseWriter& response) {
    constexpr std::string_view kPrefix = "/api/v1/accounts/";
    const std::string& path = request.resource();
    if (*admin_ == nullptr || path.rfind(kPrefix, 0) != 0) return false;
    std::vector<std::string> parts;
    std::string_view rest = std::string_view(path).substr(kPrefix.size());
    while (!rest.empty()) {
      const auto slash = rest.find('/');
      parts.emplace_back(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    AdminApi& admin = **admin_;
    const Ph::Method method = request.method();
    const bool get = method == Ph::Method::Get;
    const bool changes = method != Ph::Method::Get && method != Ph::Method::Head;
    auto authenticated = [&]() -> std::optional<Caller> {
      ApiOutcome failure;
      auto caller = admin.authenticate(header(request, "Authorization"),
                                       cookie(request, kSessionCookie),
                                       header(request, "X-CSRF-Token"), changes, failure);
      if (!caller) send_api(response, failure);
      return caller;
    };
    auto not_allowed = [&](const char* allow) {
      add_raw(response, "Allow", allow);
      send_json(response, 405, {{"error", "method_not_allowed"}}, true);
      return true;
    };
    // True when the body is declared JSON; else answers 415.
    auto json_body = [&]() {
      auto type = header(request, "Content-Type").value_or("");
      std::transform(type.begin(), type.end(), type.begin(), ::tolower);
      if (type.rfind("application/json", 0) == 0) return true;
      send_json(response, 415, {{"error", "invalid_request"},
                                {"error_description", "the body must be application/json"}},
                true);
      return false;
    };
    const std::string address = client_address(request);
    // The query of a GET (lists page with it); nullopt after answering 400 when malformed.
    auto query = [&]() -> std::optional<Params> {
      auto q = query_params(request, *raw_target_);
      if (!q) {
        send_json(response, 400, {{"error", "invalid_request"}}, true);
        return std::nullopt;
      }
      return std::move(*q);
    };
    if (parts.size() == 2 && parts[1] == "authentication-settings") {
      if (!get && method != Ph::Method::Put) return not_allowed("GET, PUT");
      if (!get && !json_body()) return true;
      auto caller = authenticated();
      if (!caller) return true;
      send_api(response, get ? admin.get_settings(*caller, parts[0])
                             : admin.put_settings(*caller, parts[0], request.body(), address));
      return true;
    }
    if (parts.size() == 2 && parts[1] == "members") {
      if (!get) return not_allowed("GET");
      auto q = query();
      if (!q) return true;
      auto caller = authenticated();
      if (caller) send_api(response, admin.members(*caller, parts[0], *q));
      return true;
    }
    if (parts.size() == 5 && parts[1] == "members" && parts[3] == "two-factor" &&
        parts[4] == "reset") {
      if (method != Ph::Method::Post) return not_allowed("POST");
      auto caller = authenticated();
      if (caller) send_api(response, admin.reset_member(*caller, parts[0], parts[2], address));
      return true;
    }
    if (parts.size() == 2 && parts[1] == "invitations") {
      if (!get && method != Ph::Method::Post) return not_allowed("GET, POST");
      if (!get && !json_body()) return true;
      auto q = query();
      if (!q) return true;
      auto caller = authenticated();
      if (!caller) return true;
      send_api(response, get ? admin.invitations(*caller, parts[0], *q)
                             : admin.invite(*caller, parts[0], request.body(), address));
      return true;
    }
    if (parts.size() == 3 && parts[1] == "invitations") {
      if (method != Ph::Method::Delete) return not_allowed("DELETE");
      auto caller = authenticated();
      if (caller) send_api(response, admin.revoke_invitation(*caller, parts[0], parts[2], address));
      return true;
    }
    if (parts.size() == 2 && parts[1] == "tokens") {
      if (!get && method != Ph::Method::Post) return not_allowed("GET, POST");
      if (!get && !json_body()) return true;
      auto q = query();
      if (!q) return true;
      auto caller = authenticated();
      if (caller)
        send_api(response, get ? admin.tokens(*caller, parts[0], *q)
                               : admin.create_token(*caller, parts[0], request.body(), address));
      return true;
    }
    if (parts.size() == 3 && parts[1] == "tokens") {
      if (method != Ph::Method::Delete) return not_allowed("DELETE");
      auto caller = authenticated();
      if (caller) send_api(response, admin.revoke_token(*caller, parts[0], parts[2], address));
      return true;
    }
    if (parts.size() == 2 && parts[1] == "audit-events") {
      if (!get) return not_allowed("GET");
      auto q = query();
      if (!q) return true;
      auto caller = authenticated();
      if (caller) send_api(response, admin.audit_events(*caller, parts[0], *q));
      return true;
    }
    send_json(response, 404, {{"error", "not_found"}}, true);
    return true;
  }

  Provider* provider_;
  AdminApi* const* admin_;
  AdminConsole* const* console_;
  MetricsEndpoint* const* metrics_;
  const std::string* issuer_;
  const std::vector<std::string>* trusted_proxies_;
  PasswordPool* password_pool_;
  const std::string* raw_target_ = nullptr;  // valid during onRequest only
  RequestLog* log_ = nullptr;                 // valid during onRequest only
};


// Grants access to Tcp::Handler::transport_, which only Pistache's Transport may set, so that
// Guard can hand its transport to the Handler it wraps. (Explicit instantiation may name
// private members; this is the standard-conforming way to do it.)
using TransportMember = Pistache::Tcp::Transport* Pistache::Tcp::Handler::*;
TransportMember transport_member();
template <TransportMember M>
struct TransportMemberAccess {
  friend TransportMember transport_member() { return M; }
};
template struct TransportMemberAccess<&Pistache::Tcp::Handler::transport_>;

// The handler Pistache sees. Pistache 0.0.5, on a request over its size limit, answers 413,
// resets its parser and then parses the rest of the oversized body as new requests (request
// smuggling); it drops a pipelined request that arrives in the same read as the one before;
// and its Http::Handler::onInput is private, so it cannot be extended by overriding. Guard
// therefore wraps the routing Handler: it admits the connection under the connection cap
// (over it: 503 and close), and a RequestFramer hands Pistache's parser one request at a
// time, enforcing the size limit first (past it the connection answers 413, ignores
// everything that follows and is shut down) and recording each raw request line.
class Guard : public Ph::Handler {
 public:
  HTTP_PROTOTYPE(Guard)

  Guard(Provider* provider, AdminApi* const* admin, AdminConsole* const* console,
        MetricsEndpoint* const* metrics, const std::string* issuer,
        const std::vector<std::string>* trusted_proxies, PasswordPool* password_pool,
        size_t max_request_bytes, std::shared_ptr<ConnectionCounter> connections)
      : inner_(std::make_shared<Router>(provider, admin, console, metrics, issuer,
                                        trusted_proxies, password_pool)),
        max_request_bytes_(max_request_bytes),
        connections_(std::move(connections)) {}
  // Every transport thread gets its own clone, with its own inner handler.
  Guard(const Guard& other)
      : Ph::Handler(other),
        inner_(std::static_pointer_cast<Router>(other.inner_->clone())),
        max_request_bytes_(other.max_request_bytes_),
        connections_(other.connections_) {}

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    attach();
    static_cast<Pistache::Tcp::Handler&>(*inner_).onConnection(peer);
    auto state = std::make_shared<PeerState>(max_request_bytes_, transport());
    peer->putData(kPeerState, state);
    // The slot is peer data, so it is freed however Pistache drops the connection (its idle
    // timeout closes without calling onDisconnection).
    state->slot = connections_->admit();
    if (!state->slot) {
      refuse(peer, *state, Ph::Code::Service_Unavailable,
             R"({"error":"temporarily_unavailable","error_description":"too many connections"})");
    }
  }
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    static_cast<Pistache::Tcp::Handler&>(*inner_).onDisconnection(peer);
  }
  void onRequest(const Ph::Request&, Ph::ResponseWriter) override {}  // inner_ answers

  void onInput(const char* buffer, size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer)
      override {
    auto state = peer_state(peer);
    if (!state || state->refused) return;
    std::vector<RequestFramer::Piece> pieces;
    const auto verdict = state->framer.feed(std::string_view(buffer, len), pieces);
    for (const auto& piece : pieces) {
      state->request = piece.head;
      if (piece.starts) state->answered = false;
      static_cast<Pistache::Tcp::Handler&>(*inner_).onInput(piece.bytes.data(), piece.bytes.size(),
                                                            peer);
      if (piece.completes && !state->answered) {
        // Pistache's parser refused the request (and answered 4xx/5xx) or disagrees about
        // where it ends: nothing more on this connection can be trusted.
        state->refused = true;
        close_after_pending_writes(peer);
        return;
      }
    }
    if (verdict == RequestFramer::Verdict::kTooLarge) {
      refuse(peer, *state, Ph::Code::Request_Entity_Too_Large, R"({"error":"request_too_large"})");
    } else if (verdict == RequestFramer::Verdict::kBadRequest) {
      refuse(peer, *state, Ph::Code::Bad_Request,
             R"({"error":"invalid_request","error_description":"malformed HTTP framing"})");
    }
  }

 private:
  // Gives the inner handler this transport and this handler's limits (set by the Endpoint).
  void attach() {
    if ((*inner_).*transport_member() == transport()) return;
    (*inner_).*transport_member() = transport();
    inner_->setMaxRequestSize(getMaxRequestSize());
    inner_->setMaxResponseSize(getMaxResponseSize());
    inner_->setHeaderTimeout(getHeaderTimeout());
    inner_->setBodyTimeout(getBodyTimeout());
  }

  // Answers `code` with `body` and Connection: close, ignores everything that follows and
  // shuts the connection down once the answer is written.
  void refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer, PeerState& state, Ph::Code code,
              const char* body) {
    state.refused = true;
    Ph::ResponseWriter response(Ph::Version::Http11, transport(), this, peer);
    response.headers().add<Ph::Header::Connection>(Ph::ConnectionControl::Close);
    if (code == Ph::Code::Service_Unavailable) add_raw(response, "Retry-After", "1");
    const int fd = peer->fd();
    response.send(code, body, Ph::Mime::MediaType::fromString("application/json"))
        .then([fd](ssize_t) { ::shutdown(fd, SHUT_RDWR); }, Pistache::Async::IgnoreException);
  }

  // Shuts the connection down after the writes already queued (Pistache's own error answer).
  void close_after_pending_writes(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    const int fd = peer->fd();
    transport()
        ->asyncWrite(fd, Pistache::RawBuffer(std::string(), 0))
        .then([fd](ssize_t) { ::shutdown(fd, SHUT_RDWR); }, Pistache::Async::IgnoreException);
  }

  std::shared_ptr<Router> inner_;
  size_t max_request_bytes_;
  std::shared_ptr<ConnectionCounter> connections_;
};

struct Server::Impl {
  Provider& provider;
  AdminApi* admin = nullptr;
  AdminConsole* console = nullptr;
  MetricsEndpoint* metrics = nullptr;
  std::string issuer;
  std::vector<std::string> trusted_proxies;
  std::unique_ptr<PasswordPool> password_pool;  // outlives the endpoint's handlers' use of it
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
};

Server::Server(Provider& provider, std::string issuer)
    : impl_(new Impl{provider, nullptr, nullptr, nullptr, std::move(issuer), {}, nullptr,
                     nullptr}) {}

void Server::set_admin_api(AdminApi* admin) { impl_->admin = admin; }

void Server::set_admin_console(AdminConsole* console) { impl_->console = console; }

void Server::set_metrics(MetricsEndpoint* metrics) { impl_->metrics = metrics; }

Server::~Server() { shutdown(); }

Status Server::start(const ServerOptions& options) {
  try {
    impl_->trusted_proxies = options.trusted_proxies;
    impl_->password_pool =
        std::make_unique<PasswordPool>(options.password_threads, options.password_queue);
    Pistache::Address address(options.host, Pistache::Port(options.port));
    impl_->endpoint = std::make_unique<Pistache::Http::Endpoint>(address);
    const int threads = std::max(1, options.threads);
    const auto flags = Pistache::Flags<Pistache::Tcp::Options>(Pistache::Tcp::Options::ReuseAddr);
    auto opts = Pistache::Http::Endpoint::options()
                    .threads(threads)
                    .flags(flags)
                    // Guard enforces max_request_bytes itself; Pistache's own limit stays
                    // above it (see Guard for why).
                    .maxRequestSize(options.max_request_bytes * 2)
                    .maxResponseSize(options.max_response_bytes)
                    .headerTimeout(std::chrono::seconds(10))
                    .bodyTimeout(std::chrono::seconds(30))
                    .keepaliveTimeout(options.idle_timeout);
    impl_->endpoint->init(opts);
    // Endpoint::init gives the Listener no logger, and the Listener reports a failed accept()
    // only to its logger: initialise the Listener again, the same way plus AcceptBackoff.
    impl_->endpoint->initArgs(static_cast<size_t>(threads), flags, std::string(),
                              Pistache::Const::MaxBacklog, std::make_shared<AcceptBackoff>());
    auto connections = std::make_shared<ConnectionCounter>(
        options.max_connections > 0 ? options.max_connections : default_max_connections());
    impl_->endpoint->setHandler(Pistache::Http::make_handler<Guard>(
        &impl_->provider, &impl_->admin, &impl_->console, &impl_->metrics, &impl_->issuer,
        &impl_->trusted_proxies, impl_->password_pool.get(), options.max_request_bytes,
        connections));
    impl_->endpoint->serveThreaded();
    return {};
  } catch (const std::exception& e) {
    impl_->endpoint.reset();
    return make_error(ErrorCode::kUnavailable, std::string("cannot listen on ") + options.host +
                                                   ":" + std::to_string(options.port) + ": " +
                                                   e.what());
  }
}

uint16_t Server::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

PasswordPool* Server::password_pool() { return impl_->password_pool.get(); }

void Server::shutdown() {
  // The pool first: its queued sign-ins answer through the endpoint's transports.
  if (impl_ && impl_->password_pool) impl_->password_pool->shutdown();
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

}  // namespace keystep::http
