#pragma once
// Single-use recovery codes: the fallback when the user's other factor is lost.
//
// Credential layout (provider_id "recovery_code"):
//   secret  a random 32-byte HMAC-SHA-256 key, sealed by the caller like every secret
//   state   {"codes": [{"h": base64url(HMAC-SHA-256(secret, CODE)), "used": false}, ...]}
// where CODE is the normalized code: 10 characters of the alphabet 23456789ABCDEFGHJKMNPQRSTU
// VWXYZ (no 0/O, 1/I/L to misread), 49 bits each. The codes themselves are shown once and
// never stored; a stolen database without the sealing key reveals neither codes nor key.
//
// amr: {"otp"}. RFC 8176 has no value for look-up secrets. "otp" ("one-time password"; the
// RFCs it names are examples, "include") describes what the user proves: a single-use secret
// from a list they hold. "kba" was rejected: it means knowledge-based authentication
// (questions about the user, NIST SP 800-63-2), which recovery codes are not.
//
// Thread-safe: no mutable state; concurrent uses of one code are settled by the caller's
// compare-and-set on MfaCredential::version.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "plugin/mfa_provider.h"

namespace keystep {

class RecoveryCodesProvider final : public MfaProvider {
 public:
  static constexpr int kCodeCount = 10;

  // `random` supplies codes and keys and must outlive the provider.
  explicit RecoveryCodesProvider(Random& random);

  // id "recovery_code", display name "Recovery code", amr {"otp"}, kSoft, is_fallback.
  const ProviderInfo& info() const override;

  // Settings: none (the defaults of MfaProvider: null or an empty object, else
  // kInvalidArgument).

  // settings as validate_settings checks them. On success returns ten distinct fresh codes
  // as "XXXXX-XXXXX" in client_options["codes"] (holds_secret; input kNone: the user only
  // confirms having kept them) and the credential holding their hashes (confirmed = false
  // until finish_enrollment). The Random's failure is returned.
  Result<Enrollment> begin_enrollment(const UserRef& user,
                                      const ProviderSettings& settings) override;

  // The user has seen the codes; nothing to check. Returns `pending` confirmed, label left
  // empty (the display name). kInternal for a credential of another provider.
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext& context) override;

  // No server state, no client options, no expiry. The input is a typed code of 10 or 11
  // characters (the alphabet in either case and '-'), inputmode "text".
  Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                    const ChallengeContext& context) override;

  // lookup_key: none (the codes are hashed; a user holds one recovery-code credential).

  // `response` is normalized (spaces and '-' dropped, upper-cased); anything but 10 alphabet
  // characters then is kInvalidArgument. Every stored hash is compared in constant time. A
  // code already used is kReplayed, an unknown one kDenied. On success returns a copy with
  // that code marked used and last_used_at = context.now. A malformed credential is
  // kInternal.
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response,
                               const ChallengeContext& context) override;

 private:
  Random& random_;
  ProviderInfo info_;
};

// The number of unused codes in a recovery-code credential; 0 if it is malformed.
int remaining_codes(const MfaCredential& credential);

}  // namespace keystep
