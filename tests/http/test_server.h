#pragma once
// Shared fixture of the HTTP integration tests: the real keystep::http::Server with a real
// Provider over a real SqliteStore in a temporary directory, on a free loopback port, plus a
// small libcurl client that never follows redirects and a cookie jar the test controls.
//
// Every TestServer is independent (own directory, database, signing key, clock), so tests
// run in any order and in parallel processes (ctest -j).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"
#include "idp/admin/admin_api.h"
#include "idp/admin/admin_console.h"
#include "base/clock.h"
#include "idp/config/config.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "idp/directory/directory.h"
#include "idp/oidc/provider.h"
#include "idp/oidc/signing_keys.h"
#include "idp/login/two_factor.h"
#include "plugin/loader.h"
#include "plugin/registry.h"
#include "storage/sqlite/sqlite_store.h"

namespace keystep::httptest {

// Ordered name/value pairs: a query string or a form body, before encoding.
using Fields = std::vector<std::pair<std::string, std::string>>;

// Replaces the first field called `name` (or appends it) / removes every field so called.
Fields with(Fields fields, const std::string& name, const std::string& value);
Fields without(Fields fields, const std::string& name);
// The value of the first field called `name`.
std::optional<std::string> field(const Fields& fields, const std::string& name);

// application/x-www-form-urlencoded text of `fields` (RFC 3986 unreserved kept, rest %XX).
std::string encode_fields(const Fields& fields);
// Percent-decodes a form or query string ('+' is a space). Malformed escapes are kept as is.
Fields decode_fields(const std::string& text);
// The decoded query of a URL (between '?' and '#'), empty when it has none.
Fields query_of(const std::string& url);
// The URL without its query and fragment.
std::string without_query(const std::string& url);
// The value of the first HTML input named `name` (entities decoded; "" when absent).
std::string input_value(const std::string& html, const std::string& name);

// A clock the test moves by hand.
class TestClock final : public Clock {
 public:
  static constexpr int64_t kStart = 1'750'000'000;
  int64_t now() const override { return now_.load(); }
  void advance(int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<int64_t> now_{kStart};
};

// One Set-Cookie header, parsed.
struct SetCookie {
  std::string name;
  std::string value;
  std::map<std::string, std::string> attributes;  // lower-case names: "path", "max-age", …

  bool has(const std::string& lower_name) const { return attributes.count(lower_name) > 0; }
  std::optional<std::string> attribute(const std::string& lower_name) const;
};
std::optional<SetCookie> parse_set_cookie(const std::string& header);

struct HttpResponse {
  long status = 0;  // 0 when the transfer failed (see transport_error)
  std::string transport_error;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  long new_connections = -1;  // CURLINFO_NUM_CONNECTS: 0 when an open connection was reused

  // Case-insensitive header lookup: the first value, or every value.
  std::optional<std::string> header(const std::string& name) const;
  std::vector<std::string> header_values(const std::string& name) const;
  std::optional<SetCookie> set_cookie(const std::string& cookie_name) const;
  std::string location() const { return header("Location").value_or(""); }
  // The body parsed as JSON (discarded value when it is not JSON).
  nlohmann::json json() const;
};

// The cookies a browser would hold for the server. Only name, value and path matter here.
class CookieJar {
 public:
  // Applies every Set-Cookie of `response` (Max-Age=0 or less deletes).
  void update(const HttpResponse& response);
  void set(const std::string& name, const std::string& value, const std::string& path = "/");
  void erase(const std::string& name) { cookies_.erase(name); }
  std::optional<std::string> get(const std::string& name) const;
  // The Cookie header value for a request to `path` (empty when no cookie applies).
  std::string header_for(const std::string& path) const;

