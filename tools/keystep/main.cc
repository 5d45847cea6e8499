// keystep: the IdP server and its administration commands. This is the one place that wires
// concrete pieces (SQLite or PostgreSQL store, OpenSSL randomness, Pistache server) together.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <string_view>
#include <vector>

#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "idp/config/config.h"
#include "idp/mail/mailer.h"
#include "idp/observability/observability.h"
#include "storage/postgres/copy_from_sqlite.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "tools/cli/command.h"
#include "tools/keystep/wiring.h"

namespace keystep::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "keystep.conf";
constexpr const char* kDatabaseFile = "keystep.db";

int fail(const std::string& message) {
  std::cerr << "keystep: " << message << "\n";
  return 1;
}


// Failures exit 1; usage errors (a required flag missing, a bad value) exit 2.
int fail(const Error& error) {
  std::cerr << "keystep: " << error.message << "\n";
  return error.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

int fail(ErrorCode code, const std::string& message) { return fail(Error{code, message}); }

// Everything a stateful command needs, opened from a data directory.
struct Runtime {
  std::string data_dir;
  IdpConfig config;
  OsRandom random;
  SystemClock clock;
  std::unique_ptr<Store> store;
  MailStore* outbox = nullptr;  // the mail queue of the same database, owned by `store`
  std::unique_ptr<SecretBox> box;
  std::unique_ptr<WiredServer> server;  // set by wire()
};

Status load_config(const Args& args, const std::string& data_dir, IdpConfig& config) {
  const std::string path = args.get("--config").value_or(data_dir + "/" + kConfigFile);
  std::ifstream in(path);
  if (!in) {
    if (args.has("--config"))
      return make_error(ErrorCode::kNotFound, "cannot read configuration file " + path);
  } else {
    auto json = nlohmann::json::parse(in, nullptr, false);
    if (json.is_discarded())
      return make_error(ErrorCode::kInvalidArgument, path + " is not valid JSON");
    if (auto s = apply_config_json(json, config); !s)
      return make_error(ErrorCode::kInvalidArgument, path + ": " + s.error().message);
  }
  if (auto issuer = args.get("--issuer")) config.issuer = *issuer;
  if (auto listen = args.get("--listen")) config.listen = *listen;
  if (auto threads = args.get("--threads")) {
    if (threads->empty() || threads->find_first_not_of("0123456789") != std::string::npos ||
        threads->size() > 3)
      return make_error(ErrorCode::kInvalidArgument, "--threads must be a number");
    config.threads = std::stoi(*threads);
  }
  if (auto database = args.get("--database")) config.database = *database;
  if (auto s = validate_config(config); !s) return s;
  return {};
}

// The database the nodes share: KEYSTEP_DATABASE_URL over the configuration's "database"
// (see IdpConfig::database); "" for SQLite in the data directory.
Result<std::string> database_url(const IdpConfig& config) {
  const char* env = std::getenv("KEYSTEP_DATABASE_URL");
  if (env == nullptr || *env == '\0') return config.database;
  if (auto s = validate_database_url(env); !s)
    return make_error(ErrorCode::kInvalidArgument, "KEYSTEP_DATABASE_URL: " + s.error().message);
  return std::string(env);
}

// Opens (and migrates) the store `config` names into r.store and r.outbox; PostgreSQL's pool
// sized by database_pool_size.
Status open_store(Runtime& r, const std::string& url) {
  if (url.empty()) {
    const std::string db = r.data_dir + "/" + kDatabaseFile;
    auto store = sqlite::SqliteStore::open(db);
    if (!store) return store.error();
    r.outbox = store->get();
    r.store = std::move(*store);
    return {};
  }
  auto store = postgres::PostgresStore::open(url, database_pool_size(r.config));
  if (!store) return store.error();
  r.outbox = store->get();
  r.store = std::move(*store);
  return {};
}

Result<std::unique_ptr<Runtime>> open_runtime(const Args& args) {
  auto data_dir = args.required("--data-dir");
  if (!data_dir) return data_dir.error();
  auto rt = std::make_unique<Runtime>();
  rt->data_dir = *data_dir;
  if (!fs::is_directory(rt->data_dir))
    return make_error(ErrorCode::kNotFound, rt->data_dir +
                                                " is not a data directory; run keystep init "
                                                "--data-dir " + rt->data_dir + " first");
  if (auto s = load_config(args, rt->data_dir, rt->config); !s) return s.error();
  auto master = load_master_key(rt->data_dir);
  if (!master) return master.error();
  auto box = SecretBox::from_key(*master);
  if (!box) return box.error();
  rt->box = std::make_unique<SecretBox>(std::move(*box));
  auto url = database_url(rt->config);
  if (!url) return url.error();
  const std::string db = rt->data_dir + "/" + kDatabaseFile;
  if (url->empty() && !fs::exists(db))
    return make_error(ErrorCode::kNotFound, db + " is missing; run keystep init first");
  if (auto s = open_store(*rt, *url); !s) return s.error();
  return rt;
}

Status wire(Runtime& r, const WiringOptions& options = {}) {
  auto server = wire_server(r.config, *r.store, *r.outbox, *r.box, r.random, r.clock, options);
  if (!server) return server.error();
  r.server = std::move(*server);
  return {};
}

// open_runtime and wire() for the commands that administer data: no plugins, no mail worker.
Result<std::unique_ptr<Runtime>> open_wired(const Args& args) {
  auto rt = open_runtime(args);
  if (!rt) return rt.error();
  if (auto s = wire(**rt); !s) return s.error();
  return rt;
}

Result<std::string> read_stdin_secret(const char* what) {
  std::string line;
  if (!std::getline(std::cin, line) || line.empty())
    return make_error(ErrorCode::kInvalidArgument, std::string("no ") + what + " on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Creates `path` with mode 0600 whatever the umask (keystep.conf may come to hold the SMTP
// password), holding `text`; fails if it exists.
Status write_private_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return make_error(ErrorCode::kInternal, "cannot create " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::string_view rest = text; ok && !rest.empty();) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<size_t>(n));
  }
  const int saved = errno;
  if (::close(fd) != 0) ok = false;
  if (ok) return {};
  ::unlink(path.c_str());
  return make_error(ErrorCode::kInternal, "cannot write " + path + ": " + std::strerror(saved));
}

