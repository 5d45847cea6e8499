// Hostile or unusual traffic: oversized and malformed requests, raw garbage, keep-alive,
// unknown paths, and races on single-use things.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

// A plain TCP connection to the server, for what libcurl would not send.
class RawConnection {
 public:
  // Connects at once, or (connect_now false) only creates the socket: connect() later needs
  // no new file descriptor.
  explicit RawConnection(uint16_t port, int timeout_seconds = 2, bool connect_now = true)
      : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect_now) connect();
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connect() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    return connected_;
  }
  bool connected() const { return connected_; }

  // The head of a response to HEAD: up to the blank line, whatever Content-Length says.
  std::string read_head() {
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        return head;
      }
      if (!fill()) return "";
    }
  }
  // Bytes received but not yet returned by a read_*.
  const std::string& unread() const { return buffer_; }

  bool send_all(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // One response: headers up to the blank line, then Content-Length bytes of body. Empty when
  // the connection closed (or stayed silent for 2 s) before a complete response.
  std::string read_response() {
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t total = end + 4 + content_length(buffer_.substr(0, end));
        if (buffer_.size() >= total) {
          std::string response = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return response;
        }
      }
      if (!fill()) return "";
    }
  }

  // Reads until the peer closes or 2 s of silence; true when the peer closed.
  bool read_until_closed(std::string& received) {
    for (;;) {
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      received.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  static size_t content_length(const std::string& head) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    const auto at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::stoul(lower.substr(at + 17));
  }

  bool fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  uint16_t port_;
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string lower_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

// The body of one response read by RawConnection::read_response.
std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

// CPU time (user + system) this process has used.
std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// CPU time the process uses over `wall` of waiting.
std::chrono::microseconds cpu_time_over(std::chrono::milliseconds wall) {
  const auto before = process_cpu_time();
  std::this_thread::sleep_for(wall);
  return process_cpu_time() - before;
}

class Robustness : public KeystepHttpTest {
 protected:
  // A fresh connection still gets answers.
  void expect_still_serving() {
    HttpClient fresh;
    HttpResponse r = fresh.get(url("/healthz"));
    EXPECT_EQ(r.status, 200) << r.transport_error;
  }

  std::string request_line(const std::string& method, const std::string& path) const {
    return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server_->port()) +
           "\r\n";
  }
};

TEST_F(Robustness, OversizedBodyIsRefusedAndTheServerKeepsServing) {
  const std::string big = "grant_type=authorization_code&code=" + std::string(100 * 1024, 'a');
  HttpResponse r = client_.request("POST", url("/token"),
                                   {"Content-Type: application/x-www-form-urlencoded"}, big);
  EXPECT_GE(r.status, 400) << r.transport_error;
  EXPECT_LT(r.status, 500) << r.body;
  expect_still_serving();
  EXPECT_EQ(client_.get(url("/healthz")).status, 200);
}

// After refusing an oversized request the server must close the connection (or discard the
// rest of the body): otherwise bytes of the body are parsed as further requests, and a
// request hidden in a body reaches the handlers (request smuggling behind a proxy).
TEST_F(Robustness, OversizedRequestBodyIsNeverParsedAsFurtherRequests) {
  const std::string head = request_line("POST", "/token") +
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: 131072\r\n\r\n";
  // Past the 64 KiB limit, every 4 KiB boundary of the stream (where a read may end) starts a
  // complete hidden request, padded to the next boundary with a header.
  std::string stream = head + "a=" + std::string(64 * 1024 - head.size() - 2, 'b');
  constexpr size_t kBlock = 4096;
  while (stream.size() < head.size() + 131072) {
    std::string hidden = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    hidden += std::string(kBlock - hidden.size() - 4, 'c') + "\r\n\r\n";
    stream += hidden;
  }
  stream.resize(head.size() + 131072);

  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  raw.send_all(stream);  // may fail part-way if the server closes: that is fine
  std::string received;
  raw.read_until_closed(received);
  EXPECT_EQ(received.rfind("HTTP/1.1 413", 0), 0u) << received.substr(0, 200);
  EXPECT_EQ(received.find("HTTP/1.1 200"), std::string::npos)
      << "a request hidden in the refused body was served:\n"
      << received.substr(0, 600);
  expect_still_serving();
}

