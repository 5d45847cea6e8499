#include "tools/keystep/wiring.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "idp/observability/observability.h"
#include "providers/builtin.h"
#include "providers/webauthn/rp_id.h"

namespace keystep {

Result<BuiltinOptions> builtin_options(const IdpConfig& config) {
  BuiltinOptions options;
  if (!config.webauthn_rp_id.empty()) {
    if (Status s = webauthn::check_rp_id(config.webauthn_rp_id, config.issuer); !s)
      return make_error(ErrorCode::kInvalidArgument, "webauthn.rp_id: " + s.error().message);
  }
  if (config.webauthn_attestation_roots.empty()) return options;
  std::ifstream file(config.webauthn_attestation_roots, std::ios::binary);
  std::stringstream pem;
  pem << file.rdbuf();
  if (!file)
    return make_error(ErrorCode::kInvalidArgument,
                      "webauthn.attestation_roots: cannot read " + config.webauthn_attestation_roots);
  auto roots = webauthn::AttestationRoots::from_pem({pem.str()});
  if (!roots)
    return make_error(ErrorCode::kInvalidArgument, "webauthn.attestation_roots: " +
                                                       config.webauthn_attestation_roots + ": " +
                                                       roots.error().message);
  options.attestation_roots = std::move(*roots);
  return options;
}

Result<std::unique_ptr<WiredServer>> wire_server(const IdpConfig& config, Store& store,
                                                 MailStore& outbox, const SecretBox& box,
                                                 Random& random, const Clock& clock,
                                                 const WiringOptions& options) {
  std::unique_ptr<WiredServer> w(new WiredServer(config));
  const IdpConfig& c = w->config_;
  auto builtin = builtin_options(c);
  if (!builtin) return builtin.error();
  if (auto s = register_builtin_providers(w->registry_, random, *builtin); !s) return s.error();
  const KeystepPluginHost host{&random};
  if (options.load_plugin_dir && !c.plugin_dir.empty())
    w->plugin_reports_ = w->plugin_loader_.load_directory(c.plugin_dir, host, w->registry_);
  for (const auto& path : options.plugins) {
    w->plugin_reports_.push_back(w->plugin_loader_.load(path, host, w->registry_));
    if (!w->plugin_reports_.back().loaded)
      return make_error(ErrorCode::kInternal,
                        "plugin " + path + " refused: " + w->plugin_reports_.back().message);
  }
  w->keys_ = std::make_unique<SigningKeys>(store, box, clock);
  w->hasher_ = std::make_unique<PasswordHasher>(c.argon2, random);
  w->two_factor_ = std::make_unique<TwoFactor>(store, store, w->registry_, box, random, clock,
                                               c.issuer, c.credential_caps, c.webauthn_rp_id);
  w->notices_ = std::make_unique<FactorNotifier>(outbox, c.mail, c.issuer, random, clock);
  w->provider_ = std::make_unique<Provider>(c, store, *w->keys_, *w->hasher_, *w->two_factor_,
                                            *w->notices_, random, clock);
  w->profile_ = std::make_unique<ProfilePages>(c, store, *w->notices_, *w->hasher_,
                                               *w->two_factor_, w->provider_->login(), clock);
  w->onboarding_ = std::make_unique<OnboardingPages>(c, store, *w->hasher_, *w->two_factor_,
                                                     w->provider_->login(), random, clock);
  w->reset_ = std::make_unique<PasswordResetPages>(c, store, *w->hasher_, *w->two_factor_,
                                                   w->provider_->login(), random, clock);
  w->directory_ = std::make_unique<Directory>(store, *w->hasher_, random, clock);
  w->admin_ = std::make_unique<AdminApi>(c, store, *w->notices_, *w->directory_,
                                         *w->two_factor_, random, clock);
  w->console_ = std::make_unique<AdminConsole>(w->provider_->login(), *w->admin_, *w->directory_,
                                               w->registry_);
  w->metrics_ = std::make_unique<MetricsEndpoint>(c.metrics_allow, c.metrics_token, outbox, clock);
  if (options.transport) {
    MailConfig mail_config;
    if (Status s = apply_mail_config_json(c.mail, mail_config); !s) return s.error();
    MailerOptions mailer_options;
    mailer_options.lease = mail_config.claim_lease_seconds;
    mailer_options.box = &box;  // queued messages are sealed at rest
    mailer_options.on_error = [](const Error& e) {
      obs::log_line("error", {{"msg", "mail"}, {"error", e.message}});
    };
    w->mailer_ = std::make_unique<Mailer>(outbox, *options.transport, clock, mailer_options);
    w->admin_->set_on_mail_queued([mailer = w->mailer_.get()] { mailer->notify(); });
    w->notices_->set_on_mail_queued([mailer = w->mailer_.get()] { mailer->notify(); });
    w->reset_->set_on_mail_queued([mailer = w->mailer_.get()] { mailer->notify(); });
  }
  if (options.logout_transport) {
    BackchannelOptions logout_options;
    logout_options.lease = c.backchannel_logout.claim_lease_seconds;
    logout_options.on_error = [](const Error& e) {
      obs::log_line("error", {{"msg", "backchannel_logout"}, {"error", e.message}});
    };
    w->logouts_ = std::make_unique<BackchannelLogouts>(store, *w->keys_, *options.logout_transport,
                                                       c.issuer, clock, logout_options);
    w->provider_->set_on_session_ended([logouts = w->logouts_.get()] { logouts->notify(); });
    w->admin_->set_on_sessions_ended([logouts = w->logouts_.get()] { logouts->notify(); });
    w->reset_->set_on_sessions_ended([logouts = w->logouts_.get()] { logouts->notify(); });
  }
  w->server_ = std::make_unique<http::Server>(*w->provider_, *w->profile_, *w->onboarding_,
                                               c.issuer);
  w->server_->set_admin_api(w->admin_.get());
  w->server_->set_admin_console(w->console_.get());
  w->server_->set_metrics(w->metrics_.get());
  w->server_->set_password_reset(w->reset_.get());
  return w;
}

WiredServer::~WiredServer() { stop(); }

Status WiredServer::start(const http::ServerOptions& options) {
  if (mailer_) mailer_->start();
  if (logouts_) logouts_->start();
  return server_->start(options);
}

void WiredServer::stop() {
  if (server_) server_->shutdown();  // null when wire_server failed half-way
  if (mailer_) mailer_->stop();
  if (logouts_) logouts_->stop();
}

Result<http::ServerOptions> serve_options(const IdpConfig& config) {
  const std::string& listen = config.listen;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return make_error(ErrorCode::kInvalidArgument, "--listen must be HOST:PORT, got " + listen);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    return make_error(ErrorCode::kInvalidArgument, "invalid port in --listen " + listen);
  http::ServerOptions options;
  // IPv6 hosts keep their brackets: Pistache's address parser needs them.
  options.host = listen.substr(0, colon);
  options.port = static_cast<uint16_t>(std::stoi(port));
  options.trusted_proxies = config.trusted_proxies;
  options.max_connections = static_cast<size_t>(config.max_connections);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout);
  options.threads = http_threads(config);
  options.password_threads = static_cast<size_t>(password_threads(config));
  options.password_queue = config.password_queue > 0 ? static_cast<size_t>(config.password_queue)
                                                     : 32 * options.password_threads;
  return options;
}

int http_threads(const IdpConfig& config) {
  if (config.threads > 0) return config.threads;
  // A worker waits, holding its connections, whenever its request waits on the database
  // (SQLite's write lock, a PostgreSQL round trip): two per core keep the cores busy
  // meanwhile. One per core left a third of them idle in bench/compare.mjs's sign-ins.
  // At most 255: Pistache refuses more.
  return static_cast<int>(std::min(255u, 2 * std::max(1u, std::thread::hardware_concurrency())));
}

int password_threads(const IdpConfig& config) {
  if (config.password_threads > 0) return config.password_threads;
  // Half the cores for Argon2id at most, so a burst of sign-ins leaves the other half to
  // everything else (docs/security.md#password-hashing).
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
}

int database_pool_size(const IdpConfig& config) {
  return http_threads(config) + password_threads(config) + 4;
}

}  // namespace keystep
