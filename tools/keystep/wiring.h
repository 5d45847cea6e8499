#pragma once
// The one place that builds a Keystep server from its configuration and a store: the signing
// keys, the password hasher, the MFA providers (built-ins, then plugins), the second-factor
// policy, the OIDC provider, the profile and onboarding pages, the directory, the admin API
// and console, the metrics endpoint, the outbox worker and the HTTP server. `keystep` (every
// command) and the HTTP test fixture build through wire_server, so the server under test is
// the server that ships.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "base/result.h"
#include "http/server.h"
#include "idp/admin/admin_api.h"
#include "idp/admin/admin_console.h"
#include "idp/admin/onboarding_pages.h"
#include "idp/config/config.h"
#include "idp/directory/directory.h"
#include "idp/login/two_factor.h"
#include "idp/mail/mailer.h"
#include "idp/mail/notices.h"
#include "idp/observability/metrics_endpoint.h"
#include "idp/oidc/backchannel_logout.h"
#include "idp/oidc/provider.h"
#include "idp/profile/profile_pages.h"
#include "idp/reset/password_reset.h"
#include "idp/oidc/signing_keys.h"
#include "idp/store/mail_store.h"
#include "idp/store/store.h"
#include "plugin/loader.h"
#include "plugin/registry.h"
#include "providers/builtin.h"

namespace keystep {

struct WiringOptions {
  // Delivers queued mail (borrowed; must outlive the server). nullptr: no outbox worker runs
  // and queued messages stay in the store (the administration commands, the tests).
  MailTransport* transport = nullptr;
  // Delivers back-channel logouts (borrowed; must outlive the server). nullptr: no worker
  // runs and queued notices stay in the store (the administration commands).
  LogoutTransport* logout_transport = nullptr;
  // Loads every *.so of config.plugin_dir (when set) after the built-in providers; a refused
  // library is reported in plugin_reports() and skipped. Off for the commands that only
  // administer data, so they never run plugin code.
  bool load_plugin_dir = false;
  // Further MFA provider libraries, loaded after those; wire_server fails if one is refused.
  std::vector<std::string> plugins;
};

// Every piece of one server. Built by wire_server; not copyable or movable (the pieces point
// at each other).
class WiredServer {
 public:
  WiredServer(const WiredServer&) = delete;
  WiredServer& operator=(const WiredServer&) = delete;
  ~WiredServer();  // stop()s

  // Starts the outbox workers (mail, back-channel logouts; each when wired with its
  // transport), then the HTTP server. On failure returns http::Server::start's error; the
  // workers then stay running until stop().
  Status start(const http::ServerOptions& options);
  // Stops the HTTP server (finishing in-flight requests), then the outbox workers. Idempotent.
  void stop();

  const IdpConfig& config() const { return config_; }
  SigningKeys& signing_keys() { return *keys_; }
  const PasswordHasher& hasher() const { return *hasher_; }
  const ProviderRegistry& registry() const { return registry_; }
  // What loading each plugin gave, in load order (config.plugin_dir first).
  const std::vector<PluginReport>& plugin_reports() const { return plugin_reports_; }
  TwoFactor& two_factor() { return *two_factor_; }
  Provider& provider() { return *provider_; }
  Directory& directory() { return *directory_; }
  AdminApi& admin_api() { return *admin_; }
  PasswordResetPages& password_reset() { return *reset_; }
  AdminConsole& admin_console() { return *console_; }
  MetricsEndpoint& metrics() { return *metrics_; }
  http::Server& server() { return *server_; }

 private:
  friend Result<std::unique_ptr<WiredServer>> wire_server(const IdpConfig&, Store&, MailStore&,
                                                          const SecretBox&, Random&,
                                                          const Clock&, const WiringOptions&);
  explicit WiredServer(const IdpConfig& config) : config_(config) {}

  // In construction order; destroyed in reverse, so the HTTP server stops first and the
  // plugin libraries unload after the registry destroyed their providers.
  const IdpConfig config_;
  PluginLoader plugin_loader_;
  ProviderRegistry registry_;
  std::vector<PluginReport> plugin_reports_;
  std::unique_ptr<SigningKeys> keys_;
  std::unique_ptr<PasswordHasher> hasher_;
  std::unique_ptr<TwoFactor> two_factor_;
  std::unique_ptr<FactorNotifier> notices_;  // the factor notices of profile, sign-in, admin
  std::unique_ptr<Provider> provider_;
  std::unique_ptr<ProfilePages> profile_;  // starts its sign-ins through provider_
  std::unique_ptr<OnboardingPages> onboarding_;  // signs members in through provider_
  std::unique_ptr<PasswordResetPages> reset_;    // its second steps run on provider_'s login
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<AdminApi> admin_;
  std::unique_ptr<AdminConsole> console_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<Mailer> mailer_;  // null without a transport
  std::unique_ptr<BackchannelLogouts> logouts_;  // null without a logout transport
  std::unique_ptr<http::Server> server_;
};

// What the built-in providers take from `config`, read and checked at start-up: its
// webauthn.rp_id (the issuer's host or a parent domain of it, providers/webauthn/rp_id.h)
// and the PEM file webauthn.attestation_roots. kInvalidArgument naming the member otherwise.
Result<BuiltinOptions> builtin_options(const IdpConfig& config);

// Builds every piece of a server for `config` (which must pass validate_config; the server
// keeps its own copy) over `store` and `outbox` (the mail queue of the same database), with
// `box` sealing signing keys, MFA secrets and queued mail. Borrows store, outbox, box, random
// and clock: they must outlive the result. Nothing is started and nothing is written.
// On failure (a built-in provider or a plugin of options.plugins refused) returns the error.
Result<std::unique_ptr<WiredServer>> wire_server(const IdpConfig& config, Store& store,
                                                 MailStore& outbox, const SecretBox& box,
                                                 Random& random, const Clock& clock,
                                                 const WiringOptions& options = {});

// The HTTP server options `keystep serve` runs with: config.listen (HOST:PORT; IPv6 hosts in
// brackets) and the limits, threads and password pool of `config`, where 0 means a default
// derived from the machine's cores. kInvalidArgument for a malformed listen address.
Result<http::ServerOptions> serve_options(const IdpConfig& config);

// The HTTP worker threads `keystep serve` runs: config.threads, or for 0 two per CPU core
// (at most 255, Pistache's limit), since a worker waits on the database with its
// connections.
int http_threads(const IdpConfig& config);

// The password pool's threads: config.password_threads, or for 0 half the CPU cores (at
// least 1).
int password_threads(const IdpConfig& config);

// The connections `keystep serve` pools to a PostgreSQL database: one per HTTP worker
// (http_threads) and per password pool thread (which finishes the password sign-ins), plus
// one each for the mail and logout workers, the purge, and a spare for the administration
// commands.
int database_pool_size(const IdpConfig& config);

}  // namespace keystep
