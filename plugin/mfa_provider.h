#pragma once
// The MFA provider interface: the contract between the login flow (idp/) and one second
// factor (providers/<name>/). Modelled on Keycloak's Authenticator SPI: enrollment, the login
// step and forced enrollment are separate calls; a wrong code is an outcome (kDenied), never
// an exception. Designed for every provider we will ship: a time-based code (TOTP), a
// counter-based code with a token-ID prefix (YubiKey OATH-HOTP), single-use codes (recovery
// codes) and a challenge-response key (FIDO2).
//
// Providers never persist anything: they get a credential, return an updated one, and the
// caller stores it with compare-and-set (MfaCredential::version), so two racing logins
// cannot both use the same code. Providers never see the database or HTTP.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace keystep {

class Random;

enum class ProviderKind { kSoft, kHardware };

struct ProviderInfo {
  std::string id;                // stable, e.g. "totp"; stored with each credential
  std::string display_name;      // e.g. "Authenticator app"
  std::vector<std::string> amr;  // RFC 8176 values it proves, e.g. {"otp"}
  ProviderKind kind = ProviderKind::kSoft;
  bool is_fallback = false;      // recovery codes: usable only in place of another factor
};

// Who is enrolling, as an authenticator app shows it.
struct UserRef {
  int64_t user_id = 0;
  int64_t account_id = 0;
  std::string email;
  std::string issuer_label;  // the account's label, e.g. "Harness-Inc"
};

// A user's credential for one provider. `secret` is held in clear only in memory: the
// caller seals it (AES-256-GCM) before it reaches a store.
struct MfaCredential {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string provider_id;
  std::string secret;        // provider-owned key material (e.g. the TOTP key bytes)
  nlohmann::json params;     // provider-owned public parameters (algorithm, digits, period…)
  nlohmann::json state;      // provider-owned mutable state (e.g. hashed recovery codes)
  int64_t counter = -1;      // last accepted time step / counter: the replay guard
  int64_t version = 0;       // compare-and-set version, bumped by every stored update
  bool confirmed = false;    // false while enrollment awaits its first valid response
  int64_t created_at = 0;
  int64_t last_used_at = 0;
};

// What the user sees to enroll, plus the pending credential the caller keeps until confirmed.
struct Enrollment {
  MfaCredential pending;
  std::string otpauth_uri;               // typed-code providers: for the QR code
  std::string display_secret;            // the secret grouped for typing by hand
  std::vector<std::string> shown_codes;  // single-use codes shown once (recovery codes)
};

// Provider settings chosen per account (e.g. {"algorithm":"SHA256","digits":8,"period":60}).
using ProviderSettings = nlohmann::json;

// A login challenge: empty for typed codes; a server nonce and options for FIDO2.
struct Challenge {
  std::string data;
};

class MfaProvider {
 public:
  virtual ~MfaProvider() = default;
  virtual const ProviderInfo& info() const = 0;

  // Begins enrollment with fresh key material. kInvalidArgument for bad settings.
  virtual Result<Enrollment> begin_enrollment(const UserRef& user,
                                              const ProviderSettings& settings) = 0;
  // Checks the user's first response against the pending credential. On success returns the
  // credential, confirmed, with its replay guard set; kDenied on a wrong response.
  virtual Result<MfaCredential> finish_enrollment(const MfaCredential& pending,
                                                  std::string_view response, int64_t now) = 0;
  virtual Result<Challenge> begin_challenge(const MfaCredential& credential) = 0;
  // Checks a login response. kDenied on a wrong response, kReplayed on a reused one,
  // kInvalidArgument when it is malformed. On success returns the updated credential, which
  // the caller must store with compare-and-set before accepting the login.
  virtual Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                                       std::string_view response, int64_t now) = 0;
};

}  // namespace keystep
