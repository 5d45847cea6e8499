// A second factor from a provider plugin (tests/plugins/test_plugin.cc built as good.so:
// id "static_code", accepts only "424242"), loaded into the registry before the server is
// built, used for a whole OIDC login over HTTP.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "tests/http/mfa_steps.h"

namespace keystep::httptest {
namespace {

constexpr const char* kPluginId = "static_code";
constexpr const char* kPluginCode = "424242";

class PluginLogin : public MfaHttpTest {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugins = {std::string(KEYSTEP_TEST_PLUGIN_DIR) + "/good.so"};
    return options;
  }

  // Enrolls alice with the plugin as the enrollment would: begin, then confirm with a code.
  Result<std::vector<std::string>> enroll(const std::string& code) {
    const User alice = stored_user(server_->alice_id());
    auto begun = server_->two_factor().begin_enrollment(alice, kPluginId);
    if (!begun) return begun.error();
    return server_->two_factor().confirm_enrollment(alice, kPluginId, code, "127.0.0.1");
  }
};

TEST_F(PluginLogin, GoodPluginIsRegisteredBesideTheBuiltIns) {
  ASSERT_EQ(server_->plugin_reports().size(), 1u);
  EXPECT_TRUE(server_->plugin_reports()[0].loaded) << server_->plugin_reports()[0].message;
  EXPECT_NE(server_->registry().find(kPluginId), nullptr);
  EXPECT_NE(server_->registry().find("totp"), nullptr);
  EXPECT_NE(server_->registry().find("recovery_code"), nullptr);
}

TEST_F(PluginLogin, WrongCodeConfirmsNoEnrollment) {
  auto refused = enroll("000000");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
  const Pkce pkce = make_pkce();
  EXPECT_FALSE(sign_in_for_code(spa_request(pkce)).empty());
}

TEST_F(PluginLogin, PluginFactorCompletesAnOidcLogin) {
  auto codes = enroll(kPluginCode);
  ASSERT_TRUE(codes) << codes.error().message;
  EXPECT_EQ(codes->size(), 10u);
  auto status = server_->two_factor().status(stored_user(server_->alice_id()));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->methods, std::vector<std::string>{kPluginId});

  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_EQ(page.method, kPluginId);  // the user's only method is the default
  HttpResponse done = submit_second_factor(page, kPluginCode);
  const nlohmann::json claims = id_token_claims(code_of(done), pkce);
  ASSERT_TRUE(claims.is_object());
  const auto& amr = claims["amr"];
  EXPECT_NE(std::find(amr.begin(), amr.end(), "otp"), amr.end()) << claims.dump();
  EXPECT_NE(std::find(amr.begin(), amr.end(), "mfa"), amr.end()) << claims.dump();
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
  EXPECT_EQ(claims["acr"], "urn:keystep:loa:2fa");
}

TEST_F(PluginLogin, WrongPluginCodeIs401) {
  ASSERT_TRUE(enroll(kPluginCode));
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  HttpResponse r = submit_second_factor(page, "424243");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_FALSE(r.set_cookie("ks_session").has_value());
  EXPECT_FALSE(code_of(submit_second_factor(page, kPluginCode)).empty());
}

// A server whose plugin directory holds a plugin built for ABI version 1 and one built for
// version 5, loaded as keystep serve loads it: the first is refused with its reason, the
// second serves a whole login.
class PluginLoginAcrossAbiVersions : public PluginLogin {
 protected:
  // The directory, made once per process: bad_abi.so (version 1) and good.so (version 5).
  static std::string plugin_dir() {
    static const std::string dir = [] {
      namespace fs = std::filesystem;
      const fs::path d =
          fs::temp_directory_path() / ("keystep-abi-plugins-" + std::to_string(::getpid()));
      fs::remove_all(d);
      fs::create_directories(d);
      for (const char* name : {"bad_abi.so", "good.so"})
        fs::create_symlink(fs::path(KEYSTEP_TEST_PLUGIN_DIR) / name, d / name);
      return d.string();
    }();
    return dir;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(plugin_dir()); }

  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.plugin_dir = plugin_dir();
    return options;
  }
};

TEST_F(PluginLoginAcrossAbiVersions, Abi1PluginRefusedCurrentAbiPluginWorks) {
  const auto& reports = server_->plugin_reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_FALSE(reports[0].loaded);
  EXPECT_NE(reports[0].message.find("ABI version 1, this server speaks version 5"),
            std::string::npos)
      << reports[0].message;
  EXPECT_TRUE(reports[1].loaded) << reports[1].message;

  ASSERT_TRUE(enroll(kPluginCode));
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_EQ(page.method, kPluginId);
  const nlohmann::json claims = id_token_claims(code_of(submit_second_factor(page, kPluginCode)),
                                                pkce);
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims["amr"], nlohmann::json({"pwd", "otp", "mfa"}));
}

}  // namespace
}  // namespace keystep::httptest
