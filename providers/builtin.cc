#include "providers/builtin.h"

namespace keystep {

Status register_builtin_providers(ProviderRegistry& registry, Random& random) {
  (void)registry;
  (void)random;
  return {};
}

}  // namespace keystep
