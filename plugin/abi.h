#pragma once
// The ABI of MFA provider shared libraries. A plugin exports exactly one C symbol,
// `keystep_mfa_plugin`, returning a static descriptor. The loader refuses a library whose
// abi_version differs from KEYSTEP_MFA_ABI_VERSION (the C++ types in mfa_provider.h cross
// the boundary, so plugins must be built against the same headers and compiler ABI).
//
// The version is bumped whenever a type in mfa_provider.h or here changes shape:
//   1  the first interface: one credential per challenge, TOTP-shaped enrollment
//   2  challenges over several credentials with a context, kept server state and expiry;
//      enrollment client options; lookup keys; resync; kCloned; provider-owned settings;
//      the second step's input kind
//   3  the account's settings in ChallengeContext; ResponseInput::responses; kOutOfSync;
//      begin_registration_for (a server-drawn key an administrator's tool programs)
//   4  begin_enrollment_in_context (the user's keys to exclude, the relying party); amr_of;
//      begin_registration_for takes the user's credentials of the provider (a security
//      key's excludeCredentials)
//   5  public_details and describe_details (what an administrator sees of a credential);
//      DetailField

#include <cstdint>

namespace keystep {
class MfaProvider;
class Random;
class Clock;
}  // namespace keystep

#define KEYSTEP_MFA_ABI_VERSION 5u
#define KEYSTEP_MFA_ENTRY_POINT "keystep_mfa_plugin"

extern "C" {

// What the host gives a plugin's factory. Pointers stay valid for the server's lifetime.
struct KeystepPluginHost {
  keystep::Random* random;
};

struct KeystepPluginDescriptor {
  uint32_t abi_version;  // KEYSTEP_MFA_ABI_VERSION the plugin was built with
  const char* name;      // for messages, e.g. "example-pin"
  // Creates the provider; nullptr on failure. Ownership passes to the host, which releases
  // it with destroy().
  keystep::MfaProvider* (*create)(const KeystepPluginHost* host);
  void (*destroy)(keystep::MfaProvider* provider);
};

typedef const KeystepPluginDescriptor* (*KeystepPluginEntry)(void);

}  // extern "C"

// In a plugin: KEYSTEP_MFA_PLUGIN(descriptor) defines the entry point.
#define KEYSTEP_MFA_PLUGIN(descriptor)                                           \
  extern "C" __attribute__((visibility("default"))) const KeystepPluginDescriptor* \
  keystep_mfa_plugin(void) {                                                     \
    return &(descriptor);                                                        \
  }
