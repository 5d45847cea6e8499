#include "idp/config/config.h"

#include "base/url.h"

namespace keystep {
namespace {

template <class T>
Status read_field(const nlohmann::json& json, const char* key, T& out) {
  const auto it = json.find(key);
  if (it == json.end()) return {};
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return make_error(ErrorCode::kInvalidArgument, std::string(key) + " must be a string");
  } else {
    if (!it->is_number_integer()) return make_error(ErrorCode::kInvalidArgument, std::string(key) + " must be an integer");
  }
  out = it->get<T>();
  return {};
}

}  // namespace

Status apply_config_json(const nlohmann::json& json, IdpConfig& config) {
  if (!json.is_object()) return make_error(ErrorCode::kInvalidArgument, "configuration must be a JSON object");
  static const char* const kKnown[] = {"issuer",           "listen",         "signing_alg",
                                       "argon2",           "code_ttl",       "access_token_ttl",
                                       "id_token_ttl",     "refresh_token_ttl", "session_ttl",
                                       "flow_ttl",         "threads",        "plugin_dir",
                                       "trusted_proxies",  "mail",           "password_threads",
                                       "password_queue",   "reauthentication_max_age",
                                       "max_connections",  "idle_timeout",   "metrics",
                                       "log_file",         "credential_caps",
                                       "password_reset",   "webauthn",       "database",
                                       "backchannel_logout"};
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) return make_error(ErrorCode::kInvalidArgument, "unknown configuration key: " + key);
  }
  Status s;
  if (!(s = read_field(json, "issuer", config.issuer))) return s;
  if (!(s = read_field(json, "listen", config.listen))) return s;
  if (!(s = read_field(json, "signing_alg", config.signing_alg))) return s;
  if (!(s = read_field(json, "code_ttl", config.code_ttl))) return s;
  if (!(s = read_field(json, "access_token_ttl", config.access_token_ttl))) return s;
  if (!(s = read_field(json, "id_token_ttl", config.id_token_ttl))) return s;
  if (!(s = read_field(json, "refresh_token_ttl", config.refresh_token_ttl))) return s;
  if (!(s = read_field(json, "session_ttl", config.session_ttl))) return s;
  if (!(s = read_field(json, "flow_ttl", config.flow_ttl))) return s;
  if (!(s = read_field(json, "reauthentication_max_age", config.reauthentication_max_age)))
    return s;
  if (!(s = read_field(json, "threads", config.threads))) return s;
  if (!(s = read_field(json, "password_threads", config.password_threads))) return s;
  if (!(s = read_field(json, "password_queue", config.password_queue))) return s;
  if (!(s = read_field(json, "max_connections", config.max_connections))) return s;
  if (!(s = read_field(json, "idle_timeout", config.idle_timeout))) return s;
  if (!(s = read_field(json, "plugin_dir", config.plugin_dir))) return s;
  if (!(s = read_field(json, "log_file", config.log_file))) return s;
  if (!(s = read_field(json, "database", config.database))) return s;
  if (const auto it = json.find("metrics"); it != json.end()) {
    if (!it->is_object()) return make_error(ErrorCode::kInvalidArgument, "metrics must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "allow" && key != "token")
        return make_error(ErrorCode::kInvalidArgument, "unknown configuration key: metrics." + key);
    }
    if (!(s = read_field(*it, "token", config.metrics_token)))
      return make_error(ErrorCode::kInvalidArgument, "metrics.token must be a string");
    if (const auto allow = it->find("allow"); allow != it->end()) {
      if (!allow->is_array())
        return make_error(ErrorCode::kInvalidArgument, "metrics.allow must be an array of addresses");
      config.metrics_allow.clear();
      for (const auto& address : *allow) {
        if (!address.is_string() || address.get<std::string>().empty())
          return make_error(ErrorCode::kInvalidArgument,
                            "metrics.allow must be an array of addresses");
        config.metrics_allow.push_back(address.get<std::string>());
      }
    }
  }
  if (const auto it = json.find("credential_caps"); it != json.end()) {
    if (!it->is_object())
      return make_error(ErrorCode::kInvalidArgument, "credential_caps must be an object");
    // Read through int64_t so that a huge number is refused rather than wrapped into range.
    const auto read_cap = [](const nlohmann::json& value, const std::string& key, int& out) {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
          value.get<int64_t>() > CredentialCaps::kMax)
        return Status(make_error(ErrorCode::kInvalidArgument,
                                 key + " must be an integer between 1 and " +
                                     std::to_string(CredentialCaps::kMax)));
      out = static_cast<int>(value.get<int64_t>());
      return Status();
    };
    for (const auto& [key, value] : it->items()) {
      if (key == "soft") {
        if (!(s = read_cap(value, "credential_caps.soft", config.credential_caps.soft))) return s;
      } else if (key == "hardware") {
        if (!(s = read_cap(value, "credential_caps.hardware", config.credential_caps.hardware)))
          return s;
      } else if (key == "providers") {
        if (!value.is_object())
          return make_error(ErrorCode::kInvalidArgument,
                            "credential_caps.providers must be an object of provider ids");
        config.credential_caps.providers.clear();
        for (const auto& [id, cap] : value.items()) {
          if (id.empty())
            return make_error(ErrorCode::kInvalidArgument,
                              "credential_caps.providers: a provider id must not be empty");
          int read = 0;
          if (!(s = read_cap(cap, "credential_caps.providers." + id, read))) return s;
          config.credential_caps.providers.emplace_back(id, read);
        }
      } else {
        return make_error(ErrorCode::kInvalidArgument,
                          "unknown configuration key: credential_caps." + key);
      }
    }
  }
  if (const auto it = json.find("password_reset"); it != json.end()) {
    if (!it->is_object())
      return make_error(ErrorCode::kInvalidArgument, "password_reset must be an object");
    PasswordResetConfig& reset = config.password_reset;
    const std::pair<const char*, int64_t*> fields[] = {{"link_ttl", &reset.link_ttl},
                                                       {"per_email", &reset.per_email},
                                                       {"per_address", &reset.per_address},
                                                       {"window", &reset.window}};
    for (const auto& [key, value] : it->items()) {
      bool known = false;
      for (const auto& [name, field] : fields) known = known || key == name;
      if (!known)
        return make_error(ErrorCode::kInvalidArgument,
                          "unknown configuration key: password_reset." + key);
    }
    for (const auto& [name, field] : fields) {
      if (!(s = read_field(*it, name, *field)))
        return make_error(ErrorCode::kInvalidArgument,
                          std::string("password_reset.") + name + " must be an integer");
    }
  }
  if (const auto it = json.find("backchannel_logout"); it != json.end()) {
    if (!it->is_object())
      return make_error(ErrorCode::kInvalidArgument, "backchannel_logout must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "claim_lease_seconds")
        return make_error(ErrorCode::kInvalidArgument,
                          "unknown configuration key: backchannel_logout." + key);
    }
    if (!(s = read_field(*it, "claim_lease_seconds",
                         config.backchannel_logout.claim_lease_seconds)))
      return make_error(ErrorCode::kInvalidArgument,
                        "backchannel_logout.claim_lease_seconds must be an integer");
  }
  if (const auto it = json.find("webauthn"); it != json.end()) {
    if (!it->is_object()) return make_error(ErrorCode::kInvalidArgument, "webauthn must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "rp_id" && key != "attestation_roots")
        return make_error(ErrorCode::kInvalidArgument, "unknown configuration key: webauthn." + key);
    }
    if (!(s = read_field(*it, "rp_id", config.webauthn_rp_id)))
      return make_error(ErrorCode::kInvalidArgument, "webauthn.rp_id must be a string");
    if (!(s = read_field(*it, "attestation_roots", config.webauthn_attestation_roots)))
      return make_error(ErrorCode::kInvalidArgument,
                        "webauthn.attestation_roots must be a string (a PEM file's path)");
  }
  if (const auto it = json.find("mail"); it != json.end()) {
    if (!it->is_object()) return make_error(ErrorCode::kInvalidArgument, "mail must be an object");
    config.mail = *it;
  }
  if (const auto it = json.find("trusted_proxies"); it != json.end()) {
    if (!it->is_array())
      return make_error(ErrorCode::kInvalidArgument, "trusted_proxies must be an array of addresses");
    config.trusted_proxies.clear();
    for (const auto& address : *it) {
      if (!address.is_string() || address.get<std::string>().empty())
        return make_error(ErrorCode::kInvalidArgument, "trusted_proxies must be an array of addresses");
      config.trusted_proxies.push_back(address.get<std::string>());
    }
  }
  if (const auto it = json.find("argon2"); it != json.end()) {
    if (!it->is_object()) return make_error(ErrorCode::kInvalidArgument, "argon2 must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "t_cost" && key != "m_cost_kib" && key != "parallelism")
        return make_error(ErrorCode::kInvalidArgument, "unknown configuration key: argon2." + key);
      if (!value.is_number_unsigned())
        return make_error(ErrorCode::kInvalidArgument, "argon2." + key + " must be a positive integer");
    }
    config.argon2.t_cost = it->value("t_cost", config.argon2.t_cost);
    config.argon2.m_cost_kib = it->value("m_cost_kib", config.argon2.m_cost_kib);
    config.argon2.parallelism = it->value("parallelism", config.argon2.parallelism);
  }
  return {};
}

