#include "idp/config/config.h"

#include <gtest/gtest.h>

namespace keystep {
namespace {

TEST(Config, DefaultsAreValid) { EXPECT_TRUE(validate_config(IdpConfig{})); }

TEST(Config, JsonOverridesDefaults) {
  IdpConfig config;
  auto json = nlohmann::json::parse(
      R"({"issuer":"https://id.example.com","argon2":{"t_cost":1,"m_cost_kib":1024},
          "access_token_ttl":60,"plugin_dir":"/opt/keystep/plugins"})");
  ASSERT_TRUE(apply_config_json(json, config));
  EXPECT_EQ(config.issuer, "https://id.example.com");
  EXPECT_EQ(config.argon2.t_cost, 1u);
  EXPECT_EQ(config.argon2.m_cost_kib, 1024u);
  EXPECT_EQ(config.argon2.parallelism, 1u);
  EXPECT_EQ(config.access_token_ttl, 60);
  EXPECT_EQ(config.plugin_dir, "/opt/keystep/plugins");
  EXPECT_TRUE(validate_config(config));
}

TEST(Config, RefusesUnknownKeysAndWrongTypes) {
  IdpConfig config;
  auto unknown = apply_config_json(nlohmann::json::parse(R"({"isuer":"x"})"), config);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("isuer"), std::string::npos);
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"code_ttl":"60"})"), config));
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"argon2":{"t_cost":-1}})"), config));
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"argon2":{"memory":1}})"), config));
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse("[1,2]"), config));
}

TEST(Config, ValidationRefusesBadIssuerAndLifetimes) {
  for (const char* issuer : {"localhost:8080", "http://x/", "http://x?a=b", "ftp://x", ""}) {
    IdpConfig config;
    config.issuer = issuer;
    EXPECT_FALSE(validate_config(config)) << issuer;
  }
  IdpConfig config;
  config.code_ttl = 0;
  EXPECT_FALSE(validate_config(config));
  config = IdpConfig{};
  config.signing_alg = "HS256";
  EXPECT_FALSE(validate_config(config));
  config = IdpConfig{};
  config.argon2.m_cost_kib = 4;
  EXPECT_FALSE(validate_config(config));
}

TEST(Config, DatabaseIsSqliteByDefaultOrAPostgresqlUrl) {
  IdpConfig config;
  EXPECT_EQ(config.database, "");  // SQLite in the data directory
  ASSERT_TRUE(apply_config_json({{"database", "postgresql://keystep@db:5432/keystep"}}, config));
  EXPECT_EQ(config.database, "postgresql://keystep@db:5432/keystep");
  EXPECT_TRUE(validate_config(config));
  EXPECT_EQ(config_to_json(config)["database"], "postgresql://keystep@db:5432/keystep");
  EXPECT_TRUE(validate_database_url("postgres://h/db"));
  config.database = "mysql://root:hunter2@db/keystep";
  auto refused = validate_config(config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message.find("hunter2"), std::string::npos);  // never echoed
  EXPECT_FALSE(apply_config_json({{"database", 5}}, config));
}

TEST(Config, RoundTripsThroughJson) {
  IdpConfig config;
  config.issuer = "https://id.example.com";
  config.threads = 3;
  config.password_threads = 2;
  config.password_queue = 40;
  config.backchannel_logout.claim_lease_seconds = 45;
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.issuer, config.issuer);
  EXPECT_EQ(back.threads, 3);
  EXPECT_EQ(back.password_threads, 2);
  EXPECT_EQ(back.password_queue, 40);
  EXPECT_EQ(back.backchannel_logout.claim_lease_seconds, 45);
}

TEST(Config, PasswordPoolSizesAreBounded) {
  IdpConfig config;
  config.password_threads = -1;
  EXPECT_FALSE(validate_config(config));
  config = IdpConfig{};
  config.password_threads = 257;
  EXPECT_FALSE(validate_config(config));
  config = IdpConfig{};
  config.password_queue = 65537;
  EXPECT_FALSE(validate_config(config));
  config = IdpConfig{};
  config.password_threads = 4;
  config.password_queue = 128;
  EXPECT_TRUE(validate_config(config));
}

}  // namespace
}  // namespace keystep

