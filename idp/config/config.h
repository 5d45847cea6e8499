#pragma once
// Settings of the IdP core. Loaded by tools/keystep from the data directory's keystep.conf
// (JSON) and command-line flags; flags win. Every field has a production default.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/crypto/password.h"
#include "base/result.h"

namespace keystep {

// How many confirmed second factors of one provider a user may hold (the "credential_caps"
// object): a bound on what one account can store and on the credentials a typed code is
// checked against. Recovery codes are one credential and have no cap.
struct CredentialCaps {
  static constexpr int kMax = 100;  // the largest cap accepted
  int soft = 5;       // per provider of kind soft (an authenticator app)
  int hardware = 10;  // per provider of kind hardware (a YubiKey, a security key)
  // By provider id, over the kind's cap; each id at most once.
  std::vector<std::pair<std::string, int>> providers;
  // The cap of `provider_id`, a provider of kind hardware or soft.
  int of(std::string_view provider_id, bool hardware_kind) const {
    for (const auto& [id, cap] : providers)
      if (id == provider_id) return cap;
    return hardware_kind ? hardware : soft;
  }
};

// "Forgot your password?" (the "password_reset" object; idp/reset/): how long an emailed link
// works, and how many links may be asked for per email address and per client address: at
// most `per_email` (`per_address`) requests, then none until `window` seconds have passed
// without one.
struct PasswordResetConfig {
  int64_t link_ttl = 30 * 60;
  int64_t per_email = 3;
  int64_t per_address = 20;
  int64_t window = 15 * 60;
};

// Back-channel logout delivery (the "backchannel_logout" object; idp/oidc/backchannel_logout.h):
// "claim_lease_seconds", how long a notice one node's worker claimed stays its own before
// another node's worker may take it (the first died delivering it). A notice is sent only in
// the first half of its claim and one attempt takes at most 10 s (CurlLogoutTransport), so a
// lease under kMinLease could let two nodes post the same notice. A longer lease delays the
// retry of a notice whose node died.
struct BackchannelLogoutConfig {
  static constexpr int64_t kMinLease = 20;
  static constexpr int64_t kMaxLease = 86400;
  int64_t claim_lease_seconds = 300;
};

struct IdpConfig {
  std::string issuer = "http://localhost:8080";  // no trailing slash
  std::string listen = "0.0.0.0:8080";
  std::string signing_alg = "RS256";             // algorithm of newly generated keys
  Argon2Params argon2;                           // user password hashing cost
  int64_t code_ttl = 60;                         // authorization code lifetime, seconds
  int64_t access_token_ttl = 600;
  int64_t id_token_ttl = 600;
  int64_t refresh_token_ttl = 30 * 24 * 3600;
  int64_t session_ttl = 12 * 3600;
  int64_t flow_ttl = 15 * 60;                    // a login page stays usable this long
  // A sensitive action (recovery codes, factors, turning 2FA off, API tokens, account
  // settings) needs an authentication at the demanded level at most this old, seconds.
  int64_t reauthentication_max_age = 15 * 60;
  int threads = 0;                               // HTTP worker threads; 0 = one per core
  // Threads hashing passwords apart from the HTTP workers; 0 = half the cores, at least 1.
  int password_threads = 0;
  // Password requests that may wait for those threads (then 503); 0 = 32 per thread.
  int password_queue = 0;
  int64_t max_connections = 0;                   // open at once; 0 = from RLIMIT_NOFILE
  int64_t idle_timeout = 60;                     // close an idle keep-alive connection, s
  std::string plugin_dir;                        // MFA provider plugins (*.so); empty: none
  // Addresses of reverse proxies whose X-Forwarded-For names the real client.
  std::vector<std::string> trusted_proxies;
  // GET /metrics (the "metrics" object: "allow", "token"): client addresses allowed without a
  // token (loopback by default), and a bearer token accepted from any address ("": none).
  std::vector<std::string> metrics_allow = {"127.0.0.1", "::1"};
  std::string metrics_token;
  // Where the JSON log lines go (idp/observability/observability.h): a file appended to, "" for stderr.
  std::string log_file;
  CredentialCaps credential_caps;
  PasswordResetConfig password_reset;
  BackchannelLogoutConfig backchannel_logout;
  // Security keys (the "webauthn" object): "rp_id", the domain keys are registered for ("":
  // the issuer's host; else a parent domain of it, checked at start-up), and
  // "attestation_roots", a PEM file of the certificates a key's maker may chain to ("": none,
  // so no account can require trusted attestation). Read at start-up.
  std::string webauthn_rp_id;
  std::string webauthn_attestation_roots;
  // Where the state lives: "" (the default) for SQLite in the data directory, or a
  // PostgreSQL URL ("postgresql://user@host:5432/keystep?sslmode=verify-full") shared by
  // several nodes. The KEYSTEP_DATABASE_URL environment variable, when set, takes its place
  // (so a password need not be in the file; libpq's PGPASSWORD and ~/.pgpass work too).
  std::string database;
  // Email delivery (idp/mailer.h apply_mail_config_json): "from", "outbox_dir", "smtp".
  nlohmann::json mail = nlohmann::json::object();
};

// Applies the members present in `json` on top of `config`. Unknown keys and wrong types
// are refused with kInvalidArgument naming the key, so a typo never goes unnoticed.
Status apply_config_json(const nlohmann::json& json, IdpConfig& config);

// Checks cross-field invariants (issuer is an absolute http(s) URL without query or
// fragment, positive lifetimes, a supported algorithm, sane Argon2 costs, credential caps
// between 1 and CredentialCaps::kMax, a back-channel logout lease between
// BackchannelLogoutConfig::kMinLease and kMaxLease).
Status validate_config(const IdpConfig& config);

nlohmann::json config_to_json(const IdpConfig& config);

// kInvalidArgument unless `database` is "" or a postgresql:// (or postgres://) URL.
Status validate_database_url(const std::string& database);

}  // namespace keystep
