#include "tests/http/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "idp/directory/directory.h"
#include "storage/sqlite/sqlite_store.h"

namespace keystep::httptest {

Result<std::string> make_temp_dir() {
  std::string path = (std::filesystem::temp_directory_path() / "keystep-http-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr)
    return make_error(ErrorCode::kInternal, std::string("mkdtemp: ") + std::strerror(errno));
  return path;
}

namespace {

// A port that was free a moment ago. The issuer must name the real port before the server
// starts, so the port is chosen first; start() retries if someone takes it meanwhile.
Result<uint16_t> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kUnavailable, "cannot bind 127.0.0.1:0");
  return static_cast<uint16_t>(ntohs(addr.sin_port));
}

// The data every server starts from: an SQLite database holding the migrations, an RS256
// signing key sealed under `master_key`, the two accounts, the users and the clients. Built
// once per process and copied into each server's database (test_database.h), because RSA key
// generation alone takes up to a second.
struct SeedData {
  std::string dir;
  std::string master_key;
  int64_t alice_id = 0;
  int64_t other_alice_id = 0;

  ~SeedData() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Status build_seed(SeedData& seed) {
  auto dir = make_temp_dir();
  if (!dir) return dir.error();
  seed.dir = *dir;
  TestClock clock;
  OsRandom random;
  auto master = random_bytes(random, SecretBox::kKeySize);
  if (!master) return master.error();
  seed.master_key = *master;
  auto box = SecretBox::from_key(seed.master_key);
  if (!box) return box.error();
  auto store = sqlite::SqliteStore::open(seed.dir + "/keystep.db");
  if (!store) return store.error();
  IdpConfig config;
  config.argon2 = TestServer::kArgon2;
  auto wired = wire_server(config, **store, **store, *box, random, clock);
  if (!wired) return wired.error();
  if (auto kid = (*wired)->signing_keys().rotate("RS256", random); !kid) return kid.error();

  Directory& directory = (*wired)->directory();
  if (auto a = directory.create_account("acme", "Acme"); !a) return a.error();
  if (auto a = directory.create_account("globex", "Globex"); !a) return a.error();
  auto alice =
      directory.create_user("acme", TestServer::kAliceEmail, TestServer::kAlicePassword, false);
  if (!alice) return alice.error();
  seed.alice_id = alice->id;
  auto other = directory.create_user("globex", TestServer::kAliceEmail,
                                     TestServer::kOtherAlicePassword, false);
  if (!other) return other.error();
  seed.other_alice_id = other->id;
  // The seed's clients always get a refresh token, as every client did before the policies
  // (the refresh tests rely on it); tests of the policies register clients of their own.
  NewClient spa{"spa", {TestServer::kSpaRedirect}, {TestServer::kSpaLogoutRedirect}, {}};
  NewClient web{"web", {TestServer::kWebRedirect}, {TestServer::kWebLogoutRedirect},
                std::string(TestServer::kWebSecret)};
  for (NewClient* client : {&spa, &web}) {
    client->grants.refresh_tokens = RefreshTokens::kAlways;
    if (auto s = directory.create_client(*client); !s) return s;
  }
  return {};  // closing the store checkpoints the WAL into keystep.db
}

Result<const SeedData*> seed_data() {
  static std::mutex mu;
  static std::unique_ptr<SeedData> seed;
  std::lock_guard lock(mu);
  if (!seed) {
    auto fresh = std::make_unique<SeedData>();
    if (auto s = build_seed(*fresh); !s) return s.error();
    seed = std::move(fresh);
  }
  return seed.get();
}

}  // namespace

Result<std::unique_ptr<TestServer>> TestServer::start(const TestServerOptions& options) {
  // A client closing its socket mid-response must not kill the test process.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<TestServer> server(new TestServer());
  if (auto s = server->init(options); !s) return s.error();
  return server;
}

Status TestServer::set_user_two_factor_flag(int64_t user_id, bool on) {
  return store().set_two_factor_setting(user_id, on);
}

Status TestServer::set_client_refresh_tokens(const std::string& client_id,
                                             RefreshTokens policy) {
  // A test-chosen id only: quoted, not bound.
  auto changed = db_->run_sql("UPDATE clients SET refresh_tokens = " +
                         std::to_string(static_cast<int>(policy)) + " WHERE client_id = '" +
                         client_id + "'");
  if (!changed) return changed.error();
  if (*changed == 0) return make_error(ErrorCode::kNotFound, "client " + client_id);
  return {};
}

Status TestServer::give_custom_role(int64_t user_id, const std::string& role,
                                    const std::vector<std::string>& permissions) {
  // Test-chosen names only: quoted, not bound.
  std::string sql = "INSERT INTO roles (name) VALUES ('" + role + "');";
  for (const auto& p : permissions)
    sql += "INSERT INTO role_permissions (role, permission) VALUES ('" + role + "', '" + p + "');";
  sql += "UPDATE users SET role = '" + role + "' WHERE id = " + std::to_string(user_id) + ";";
  auto changed = db_->run_sql(sql);
  if (!changed) return changed.error();
  if (*changed != 1) return make_error(ErrorCode::kNotFound, "no user " + std::to_string(user_id));
  return {};
}

Status TestServer::init(const TestServerOptions& options) {
  auto seed = seed_data();
  if (!seed) return seed.error();
  alice_id_ = (*seed)->alice_id;
  other_alice_id_ = (*seed)->other_alice_id;
  config_.argon2 = options.argon2.value_or(kArgon2);
  config_.threads = options.threads;
  if (options.metrics_allow) config_.metrics_allow = *options.metrics_allow;
  config_.metrics_token = options.metrics_token;
  config_.trusted_proxies = options.trusted_proxies;
  if (options.credential_caps) config_.credential_caps = *options.credential_caps;
  config_.backchannel_logout = options.backchannel_logout;
  const std::string seed_db = (*seed)->dir + "/keystep.db";
  auto db = tests_on_postgres() ? open_postgres_database(seed_db, database_pool_size(config_))
                                : open_sqlite_database(seed_db);
  if (!db) return db.error();
  db_ = std::move(*db);
  auto box = SecretBox::from_key((*seed)->master_key);
  if (!box) return box.error();
  box_ = std::make_unique<SecretBox>(*box);
  WiringOptions wiring;
  wiring.logout_transport = options.logout_transport;
  wiring.plugins = options.plugins;
  config_.plugin_dir = options.plugin_dir;
  wiring.load_plugin_dir = !options.plugin_dir.empty();
  Error last{ErrorCode::kUnavailable, "no attempt"};
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = free_port();
    if (!port) return port.error();
    config_.issuer = "http://127.0.0.1:" + std::to_string(*port);
    config_.listen = "127.0.0.1:" + std::to_string(*port);
    if (auto s = validate_config(config_); !s) return s;
    auto wired = wire_server(config_, store(), outbox(), *box_, random_, clock_, wiring);
    if (!wired) return wired.error();
    wired_ = std::move(*wired);
    if (auto jwks = wired_->signing_keys().jwks(); !jwks) return jwks.error();  // the seed key unseals
    http::ServerOptions http_options = options.http;
    http_options.host = "127.0.0.1";
    http_options.trusted_proxies = config_.trusted_proxies;
    http_options.port = *port;
    http_options.threads = config_.threads;
    auto started = wired_->start(http_options);
    if (started) {
      port_ = wired_->server().port();
      if (port_ != *port) return make_error(ErrorCode::kInternal, "server reports another port");
      return {};
    }
    last = started.error();
    wired_.reset();
  }
  return last;
}

TestServer::~TestServer() {
  wired_.reset();
  db_.reset();
}

}  // namespace keystep::httptest
