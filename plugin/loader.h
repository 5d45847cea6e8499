#pragma once
// Loads MFA provider plugins (shared libraries, *.so) from a directory into a registry.
// A library that cannot be opened, lacks the entry point, was built for another ABI version,
// fails to create its provider, or duplicates a registered id is refused with a message; the
// others still load and the server still starts.

#include <memory>
#include <string>
#include <vector>

#include "plugin/abi.h"
#include "plugin/registry.h"

namespace keystep {

struct PluginReport {
  std::string path;
  bool loaded = false;
  std::string message;  // "loaded provider 'x'" or why it was refused
};

class PluginLoader {
 public:
  PluginLoader() = default;
  ~PluginLoader();  // unloads the libraries; destroy every provider they made first
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;

  // Loads one library. Not thread-safe; call at start-up.
  PluginReport load(const std::string& path, const KeystepPluginHost& host,
                    ProviderRegistry& registry);
  // Loads every *.so in `dir` in name order. A missing directory yields one refused report.
  std::vector<PluginReport> load_directory(const std::string& dir, const KeystepPluginHost& host,
                                           ProviderRegistry& registry);

 private:
  std::vector<void*> handles_;
};

}  // namespace keystep
