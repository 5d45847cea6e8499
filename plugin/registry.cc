#include "plugin/registry.h"

namespace keystep {

Status ProviderRegistry::add(std::shared_ptr<MfaProvider> provider) {
  if (!provider || provider->info().id.empty())
    return make_error(ErrorCode::kInvalidArgument, "a provider needs an id");
  const std::string id = provider->info().id;
  if (!providers_.emplace(id, std::move(provider)).second)
    return make_error(ErrorCode::kAlreadyExists, "an MFA provider with id '" + id +
                                                     "' is already registered");
  return {};
}

MfaProvider* ProviderRegistry::find(const std::string& id) const {
  auto it = providers_.find(id);
  return it == providers_.end() ? nullptr : it->second.get();
}

std::vector<MfaProvider*> ProviderRegistry::all() const {
  std::vector<MfaProvider*> out;
  for (const auto& [id, provider] : providers_) out.push_back(provider.get());
  return out;
}

}  // namespace keystep