namespace keystep {
namespace {

TEST(Config, ConnectionLimitsAreReadValidatedAndWritten) {
  IdpConfig config;
  EXPECT_EQ(config.max_connections, 0);
  EXPECT_EQ(config.idle_timeout, 60);
  ASSERT_TRUE(apply_config_json({{"max_connections", 500}, {"idle_timeout", 15}}, config));
  EXPECT_EQ(config.max_connections, 500);
  EXPECT_EQ(config.idle_timeout, 15);
  EXPECT_TRUE(validate_config(config));
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.max_connections, 500);
  EXPECT_EQ(back.idle_timeout, 15);
  EXPECT_FALSE(apply_config_json({{"idle_timeout", "60"}}, config));
  for (auto [connections, idle] : {std::pair<int64_t, int64_t>{-1, 60}, {0, 0}, {0, 86401}}) {
    IdpConfig bad;
    bad.max_connections = connections;
    bad.idle_timeout = idle;
    EXPECT_FALSE(validate_config(bad)) << connections << " " << idle;
  }
}

TEST(Config, TrustedProxiesAreAListOfAddresses) {
  IdpConfig config;
  ASSERT_TRUE(apply_config_json(nlohmann::json::parse(R"({"trusted_proxies":["10.0.0.2"]})"),
                                config));
  EXPECT_EQ(config.trusted_proxies, std::vector<std::string>{"10.0.0.2"});
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"trusted_proxies":"10.0.0.2"})"),
                                 config));
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"trusted_proxies":[1]})"), config));
}

}  // namespace
}  // namespace keystep

namespace keystep {
namespace {

TEST(Config, MetricsAreForLoopbackOnlyByDefault) {
  const IdpConfig config;
  EXPECT_EQ(config.metrics_allow, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_TRUE(config.metrics_token.empty());
  EXPECT_TRUE(config.log_file.empty());
}

TEST(Config, MetricsAccessAndLogFileAreRead) {
  IdpConfig config;
  ASSERT_TRUE(apply_config_json(
      nlohmann::json::parse(R"({"metrics":{"allow":["10.0.0.9"],"token":"0123456789abcdef"},)"
                            R"("log_file":"/var/log/keystep.log"})"),
      config));
  EXPECT_EQ(config.metrics_allow, std::vector<std::string>{"10.0.0.9"});
  EXPECT_EQ(config.metrics_token, "0123456789abcdef");
  EXPECT_EQ(config.log_file, "/var/log/keystep.log");
  EXPECT_TRUE(validate_config(config));
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.metrics_allow, config.metrics_allow);
  EXPECT_EQ(back.metrics_token, config.metrics_token);
  EXPECT_EQ(back.log_file, config.log_file);
}

TEST(Config, RefusesBadMetricsSettings) {
  IdpConfig config;
  for (const char* bad : {R"({"metrics":[]})", R"({"metrics":{"allow":"127.0.0.1"}})",
                          R"({"metrics":{"allow":[""]}})", R"({"metrics":{"token":7}})",
                          R"({"metrics":{"tokens":"x"}})", R"({"log_file":1})"})
    EXPECT_FALSE(apply_config_json(nlohmann::json::parse(bad), config)) << bad;
  ASSERT_TRUE(apply_config_json(nlohmann::json::parse(R"({"metrics":{"token":"short"}})"), config));
  EXPECT_FALSE(validate_config(config));  // a guessable token
}

}  // namespace
}  // namespace keystep

namespace keystep {
namespace {

TEST(Config, CredentialCapsDefaultToFiveSoftAndTenHardware) {
  const CredentialCaps caps = IdpConfig{}.credential_caps;
  EXPECT_EQ(caps.of("totp", false), 5);
  EXPECT_EQ(caps.of("yubikey_hotp", true), 10);
}

TEST(Config, CredentialCapsAreReadPerKindAndPerProviderAndWritten) {
  IdpConfig config;
  ASSERT_TRUE(apply_config_json(
      nlohmann::json::parse(
          R"({"credential_caps":{"soft":3,"hardware":20,"providers":{"totp":2}}})"),
      config));
  EXPECT_EQ(config.credential_caps.of("totp", false), 2);  // the provider's own cap wins
  EXPECT_EQ(config.credential_caps.of("static_code", false), 3);
  EXPECT_EQ(config.credential_caps.of("webauthn", true), 20);
  EXPECT_TRUE(validate_config(config));
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.credential_caps.of("totp", false), 2);
  EXPECT_EQ(back.credential_caps.hardware, 20);
}

TEST(Config, CredentialCapsOutsideOneToAHundredOrUnknownKeysAreRefusedByName) {
  for (const char* bad : {R"({"credential_caps":{"soft":0}})",
                          R"({"credential_caps":{"hardware":101}})",
                          R"({"credential_caps":{"soft":4294967297}})",
                          R"({"credential_caps":{"soft":"5"}})",
                          R"({"credential_caps":{"providers":{"totp":-1}}})",
                          R"({"credential_caps":{"providers":[]}})",
                          R"({"credential_caps":{"keys":5}})", R"({"credential_caps":5})"}) {
    IdpConfig config;
    auto s = apply_config_json(nlohmann::json::parse(bad), config);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find("credential_caps"), std::string::npos) << s.error().message;
  }
  IdpConfig config;
  config.credential_caps.providers = {{"totp", 0}};
  EXPECT_FALSE(validate_config(config));
}