int cmd_init(const Args& args) {
  auto data_dir = args.required("--data-dir");
  if (!data_dir) return fail(data_dir.error());
  std::error_code ec;
  fs::create_directories(*data_dir, ec);
  if (ec) return fail("cannot create " + *data_dir + ": " + ec.message());
  ::chmod(data_dir->c_str(), 0700);
  Runtime r;
  r.data_dir = *data_dir;
  if (auto s = load_config(args, r.data_dir, r.config); !s) return fail(s.error());
  auto url = database_url(r.config);
  if (!url) return fail(url.error());
  const std::string db = r.data_dir + "/" + kDatabaseFile;
  if (url->empty() && fs::exists(db))
    return fail(r.data_dir + " is already initialised (" + db + " exists)");
  // Opened (and migrated) first: a database that cannot be reached leaves nothing behind.
  if (auto s = open_store(r, *url); !s) return fail(s.error());
  // A shared database is prepared once: the second node's init must not add a second
  // active key (the nodes share the first one's data directory instead).
  auto keys = r.store->signing_keys();
  if (!keys) return fail(keys.error());
  if (!keys->empty())
    return fail("the database is already initialised (it has signing keys); copy the first "
                "node's data directory (keystep.conf and master.key) to the others");
  if (std::getenv("KEYSTEP_MASTER_KEY") == nullptr) {
    if (auto s = create_master_key_file(r.data_dir, r.random); !s) return fail(s.error());
  }
  const std::string conf_path = r.data_dir + "/" + kConfigFile;
  if (!fs::exists(conf_path)) {
    if (auto s = write_private_file(conf_path, config_to_json(r.config).dump(2) + "\n"); !s)
      return fail(s.error());
  }
  auto master = load_master_key(r.data_dir);
  if (!master) return fail(master.error());
  auto box = SecretBox::from_key(*master);
  if (!box) return fail(box.error());
  r.box = std::make_unique<SecretBox>(std::move(*box));
  if (auto s = wire(r); !s) return fail(s.error());
  auto& config = r.config;
  auto& server = r.server;
  auto& random = r.random;
  auto kid = server->signing_keys().rotate(config.signing_alg, random);
  if (!kid) return fail(kid.error());
  std::cout << "Initialised " << *data_dir << " (issuer " << config.issuer << ", "
            << (url->empty() ? "SQLite" : "PostgreSQL") << ", signing key " << *kid << ")\n";
  if (!args.has("--demo")) return 0;

  Directory& directory = server->directory();
  auto account = directory.create_account("demo", "Keystep Demo");
  if (!account) return fail(account.error());
  auto password = random_token(random, 12);
  if (!password) return fail(password.error());
  auto admin = directory.create_user("demo", "admin@demo.test", *password, true);
  if (!admin) return fail(admin.error());
  NewClient client{"demo-app", {"http://localhost:3000/callback"}, {"http://localhost:3000/"}, {}};
  if (auto s = directory.create_client(client); !s) return fail(s.error());
  std::cout << "Demo account 'demo' (issuer label \"Keystep Demo\")\n"
            << "  admin user:     admin@demo.test\n"
            << "  admin password: " << *password << "\n"
            << "  OIDC client:    demo-app (public, PKCE), redirect URI "
               "http://localhost:3000/callback\n";
  return 0;
}