TEST_F(Robustness, OversizedHeaderIsRefusedAndTheServerKeepsServing) {
  HttpResponse r =
      client_.get(url("/healthz"), nullptr, {"X-Padding: " + std::string(100 * 1024, 'b')});
  EXPECT_GE(r.status, 400) << r.transport_error;
  EXPECT_LT(r.status, 500);
  expect_still_serving();
}

TEST_F(Robustness, BodyJustUnderTheLimitIsParsed) {
  // 60 KB of form is within the 64 KB limit: the answer comes from the token endpoint.
  HttpResponse r = client_.post_form(url("/token"), {{"grant_type", "refresh_token"},
                                                     {"client_id", "spa"},
                                                     {"refresh_token", std::string(60000, 'x')}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().value("error", ""), "invalid_grant");
}

TEST_F(Robustness, MalformedPercentEncodingInFormIs400) {
  for (const char* body : {"grant_type=%ZZ&client_id=spa", "grant_type=refresh_token%",
                           "client_id=spa&grant_type=%4"}) {
    HttpResponse r =
        client_.request("POST", url("/token"), {"Content-Type: application/x-www-form-urlencoded"},
                        std::string(body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.json().value("error", ""), "invalid_request") << body << ": " << r.body;
  }
}

TEST_F(Robustness, MalformedPercentEncodingInLoginFormIs400) {
  HttpResponse r =
      client_.request("POST", url("/login"), {"Content-Type: application/x-www-form-urlencoded"},
                      std::string("flow=%G0&csrf_token=x"));
  EXPECT_EQ(r.status, 400) << r.body;
}

// An invalid UTF-8 parameter is refused where it is decoded: before, state=%FF answered 500 and
// nonce=%FF issued a code whose exchange then failed with an exception text.
TEST_F(Robustness, InvalidUtf8InAuthorizationParametersIsInvalidRequest) {
  const Pkce pkce = make_pkce();
  for (const char* name : {"state", "nonce", "scope", "login_hint"}) {
    // The parameter replaces the valid one: a repeated parameter is refused for that alone.
    const std::string target =
        authorize_url(without(spa_request(pkce), name)) + "&" + name + "=%FF";
    HttpResponse r = client_.get(target, &browser_);
    EXPECT_EQ(r.status, 400) << name << ": " << r.body.substr(0, 300);
    EXPECT_NE(r.body.find("invalid_request"), std::string::npos) << name;
    EXPECT_EQ(r.header("Location"), std::nullopt) << name;
  }
  HttpResponse r =
      client_.get(authorize_url(without(spa_request(pkce), "nonce")) + "&nonce=%C3%28", &browser_);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 300);
}

TEST_F(Robustness, InvalidUtf8InATokenRequestIsInvalidRequest) {
  HttpResponse r =
      client_.request("POST", url("/token"), {"Content-Type: application/x-www-form-urlencoded"},
                      std::string("grant_type=authorization_code&client_id=spa&code=%FF%FE"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().value("error", ""), "invalid_request") << r.body;
}

TEST_F(Robustness, UnknownPathIs404) {
  EXPECT_EQ(client_.get(url("/no/such/path")).status, 404);
  EXPECT_EQ(client_.get(url("/authorize/extra")).status, 404);
  EXPECT_EQ(client_.post_form(url("/admin"), {}).status, 404);
}

TEST_F(Robustness, GarbageOnARawSocketIsClosedOrRefusedAndTheServerKeepsServing) {
  {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    // A TLS ClientHello's first bytes (NUL included), then bytes no HTTP text contains.
    constexpr char kTlsHello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    std::string garbage(kTlsHello, sizeof kTlsHello - 1);
    garbage += std::string(512, '\xff') + "\r\n\r\n";
    ASSERT_TRUE(raw.send_all(garbage));
    std::string received;
    const bool closed = raw.read_until_closed(received);
    EXPECT_TRUE(closed || received.rfind("HTTP/1.1 4", 0) == 0)
        << "neither closed nor refused; got: " << received.substr(0, 200);
    if (!received.empty()) {
      EXPECT_EQ(received.rfind("HTTP/1.1 4", 0), 0u) << received;
    }
  }
  expect_still_serving();
}

TEST_F(Robustness, TruncatedRequestDoesNotStopTheServer) {
  {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_all(request_line("POST", "/token") +
                             "Content-Type: application/x-www-form-urlencoded\r\n"
                             "Content-Length: 1000\r\n\r\ngrant_type="));
  }  // closed mid-body
  expect_still_serving();
}

TEST_F(Robustness, KeepAliveAnswersTwoRequestsOnOneRawConnection) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  // No Connection header: HTTP/1.1 connections are persistent by default.
  ASSERT_TRUE(raw.send_all(request_line("GET", "/healthz") + "\r\n"));
  const std::string first = raw.read_response();
  ASSERT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
  std::string lower = first;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  EXPECT_EQ(lower.find("connection: close"), std::string::npos) << first;

  ASSERT_TRUE(raw.send_all(request_line("GET", "/.well-known/openid-configuration") + "\r\n"));
  const std::string second = raw.read_response();
  EXPECT_EQ(second.rfind("HTTP/1.1 200", 0), 0u) << second;
  EXPECT_NE(second.find(server_->issuer()), std::string::npos);
}

