#include "providers/builtin.h"

#include <memory>
#include <string>
#include <utility>

#include "providers/recovery_codes/recovery_codes_provider.h"
#include "providers/totp/totp_provider.h"
#include "providers/webauthn/webauthn_provider.h"
#include "providers/yubikey_hotp/yubikey_hotp_provider.h"

namespace keystep {
namespace {

Status add(ProviderRegistry& registry, std::shared_ptr<MfaProvider> provider) {
  const std::string id = provider->info().id;
  Status s = registry.add(std::move(provider));
  if (!s) {
    return make_error(s.error().code, "built-in MFA provider '" + id + "': " + s.error().message);
  }
  return {};
}

}  // namespace

Status register_builtin_providers(ProviderRegistry& registry, Random& random,
                                  const BuiltinOptions& options) {
  if (Status s = add(registry, std::make_shared<TotpProvider>(random)); !s) return s;
  if (Status s = add(registry, std::make_shared<YubikeyHotpProvider>(random)); !s) return s;
  if (Status s = add(registry,
                     std::make_shared<WebAuthnProvider>(random, options.attestation_roots));
      !s) {
    return s;
  }
  return add(registry, std::make_shared<RecoveryCodesProvider>(random));
}

}  // namespace keystep
