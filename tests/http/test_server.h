#pragma once
// The server of the HTTP integration tests: the real keystep::http::Server, wired by
// tools/keystep/wiring.h as `keystep serve` wires it, over a real store seeded with two
// accounts, their users and two clients, on a free loopback port, with a clock the test
// moves. The store is the process's (test_database.h): an SqliteStore in a temporary
// directory, or with KEYSTEP_HTTP_TEST_STORE=postgres a PostgresStore on a database of its
// own on the process's PostgreSQL test server, as `keystep serve` runs with
// KEYSTEP_DATABASE_URL.
//
// Every TestServer is independent (own directory, database, signing key, clock), so tests
// run in any order and in parallel processes (ctest -j).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "http/server.h"
#include "idp/config/config.h"
#include "idp/oidc/backchannel_logout.h"
#include "tests/http/test_database.h"
#include "tools/keystep/wiring.h"

namespace keystep::httptest {

// A clock the test moves by hand.
class TestClock final : public Clock {
 public:
  static constexpr int64_t kStart = 1'750'000'000;
  int64_t now() const override { return now_.load(); }
  void advance(int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<int64_t> now_{kStart};
};

// A new empty directory keystep-http-XXXXXX in the system's temporary directory.
Result<std::string> make_temp_dir();

// How a TestServer is wired beyond the defaults.
struct TestServerOptions {
  // A directory of MFA provider shared libraries, loaded as keystep serve loads its
  // plugin_dir: a refused library is only reported in plugin_reports(). "": none.
  std::string plugin_dir;
  // Paths of MFA provider shared libraries, loaded into the registry after the built-ins and
  // before the TwoFactor policy and the Provider are built. start() fails if one is refused.
  std::vector<std::string> plugins;
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
  // IdpConfig's caps on second factors per user and provider; unset: the defaults.
  std::optional<CredentialCaps> credential_caps = std::nullopt;
  // Delivers back-channel logouts (borrowed): the server then runs the logout worker, as
  // `keystep serve` does with CurlLogoutTransport. nullptr: notices stay in the store.
  LogoutTransport* logout_transport = nullptr;
  // IdpConfig's backchannel_logout settings (the worker's claim lease).
  BackchannelLogoutConfig backchannel_logout = {};
};

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
  Store& store() { return db_->store(); }
  MailStore& outbox() { return db_->outbox(); }
  http::Server& server() { return wired_->server(); }
  TwoFactor& two_factor() { return wired_->two_factor(); }
  Directory& directory() { return wired_->directory(); }
  AdminApi& admin_api() { return wired_->admin_api(); }
  SigningKeys& signing_keys() { return wired_->signing_keys(); }
  const ProviderRegistry& registry() const { return wired_->registry(); }
  const std::vector<PluginReport>& plugin_reports() const { return wired_->plugin_reports(); }

  // Writes the user-level 2FA flag alone (MfaStore::set_two_factor_setting), e.g. to arrange
  // "a confirmed credential but the user's own setting off", the state the seed rule leaves
  // to account enforcement. kNotFound for an unknown user.
  Status set_user_two_factor_flag(int64_t user_id, bool on);
  // Creates the role `role` with `permissions` and gives it to the user, with SQL on a second
  // connection: roles are seeded by migrations and nothing else creates them, so a role such
  // as "view but not edit" can only be arranged this way.
  Status give_custom_role(int64_t user_id, const std::string& role,
                          const std::vector<std::string>& permissions);
  // TestDatabase::write_transactions.
  Result<int64_t> write_transactions() { return db_->write_transactions(); }
  // TestDatabase::read_transactions.
  std::optional<int64_t> read_transactions() { return db_->read_transactions(); }

  // Changes a client's refresh token policy, with SQL on a second connection: no command
  // changes a client's grant policy after it is created. kNotFound for an unknown client.
  Status set_client_refresh_tokens(const std::string& client_id, RefreshTokens policy);
  // From now on a grant is revoked in the same transaction that redeems its code, as another
  // node replaying the code would revoke it between the redemption and the tokens' insertion
  // (a trigger, created with SQL on a second connection).
  Status revoke_grants_when_redeemed() { return db_->revoke_grants_when_redeemed(); }

 private:
  TestServer() = default;
  Status init(const TestServerOptions& options);

  TestClock clock_;
  OsRandom random_;
  IdpConfig config_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SecretBox> box_;
  // The seed turns two-factor on for no user or account, so logins are password-only until
  // a test enables it.
  std::unique_ptr<WiredServer> wired_;  // declared last: stopped before the rest goes
  uint16_t port_ = 0;
  int64_t alice_id_ = 0;
  int64_t other_alice_id_ = 0;
};

}  // namespace keystep::httptest