TEST_F(Robustness, KeepAliveLetsLibcurlReuseTheConnection) {
  HttpResponse first = client_.get(url("/healthz"));
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.new_connections, 1);
  HttpResponse second = client_.get(url("/.well-known/openid-configuration"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.new_connections, 0) << "the second request opened a new connection";
  HttpResponse third = client_.post_form(url("/token"), {{"grant_type", "x"}});
  EXPECT_EQ(third.status, 401);
  EXPECT_EQ(third.new_connections, 0);
}

TEST_F(Robustness, ErrorResponsesKeepTheConnectionUsable) {
  EXPECT_EQ(client_.get(url("/nope")).status, 404);
  HttpResponse next = client_.get(url("/healthz"));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.new_connections, 0);
}

TEST_F(Robustness, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  const std::string form = "grant_type=refresh_token&client_id=spa&refresh_token=nope";
  // Three requests in one write: Pistache alone answered the first and dropped the rest.
  ASSERT_TRUE(raw.send_all(request_line("GET", "/healthz") + "\r\n" +
                           request_line("POST", "/token") +
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: " +
                           std::to_string(form.size()) + "\r\n\r\n" + form +
                           request_line("GET", "/.well-known/openid-configuration") + "\r\n"));
  const std::string first = raw.read_response();
  EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
  EXPECT_EQ(body_of(first), "ok\n");
  const std::string second = raw.read_response();
  EXPECT_EQ(second.rfind("HTTP/1.1 400", 0), 0u) << second;
  EXPECT_NE(second.find("invalid_grant"), std::string::npos) << second;
  const std::string third = raw.read_response();
  EXPECT_EQ(third.rfind("HTTP/1.1 200", 0), 0u) << third;
  EXPECT_NE(third.find(server_->issuer()), std::string::npos) << third;
}