 private:
  struct Entry {
    std::string value;
    std::string path;
  };
  std::map<std::string, Entry> cookies_;
};

// A libcurl easy handle: requests reuse its open connection (HTTP/1.1 keep-alive), never
// follow redirects and time out after 10 s.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `body` when given (POST and PUT; libcurl's default Content-Type is removed, so
  // pass one in `headers`). With a jar, sends its cookies and stores the ones set.
  HttpResponse request(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers = {},
                       const std::optional<std::string>& body = std::nullopt,
                       CookieJar* jar = nullptr);
  HttpResponse get(const std::string& url, CookieJar* jar = nullptr,
                   const std::vector<std::string>& headers = {});
  // POST with Content-Type application/x-www-form-urlencoded.
  HttpResponse post_form(const std::string& url, const Fields& form, CookieJar* jar = nullptr,
                         std::vector<std::string> headers = {});

 private:
  void* curl_;  // CURL*
};

// A PKCE verifier and its S256 challenge.
struct Pkce {
  std::string verifier;
  std::string challenge;
};
Pkce make_pkce();
std::string s256_challenge(const std::string& verifier);

// How a TestServer is wired beyond the defaults.
struct TestServerOptions {
  // Paths of MFA provider shared libraries, loaded into the registry after the built-ins and
  // before the TwoFactor policy and the Provider are built. start() fails if one is refused,
  // unless refused_plugins_are_reported (then only plugin_reports() tells, as keystep serve
  // only logs it).
  std::vector<std::string> plugins;
  bool refused_plugins_are_reported = false;
  // Pistache worker threads.
  int threads = 2;
  // Password hashing cost; unset: TestServer::kArgon2 (cheap).
  std::optional<Argon2Params> argon2;
  // The HTTP server's limits, timeouts and password pool; host, port and threads are set by
  // start().
  http::ServerOptions http = [] {
    http::ServerOptions o;
    o.password_threads = 2;
    return o;
  }();
  // IdpConfig's metrics access (the defaults when unset) and trusted proxies.
  std::optional<std::vector<std::string>> metrics_allow = std::nullopt;
  std::string metrics_token = "";
  std::vector<std::string> trusted_proxies = {};
};

// RFC 4648 base32 without padding, as the enable page shows a secret; spaces are skipped.
// nullopt for any other character.
std::optional<std::string> base32_decode(const std::string& text);

// The running server and everything it is wired to.
class TestServer {
 public:
  static constexpr const char* kAliceEmail = "alice@example.com";
  static constexpr const char* kAlicePassword = "correct horse battery";
  // The same email in a second account, with another password.
  static constexpr const char* kOtherAlicePassword = "globex staple battery";
  static constexpr const char* kSpaRedirect = "http://127.0.0.1:9/cb";
  static constexpr const char* kSpaLogoutRedirect = "http://127.0.0.1:9/bye";
  static constexpr const char* kWebRedirect = "http://127.0.0.1:9/web/cb";
  static constexpr const char* kWebLogoutRedirect = "http://127.0.0.1:9/web/bye";
  static constexpr const char* kWebSecret = "w3b-client-secret-0123456789abcdefghijkl";
  // Cheap password hashing, so logins take microseconds.
  static constexpr Argon2Params kArgon2{1, 1024, 1};

  // Creates a directory holding a copy of the process-wide seed database (signing key,
  // accounts "acme" and "globex", both with alice@example.com, clients "spa" and "web") and
  // starts serving it on a free loopback port, with issuer http://127.0.0.1:<port>.
  static Result<std::unique_ptr<TestServer>> start(const TestServerOptions& options = {});
  ~TestServer();

  const std::string& issuer() const { return config_.issuer; }
  std::string url(const std::string& path) const { return config_.issuer + path; }
  uint16_t port() const { return port_; }
  TestClock& clock() { return clock_; }
  int64_t alice_id() const { return alice_id_; }
  int64_t other_alice_id() const { return other_alice_id_; }
  // The objects the server uses, for arranging state the HTTP API does not reach (account
  // enforcement, enrollment with a plugin) and for checking what a request changed.
  sqlite::SqliteStore& store() { return *store_; }
  http::Server& server() { return *server_; }
  TwoFactor& two_factor() { return *two_factor_; }
  Directory& directory() { return *directory_; }
  AdminApi& admin_api() { return *admin_; }
  const ProviderRegistry& registry() const { return registry_; }
  const std::vector<PluginReport>& plugin_reports() const { return plugin_reports_; }

