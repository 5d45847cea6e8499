#pragma once
// The one place where built-in MFA providers are registered.

#include "base/crypto/random.h"
#include "plugin/registry.h"

namespace keystep {

// Registers every built-in provider (TOTP, YubiKey OATH-HOTP, recovery codes). On failure names the provider.
Status register_builtin_providers(ProviderRegistry& registry, Random& random);

}  // namespace keystep