TEST_F(Robustness, PipelinedRequestsSplitAnywhereAreAnsweredInOrder) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  // A chunked body (with a chunk extension and a trailer field), then a request, in pieces.
  const std::string stream = request_line("POST", "/token") +
                             "Content-Type: application/x-www-form-urlencoded\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"
                             "a\r\ngrant_type\r\n12;ext=1\r\n=refresh_token&cli\r\n"
                             "1f\r\nent_id=spa&refresh_token=nope-1\r\n0\r\nX-Trailer: 1\r\n\r\n" +
                             request_line("GET", "/healthz") + "\r\n";
  for (size_t at = 0; at < stream.size(); at += 7) {
    ASSERT_TRUE(raw.send_all(stream.substr(at, 7)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string first = raw.read_response();
  EXPECT_EQ(first.rfind("HTTP/1.1 400", 0), 0u) << first;
  EXPECT_NE(first.find("invalid_grant"), std::string::npos) << first;
  const std::string second = raw.read_response();
  EXPECT_EQ(second.rfind("HTTP/1.1 200", 0), 0u) << second;
  EXPECT_EQ(body_of(second), "ok\n");
}

TEST_F(Robustness, ConflictingContentLengthsAreRefusedAndTheConnectionClosed) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all(request_line("POST", "/token") +
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: 5\r\nContent-Length: 40\r\n\r\n" +
                           "grant" + request_line("GET", "/healthz") + "\r\n"));
  std::string received;
  EXPECT_TRUE(raw.read_until_closed(received));
  EXPECT_EQ(received.rfind("HTTP/1.1 400", 0), 0u) << received;
  EXPECT_EQ(received.find("HTTP/1.1 200"), std::string::npos) << received;
  expect_still_serving();
}

// A Cookie header without '=' made Pistache's parser throw: 500 on every page for whoever
// got such a cookie set (cookie tossing from a sibling domain).
TEST_F(Robustness, MalformedCookiePairsAreIgnored) {
  for (const char* cookie : {"tossed", "a=1; tossed; b", "=; ;;", "ks_session"}) {
    HttpResponse r = client_.get(url("/"), nullptr, {std::string("Cookie: ") + cookie});
    EXPECT_EQ(r.status, 200) << cookie << ": " << r.body.substr(0, 200);
    r = client_.get(url("/profile"), nullptr, {std::string("Cookie: ") + cookie});
    EXPECT_EQ(r.status / 100, 3) << cookie << ": " << r.status << " " << r.body.substr(0, 200);
  }
}

TEST_F(Robustness, SessionCookieStillCountsBesideAMalformedPair) {
  ASSERT_FALSE(sign_in_for_code(spa_request(make_pkce())).empty());
  const std::string cookies = browser_.header_for("/profile");
  ASSERT_NE(cookies.find("ks_session="), std::string::npos);
  HttpResponse r = client_.get(url("/profile"), nullptr, {"Cookie: tossed; " + cookies + "; x"});
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find(TestServer::kAliceEmail), std::string::npos);
}

TEST_F(Robustness, TheInternalCookieHeaderCannotBeSentByAClient) {
  ASSERT_FALSE(sign_in_for_code(spa_request(make_pkce())).empty());
  const std::string cookies = browser_.header_for("/profile");
  HttpResponse r = client_.get(url("/profile"), nullptr, {"X-Keystep-Cookie: " + cookies});
  EXPECT_EQ(r.status / 100, 3) << "a session was read from X-Keystep-Cookie: " << r.status;
}

// RFC 9110 §9.3.2: the same header fields as GET, never a body.
TEST_F(Robustness, HeadIsAnsweredWithHeadersOnly) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  for (const char* path : {"/healthz", "/.well-known/openid-configuration", "/jwks.json", "/"}) {
    ASSERT_TRUE(raw.send_all(request_line("GET", path) + "\r\n"));
    const std::string get = raw.read_response();
    ASSERT_EQ(get.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << get;
    ASSERT_TRUE(raw.send_all(request_line("HEAD", path) + "\r\n"));
    const std::string head = raw.read_head();
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << head;
    EXPECT_NE(lower_case(head).find("content-length: " + std::to_string(body_of(get).size())),
              std::string::npos)
        << path << ": " << head;
    // A body after the head would be read as the start of the next response.
    ASSERT_TRUE(raw.send_all(request_line("GET", "/healthz") + "\r\n"));
    const std::string next = raw.read_response();
    EXPECT_EQ(next.rfind("HTTP/1.1 200", 0), 0u) << path << ": a body followed the head: " << next;
  }
}

