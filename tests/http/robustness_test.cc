// Hostile or unusual traffic: oversized and malformed requests, raw garbage, keep-alive,
// unknown paths, and races on single-use things.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/test_server.h"

namespace keystep::httptest {
namespace {

// A plain TCP connection to the server, for what libcurl would not send.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { ::close(fd_); }

  bool connected() const { return connected_; }

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

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

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
