#pragma once
// The set of MFA providers a server offers, by id. Filled once at start-up (built-ins, then
// shared-library plugins), read-only afterwards and then safe to share between threads.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "plugin/mfa_provider.h"

namespace keystep {

class ProviderRegistry {
 public:
  // kAlreadyExists when a provider with the same id is registered; the registry keeps the
  // first. kInvalidArgument for a null provider or an empty id.
  Status add(std::shared_ptr<MfaProvider> provider);
  // nullptr when absent.
  MfaProvider* find(const std::string& id) const;
  std::vector<MfaProvider*> all() const;

 private:
  std::map<std::string, std::shared_ptr<MfaProvider>> providers_;
};

}  // namespace keystep