TEST_F(Robustness, HeadOnRoutesWithEffectsIs405AndRunsNothing) {
  ASSERT_FALSE(sign_in_for_code(spa_request(make_pkce())).empty());
  for (const char* path :
       {"/logout", "/authorize", "/login", "/profile", "/signup", "/enroll", "/password/reset",
        "/account/authentication", "/token", "/userinfo", "/api/v1/accounts/acme/members"}) {
    HttpResponse r = client_.request("HEAD", url(path), {}, std::nullopt, &browser_);
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_TRUE(r.header("Allow").has_value()) << path;
    EXPECT_EQ(r.header("Allow").value_or("").find("HEAD"), std::string::npos) << path;
  }
  // The session survived HEAD /logout.
  HttpResponse profile = client_.get(url("/profile"), &browser_);
  EXPECT_EQ(profile.status, 200) << profile.body.substr(0, 300);
}

TEST_F(Robustness, ErrorsToHeadCarryNoBody) {
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  for (const char* path : {"/no/such/path", "/logout"}) {
    ASSERT_TRUE(raw.send_all(request_line("HEAD", path) + "\r\n"));
    const std::string head = raw.read_head();
    EXPECT_EQ(head.rfind("HTTP/1.1 4", 0), 0u) << path << ": " << head;
  }
  ASSERT_TRUE(raw.send_all(request_line("GET", "/healthz") + "\r\n"));
  const std::string next = raw.read_response();
  EXPECT_EQ(next.rfind("HTTP/1.1 200", 0), 0u) << "a body followed a head: " << next;
}

// Limits set small so a test reaches them.
class RobustnessLimits : public Robustness {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.http.max_connections = 3;
    options.http.idle_timeout = std::chrono::seconds(1);
    options.http.max_response_bytes = 1024;
    return options;
  }
};

// Before, a response over Pistache's buffer was silently never sent: the client hung.
TEST_F(RobustnessLimits, AResponseOverTheLimitIs500NotAHang) {
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r = client_.get(url("/.well-known/openid-configuration"));
  EXPECT_EQ(r.status, 500) << r.transport_error;
  EXPECT_EQ(r.json().value("error", ""), "server_error") << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(client_.get(url("/healthz")).status, 200);
}

TEST_F(RobustnessLimits, AnIdleKeepAliveConnectionIsClosed) {
  RawConnection raw(server_->port(), /*timeout_seconds=*/8);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all(request_line("GET", "/healthz") + "\r\n"));
  ASSERT_EQ(raw.read_response().rfind("HTTP/1.1 200", 0), 0u);
  const auto start = std::chrono::steady_clock::now();
  std::string received;
  EXPECT_TRUE(raw.read_until_closed(received)) << "still open after 8 s";
  EXPECT_TRUE(received.empty()) << received;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(RobustnessLimits, ConnectionsOverTheCapAreRefusedUntilOneCloses) {
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(open.back()->send_all(request_line("GET", "/healthz") + "\r\n"));
    ASSERT_EQ(open.back()->read_response().rfind("HTTP/1.1 200", 0), 0u) << i;
  }
  {
    RawConnection extra(server_->port());
    ASSERT_TRUE(extra.connected());  // the kernel completes the handshake
    extra.send_all(request_line("GET", "/healthz") + "\r\n");
    std::string received;
    EXPECT_TRUE(extra.read_until_closed(received)) << "over the cap and still open";
    EXPECT_TRUE(received.empty() || received.rfind("HTTP/1.1 503", 0) == 0) << received;
    EXPECT_LT(cpu_time_over(std::chrono::milliseconds(500)), std::chrono::milliseconds(150));
  }
  open.pop_back();
  // The server notices the close on its next read; a new client then gets in.
  std::string answer;
  for (int attempt = 0; attempt < 40 && answer.rfind("HTTP/1.1 200", 0) != 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RawConnection next(server_->port());
    if (next.send_all(request_line("GET", "/healthz") + "\r\n")) answer = next.read_response();
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
}