  // Writes the user-level 2FA flag alone (MfaStore::set_two_factor_setting), e.g. to arrange
  // "a confirmed credential but the user's own setting off", the state the seed rule leaves
  // to account enforcement. kNotFound for an unknown user.
  Status set_user_two_factor_flag(int64_t user_id, bool on);
  // Creates the role `role` with `permissions` and gives it to the user, with SQL on a second
  // connection: roles are seeded by migrations and nothing else creates them, so a role such
  // as "view but not edit" can only be arranged this way.
  Status give_custom_role(int64_t user_id, const std::string& role,
                          const std::vector<std::string>& permissions);

 private:
  TestServer() = default;
  Status init(const TestServerOptions& options);
  // Runs `sql` on a second connection to the database; the number of rows changed.
  Result<int> run_sql(const std::string& sql);

  std::string dir_;
  TestClock clock_;
  OsRandom random_;
  IdpConfig config_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<SigningKeys> keys_;
  std::unique_ptr<PasswordHasher> hasher_;
  PluginLoader plugin_loader_;  // declared before registry_: unloads after its providers go
  std::vector<PluginReport> plugin_reports_;
  ProviderRegistry registry_;
  // The seed turns two-factor on for no user or account, so logins are password-only until
  // a test enables it.
  std::unique_ptr<TwoFactor> two_factor_;
  std::unique_ptr<Provider> provider_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<AdminApi> admin_;
  std::unique_ptr<AdminConsole> console_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<http::Server> server_;  // declared last: stopped before the rest goes
  uint16_t port_ = 0;
  int64_t alice_id_ = 0;
  int64_t other_alice_id_ = 0;
};

// What the login page carries.
struct LoginPage {
  HttpResponse response;
  std::string flow;
  std::string csrf_token;
};

// Base fixture: a fresh server per test, a client and a browser cookie jar, and helpers that
// drive the protocol. Helpers report unexpected answers with ADD_FAILURE and return empty
// values, so a test states only what it is about.
class KeystepHttpTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // What SetUp starts the server with.
  virtual TestServerOptions server_options() const { return {}; }

  std::string url(const std::string& path) const { return server_->url(path); }
  TestClock& clock() { return server_->clock(); }

  // Authorization request parameters of the public client "spa" with PKCE `pkce`, scope
  // "openid email", state "st-123" and nonce "n-456".
  Fields spa_request(const Pkce& pkce) const;
  // Of the confidential client "web", without PKCE.
  Fields web_request() const;
  std::string authorize_url(const Fields& params) const;

  // GET /authorize with the browser jar.
  HttpResponse authorize(const Fields& params);
  // Follows a redirect to the login page and parses its hidden fields.
  LoginPage open_login_page(const std::string& login_url);
  // POST /login with the page's flow and CSRF token.
  HttpResponse submit_login(const LoginPage& page, const std::string& email,
                            const std::string& password);
  // authorize → login page → POST /login; returns the final response (a redirect to the
  // client on success).
  HttpResponse sign_in(const Fields& params, const std::string& email = TestServer::kAliceEmail,
                       const std::string& password = TestServer::kAlicePassword);
  // As sign_in, and returns the code of the redirect to the client ("" on failure).
  std::string sign_in_for_code(const Fields& params,
                               const std::string& email = TestServer::kAliceEmail,
                               const std::string& password = TestServer::kAlicePassword);

  // POST /token, grant_type=authorization_code, for "spa".
  HttpResponse exchange_spa_code(const std::string& code, const std::string& verifier);
  // A full login and code exchange for "spa"; returns the token response body.
  nlohmann::json spa_tokens(const Fields& extra = {});
  // POST /token, grant_type=refresh_token, for "spa".
  HttpResponse refresh_spa(const std::string& refresh_token);
  HttpResponse userinfo(const std::string& access_token);

