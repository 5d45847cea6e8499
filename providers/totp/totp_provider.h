#pragma once
// Time-based one-time passwords (RFC 6238) for authenticator apps, computed by liboath.
//
// Credential layout (provider_id "totp"):
//   secret  the raw key bytes (20 random bytes for keys this provider generates)
//   params  {"algorithm": "SHA1"|"SHA256"|"SHA512", "digits": 6|8, "period": 30|60}
//   counter the last accepted time step, -1 before the first; a code for that step or an
//           older one is refused as kReplayed
//
// Codes are accepted for the current time step and one step either side (clock drift and
// typing time). Thread-safe: the provider holds no mutable state; concurrent uses of the same
// code are settled by the caller's compare-and-set on MfaCredential::version.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "plugin/mfa_provider.h"

namespace keystep {

class TotpProvider final : public MfaProvider {
 public:
  // `random` supplies enrollment secrets and must outlive the provider.
  explicit TotpProvider(Random& random);

  // id "totp", display name "Authenticator app", amr {"otp"}, kSoft.
  const ProviderInfo& info() const override;

  // Settings: {"algorithm": "SHA1"|"SHA256"|"SHA512", "digits": 6|8, "period": 30|60},
  // defaults SHA1, 6, 30. validate_settings accepts null or an object with any of the three
  // and returns all three; an unknown member, a wrong type or another value is
  // kInvalidArgument with the admin API's message ("totp.digits must be 6 or 8").
  ProviderSettings default_settings() const override;
  Result<ProviderSettings> validate_settings(const ProviderSettings& settings) const override;
  // The three settings as choices, with a note that they apply to new enrollments only.
  SettingsDescription describe_settings() const override;

  // `settings` as validate_settings checks them (kInvalidArgument otherwise), as is an empty
  // user.email or user.issuer_label. On success returns a pending (unconfirmed) credential
  // with a fresh 20-byte secret and params = the normalized settings; client_options hold
  //   qr_uri      otpauth://totp/ISSUER:EMAIL?secret=BASE32&issuer=ISSUER&algorithm=..&digits=..&period=..
  //               (label and issuer percent-encoded per RFC 3986, BASE32 unpadded RFC 4648)
  //   manual_key  the base32 secret in groups of four, for typing by hand
  // and holds_secret is true; the input is a numeric code of params.digits. The Random's
  // failure is returned.
  Result<Enrollment> begin_enrollment(const UserRef& user,
                                      const ProviderSettings& settings) override;

  // Checks `response` as verify() does. On success returns `pending` confirmed, labelled
  // "Authenticator app", with counter set to the accepted step and last_used_at =
  // context.now. kConflict if it is already confirmed.
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext& context) override;

  // No server state, no client options, no expiry: the code is typed. The input is a
  // numeric code whose length range spans the credentials' digits (6..8 without any).
  // kInternal for a credential that is not a well-formed TOTP credential.
  Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                    const ChallengeContext& context) override;

  // lookup_key: none (a TOTP code names no credential); resync: unsupported (time is the
  // counter).

  // The credential's params, {"algorithm", "digits", "period"}, which its app was set up
  // with; {} when they are not well-formed. Never the secret or the last step.
  nlohmann::json public_details(const MfaCredential& credential) const override;
  std::vector<DetailField> describe_details() const override;

  // Imports a key an authenticator app already holds (moving members from another server):
  // `body` is {"secret": "<base32>"}, RFC 4648 base32 of 16 to 64 bytes (RFC 4226 asks for
  // at least 128 bits), case and spaces ignored, "=" padding optional. On success returns a
  // confirmed credential for user.user_id with that secret, params = the normalized
  // `settings`, label "Authenticator app", counter -1 and created_at = context.now.
  // kInvalidArgument naming the member ("totp.secret …", "unknown member totp.x") otherwise,
  // or for bad settings; the message never repeats the secret.
  Result<MfaCredential> register_for(const UserRef& user, const nlohmann::json& body,
                                     const ProviderSettings& settings,
                                     const ChallengeContext& context) override;

  // `response` must be exactly params.digits ASCII digits, else kInvalidArgument. kDenied if
  // it matches none of the steps now-1..now+1 (now = context.now), kReplayed if the
  // matching step is not after credential.counter. On success returns a copy with counter =
  // the matched step and last_used_at = now. A credential that is not a well-formed TOTP
  // credential is kInternal.
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response,
                               const ChallengeContext& context) override;

 private:
  Random& random_;
  ProviderInfo info_;
};

// RFC 4648 base32 of data, without '=' padding (the form authenticator apps expect).
std::string totp_base32(std::string_view data);

// The RFC 6238 code of `secret` at unix time `now` (algorithm "SHA1", "SHA256" or "SHA512",
// 6..8 digits, period in seconds). For tests and tools; kInvalidArgument on bad parameters.
Result<std::string> totp_code(std::string_view secret, std::string_view algorithm, unsigned digits,
                              unsigned period, int64_t now);

}  // namespace keystep