TEST(Config, PasswordResetLimitsAreReadCheckedAndWritten) {
  IdpConfig config;
  EXPECT_EQ(config.password_reset.link_ttl, 1800);
  EXPECT_EQ(config.password_reset.per_email, 3);
  EXPECT_EQ(config.password_reset.per_address, 20);
  EXPECT_EQ(config.password_reset.window, 900);
  ASSERT_TRUE(apply_config_json(
      nlohmann::json::parse(R"({"password_reset":{"link_ttl":600,"per_email":1,"window":60}})"),
      config));
  EXPECT_EQ(config.password_reset.link_ttl, 600);
  EXPECT_EQ(config.password_reset.per_email, 1);
  EXPECT_EQ(config.password_reset.per_address, 20);
  EXPECT_TRUE(validate_config(config));
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.password_reset.window, 60);
  auto unknown = apply_config_json(
      nlohmann::json::parse(R"({"password_reset":{"ttl":600}})"), config);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("password_reset.ttl"), std::string::npos);
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"password_reset":{"window":"1"}})"),
                                 config));
  EXPECT_FALSE(apply_config_json(nlohmann::json::parse(R"({"password_reset":5})"), config));
  for (const char* bad : {R"({"link_ttl":59})", R"({"per_email":0})", R"({"per_address":0})",
                          R"({"window":0})", R"({"link_ttl":86401})"}) {
    IdpConfig c;
    ASSERT_TRUE(apply_config_json(nlohmann::json{{"password_reset", nlohmann::json::parse(bad)}}, c));
    EXPECT_FALSE(validate_config(c)) << bad;
  }
}

TEST(Config, BackchannelLogoutLeaseIsReadAndChecked) {
  IdpConfig config;
  EXPECT_EQ(config.backchannel_logout.claim_lease_seconds, 300);
  ASSERT_TRUE(apply_config_json(
      nlohmann::json::parse(R"({"backchannel_logout":{"claim_lease_seconds":45}})"), config));
  EXPECT_EQ(config.backchannel_logout.claim_lease_seconds, 45);
  EXPECT_TRUE(validate_config(config));
  // Refused by name: an unknown key, a value that is not an integer, not an object.
  for (const char* bad : {R"({"backchannel_logout":{"lease":45}})",
                          R"({"backchannel_logout":{"claim_lease_seconds":"300"}})",
                          R"({"backchannel_logout":{"claim_lease_seconds":2.5}})",
                          R"({"backchannel_logout":300})"}) {
    auto s = apply_config_json(nlohmann::json::parse(bad), config);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find("backchannel_logout"), std::string::npos) << bad;
  }
  // Shorter than two delivery attempts, negative, or longer than a day.
  for (int64_t bad : {int64_t{19}, int64_t{0}, int64_t{-300}, int64_t{86401}}) {
    IdpConfig c;
    c.backchannel_logout.claim_lease_seconds = bad;
    auto s = validate_config(c);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find("backchannel_logout.claim_lease_seconds must be between 20 "
                                     "and 86400"),
              std::string::npos)
        << s.error().message;
  }
  for (int64_t good : {int64_t{20}, int64_t{86400}}) {
    IdpConfig c;
    c.backchannel_logout.claim_lease_seconds = good;
    EXPECT_TRUE(validate_config(c)) << good;
  }
}

TEST(Config, SecurityKeySettingsAreReadAndWritten) {
  IdpConfig config;
  EXPECT_EQ(config.webauthn_rp_id, "");
  EXPECT_EQ(config.webauthn_attestation_roots, "");
  ASSERT_TRUE(apply_config_json(
      {{"webauthn", {{"rp_id", "example.com"}, {"attestation_roots", "/etc/keystep/fido.pem"}}}},
      config));
  EXPECT_EQ(config.webauthn_rp_id, "example.com");
  EXPECT_EQ(config.webauthn_attestation_roots, "/etc/keystep/fido.pem");
  IdpConfig back;
  ASSERT_TRUE(apply_config_json(config_to_json(config), back));
  EXPECT_EQ(back.webauthn_rp_id, "example.com");
  EXPECT_EQ(back.webauthn_attestation_roots, "/etc/keystep/fido.pem");
  for (const auto& [json, message] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"webauthn", "example.com"}}, "webauthn must be an object"},
           {{{"webauthn", {{"rp", "x"}}}}, "unknown configuration key: webauthn.rp"},
           {{{"webauthn", {{"rp_id", 1}}}}, "webauthn.rp_id must be a string"},
           {{{"webauthn", {{"attestation_roots", true}}}},
            "webauthn.attestation_roots must be a string (a PEM file's path)"}}) {
    IdpConfig c;
    Status s = apply_config_json(json, c);
    ASSERT_FALSE(s) << json.dump();
    EXPECT_EQ(s.error().message, message);
  }
}

}  // namespace
}  // namespace keystep