Status validate_config(const IdpConfig& config) {
  auto url = parse_url(config.issuer);
  // Keystep serves its endpoints at the root of its origin, so the issuer has no path.
  if (!url || url->query || url->fragment || !url->path.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "issuer must be an absolute http(s) URL with no path, query or fragment "
                      "(e.g. https://id.example.com): " + config.issuer);
  if (config.signing_alg != "RS256" && config.signing_alg != "ES256")
    return make_error(ErrorCode::kInvalidArgument, "signing_alg must be RS256 or ES256");
  if (Status s = validate_database_url(config.database); !s) return s;
  for (int64_t ttl : {config.code_ttl, config.access_token_ttl, config.id_token_ttl,
                      config.refresh_token_ttl, config.session_ttl, config.flow_ttl,
                      config.reauthentication_max_age}) {
    if (ttl <= 0) return make_error(ErrorCode::kInvalidArgument, "lifetimes must be positive");
  }
  if (config.threads < 0 || config.threads > 256)
    return make_error(ErrorCode::kInvalidArgument, "threads must be between 0 and 256");
  if (config.password_threads < 0 || config.password_threads > 256)
    return make_error(ErrorCode::kInvalidArgument, "password_threads must be between 0 and 256");
  if (config.password_queue < 0 || config.password_queue > 65536)
    return make_error(ErrorCode::kInvalidArgument, "password_queue must be between 0 and 65536");
  if (config.max_connections < 0 || config.max_connections > 10'000'000)
    return make_error(ErrorCode::kInvalidArgument,
                      "max_connections must be between 0 and 10000000 (0: from the file limit)");
  if (config.idle_timeout < 1 || config.idle_timeout > 86400)
    return make_error(ErrorCode::kInvalidArgument, "idle_timeout must be between 1 and 86400");
  const auto cap_ok = [](int cap) { return cap >= 1 && cap <= CredentialCaps::kMax; };
  const std::string cap_range = " must be between 1 and " + std::to_string(CredentialCaps::kMax);
  if (!cap_ok(config.credential_caps.soft))
    return make_error(ErrorCode::kInvalidArgument, "credential_caps.soft" + cap_range);
  if (!cap_ok(config.credential_caps.hardware))
    return make_error(ErrorCode::kInvalidArgument, "credential_caps.hardware" + cap_range);
  for (const auto& [id, cap] : config.credential_caps.providers) {
    if (!cap_ok(cap))
      return make_error(ErrorCode::kInvalidArgument, "credential_caps.providers." + id + cap_range);
  }
  const PasswordResetConfig& reset = config.password_reset;
  if (reset.link_ttl < 60 || reset.link_ttl > 86400)
    return make_error(ErrorCode::kInvalidArgument,
                      "password_reset.link_ttl must be between 60 and 86400 seconds");
  if (reset.per_email < 1 || reset.per_email > 100 || reset.per_address < 1 ||
      reset.per_address > 100000)
    return make_error(ErrorCode::kInvalidArgument,
                      "password_reset.per_email must be between 1 and 100 and "
                      "password_reset.per_address between 1 and 100000");
  if (reset.window < 1 || reset.window > 7 * 86400)
    return make_error(ErrorCode::kInvalidArgument,
                      "password_reset.window must be between 1 and 604800 seconds");
  const int64_t lease = config.backchannel_logout.claim_lease_seconds;
  if (lease < BackchannelLogoutConfig::kMinLease || lease > BackchannelLogoutConfig::kMaxLease)
    return make_error(ErrorCode::kInvalidArgument,
                      "backchannel_logout.claim_lease_seconds must be between " +
                          std::to_string(BackchannelLogoutConfig::kMinLease) + " and " +
                          std::to_string(BackchannelLogoutConfig::kMaxLease) +
                          " seconds (a delivery attempt takes up to 10 s and is started only in "
                          "the first half of the lease)");
  // A bearer token anyone may try from any address: short ones could be guessed.
  if (!config.metrics_token.empty() && config.metrics_token.size() < 16)
    return make_error(ErrorCode::kInvalidArgument, "metrics.token must be at least 16 characters");
  if (auto s = validate_argon2_params(config.argon2); !s)
    return make_error(ErrorCode::kInvalidArgument, "argon2: " + s.error().message);
  return {};
}

