#pragma once
// FIDO2 / WebAuthn security keys as a second factor (WebAuthn Level 3), with signatures
// checked by libfido2 and CBOR decoded by libcbor (providers/webauthn/attestation.h,
// assertion.h); clientDataJSON is parsed as JSON (client_data.h).
//
// Credential layout (provider_id "webauthn"):
//   secret      empty: nothing about a key is secret on the server
//   lookup_key  the credential id, base64url (unpadded): what lookup_key(response) returns
//   params      while pending: the account's settings at begin_enrollment (the policy the
//               registration is held to). Once confirmed:
//               {"alg": -7|-8|-257, "public_key": base64url of libfido2's key form,
//                "aaguid": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "fmt": "packed"|
//                "fido-u2f"|"none", "attestation": "none"|"self"|"basic"|"trusted",
//                "backup_eligible": bool, "transports": [..], "user_verification": policy,
//                "user_verified": bool (at registration; absent for keys registered before
//                it was recorded)}
//   state       while pending: {"challenge": base64url}. Once confirmed:
//               {"backup_state": bool, "user_verified": bool (the last use),
//                "last_challenge": base64url (the last accepted one, the replay guard)}
//   counter     the authenticator's signature counter as last seen (0 for keys without one)
//
// User handle: the 8 bytes of the user id, big-endian (user_handle()); no personal data.
// Thread-safe: the provider holds no mutable state; concurrent uses of one key are settled
// by the caller's compare-and-set on MfaCredential::version (counter and last_challenge
// change on every accepted use, so a replayed assertion loses).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "plugin/mfa_provider.h"
#include "providers/webauthn/attestation.h"

namespace keystep {

class WebAuthnProvider final : public MfaProvider {
 public:
  // Seconds a ceremony's challenge stays valid (registration and sign-in); the options'
  // timeout is the same in milliseconds.
  static constexpr int64_t kCeremonySeconds = 300;
  // The page's script (MfaProvider's kBrowserCeremony input).
  static constexpr const char* kScript = "/assets/webauthn.js";

  // `random` supplies challenges and must outlive the provider. `roots` are the trust
  // anchors of attestation certificates: settings {"attestation": "trusted"} need some.
  WebAuthnProvider(Random& random, webauthn::AttestationRoots roots);

  // id "webauthn", display name "Security key", amr {"hwk"}, kHardware.
  const ProviderInfo& info() const override;

  // Settings: {"user_verification": "discouraged"|"preferred"|"required",
  //            "attestation": "none"|"trusted", "aaguids": ["<AAGUID>", ...]},
  // defaults "discouraged", "none", []. "attestation": "trusted" accepts only keys whose
  // attestation chains to a configured root (kInvalidArgument when the server has none);
  // "aaguids" (at most 100, canonical UUID form, any case, returned lower-case) allows only
  // those models and requires "attestation": "trusted", since an AAGUID is believed only
  // from a verified attestation. An unknown member, a wrong type or value is
  // kInvalidArgument naming it ("webauthn.user_verification must be ...").
  ProviderSettings default_settings() const override;
  Result<ProviderSettings> validate_settings(const ProviderSettings& settings) const override;
  // user_verification and attestation as choices ("trusted" only when the server has roots);
  // the help names the AAGUID allow-list, set through the admin API.
  SettingsDescription describe_settings() const override;

  // begin_enrollment_in_context without other keys to exclude and without a context: the
  // options carry no rp.id (the browser then uses the page's host, the default rp id).
  Result<Enrollment> begin_enrollment(const UserRef& user,
                                      const ProviderSettings& settings) override;
  // Begins registering a key for `user` under the account's `settings` (validated again:
  // kInvalidArgument). On success returns a pending credential (params = the normalized
  // settings, state = {"challenge"}, created_at = context.now) and client_options
  // {"ceremony": PublicKeyCredentialCreationOptionsJSON} with a fresh 32-byte challenge,
  // rp {name: user.issuer_label, id: context.rp_id unless empty}, user {id: user_handle,
  // name and displayName: user.email}, pubKeyCredParams ES256, EdDSA, RS256,
  // excludeCredentials = `existing` (the user's confirmed keys of this provider),
  // residentKey "discouraged", userVerification and attestation ("none" or "direct") from
  // the settings, timeout kCeremonySeconds. The input is the ceremony script. kInvalidArgument
  // for an empty email or issuer label; the Random's failure is returned.
  Result<Enrollment> begin_enrollment_in_context(const UserRef& user,
                                                 const ProviderSettings& settings,
                                                 std::span<const MfaCredential> existing,
                                                 const ChallengeContext& context) override;
  // Checks a registration response (PublicKeyCredential.toJSON() of navigator.credentials
  // .create(), as JSON text) against `pending`: clientDataJSON (type webauthn.create, the
  // pending challenge, context.origin, not cross-origin), the attestation (rpIdHash of
  // context.rp_id, user presence, user verification when the settings require it, the
  // signature, see attestation.h), then the settings: "trusted" needs a trusted attestation,
  // "aaguids" needs the verified AAGUID among them. On success returns the credential
  // confirmed as laid out above, last_used_at = context.now.
  // kConflict if already confirmed; kExpired kCeremonySeconds after pending.created_at;
  // kInvalidArgument for a malformed response; kDenied for a refused one (message safe to
  // show); kInternal for a pending credential this provider did not make. The label is the
  // pending credential's, else "Security key".
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext& context) override;

