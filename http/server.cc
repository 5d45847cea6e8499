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
#include "http/assets.h"
#include "http/request_log.h"
#include "http/route_table.h"
#include "idp/store/read_memo.h"
#include "base/url.h"

namespace keystep::http {
namespace {

namespace Ph = Pistache::Http;

// Scripts only from this origin, never inline: a provider's browser ceremony (WebAuthn) is
// one same-origin script (plugin/mfa_provider.h ResponseInput::script), and a page injected
// with markup still runs nothing.
constexpr const char* kHtmlSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'";

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

// Seconds a 503 that names no wait of its own asks the client to wait (Retry-After): the
// store or a worker failed, and a node answers again as soon as its database does.
constexpr int64_t kUnavailableRetrySeconds = 5;

// Retry-After (RFC 9110 §10.2.3) for a throttled page (`retry_after` seconds) and on every
// 503, so a client or balancer knows the refusal is temporary.
void add_retry_after(Ph::ResponseWriter& response, int status, int64_t retry_after = 0) {
  if (retry_after <= 0 && status == 503) retry_after = kUnavailableRetrySeconds;
  if (retry_after > 0) add_raw(response, "Retry-After", std::to_string(retry_after));
}

void send_web(Ph::ResponseWriter& response, const WebOutcome& out) {
  set_cookies(response, out.cookies);
  add_retry_after(response, status_of(out), out.retry_after);
  switch (out.kind) {
    case WebOutcome::Kind::kRedirect:
      add_raw(response, "Location", out.location);
      add_raw(response, "Cache-Control", "no-store");
      response.send(static_cast<Ph::Code>(status_of(out)));
      return;
    case WebOutcome::Kind::kLoginPage:
      send_html(response, status_of(out), render_login_page(out.login));
      return;
    case WebOutcome::Kind::kSecondFactorPage:
      send_html(response, status_of(out), render_second_factor_page(out.second));
      return;
    case WebOutcome::Kind::kProfilePage:
      send_html(response, status_of(out), render_profile_page(out.profile));
      return;
    case WebOutcome::Kind::kEnableTwoFactorPage:
      send_html(response, status_of(out), render_enable_two_factor_page(out.profile));
      return;
    case WebOutcome::Kind::kRecoveryCodesPage:
      send_html(response, status_of(out), render_recovery_codes_page(out.profile));
      return;
    case WebOutcome::Kind::kRemoveFactorPage:
      send_html(response, status_of(out), render_remove_factor_page(out.profile));
      return;
    case WebOutcome::Kind::kConfirmItsYouPage:
      send_html(response, status_of(out), render_confirm_its_you_page(out.profile));
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
    case WebOutcome::Kind::kConsentPage:
      send_html(response, status_of(out), render_consent_page(out.consent));
      return;
    case WebOutcome::Kind::kPasswordResetPage:
      send_html(response, status_of(out), render_password_reset_page(out.reset));
      return;
  }
}

void send_console(Ph::ResponseWriter& response, const ConsoleOutcome& out) {
  if (!out.is_page) return send_web(response, out.web);
  add_retry_after(response, status_of(out));
  send_html(response, status_of(out), render_authentication_page(out.view));
}

void send_metrics(Ph::ResponseWriter& response, const MetricsAnswer& out) {
  if (!out.www_authenticate.empty()) add_raw(response, "WWW-Authenticate", out.www_authenticate);
  add_raw(response, "Cache-Control", "no-store");
  add_retry_after(response, status_of(out));
  if (out.fault)
    return send_json(response, status_of(out),
                     {{"error", error_answer(*out.fault).error}, {"error_description", out.body}},
                     false);
  send_text(response, 200, "text/plain; version=0.0.4; charset=utf-8", out.body);
}

// CORS (the Fetch standard) on the endpoints a browser app calls: the answer may be read by
// script of `origin` ("" for none: the browser then keeps it from the script). Never with
// Access-Control-Allow-Credentials: cookies are not how a browser app authenticates here.
// Vary: Origin always, since the headers depend on it.
void add_cors(Ph::ResponseWriter& response, const std::string& origin) {
  add_raw(response, "Vary", "Origin");
  if (origin.empty()) return;
  add_raw(response, "Access-Control-Allow-Origin", origin);
  // oauth4webapi and other clients read the Bearer challenge of a 401 (RFC 6750 §3).
  add_raw(response, "Access-Control-Expose-Headers", "WWW-Authenticate");
}

void send_api(Ph::ResponseWriter& response, const ApiOutcome& out) {
  if (!out.www_authenticate.empty()) add_raw(response, "WWW-Authenticate", out.www_authenticate);
  add_retry_after(response, status_of(out));
  send_json(response, status_of(out), body_of(out), true);
}

// An OIDC endpoint's answer, with its CORS headers.
void send_oidc_api(Ph::ResponseWriter& response, const ApiOutcome& out) {
  add_cors(response, out.cors_origin);
  send_api(response, out);
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

class Router;

// One request being answered by a route: what its handler reads and where it answers.
struct Call {
  const Ph::Request& request;
  Ph::ResponseWriter& response;
  Method method;
  const std::vector<std::string>& variables;  // the values of the pattern's {…}, in order
};
using Handler = void (*)(Router&, Call&);

// Where the admin API lives: with one configured, every path under it is answered by its table
// (JSON, no-store, also 404 and 405).
constexpr std::string_view kAdminPrefix = "/api/v1/accounts/";

// The routes of one Server, fixed at start() and shared by the Routers of all its threads.
struct Routes {
  RouteTable<Handler> user;
  std::optional<RouteTable<Handler>> admin;  // under kAdminPrefix, when there is an admin API
};

// Routes each parsed request through the route tables to idp/ and renders the outcome.
class Router : public Ph::Handler {
 public:
  HTTP_PROTOTYPE(Router)

  Router(Provider* provider, ProfilePages* profile, OnboardingPages* onboarding, AdminApi* admin,
         AdminConsole* console, MetricsEndpoint* metrics,
         const std::string* issuer, const std::vector<std::string>* trusted_proxies,
         PasswordPool* password_pool, std::shared_ptr<const Routes> routes,
         PasswordResetPages* reset)
      : provider_(provider),
        profile_(profile),
        onboarding_(onboarding),
        admin_(admin),
        console_(console),
        metrics_(metrics),
        issuer_(issuer),
        trusted_proxies_(trusted_proxies),
        password_pool_(password_pool),
        routes_(std::move(routes)),
        reset_(reset) {}

  // The route tables for a server with these optional parts (routes of an absent part are 404).
  static Routes make_routes(bool admin, bool console, bool metrics, bool reset);

  void onRequest(const Ph::Request& request, Ph::ResponseWriter response) override {
    keep_alive_by_default(request, response);
    const std::string& path = request.resource();
    const Method method = method_from_name(Ph::methodString(request.method()));
    const bool admin_path = routes_->admin && path.rfind(kAdminPrefix, 0) == 0;
    const auto found = (admin_path ? *routes_->admin : routes_->user).find(method, path);
    RequestLog log(Ph::methodString(request.method()),
                   found.pattern.empty() ? "unmatched" : std::string(found.pattern),
                   client_address(request));
    add_raw(response, "X-Request-Id", log.id());
    std::string raw_target;
    if (auto state = peer_state(response.getPeer())) {
      state->answered = true;
      raw_target = state->request.target;
    }
    raw_target_ = &raw_target;
    log_ = &log;
    const ReadMemoScope memo;  // the rows this request reads, read once (idp/store/read_memo.h)
    try {
      using Kind = decltype(found.kind);
      if (found.kind == Kind::kServed) {
        Call call{request, response, method, found.variables};
        (*found.handler)(*this, call);
      } else if (found.kind == Kind::kWrongMethod) {
        add_raw(response, "Allow", found.allow);
        send_json(response, 405, {{"error", "method_not_allowed"}}, admin_path);
      } else {
        send_json(response, 404, {{"error", "not_found"}}, admin_path);
      }
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
      const ReadMemoScope memo;
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
    WebOutcome busy = unavailable_page("Too many sign-ins at this moment. Try again in a moment.");
    busy.retry_after = 1;
    send_web(*writer, busy);
    record.finish(503);
  }

  BrowserContext browser(const Call& c) const {
    return BrowserContext{cookie(c.request, kSessionCookie), cookie(c.request, kFlowCookie),
                          client_address(c.request),         cookie(c.request, kSignupCookie),
                          cookie(c.request, kResetCookie),   cookie(c.request, kForgotCookie)};
  }

  std::string client_address(const Ph::Request& request) const {
    return keystep::http::client_address(request.address().host(),
                                         header(request, "X-Forwarded-For"), *trusted_proxies_);
  }

  // True when the request names a forwarded client but its peer is no trusted proxy.
  bool untrusted_forwarding(const Ph::Request& request) const {
    const auto& proxies = *trusted_proxies_;
    if (std::find(proxies.begin(), proxies.end(), request.address().host()) != proxies.end())
      return false;
    return header(request, "X-Forwarded-For") || header(request, "Forwarded") ||
           header(request, "X-Real-IP");
  }

  // The query of a page; nullopt after answering 400 (an HTML page) when malformed.
  std::optional<Params> page_query(Call& c) const {
    auto q = query_params(c.request, *raw_target_);
    if (!q) {
      send_web(c.response, error_page(Fault::kInvalidRequest, q.error().message));
      return std::nullopt;
    }
    return *q;
  }

  // The form body of a POST; nullopt after answering 400 when it is not one.
  std::optional<Params> form(Call& c) const {
    auto bad_form = [&](const std::string& why) {
      send_json(c.response, 400, {{"error", "invalid_request"}, {"error_description", why}}, true);
    };
    if (!is_form(c.request)) {
      bad_form("the body must be application/x-www-form-urlencoded");
      return std::nullopt;
    }
    auto form = parse_form(c.request.body());
    if (!form) {
      bad_form(form.error().message);
      return std::nullopt;
    }
    return *form;
  }

  // The form body of a POST to /userinfo, whose token may come in the Authorization header
  // instead: no parameters unless the body is declared a form; nullopt after answering 400
  // when that form is malformed.
  std::optional<Params> optional_form(Call& c) const {
    if (c.method != Method::kPost || !is_form(c.request)) return Params{};
    return form(c);
  }

  // A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) of a route
  // serving `methods`: 204, with the CORS headers when some client allows the origin and the
  // method asked for is served; without them the browser does not send the request. An
  // OPTIONS that is no preflight gets the Allow header alone.
  void preflight(Call& c, const char* methods) const {
    add_raw(c.response, "Allow", std::string(methods) + ", OPTIONS");
    add_raw(c.response, "Vary", "Origin, Access-Control-Request-Method");
    const auto origin = header(c.request, "Origin");
    const auto method = header(c.request, "Access-Control-Request-Method");
    bool served = false;
    for (std::string_view rest = methods; method && !served && !rest.empty();) {
      const auto comma = rest.find(", ");
      served = rest.substr(0, comma) == *method;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    }
    if (served) {
      if (auto allowed = provider_->cors_origin(origin)) {
        add_raw(c.response, "Access-Control-Allow-Origin", *allowed);
        add_raw(c.response, "Access-Control-Allow-Methods", methods);
        add_raw(c.response, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        add_raw(c.response, "Access-Control-Max-Age", "600");
      }
    }
    add_raw(c.response, "Cache-Control", "no-store");
    c.response.send(Ph::Code::No_Content);
  }

  // The parameters of an OAuth endpoint: the query of a GET, the form body of a POST.
  std::optional<Params> params(Call& c) const {
    return c.method == Method::kPost ? form(c) : page_query(c);
  }

  // The admin API's caller; nullopt after answering 401/403.
  std::optional<Caller> caller(Call& c) const {
    ApiOutcome failure;
    const bool changes = c.method != Method::kGet && c.method != Method::kHead;
    auto caller =
        admin_->authenticate(header(c.request, "Authorization"), cookie(c.request, kSessionCookie),
                             header(c.request, "X-CSRF-Token"), changes, failure);
    if (!caller) send_api(c.response, failure);
    return caller;
  }

  // True when the body is declared JSON; else answers 415.
  static bool json_body(Call& c) {
    auto type = header(c.request, "Content-Type").value_or("");
    std::transform(type.begin(), type.end(), type.begin(), ::tolower);
    if (type.rfind("application/json", 0) == 0) return true;
    send_json(
        c.response, 415,
        {{"error", "invalid_request"}, {"error_description", "the body must be application/json"}},
        true);
    return false;
  }

  // The query of an admin API request (lists page with it); nullopt after answering 400.
  std::optional<Params> api_query(Call& c) const {
    auto q = query_params(c.request, *raw_target_);
    if (!q) {
      send_json(c.response, 400, {{"error", "invalid_request"}}, true);
      return std::nullopt;
    }
    return std::move(*q);
  }

  Provider* provider_;
  ProfilePages* profile_;
  OnboardingPages* onboarding_;
  AdminApi* admin_;
  AdminConsole* console_;
  MetricsEndpoint* metrics_;
  const std::string* issuer_;
  const std::vector<std::string>* trusted_proxies_;
  PasswordPool* password_pool_;
  std::shared_ptr<const Routes> routes_;
  PasswordResetPages* reset_;
  const std::string* raw_target_ = nullptr;  // valid during onRequest only
  RequestLog* log_ = nullptr;                // valid during onRequest only
};

Routes Router::make_routes(bool admin, bool console, bool metrics, bool reset) {
  using M = Method;
  Routes routes;
  auto& user = routes.user;
  // HEAD is answered (headers only, see send_payload) where GET only reads; elsewhere it is
  // 405, since GET there has effects (a flow, a CSRF token, the end of a session).
  // The endpoints a browser app calls answer CORS (add_cors, preflight).
  user.add({M::kGet, M::kHead}, "/.well-known/openid-configuration", [](Router& r, Call& c) {
    add_cors(c.response, r.provider_->cors_origin(header(c.request, "Origin")).value_or(""));
    add_raw(c.response, "Cache-Control", "public, max-age=300");
    send_text(c.response, 200, "application/json", r.provider_->discovery_document());
  });
  user.add({M::kOptions}, "/.well-known/openid-configuration",
           [](Router& r, Call& c) { r.preflight(c, "GET"); });
  user.add({M::kGet, M::kHead}, "/jwks.json", [](Router& r, Call& c) {
    add_cors(c.response, r.provider_->cors_origin(header(c.request, "Origin")).value_or(""));
    auto jwks = r.provider_->jwks_document();
    if (!jwks) {
      return send_api(c.response, api_unavailable(jwks.error().message));
    }
    add_raw(c.response, "Cache-Control", "public, max-age=60");
    send_text(c.response, 200, "application/json", **jwks);
  });
  user.add({M::kOptions}, "/jwks.json", [](Router& r, Call& c) { r.preflight(c, "GET"); });
  user.add({M::kGet, M::kPost}, "/authorize", [](Router& r, Call& c) {
    if (auto p = r.params(c)) send_web(c.response, r.provider_->authorize(*p, r.browser(c)));
  });
  user.add({M::kGet}, "/login", [](Router& r, Call& c) {
    auto p = r.page_query(c);
    if (p) send_web(c.response, r.provider_->login().login_page(*p, r.browser(c)));
  });
  user.add({M::kPost}, "/login", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (!form) return;
    r.on_password_pool(c.response, [p = r.provider_, form = std::move(*form), b = r.browser(c)] {
      return p->login().login_submit(form, b);
    });
  });
  user.add({M::kGet}, "/login/second-factor", [](Router& r, Call& c) {
    auto p = r.page_query(c);
    if (p) send_web(c.response, r.provider_->login().second_factor_page(*p, r.browser(c)));
  });
  user.add({M::kPost}, "/login/second-factor", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (form) send_web(c.response, r.provider_->login().second_factor_submit(*form, r.browser(c)));
  });
  user.add({M::kGet}, "/profile",
           [](Router& r, Call& c) { send_web(c.response, r.profile_->profile(r.browser(c))); });
  user.add({M::kPost}, "/profile/two-factor", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (!form) return;
    r.on_password_pool(c.response, [p = r.profile_, form = std::move(*form), b = r.browser(c)] {
      return p->profile_two_factor(form, b);
    });
  });
  user.add({M::kGet}, "/profile/two-factor/enable", [](Router& r, Call& c) {
    if (auto p = r.page_query(c)) send_web(c.response, r.profile_->profile_enable_page(*p, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/two-factor/enable", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (form) send_web(c.response, r.profile_->profile_enable_submit(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/recovery-codes", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (form) send_web(c.response, r.profile_->profile_recovery_codes(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/two-factor/add", [](Router& r, Call& c) {
    if (auto form = r.form(c)) send_web(c.response, r.profile_->profile_add_factor(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/two-factor/rename", [](Router& r, Call& c) {
    if (auto form = r.form(c))
      send_web(c.response, r.profile_->profile_rename_factor(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/two-factor/remove", [](Router& r, Call& c) {
    if (auto form = r.form(c))
      send_web(c.response, r.profile_->profile_remove_factor(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/confirm", [](Router& r, Call& c) {
    if (auto form = r.form(c)) send_web(c.response, r.profile_->profile_confirm(*form, r.browser(c)));
  });
  user.add({M::kGet}, "/consent", [](Router& r, Call& c) {
    if (auto p = r.page_query(c)) send_web(c.response, r.provider_->consent_page(*p, r.browser(c)));
  });
  user.add({M::kPost}, "/consent", [](Router& r, Call& c) {
    if (auto form = r.form(c))
      send_web(c.response, r.provider_->consent_submit(*form, r.browser(c)));
  });
  user.add({M::kPost}, "/profile/apps/revoke", [](Router& r, Call& c) {
    if (auto form = r.form(c)) send_web(c.response, r.profile_->profile_revoke_app(*form, r.browser(c)));
  });
  user.add({M::kGet}, "/signup", [](Router& r, Call& c) {
    if (auto p = r.page_query(c)) send_web(c.response, r.onboarding_->signup_page(*p, r.browser(c)));
  });
  user.add({M::kPost}, "/signup", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (!form) return;
    r.on_password_pool(c.response, [p = r.onboarding_, form = std::move(*form), b = r.browser(c)] {
      return p->signup_submit(form, b);
    });
  });
  user.add({M::kGet}, "/enroll", [](Router& r, Call& c) {
    auto p = r.page_query(c);
    if (p) send_web(c.response, r.onboarding_->enrollment_link(*p, r.browser(c)));
  });
  if (reset) {
    user.add({M::kGet}, "/password/forgot", [](Router& r, Call& c) {
      if (auto p = r.page_query(c)) send_web(c.response, r.reset_->forgot_page(*p, r.browser(c)));
    });
    user.add({M::kPost}, "/password/forgot", [](Router& r, Call& c) {
      if (auto form = r.form(c)) send_web(c.response, r.reset_->forgot_submit(*form, r.browser(c)));
    });
    user.add({M::kGet}, "/password/reset", [](Router& r, Call& c) {
      if (auto p = r.page_query(c)) send_web(c.response, r.reset_->reset_page(*p, r.browser(c)));
    });
    user.add({M::kPost}, "/password/reset", [](Router& r, Call& c) {
      auto form = r.form(c);
      if (!form) return;
      r.on_password_pool(c.response, [p = r.reset_, form = std::move(*form), b = r.browser(c)] {
        return p->reset_submit(form, b);
      });
    });
  }
  if (console) {
    user.add({M::kGet}, kAuthenticationPagePath, [](Router& r, Call& c) {
      if (auto p = r.page_query(c)) send_console(c.response, r.console_->page(*p, r.browser(c)));
    });
    user.add({M::kPost}, kAuthenticationPagePath, [](Router& r, Call& c) {
      if (auto form = r.form(c)) send_console(c.response, r.console_->submit(*form, r.browser(c)));
    });
  }
  user.add({M::kPost}, "/token", [](Router& r, Call& c) {
    auto form = r.form(c);
    if (form) {
      send_oidc_api(c.response, r.provider_->token(*form, header(c.request, "Authorization"),
                                                   header(c.request, "Origin")));
    }
  });
  user.add({M::kOptions}, "/token", [](Router& r, Call& c) { r.preflight(c, "POST"); });
  // RFC 7009 and RFC 7662: the client authenticates as at /token, with /token's CORS.
  user.add({M::kPost}, "/revoke", [](Router& r, Call& c) {
    if (auto form = r.form(c))
      send_oidc_api(c.response, r.provider_->revoke(*form, header(c.request, "Authorization"),
                                                    header(c.request, "Origin")));
  });
  user.add({M::kOptions}, "/revoke", [](Router& r, Call& c) { r.preflight(c, "POST"); });
  user.add({M::kPost}, "/introspect", [](Router& r, Call& c) {
    if (auto form = r.form(c))
      send_oidc_api(c.response, r.provider_->introspect(*form, header(c.request, "Authorization"),
                                                        header(c.request, "Origin")));
  });
  user.add({M::kOptions}, "/introspect", [](Router& r, Call& c) { r.preflight(c, "POST"); });
  user.add({M::kGet, M::kPost}, "/userinfo", [](Router& r, Call& c) {
    auto form = r.optional_form(c);
    if (form) {
      send_oidc_api(c.response, r.provider_->userinfo(header(c.request, "Authorization"), *form,
                                                      header(c.request, "Origin")));
    }
  });
  user.add({M::kOptions}, "/userinfo", [](Router& r, Call& c) { r.preflight(c, "GET, POST"); });
  user.add({M::kGet, M::kPost}, "/logout", [](Router& r, Call& c) {
    if (auto p = r.params(c)) send_web(c.response, r.provider_->end_session(*p, r.browser(c)));
  });
  if (metrics) {
    user.add({M::kGet}, "/metrics", [](Router& r, Call& c) {
      send_metrics(c.response, r.metrics_->scrape(r.client_address(c.request),
                                                  r.untrusted_forwarding(c.request),
                                                  header(c.request, "Authorization")));
    });
  }
  user.add({M::kGet, M::kHead}, "/assets/{file}", [](Router&, Call& c) {
    const Asset* found = asset("/assets/" + c.variables[0]);
    if (!found) return send_text(c.response, 404, "text/plain", "not found\n");
    add_raw(c.response, "Cache-Control", "public, max-age=300");
    add_raw(c.response, "X-Content-Type-Options", "nosniff");
    send_text(c.response, 200, std::string(found->content_type), std::string(found->body));
  });
  // Liveness: the process serves requests, whatever its database does.
  user.add({M::kGet, M::kHead}, "/healthz",
           [](Router&, Call& c) { send_text(c.response, 200, "text/plain", "ok\n"); });
  // Readiness, for a load balancer's health check: 503 while the store does not answer, so
  // traffic goes to the nodes that can serve it. The reason goes to the log, not the body.
  user.add({M::kGet, M::kHead}, "/readyz", [](Router& r, Call& c) {
    add_raw(c.response, "Cache-Control", "no-store");
    if (Status ready = r.provider_->ready(); !ready) {
      obs::log_line("error", {{"msg", "not ready"}, {"error", ready.error().message}});
      add_retry_after(c.response, 503);
      return send_text(c.response, 503, "text/plain", "not ready: the database does not answer\n");
    }
    send_text(c.response, 200, "text/plain", "ready\n");
  });
  user.add({M::kGet, M::kHead}, "/",
           [](Router& r, Call& c) { send_html(c.response, 200, render_home_page(*r.issuer_)); });
  if (!admin) return routes;

  // The admin API: JSON in and out. Checks in this order: the method (405), a JSON body
  // (415), the query (400), the caller (401/403).
  const std::string account = std::string(kAdminPrefix) + "{account}";
  auto& api = routes.admin.emplace(/*ignore_trailing_slash=*/true);
  api.add({M::kGet}, account + "/authentication-settings", [](Router& r, Call& c) {
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->get_settings(*caller, c.variables[0]));
  });
  api.add({M::kPut}, account + "/authentication-settings", [](Router& r, Call& c) {
    if (!json_body(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->put_settings(*caller, c.variables[0], c.request.body(),
                                                  r.client_address(c.request)));
    }
  });
  api.add({M::kGet}, account + "/members", [](Router& r, Call& c) {
    auto q = r.api_query(c);
    if (!q) return;
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->members(*caller, c.variables[0], *q));
  });
  api.add({M::kPost}, account + "/members/{member}/two-factor/reset", [](Router& r, Call& c) {
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->reset_member(*caller, c.variables[0], c.variables[1],
                                                  r.client_address(c.request)));
    }
  });
  api.add({M::kDelete}, account + "/members/{member}", [](Router& r, Call& c) {
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->remove_member(*caller, c.variables[0], c.variables[1],
                                                   r.client_address(c.request)));
    }
  });
  api.add({M::kGet}, account + "/clients", [](Router& r, Call& c) {
    if (auto caller = r.caller(c)) send_api(c.response, r.admin_->clients(*caller, c.variables[0]));
  });
  api.add({M::kGet}, account + "/clients/{client}", [](Router& r, Call& c) {
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->client(*caller, c.variables[0], c.variables[1]));
  });
  api.add({M::kPut}, account + "/clients/{client}", [](Router& r, Call& c) {
    if (!json_body(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->put_client(*caller, c.variables[0], c.variables[1],
                                                c.request.body(), r.client_address(c.request)));
    }
  });
  api.add({M::kPut}, account + "/members/{member}/display-name", [](Router& r, Call& c) {
    if (!json_body(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->set_display_name(*caller, c.variables[0], c.variables[1],
                                                      c.request.body(),
                                                      r.client_address(c.request)));
    }
  });
  api.add({M::kGet}, account + "/members/{member}/credentials", [](Router& r, Call& c) {
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->credentials(*caller, c.variables[0], c.variables[1]));
  });
  api.add({M::kPost}, account + "/members/{member}/credentials", [](Router& r, Call& c) {
    if (!json_body(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response,
               r.admin_->register_credential(*caller, c.variables[0], c.variables[1],
                                             c.request.body(), r.client_address(c.request)));
    }
  });
  api.add({M::kPost}, account + "/members/{member}/credentials/{credential}/confirm",
          [](Router& r, Call& c) {
            if (!json_body(c)) return;
            if (auto caller = r.caller(c)) {
              send_api(c.response, r.admin_->confirm_credential(
                                       *caller, c.variables[0], c.variables[1], c.variables[2],
                                       c.request.body(), r.client_address(c.request)));
            }
          });
  api.add({M::kGet}, account + "/members/{member}/credentials/{credential}",
          [](Router& r, Call& c) {
            if (auto caller = r.caller(c)) {
              send_api(c.response, r.admin_->credential(*caller, c.variables[0], c.variables[1],
                                                        c.variables[2]));
            }
          });
  api.add({M::kDelete}, account + "/members/{member}/credentials/{credential}",
          [](Router& r, Call& c) {
            if (auto caller = r.caller(c)) {
              send_api(c.response,
                       r.admin_->remove_credential(*caller, c.variables[0], c.variables[1],
                                                   c.variables[2], r.client_address(c.request)));
            }
          });
  api.add({M::kGet}, account + "/invitations", [](Router& r, Call& c) {
    auto q = r.api_query(c);
    if (!q) return;
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->invitations(*caller, c.variables[0], *q));
  });
  // A POST's query is checked too, although it is not used (as the list's).
  api.add({M::kPost}, account + "/invitations", [](Router& r, Call& c) {
    if (!json_body(c) || !r.api_query(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->invite(*caller, c.variables[0], c.request.body(),
                                            r.client_address(c.request)));
    }
  });
  api.add({M::kDelete}, account + "/invitations/{invitation}", [](Router& r, Call& c) {
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->revoke_invitation(*caller, c.variables[0], c.variables[1],
                                                       r.client_address(c.request)));
    }
  });
  api.add({M::kGet}, account + "/tokens", [](Router& r, Call& c) {
    auto q = r.api_query(c);
    if (!q) return;
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->tokens(*caller, c.variables[0], *q));
  });
  api.add({M::kPost}, account + "/tokens", [](Router& r, Call& c) {
    if (!json_body(c) || !r.api_query(c)) return;
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->create_token(*caller, c.variables[0], c.request.body(),
                                                  r.client_address(c.request)));
    }
  });
  api.add({M::kDelete}, account + "/tokens/{token}", [](Router& r, Call& c) {
    if (auto caller = r.caller(c)) {
      send_api(c.response, r.admin_->revoke_token(*caller, c.variables[0], c.variables[1],
                                                  r.client_address(c.request)));
    }
  });
  api.add({M::kGet}, account + "/audit-events", [](Router& r, Call& c) {
    auto q = r.api_query(c);
    if (!q) return;
    if (auto caller = r.caller(c))
      send_api(c.response, r.admin_->audit_events(*caller, c.variables[0], *q));
  });
  return routes;
}

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

  Guard(std::shared_ptr<Router> inner, size_t max_request_bytes,
        std::shared_ptr<ConnectionCounter> connections)
      : inner_(std::move(inner)),
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
  ProfilePages& profile;
  OnboardingPages& onboarding;
  AdminApi* admin = nullptr;
  AdminConsole* console = nullptr;
  MetricsEndpoint* metrics = nullptr;
  std::string issuer;
  std::vector<std::string> trusted_proxies;
  std::unique_ptr<PasswordPool> password_pool;  // outlives the endpoint's handlers' use of it
  std::shared_ptr<const Routes> routes;          // set by start()
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  PasswordResetPages* reset = nullptr;
};

