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
  EXPECT_TRUE(provider->verify(credential, {}, "424242", 1));
  EXPECT_EQ(provider->verify(credential, {}, "000000", 1).error().code, ErrorCode::kDenied);
}

TEST_F(PluginLoaderTest, RefusesOtherAbiVersion) {
  auto report = loader_.load(kDir + "/bad_abi.so", host_, registry_);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.message.find("ABI version 999"), std::string::npos) << report.message;
  EXPECT_EQ(registry_.find("static_code"), nullptr);
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