  // An administrator's tool registering a key on the user's behalf (keystep-enroll fido2,
  // through the admin API): `body` is {} or {"label": 1 to 64 characters}; otherwise as
  // begin_enrollment_in_context, with the label on the pending credential (finish_enrollment keeps
  // it). kInvalidArgument naming "webauthn.label" or an unknown member of the body.
  Result<Enrollment> begin_registration_for(const UserRef& user, const nlohmann::json& body,
                                            const ProviderSettings& settings,
                                            std::span<const MfaCredential> existing,
                                            const ChallengeContext& context) override;

  // A fresh 32-byte challenge over `credentials` (confirmed webauthn credentials, else
  // kInternal): server_state is its base64url, expires_at = context.now + kCeremonySeconds,
  // client_options a PublicKeyCredentialRequestOptionsJSON {challenge, rpId (context.rp_id),
  // timeout, userVerification (the strictest of the credentials' policies),
  // allowCredentials [{type, id, transports}]}. The input is the ceremony script.
  // "The strictest" counts the account's current user_verification (context.settings) too,
  // so a policy raised after enrollment holds at the next sign-in.
  Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                    const ChallengeContext& context) override;

  // The response's credential id, base64url as lookup_key stores it; nullopt when the
  // response is not JSON with a base64url "id" (and "rawId", if present, equal to it).
  std::optional<std::string> lookup_key(std::string_view response) const override;

  // Checks a sign-in response (PublicKeyCredential.toJSON() of navigator.credentials.get(),
  // as JSON text) as WebAuthn Level 3 §7.2 does: the credential id is the credential's
  // (else kDenied), a userHandle if sent is the user's; clientDataJSON type webauthn.get,
  // challenge.server_state's challenge, context.origin, not cross-origin; the assertion
  // (rpIdHash of context.rp_id, user presence, user verification when the credential's
  // policy or the account's current one (context.settings) is "required", the signature, see
  // assertion.h); backup eligibility unchanged.
  // kExpired past challenge.expires_at; kReplayed when this challenge was already accepted
  // for this key; kCloned when the stored or received counter is non-zero and the received
  // one is not greater. On success returns a copy with counter, last_used_at = context.now,
  // and state backup_state, user_verified and last_challenge updated.
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response, const ChallengeContext& context) override;
  // {"hwk"}, plus "user" and "pin" when the key verified its user (state user_verified):
  // a PIN or a fingerprint, which the relying party cannot tell apart.
  std::vector<std::string> amr_of(const MfaCredential& verified) const override;

  // A confirmed key's public facts, each null when its row lacks it or holds another type:
  //   aaguid              the model, canonical lower case; null for a key that names none
  //                       (all zeros: U2F keys, and browsers asked for no attestation). Only
  //                       "attestation": "trusted" vouches for it
  //   attestation_format  "packed", "fido-u2f", "none", "tpm", as received
  //   attestation         "trusted", "basic", "self" or "none" (attestation.h)
  //   user_verified       whether the key verified its user when registered
  //   backup_eligible     whether the key may be backed up (a synced passkey); backed_up
  //                       whether it was at its last use
  //   transports          the ways the browser said the key is reached, e.g. ["usb"]
  // Never the public key, the counter or a challenge. {} for a pending registration.
  nlohmann::json public_details(const MfaCredential& credential) const override;
  std::vector<DetailField> describe_details() const override;

 private:
  Random& random_;
  webauthn::AttestationRoots roots_;
  ProviderInfo info_;
};

// The WebAuthn user handle of a user: the 8 bytes of `user_id`, big-endian.
std::string user_handle(int64_t user_id);

}  // namespace keystep