// Lowers this process's soft RLIMIT_NOFILE so that no new descriptor can be opened; restores
// it when it goes.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NoFreeDescriptors(const NoFreeDescriptors&) = delete;
  NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

 private:
  rlimit saved_{};
};

// Before, Pistache's accept loop retried accept() at once, forever: a core at 100% while the
// client waited.
TEST_F(Robustness, AtTheDescriptorLimitTheAcceptLoopBacksOffAndServesLater) {
  RawConnection waiting(server_->port(), /*timeout_seconds=*/3, /*connect_now=*/false);
  std::chrono::microseconds spent{};
  {
    NoFreeDescriptors limit;
    ASSERT_TRUE(waiting.connect());  // queued by the kernel; the server cannot accept it
    spent = cpu_time_over(std::chrono::milliseconds(1000));
  }
  EXPECT_LT(spent, std::chrono::milliseconds(100)) << "the accept loop spins";
  ASSERT_TRUE(waiting.send_all(request_line("GET", "/healthz") + "\r\n"));
  const std::string answer = waiting.read_response();
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
}

// Runs `attempt` on `n` threads at once, each with its own client; returns the statuses.
template <class F>
std::vector<long> race(int n, F attempt) {
  std::vector<long> statuses(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client;
      statuses[static_cast<size_t>(i)] = attempt(client);
    });
  }
  for (auto& t : threads) t.join();
  return statuses;
}

TEST_F(Robustness, ConcurrentCodeExchangesHaveAtMostOneWinner) {
  const Pkce pkce = make_pkce();
  const std::string code = sign_in_for_code(spa_request(pkce));
  ASSERT_FALSE(code.empty());
  const auto statuses = race(6, [&](HttpClient& client) {
    return client
        .post_form(url("/token"), {{"grant_type", "authorization_code"},
                                   {"code", code},
                                   {"redirect_uri", TestServer::kSpaRedirect},
                                   {"client_id", "spa"},
                                   {"code_verifier", pkce.verifier}})
        .status;
  });
  EXPECT_LE(std::count(statuses.begin(), statuses.end(), 200), 1);
  for (long s : statuses) EXPECT_TRUE(s == 200 || s == 400 || s == 503) << s;
}

TEST_F(Robustness, ConcurrentRefreshesHaveAtMostOneWinner) {
  const auto tokens = spa_tokens();
  const std::string refresh = tokens.value("refresh_token", "");
  ASSERT_FALSE(refresh.empty());
  const auto statuses = race(6, [&](HttpClient& client) {
    return client
        .post_form(
            url("/token"),
            {{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "spa"}})
        .status;
  });
  EXPECT_LE(std::count(statuses.begin(), statuses.end(), 200), 1);
  for (long s : statuses) EXPECT_TRUE(s == 200 || s == 400 || s == 503) << s;
}

TEST_F(Robustness, ConcurrentSubmitsOfOneLoginFlowIssueAtMostOneCode) {
  HttpResponse start = authorize(spa_request(make_pkce()));
  ASSERT_EQ(start.status, 302);
  LoginPage page = open_login_page(start.location());
  const std::string flow_cookie = browser_.get("ks_flow").value_or("");
  const auto statuses = race(4, [&](HttpClient& client) {
    CookieJar jar;
    jar.set("ks_flow", flow_cookie, "/login");
    HttpResponse r = client.post_form(url("/login"),
                                      {{"flow", page.flow},
                                       {"csrf_token", page.csrf_token},
                                       {"email", TestServer::kAliceEmail},
                                       {"password", TestServer::kAlicePassword}},
                                      &jar);
    return r.status == 302 && field(query_of(r.location()), "code") ? 302L : r.status;
  });
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 302), 1);
  for (long s : statuses) EXPECT_TRUE(s == 302 || s == 400 || s == 409) << s;
}

}  // namespace
}  // namespace keystep::httptest