int cmd_serve(const Args& args) {
  // Block the signals before Pistache starts its threads, so they inherit the mask and the
  // signals are delivered to sigwait() below rather than to a random worker.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto rt = open_runtime(args);
  if (!rt) return fail(rt.error());
  Runtime& r = **rt;
  auto options = serve_options(r.config);
  if (!options) return fail(options.error());
  MailConfig mail_config;
  if (auto s = apply_mail_config_json(r.config.mail, mail_config); !s)
    return fail(ErrorCode::kInvalidArgument, "keystep.conf: mail: " + s.error().message);
  // Queued mail (enforcement, resets) goes out from here: SMTP when configured, else .eml
  // files in the outbox directory. The worker retries with backoff and survives restarts.
  auto transport = make_mail_transport(mail_config, r.data_dir);
  // From here on, requests, security events and mail errors are JSON lines (stderr or a file).
  if (auto s = obs::log_to_file(r.config.log_file); !s) return fail(s.error());

  // Back-channel logouts to the clients that registered a backchannel_logout_uri, with
  // retries, like the mail.
  CurlLogoutTransport logout_transport;
  WiringOptions wiring;
  wiring.transport = transport.get();
  wiring.logout_transport = &logout_transport;
  wiring.load_plugin_dir = true;
  if (auto s = wire(r, wiring); !s) return fail(s.error());
  if (auto jwks = r.server->signing_keys().jwks(); !jwks) return fail(jwks.error());
  for (const auto& report : r.server->plugin_reports())
    obs::log_line(report.loaded ? "info" : "warn",
                  {{"msg", "plugin"}, {"path", report.path}, {"result", report.message}});
  if (auto s = r.server->start(*options); !s) return fail(s.error());
  std::cout << "keystep serving " << r.config.issuer << " on " << options->host << ":"
            << r.server->server().port() << std::endl;

  // The main thread waits for SIGTERM/SIGINT and, every few minutes meanwhile, deletes
  // expired flows, sessions, codes and tokens, and old .eml files.
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal_number = -1;
  while (signal_number < 0) {
    const timespec interval{300, 0};
    signal_number = sigtimedwait(&signals, nullptr, &interval);
    if (signal_number < 0 && errno == EAGAIN) {
      if (auto purged = r.store->purge_expired(r.clock.now()); !purged)
        obs::log_line("error", {{"msg", "purge"}, {"error", purged.error().message}});
      if (auto purged = transport->purge(r.clock.now()); !purged)
        obs::log_line("error", {{"msg", "mail"}, {"error", "purging the outbox failed: " +
                                                                purged.error().message}});
    } else if (signal_number < 0 && errno != EINTR) {
      return fail(std::string("waiting for signals failed: ") + std::strerror(errno));
    }
  }
  std::cout << "keystep: " << strsignal(signal_number) << ", shutting down" << std::endl;
  r.server->stop();
  return 0;
}

