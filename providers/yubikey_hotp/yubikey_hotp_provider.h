#pragma once
// YubiKey OATH-HOTP (RFC 4226) through liboath: a key programmed in OATH-HOTP mode types an
// optional token identifier, a 6- or 8-digit code and Enter when touched (key_output.h).
//
// Credential layout (provider_id "yubikey_hotp"):
//   secret      the HMAC-SHA1 key, 16 to 20 bytes (20 for keys the server draws)
//   params      {"digits": 6|8}
//   counter     the last accepted moving factor, -1 before the key's first code; a code at
//               or below it is refused as kReplayed (the last one is recognised as such)
//   lookup_key  the key's 12-character token identifier, "" for a key programmed without
//   label       "YubiKey <identifier>" unless the administrator named it
//
// Account settings (ChallengeContext::settings at every check, so a change applies at once):
//   digits             the code lengths accepted for new keys: [6], [8] or [6, 8] (default)
//   look_ahead         codes accepted ahead of the expected one, 1 to 50 (default 10): a
//                      guess has look_ahead + 1 chances in 10^digits
//   sync_window        how far ahead (0 to 10000, default 1000) a code still starts a resync
//                      (RFC 4226 §7.4: the key's next code is asked for, and the two move the
//                      counter); 0, or not above look_ahead, turns resync off
//   allow_no_token_id  whether keys without a token identifier may be registered and used
//                      (default true)
//
// Thread-safe: the provider holds no mutable state; concurrent uses of one code are settled
// by the caller's compare-and-set on MfaCredential::version.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "plugin/mfa_provider.h"

namespace keystep {

class YubikeyHotpProvider final : public MfaProvider {
 public:
  // `random` draws enrollment secrets and must outlive the provider.
  explicit YubikeyHotpProvider(Random& random);

  // id "yubikey_hotp", display name "YubiKey", amr {"hwk", "otp"}, kHardware.
  const ProviderInfo& info() const override;

  // Settings as above. validate_settings accepts null or an object with any of the four and
  // returns all four; an unknown member, a wrong type or a value out of range is
  // kInvalidArgument naming it ("yubikey_hotp.look_ahead must be 1 to 50").
  ProviderSettings default_settings() const override;
  Result<ProviderSettings> validate_settings(const ProviderSettings& settings) const override;
  SettingsDescription describe_settings() const override;

  // Self-service ("Add a YubiKey" on the profile): a pending credential with a fresh 20-byte
  // secret, digits the first of settings.digits; client_options hold
  //   manual_key  the base32 secret in groups of four
  //   secret_hex, secret_base32, digits
  //   command     the ykman command that programs slot 2 with it
  //                 ykman otp hotp 2 <BASE32> --digits N --counter 0 --identifier -
  // holds_secret is true; the input asks for two outputs of the key (responses 2). The Random's
  // failure, or kInvalidArgument for bad settings.
  Result<Enrollment> begin_enrollment(const UserRef& user,
                                      const ProviderSettings& settings) override;

  // `response` holds the number of outputs the enrollment asked for: one (an administrator's
  // tool confirming a key it programmed) or two, consecutive (the profile, touched twice),
  // the first inside the look-ahead window from the key's start. Their token identifier
  // must be the pending one's when it has one, and becomes its lookup key otherwise (refused
  // when missing while settings.allow_no_token_id is false). On success returns `pending`
  // confirmed, counter at the last code's moving factor, labelled "YubiKey <identifier>"
  // unless it has a label. kDenied for wrong codes, kInvalidArgument for malformed ones,
  // kConflict if it is already confirmed.
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext& context) override;

  // No server state, no client options, no expiry. The input takes a key output: digits,
  // optionally after a 12-character identifier, modhex or digits (AZERTY's digit row too).
  // kInternal for a credential that is not a well-formed YubiKey credential.
  Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                    const ChallengeContext& context) override;

  // The token identifier `response` starts with, or nullopt without one or when malformed.
  std::optional<std::string> lookup_key(std::string_view response) const override;

  // `response`: one key output of params.digits digits (kInvalidArgument otherwise). Refused
  // with kDenied when it names another identifier than the credential's, or the credential
  // has none while the account's allow_no_token_id is false. The code is looked for at the
  // moving factors counter+1 .. counter+1+look_ahead: found, returns a copy with counter at
  // it and last_used_at = context.now. Else kReplayed when it is the code at `counter`,
  // kOutOfSync when it lies further ahead inside the sync window, kDenied otherwise.
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response,
                               const ChallengeContext& context) override;

  // `first` anywhere in counter+1 .. counter+1+max(sync_window, look_ahead) and `second` the
  // code right after it: returns a copy with counter at `second`'s moving factor. kDenied
  // otherwise (also for a pair that is not consecutive), kInvalidArgument when malformed.
  Result<MfaCredential> resync(const MfaCredential& credential, std::string_view first,
                               std::string_view second, const ChallengeContext& context) override;

  // An import of a key programmed elsewhere: `body` is
  //   {"secret": 40 hex characters or base32 (16 to 20 bytes), "digits": 6|8,
  //    "token_id": 12 modhex/digit characters (optional), "counter": the moving factor of the
  //    key's next code (default 0), "label": text (optional)}
  // returned confirmed with counter = body.counter - 1. kInvalidArgument naming the member
  // ("yubikey_hotp.digits must be …"), never repeating the secret.
  Result<MfaCredential> register_for(const UserRef& user, const nlohmann::json& body,
                                     const ProviderSettings& settings,
                                     const ChallengeContext& context) override;

  // The enrollment tool's first step: `body` is {"digits": 6|8 (default the first of
  // settings.digits), "token_id": (optional), "label": (optional)}, without a secret. A
  // pending credential with a fresh 20-byte secret and client_options
  //   {"secret_hex", "secret_base32", "digits", "token_id" ("" without)};
  // its enrollment asks for one key output.
  Result<Enrollment> begin_registration_for(const UserRef& user, const nlohmann::json& body,
                                            const ProviderSettings& settings,
                                            std::span<const MfaCredential> existing,
                                            const ChallengeContext& context) override;

  // {"token_id": the identifier the key types before each code (lookup_key), null for a key
  // programmed without one; "digits": 6|8}. Never the secret or the counter.
  nlohmann::json public_details(const MfaCredential& credential) const override;
  std::vector<DetailField> describe_details() const override;

 private:
  Random& random_;
  ProviderInfo info_;
};

// The RFC 4226 code of `secret` at `moving_factor` with 6 or 8 digits. For tests, the
// benchmark and tools; kInvalidArgument on bad parameters.
Result<std::string> hotp_code(std::string_view secret, uint64_t moving_factor, unsigned digits);

}  // namespace keystep