Server::Server(Provider& provider, ProfilePages& profile, OnboardingPages& onboarding,
               std::string issuer)
    : impl_(new Impl{provider, profile, onboarding, nullptr, nullptr, nullptr, std::move(issuer), {}, nullptr,
                     nullptr, nullptr}) {}

void Server::set_admin_api(AdminApi* admin) { impl_->admin = admin; }

void Server::set_admin_console(AdminConsole* console) { impl_->console = console; }

void Server::set_metrics(MetricsEndpoint* metrics) { impl_->metrics = metrics; }

void Server::set_password_reset(PasswordResetPages* reset) { impl_->reset = reset; }

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
    impl_->routes = std::make_shared<const Routes>(
        Router::make_routes(impl_->admin != nullptr, impl_->console != nullptr,
                            impl_->metrics != nullptr, impl_->reset != nullptr));
    impl_->endpoint->setHandler(Pistache::Http::make_handler<Guard>(
        std::make_shared<Router>(&impl_->provider, &impl_->profile, &impl_->onboarding,
                                 impl_->admin, impl_->console, impl_->metrics, &impl_->issuer, &impl_->trusted_proxies,
                                 impl_->password_pool.get(), impl_->routes, impl_->reset),
        options.max_request_bytes, connections));
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

std::vector<RouteInfo> Server::routes() const {
  if (!impl_->routes) return {};
  auto routes = impl_->routes->admin ? impl_->routes->admin->routes() : std::vector<RouteInfo>();
  for (auto& route : impl_->routes->user.routes()) routes.push_back(std::move(route));
  return routes;
}

void Server::shutdown() {
  // The pool first: its queued sign-ins answer through the endpoint's transports.
  if (impl_ && impl_->password_pool) impl_->password_pool->shutdown();
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

}  // namespace keystep::http