int cmd_account_create(const Args& args) {
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto name = args.required("--name");
  if (!name) return fail(name.error());
  auto account = (*rt)->server->directory().create_account(*name, args.get("--issuer-label").value_or(""));
  if (!account) return fail(account.error());
  std::cout << "Created account " << account->name << " (id " << account->id
            << ", issuer label \"" << account->issuer_label << "\")\n";
  return 0;
}

int cmd_user_create(const Args& args) {
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto email = args.required("--email");
  if (!email) return fail(email.error());
  if (!args.has("--password-stdin"))
    return fail(ErrorCode::kInvalidArgument, "--password-stdin is required (passwords are never taken on the command line)");
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto password = read_stdin_secret("password");
  if (!password) return fail(password.error());
  const UserDetails details{args.get("--display-name").value_or(""), args.has("--email-verified")};
  auto user = (*rt)->server->directory().create_user(*account, *email, *password,
                                                     args.has("--admin"), details);
  if (!user) return fail(user.error());
  std::cout << "Created user " << user->email << " (id " << user->id << ", role " << user->role
            << ") in account " << *account << "\n";
  return 0;
}

int cmd_user_set_name(const Args& args) {
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto email = args.required("--email");
  if (!email) return fail(email.error());
  auto name = args.required("--display-name");
  if (!name) return fail(name.error());
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto user = (*rt)->server->directory().set_display_name(*account, *email, *name);
  if (!user) return fail(user.error());
  if (name->empty())
    std::cout << "Cleared the display name of " << user->email << "\n";
  else
    std::cout << "Display name of " << user->email << " is now \"" << *name << "\"\n";
  return 0;
}

// A flag's number of seconds; nullopt when the flag is absent.
Result<std::optional<int64_t>> seconds_flag(const Args& args, const std::string& flag) {
  auto seconds = args.get(flag);
  if (!seconds) return std::optional<int64_t>{};
  if (seconds->empty() || seconds->size() > 12 ||
      seconds->find_first_not_of("0123456789") != std::string::npos)
    return make_error(ErrorCode::kInvalidArgument, flag + " must be a number of seconds");
  return std::optional<int64_t>{std::stoll(*seconds)};
}

// The grant flags of client create and update: --refresh-tokens, --refresh-idle-ttl,
// --refresh-max-ttl, --third-party | --first-party; each absent one stays nullopt.
Result<ClientChange> grant_policy_flags(const Args& args) {
  ClientChange change;
  if (auto name = args.get("--refresh-tokens")) {
    auto refresh = refresh_tokens_from_name(*name);
    if (!refresh) return refresh.error();
    change.refresh_tokens = *refresh;
  }
  auto idle = seconds_flag(args, "--refresh-idle-ttl");
  if (!idle) return idle.error();
  auto max = seconds_flag(args, "--refresh-max-ttl");
  if (!max) return max.error();
  change.refresh_idle_ttl = *idle;
  change.refresh_absolute_ttl = *max;
  if (args.has("--third-party") && args.has("--first-party"))
    return make_error(ErrorCode::kInvalidArgument, "give one of --third-party and --first-party");
  if (args.has("--third-party") || args.has("--first-party"))
    change.first_party = args.has("--first-party");
  return change;
}

// A client as `client update` prints it.
void print_client(const Client& client) {
  const GrantPolicy& g = client.grants;
  std::cout << "Client " << client.client_id << " (\"" << shown_name(client) << "\")"
            << (client.logo_uri.empty() ? "" : ", logo " + client.logo_uri)
            << (client.home_uri.empty() ? "" : ", home page " + client.home_uri)
            << ": two-factor authentication "
            << (client.require_two_factor ? "required" : "not required") << "; back-channel logout "
            << (client.backchannel_logout_uri.empty() ? "off"
                                                      : "to " + client.backchannel_logout_uri)
            << (client.backchannel_logout_session_required ? " (sid required)" : "")
            << "; refresh tokens " << refresh_tokens_name(g.refresh_tokens) << ", idle ttl "
            << g.refresh_idle_ttl << " s, max ttl " << g.refresh_absolute_ttl << " s; "
            << (g.first_party ? "first-party" : "third-party (consent page)") << "\n";
}

