#include "plugin/loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>

#include "plugin/mfa_provider.h"

namespace keystep {

PluginLoader::~PluginLoader() {
  for (void* handle : handles_) dlclose(handle);
}

PluginReport PluginLoader::load(const std::string& path, const KeystepPluginHost& host,
                                ProviderRegistry& registry) {
  PluginReport report{path, false, {}};
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    report.message = std::string("cannot open: ") + (why ? why : "unknown error");
    return report;
  }
  auto refuse = [&](std::string message) {
    dlclose(handle);
    report.message = std::move(message);
    return report;
  };
  auto entry = reinterpret_cast<KeystepPluginEntry>(dlsym(handle, KEYSTEP_MFA_ENTRY_POINT));
  if (!entry) return refuse("missing symbol " KEYSTEP_MFA_ENTRY_POINT " (not a Keystep plugin)");
  const KeystepPluginDescriptor* descriptor = entry();
  if (!descriptor) return refuse("entry point returned no descriptor");
  if (descriptor->abi_version != KEYSTEP_MFA_ABI_VERSION)
    return refuse("built for plugin ABI version " + std::to_string(descriptor->abi_version) +
                  ", this server speaks version " + std::to_string(KEYSTEP_MFA_ABI_VERSION) +
                  ": rebuild the plugin against the version " +
                  std::to_string(KEYSTEP_MFA_ABI_VERSION) + " headers (plugin/mfa_provider.h)");
  if (!descriptor->create || !descriptor->destroy)
    return refuse("descriptor lacks create or destroy");
  MfaProvider* raw = descriptor->create(&host);
  if (!raw) return refuse("the plugin failed to create its provider");
  auto destroy = descriptor->destroy;
  std::shared_ptr<MfaProvider> provider(raw, [destroy](MfaProvider* p) { destroy(p); });
  const std::string id = provider->info().id;
  if (auto s = registry.add(provider); !s) {
    provider.reset();
    return refuse("refused: " + s.error().message);
  }
  handles_.push_back(handle);
  report.loaded = true;
  report.message = "loaded provider '" + id + "'";
  return report;
}

std::vector<PluginReport> PluginLoader::load_directory(const std::string& dir,
                                                       const KeystepPluginHost& host,
                                                       ProviderRegistry& registry) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {PluginReport{dir, false, "not a directory"}};
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".so")
      paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<PluginReport> reports;
  for (const auto& path : paths) reports.push_back(load(path, host, registry));
  return reports;
}

}  // namespace keystep