  // Verifies an id_token against the served JWKS; returns its claims (null on failure).
  nlohmann::json verify_id_token(const std::string& id_token);

  std::unique_ptr<TestServer> server_;
  HttpClient client_;
  CookieJar browser_;
};

// What the profile page carries.
struct ProfilePage {
  HttpResponse response;
  std::string csrf_token;
};

// What the second-factor page carries.
struct SecondFactorPage {
  HttpResponse response;
  std::string flow;
  std::string csrf_token;
  std::string method;
};

// Helpers for two-factor tests: the profile pages (enrolling an authenticator app as a user
// does), the second login step, and TOTP codes computed from the secret the enable page
// shows, at the fixture clock's time. The TOTP provider refuses a time step at or before the
// last one it accepted, so a test that needs another code moves the clock to the next step
// (next_code) instead of sleeping.
class MfaHttpTest : public KeystepHttpTest {
 protected:
  static constexpr int64_t kStep = 30;  // the TOTP period of enrollments with default settings

  // Forgets every cookie: the next request comes from a new browser.
  void new_browser() { browser_ = CookieJar(); }

  // GET /profile with the browser's session; expects 200 and a CSRF token.
  ProfilePage open_profile();
  // GET /profile without a session, the login page it leads to, the password, and back to
  // /profile. For a user without two-factor authentication.
  ProfilePage sign_in_to_profile(const std::string& email = TestServer::kAliceEmail,
                                 const std::string& password = TestServer::kAlicePassword);
  // POST /profile/two-factor action=enable, then GET the enable page it redirects to.
  HttpResponse start_enable(const ProfilePage& profile);
  // The secret shown on the enable page, decoded ("" with an ADD_FAILURE when absent).
  std::string secret_on(const HttpResponse& enable_page);
  // POST /profile/two-factor/enable with `code`.
  HttpResponse confirm_enable(const ProfilePage& profile, const std::string& code);
  // Signs in to the profile (password only), enrolls an authenticator app with the current
  // code and returns its secret; recovery_codes_ holds the codes shown. The browser keeps
  // the session.
  std::string enable_two_factor();

  // The code of `secret` at the clock's time / a code no step in now-1..now+1 accepts.
  std::string code_now(const std::string& secret);
  std::string wrong_code(const std::string& secret);
  // Moves the clock one TOTP step on and returns that step's code.
  std::string next_code(const std::string& secret);

  // GET page_url (a /login/second-factor URL) and parses the hidden fields of the page.
  SecondFactorPage open_second_factor_page(const std::string& page_url);
  // POST /login/second-factor with the page's flow and CSRF token, the page's method unless
  // `method` is given.
  HttpResponse submit_second_factor(const SecondFactorPage& page, const std::string& code,
                                    const std::optional<std::string>& method = std::nullopt);
  // authorize → login page → password; expects the redirect to the second-factor page and
  // opens it.
  SecondFactorPage sign_in_to_second_factor(
      const Fields& params, const std::string& email = TestServer::kAliceEmail,
      const std::string& password = TestServer::kAlicePassword);
  // The code of a redirect to `redirect_uri` ("" with an ADD_FAILURE otherwise).
  std::string code_of(const HttpResponse& response,
                      const std::string& redirect_uri = TestServer::kSpaRedirect);
  // Exchanges a code of "spa" and returns the verified id_token claims (null on failure).
  nlohmann::json id_token_claims(const std::string& code, const Pkce& pkce);

  // The recovery codes listed by a recovery codes page.
  static std::vector<std::string> recovery_codes_on(const HttpResponse& page);
  // The user as stored now.
  User stored_user(int64_t user_id);

  std::vector<std::string> recovery_codes_;
};

}  // namespace keystep::httptest