int cmd_client_update(const Args& args) {
  auto id = args.required("--client-id");
  if (!id) return fail(id.error());
  auto change = grant_policy_flags(args);
  if (!change) return fail(change.error());
  // Each setting has an on and an off flag; giving both is a mistake, not a toggle.
  for (const auto& [on, off, target] :
       {std::tuple{"--require-2fa", "--no-require-2fa", &change->require_two_factor},
        std::tuple{"--backchannel-logout-session-required",
                   "--no-backchannel-logout-session-required",
                   &change->backchannel_logout_session_required}}) {
    if (args.has(on) && args.has(off))
      return fail(ErrorCode::kInvalidArgument,
                  std::string("give one of ") + on + " and " + off);
    if (args.has(on) || args.has(off)) *target = args.has(on);
  }
  change->backchannel_logout_uri = args.get("--backchannel-logout-uri");
  change->display_name = args.get("--display-name");
  change->logo_uri = args.get("--logo-uri");
  change->home_uri = args.get("--home-uri");
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto client = (*rt)->server->directory().update_client(*id, *change);
  if (!client) return fail(client.error());
  print_client(*client);
  return 0;
}

int cmd_client_create(const Args& args) {
  auto id = args.required("--client-id");
  if (!id) return fail(id.error());
  const int kinds = args.has("--public") + args.has("--secret-stdin") +
                    args.has("--generate-secret");
  if (kinds != 1)
    return fail(ErrorCode::kInvalidArgument,
                "give exactly one of --public, --generate-secret and --secret-stdin");
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto grants = grant_policy_flags(args);
  if (!grants) return fail(grants.error());
  NewClient client{*id, args.all("--redirect-uri"), args.all("--post-logout-redirect-uri"), {},
                   args.all("--allowed-origin")};
  client.grants.refresh_tokens = grants->refresh_tokens.value_or(client.grants.refresh_tokens);
  client.grants.refresh_idle_ttl = grants->refresh_idle_ttl.value_or(0);
  client.grants.refresh_absolute_ttl = grants->refresh_absolute_ttl.value_or(0);
  client.grants.first_party = grants->first_party.value_or(true);
  client.display_name = args.get("--display-name").value_or("");
  client.logo_uri = args.get("--logo-uri").value_or("");
  client.home_uri = args.get("--home-uri").value_or("");
  client.require_two_factor = args.has("--require-2fa");
  client.backchannel_logout_uri = args.get("--backchannel-logout-uri").value_or("");
  client.backchannel_logout_session_required = args.has("--backchannel-logout-session-required");
  if (args.has("--secret-stdin")) {
    auto secret = read_stdin_secret("client secret");
    if (!secret) return fail(secret.error());
    client.secret = *secret;
  } else if (args.has("--generate-secret")) {
    auto secret = generate_client_secret((*rt)->random);
    if (!secret) return fail(secret.error());
    client.secret = *secret;
  }
  if (auto s = (*rt)->server->directory().create_client(client); !s) return fail(s.error());
  std::cout << "Created " << (client.secret ? "confidential" : "public") << " client " << *id
            << "\n";
  // The secret alone on the last line, so scripts can take it with `tail -n 1`.
  if (args.has("--generate-secret"))
    std::cout << "Client secret (shown once; store it safely):\n" << *client.secret << "\n";
  return 0;
}

int cmd_token_create(const Args& args) {
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto email = args.required("--user");
  if (!email) return fail(email.error());
  auto expires_in = seconds_flag(args, "--expires-in");
  if (!expires_in) return fail(expires_in.error());
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto token = (*rt)->server->admin_api().create_token(*account, *email, args.get("--name").value_or("cli"), *expires_in);
  if (!token) return fail(token.error());
  // The token alone on the last line, so scripts can take it with `tail -n 1`.
  std::cout << "API token for " << *email << " in " << *account
            << " (shown once; store it safely):\n"
            << *token << "\n";
  return 0;
}

