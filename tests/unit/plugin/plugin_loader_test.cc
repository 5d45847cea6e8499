#include "plugin/loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/crypto/random.h"
#include "providers/builtin.h"

namespace keystep {
namespace {

const std::string kDir = KEYSTEP_TEST_PLUGIN_DIR;

class PluginLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(register_builtin_providers(registry_, random_)); }
  OsRandom random_;
  KeystepPluginHost host_{&random_};
  PluginLoader loader_;  // declared before the registry: outlives the providers it loaded
  ProviderRegistry registry_;
};

TEST_F(PluginLoaderTest, LoadsProviderFromSharedLibrary) {
  auto report = loader_.load(kDir + "/good.so", host_, registry_);
  EXPECT_TRUE(report.loaded) << report.message;
  EXPECT_EQ(report.message, "loaded provider 'static_code'");
  MfaProvider* provider = registry_.find("static_code");
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->info().display_name, "Static test code");
  MfaCredential credential;
  const ChallengeContext context{1, "localhost", "http://localhost", nullptr};
  auto challenge = provider->begin_challenge({&credential, 1}, context);
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->input.max_length, 6);
  EXPECT_TRUE(provider->verify(credential, *challenge, "424242", context));
  EXPECT_EQ(provider->verify(credential, *challenge, "000000", context).error().code,
            ErrorCode::kDenied);
  // The interface's defaults reach the plugin's provider through the vtable.
  EXPECT_EQ(provider->lookup_key("424242"), std::nullopt);
  EXPECT_EQ(provider->resync(credential, "1", "2", context).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(provider->default_settings(), nlohmann::json::object());
  // And so do the plugin's own overrides of version 5's members.
  EXPECT_EQ(provider->public_details(credential), (nlohmann::json{{"code_length", 6}}));
  ASSERT_EQ(provider->describe_details().size(), 1u);
  EXPECT_EQ(provider->describe_details()[0].label, "Code length");
}

TEST_F(PluginLoaderTest, ServerSpeaksAbiVersion5) { EXPECT_EQ(KEYSTEP_MFA_ABI_VERSION, 5u); }

TEST_F(PluginLoaderTest, RefusesAbiVersion1PluginAndSaysToRebuild) {
  auto report = loader_.load(kDir + "/bad_abi.so", host_, registry_);
  EXPECT_FALSE(report.loaded);
  EXPECT_EQ(report.message,
            "built for plugin ABI version 1, this server speaks version 5: rebuild the plugin "
            "against the version 5 headers (plugin/mfa_provider.h)");
  EXPECT_EQ(registry_.find("static_code"), nullptr);
}

TEST_F(PluginLoaderTest, Abi2PluginLoadsAfterAnAbi1PluginWasRefused) {
  EXPECT_FALSE(loader_.load(kDir + "/bad_abi.so", host_, registry_).loaded);
  auto report = loader_.load(kDir + "/good.so", host_, registry_);
  EXPECT_TRUE(report.loaded) << report.message;
  EXPECT_NE(registry_.find("static_code"), nullptr);
}

TEST_F(PluginLoaderTest, RefusesLibraryWithoutEntryPoint) {
  auto report = loader_.load(kDir + "/no_symbol.so", host_, registry_);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.message.find("missing symbol keystep_mfa_plugin"), std::string::npos)
      << report.message;
}

TEST_F(PluginLoaderTest, RefusesDuplicateProviderIdAndKeepsBuiltin) {
  MfaProvider* builtin = registry_.find("totp");
  ASSERT_NE(builtin, nullptr);
  auto report = loader_.load(kDir + "/duplicate.so", host_, registry_);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.message.find("already registered"), std::string::npos) << report.message;
  EXPECT_EQ(registry_.find("totp"), builtin);
}

TEST_F(PluginLoaderTest, RefusesFileThatIsNotALibrary) {
  const auto path = std::filesystem::temp_directory_path() / "keystep-not-a-plugin.so";
  std::ofstream(path) << "not an ELF file";
  auto report = loader_.load(path.string(), host_, registry_);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.message.find("cannot open"), std::string::npos) << report.message;
  std::filesystem::remove(path);
}

TEST_F(PluginLoaderTest, DirectoryLoadsGoodAndReportsEveryRefusal) {
  auto reports = loader_.load_directory(kDir, host_, registry_);
  ASSERT_EQ(reports.size(), 4u);
  int loaded = 0;
  for (const auto& r : reports) loaded += r.loaded ? 1 : 0;
  EXPECT_EQ(loaded, 1);
  EXPECT_NE(registry_.find("static_code"), nullptr);
}

TEST_F(PluginLoaderTest, MissingDirectoryIsReportedNotFatal) {
  auto reports = loader_.load_directory("/nonexistent/keystep-plugins", host_, registry_);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].loaded);
}

}  // namespace
}  // namespace keystep