nlohmann::json config_to_json(const IdpConfig& config) {
  return {{"issuer", config.issuer},
          {"listen", config.listen},
          {"signing_alg", config.signing_alg},
          {"argon2",
           {{"t_cost", config.argon2.t_cost},
            {"m_cost_kib", config.argon2.m_cost_kib},
            {"parallelism", config.argon2.parallelism}}},
          {"code_ttl", config.code_ttl},
          {"access_token_ttl", config.access_token_ttl},
          {"id_token_ttl", config.id_token_ttl},
          {"refresh_token_ttl", config.refresh_token_ttl},
          {"session_ttl", config.session_ttl},
          {"flow_ttl", config.flow_ttl},
          {"reauthentication_max_age", config.reauthentication_max_age},
          {"threads", config.threads},
          {"password_threads", config.password_threads},
          {"password_queue", config.password_queue},
          {"max_connections", config.max_connections},
          {"idle_timeout", config.idle_timeout},
          {"plugin_dir", config.plugin_dir},
          {"trusted_proxies", config.trusted_proxies},
          {"metrics", {{"allow", config.metrics_allow}, {"token", config.metrics_token}}},
          {"log_file", config.log_file},
          {"database", config.database},
          {"credential_caps",
           {{"soft", config.credential_caps.soft},
            {"hardware", config.credential_caps.hardware},
            {"providers", [&] {
               nlohmann::json providers = nlohmann::json::object();
               for (const auto& [id, cap] : config.credential_caps.providers) providers[id] = cap;
               return providers;
             }()}}},
          {"password_reset",
           {{"link_ttl", config.password_reset.link_ttl},
            {"per_email", config.password_reset.per_email},
            {"per_address", config.password_reset.per_address},
            {"window", config.password_reset.window}}},
          {"backchannel_logout",
           {{"claim_lease_seconds", config.backchannel_logout.claim_lease_seconds}}},
          {"webauthn",
           {{"rp_id", config.webauthn_rp_id},
            {"attestation_roots", config.webauthn_attestation_roots}}},
          {"mail", config.mail}};
}

Status validate_database_url(const std::string& database) {
  if (database.empty() || database.rfind("postgresql://", 0) == 0 ||
      database.rfind("postgres://", 0) == 0)
    return {};
  // The value is not repeated: a URL may carry a password.
  return make_error(ErrorCode::kInvalidArgument,
                    "database must be a postgresql:// URL (leave it out for SQLite in the data "
                    "directory)");
}

}  // namespace keystep