int cmd_token_revoke(const Args& args) {
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto id = args.required("--id");
  if (!id) return fail(id.error());
  if (id->find_first_not_of("0123456789") != std::string::npos || id->size() > 18)
    return fail(ErrorCode::kInvalidArgument, "--id must be a token id");
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto target = (*rt)->store->account_by_name(*account);
  if (!target) return fail("no account named '" + *account + "'");
  if (auto s = (*rt)->store->revoke_api_token(target->id, std::stoll(*id), (*rt)->clock.now()); !s)
    return fail(s.error().code == ErrorCode::kNotFound ? "no valid token " + *id + " in " + *account
                                                       : s.error().message);
  std::cout << "Revoked API token " << *id << "\n";
  return 0;
}

int cmd_token_list(const Args& args) {
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto target = (*rt)->store->account_by_name(*account);
  if (!target) return fail("no account named '" + *account + "'");
  auto tokens = (*rt)->store->api_tokens(target->id);
  if (!tokens) return fail(tokens.error());
  const int64_t now = (*rt)->clock.now();
  for (const auto& t : *tokens)
    std::cout << t.id << "  user " << t.user_id << "  " << t.name << "  "
              << (t.revoked_at ? "revoked" : t.expired(now) ? "expired" : "valid")
              << (t.expires_at ? "  expires " + std::to_string(t.expires_at) : "") << "\n";
  return 0;
}

int cmd_key_rotate(const Args& args) {
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  const std::string alg = args.get("--alg").value_or((*rt)->config.signing_alg);
  if (alg != "RS256" && alg != "ES256") return fail(ErrorCode::kInvalidArgument, "--alg must be RS256 or ES256");
  auto kid = (*rt)->server->signing_keys().rotate(alg, (*rt)->random);
  if (!kid) return fail(kid.error());
  std::cout << "New active signing key " << *kid << " (" << alg
            << "); older keys stay published until retired. Running servers publish it "
               "within 30 s and sign with it once it is 30 s old.\n";
  return 0;
}

int cmd_key_list(const Args& args) {
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  auto keys = (*rt)->store->signing_keys();
  if (!keys) return fail(keys.error());
  for (const auto& key : *keys)
    std::cout << key.kid << "  " << key.alg << "  " << (key.active ? "active" : "published")
              << "  created " << key.created_at << "\n";
  return 0;
}

int cmd_key_retire(const Args& args) {
  auto kid = args.required("--kid");
  if (!kid) return fail(kid.error());
  auto rt = open_wired(args);
  if (!rt) return fail(rt.error());
  if (auto s = (*rt)->store->retire_signing_key(*kid); !s) {
    if (s.error().code == ErrorCode::kConflict)
      return fail("key " + *kid + " is the active key; rotate first");
    if (s.error().code == ErrorCode::kNotFound) return fail("no published key " + *kid);
    return fail(s.error());
  }
  std::cout << "Retired key " << *kid << "\n";
  return 0;
}

int cmd_store_copy(const Args& args) {
  auto from = args.required("--from");
  if (!from) return fail(from.error());
  auto to = args.required("--to");
  if (!to) return fail(to.error());
  if (to->empty() || !validate_database_url(*to))
    return fail(ErrorCode::kInvalidArgument, "--to must be a postgresql:// URL");
  const std::string db = *from + "/" + kDatabaseFile;
  if (!fs::exists(db)) return fail(ErrorCode::kNotFound, db + " is missing: --from names a data directory");
  {
    // Brings the source to the schema this binary copies (what `serve` would do first).
    auto source = sqlite::SqliteStore::open(db);
    if (!source) return fail(source.error());
  }
  auto copied = postgres::copy_from_sqlite(db, *to);
  if (!copied) return fail(copied.error());
  int64_t total = 0;
  for (const auto& table : *copied) {
    std::cout << "  " << table.table << ": " << table.rows << "\n";
    total += table.rows;
  }
  std::cout << "Copied " << total << " rows from " << db
            << " (counts verified). Point the nodes at the database: \"database\" in "
               "keystep.conf or KEYSTEP_DATABASE_URL, with the same master key.\n";
  return 0;
}

