#pragma once
// The one place where built-in MFA providers are registered.

#include "base/crypto/random.h"
#include "plugin/registry.h"
#include "providers/webauthn/attestation.h"

namespace keystep {

// What the built-in providers take from the server's configuration.
struct BuiltinOptions {
  // Trust anchors of security keys' attestation certificates (the configuration's
  // webauthn attestation roots file); none: accounts cannot require trusted attestation.
  webauthn::AttestationRoots attestation_roots;
};

// Registers every built-in provider (TOTP, YubiKey OATH-HOTP, security keys (WebAuthn),
// recovery codes). `random` must outlive the registry. On failure names the provider.
Status register_builtin_providers(ProviderRegistry& registry, Random& random,
                                  const BuiltinOptions& options = {});

}  // namespace keystep