FlagSpec state_flags(std::set<std::string> with_value, std::set<std::string> switches = {},
                     std::set<std::string> repeatable = {}) {
  with_value.insert("--data-dir");
  with_value.insert("--config");
  return FlagSpec{std::move(with_value), std::move(switches), std::move(repeatable)};
}

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> kCommands = {
      {"init",
       {"keystep init --data-dir DIR [--issuer URL] [--database URL] [--demo] [--config FILE]",
        "Create a data directory: configuration, master key, database, signing key; with "
        "--demo also a demo account, admin user and OIDC client. --database "
        "postgresql://... (or KEYSTEP_DATABASE_URL) prepares that PostgreSQL database instead "
        "of SQLite in the data directory; further nodes get a copy of the data directory.",
        state_flags({"--issuer", "--database"}, {"--demo"}), cmd_init}},
      {"serve",
       {"keystep serve --data-dir DIR [--listen HOST:PORT] [--issuer URL] [--threads N] "
        "[--config FILE]",
        "Serve the OpenID Connect provider until SIGTERM or SIGINT.",
        state_flags({"--listen", "--issuer", "--threads"}), cmd_serve}},
      {"account create",
       {"keystep account create --data-dir DIR --name NAME [--issuer-label LABEL]",
        "Create an account (tenant). The issuer label is shown in authenticator apps.",
        state_flags({"--name", "--issuer-label"}), cmd_account_create}},
      {"user create",
       {"keystep user create --data-dir DIR --account NAME --email EMAIL [--admin] "
        "[--display-name NAME] [--email-verified] --password-stdin",
        "Create a user; the password is read from the first line of standard input. "
        "--email-verified vouches that the address reaches the user (the email_verified "
        "claim); the display name is the profile scope's name.",
        state_flags({"--account", "--email", "--display-name"},
                    {"--admin", "--password-stdin", "--email-verified"}),
        cmd_user_create}},
      {"user set-name",
       {"keystep user set-name --data-dir DIR --account NAME --email EMAIL --display-name NAME",
        "Set a user's display name (the profile scope's name); an empty NAME clears it.",
        state_flags({"--account", "--email", "--display-name"}), cmd_user_set_name}},
      {"client create",
       {"keystep client create --data-dir DIR --client-id ID --redirect-uri URI "
        "[--redirect-uri URI...] (--public | --generate-secret | --secret-stdin) "
        "[--post-logout-redirect-uri URI...] [--allowed-origin ORIGIN...] "
        "[--refresh-tokens never|offline_access|always] [--refresh-idle-ttl SECONDS] "
        "[--refresh-max-ttl SECONDS] [--third-party] [--require-2fa] "
        "[--backchannel-logout-uri URI [--backchannel-logout-session-required]] "
        "[--display-name NAME] [--logo-uri URI] [--home-uri URI]",
        "Register an OIDC client. --generate-secret prints a new URL-safe secret on the last "
        "line; --secret-stdin reads one of at least 32 characters from standard input. "
        "Browser apps may call /token and /userinfo from the origins of the redirect URIs and "
        "from each --allowed-origin (https://host[:port]). Refresh tokens are issued when the "
        "request asks for offline_access (default), always, or never; a refresh token unused "
        "for --refresh-idle-ttl (default: refresh_token_ttl) expires, and none works "
        "--refresh-max-ttl after the sign-in (default: no limit). --third-party: users are "
        "asked to consent to what the application receives. --require-2fa: every sign-in to "
        "the client needs a second factor (users without one are offered to set one up, or "
        "the client gets unmet_authentication_requirements). --backchannel-logout-uri: where "
        "logout tokens are POSTed when a user's session ends (OpenID Connect Back-Channel "
        "Logout). --display-name: the name people see on the sign-in and consent pages "
        "(default: the client id); --logo-uri, --home-uri: its logo and home page (https, or "
        "http on localhost).",
        state_flags({"--client-id", "--redirect-uri", "--post-logout-redirect-uri",
                     "--allowed-origin", "--refresh-tokens", "--refresh-idle-ttl",
                     "--refresh-max-ttl", "--backchannel-logout-uri", "--display-name",
                     "--logo-uri", "--home-uri"},
                    {"--public", "--secret-stdin", "--generate-secret", "--third-party",
                     "--require-2fa", "--backchannel-logout-session-required"},
                    {"--redirect-uri", "--post-logout-redirect-uri", "--allowed-origin"}),
        cmd_client_create}},
      {"client update",
       {"keystep client update --data-dir DIR --client-id ID [--require-2fa | --no-require-2fa] "
        "[--backchannel-logout-uri URI] [--backchannel-logout-session-required | "
        "--no-backchannel-logout-session-required] "
        "[--refresh-tokens never|offline_access|always] [--refresh-idle-ttl SECONDS] "
        "[--refresh-max-ttl SECONDS] [--third-party | --first-party] [--display-name NAME] "
        "[--logo-uri URI] [--home-uri URI]",
        "Change a client (see client create); only the settings given change. An empty "
        "--backchannel-logout-uri turns back-channel logout off, an empty --display-name, "
        "--logo-uri or --home-uri removes it, --refresh-idle-ttl 0 and --refresh-max-ttl 0 "
        "restore the defaults. Refresh tokens already issued keep the lifetime they were "
        "issued with. Prints the client.",
        state_flags({"--client-id", "--backchannel-logout-uri", "--refresh-tokens",
                     "--refresh-idle-ttl", "--refresh-max-ttl", "--display-name", "--logo-uri",
                     "--home-uri"},
                    {"--require-2fa", "--no-require-2fa", "--backchannel-logout-session-required",
                     "--no-backchannel-logout-session-required", "--third-party",
                     "--first-party"}),
        cmd_client_update}},
      {"token create",
       {"keystep token create --data-dir DIR --account NAME --user EMAIL [--name LABEL] "
        "[--expires-in SECONDS]",
        "Create an admin API token for a user; prints the token alone on the last line.",
        state_flags({"--account", "--user", "--name", "--expires-in"}), cmd_token_create}},
      {"token list",
       {"keystep token list --data-dir DIR --account NAME", "List an account's API tokens.",
        state_flags({"--account"}), cmd_token_list}},
      {"token revoke",
       {"keystep token revoke --data-dir DIR --account NAME --id ID", "Revoke an API token.",
        state_flags({"--account", "--id"}), cmd_token_revoke}},
      {"store copy",
       {"keystep store copy --from DATA_DIR --to postgresql://...",
        "Copy an SQLite installation (DATA_DIR/keystep.db) into an empty PostgreSQL database: "
        "every account, user, client, credential (sealed as it is), grant, key, session and "
        "pending email, in one transaction, with the row counts verified. Refuses a target "
        "that holds any row. Stop the server first.",
        FlagSpec{{"--from", "--to"}, {}, {}}, cmd_store_copy}},
      {"key rotate",
       {"keystep key rotate --data-dir DIR [--alg RS256|ES256]",
        "Make a new signing key active; the old one keeps verifying until retired.",
        state_flags({"--alg"}), cmd_key_rotate}},
      {"key list",
       {"keystep key list --data-dir DIR", "List the published signing keys.", state_flags({}),
        cmd_key_list}},
      {"key retire",
       {"keystep key retire --data-dir DIR --kid KID",
        "Unpublish a non-active signing key (tokens it signed stop verifying).",
        state_flags({"--kid"}), cmd_key_retire}},
  };
  return kCommands;
}

}  // namespace

int main(int argc, char** argv) {
  return run_command_line("keystep", commands(), {argv + 1, argv + argc}, std::cout, std::cerr);
}

}  // namespace keystep::cli

int main(int argc, char** argv) { return keystep::cli::main(argc, argv); }
