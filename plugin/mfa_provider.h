#pragma once
// The MFA provider interface, version 5 (KEYSTEP_MFA_ABI_VERSION in plugin/abi.h): the
// contract between the login flow (idp/) and one kind of second factor (providers/<name>/).
// Modelled on Keycloak's Authenticator SPI: enrollment, the login step and forced enrollment
// are separate calls; a wrong code is an outcome (kDenied), never an exception. Designed for
// every provider we ship or plan: a time-based code (TOTP), a counter-based code with a
// token-ID prefix (YubiKey OATH-HOTP), single-use codes (recovery codes) and a
// challenge-response key (FIDO2/WebAuthn).
//
// A sign-in's second step, as the core runs it:
//   1. begin_challenge(the user's credentials of this provider, context): what the browser
//      needs (client_options), what the flow keeps (server_state), until when (expires_at),
//      and what the page asks for (input);
//   2. the user answers; lookup_key(response) names the credential it belongs to, if the
//      provider can tell, and only that credential is checked; otherwise each in turn;
//   3. verify(credential, the kept challenge, response, context): the updated credential,
//      which the core stores with compare-and-set before it accepts the sign-in.
//
// Providers never persist anything: they get a credential, return an updated one, and the
// caller stores it with compare-and-set (MfaCredential::version), so two racing logins
// cannot both use the same code. Providers never see the database or HTTP.
//
// Thread-safety: the core calls one provider object from many threads at once; every member
// must be safe for that (the built-ins hold no mutable state).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace keystep {

enum class ProviderKind { kSoft, kHardware };

struct ProviderInfo {
  std::string id;                // stable, e.g. "totp"; stored with each credential
  std::string display_name;      // e.g. "Authenticator app"; the default credential label
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

// The longest label (bytes) a credential may be given, by a user or an administrator.
inline constexpr size_t kMaxCredentialLabel = 64;

// A user's credential of one provider. `secret` is held in clear only in memory: the
// caller seals it (AES-256-GCM) before it reaches a store. Every field is stored.
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
  std::string label{};       // shown to the user ("Authenticator app", "YubiKey 12345678");
                             // set by the provider at enrollment, "" means info().display_name
  std::string lookup_key{};  // matches lookup_key(response) of this credential's responses
                             // (a token ID, a credential ID); "" when the provider has none
};

// What the page asks of the user to answer a challenge or confirm an enrollment.
enum class InputKind {
  kTypedCode,         // a text field; the core drops spaces before the provider sees it
  kBrowserCeremony,   // a same-origin script talks to an authenticator (WebAuthn)
  kNone,              // nothing to enter: the user only confirms (recovery codes shown once)
};

struct ResponseInput {
  InputKind kind = InputKind::kTypedCode;
  // kTypedCode: the accepted length range (after spaces are dropped), the characters a code
  // may hold (the page's pattern; the provider still checks) and the HTML inputmode
  // ("numeric" shows a digit keypad, "text" a keyboard).
  int min_length = 0;
  int max_length = 0;
  std::string characters;
  std::string inputmode = "numeric";
  // How many responses in a row the user enters, one per line (a key touched twice to
  // confirm its enrollment); the provider gets them joined by "\n". 1 for nearly everything.
  int responses = 1;
  // kBrowserCeremony: the path of the one script that runs the ceremony, served from the
  // server's own origin (CSP script-src 'self'; no inline script), e.g. "/assets/webauthn.js".
  // It reads the challenge's client_options and posts the response as the form's code.
  std::string script;
};

// Provider settings chosen per account, an object (e.g. {"algorithm":"SHA256","digits":8}).
using ProviderSettings = nlohmann::json;

// What the core tells a provider about the sign-in it takes part in.
struct ChallengeContext {
  int64_t now = 0;      // unix seconds; providers never read a clock of their own
  std::string rp_id;    // the relying-party id: the issuer's host, e.g. "id.example.com"
  std::string origin;   // the issuer's origin, e.g. "https://id.example.com"
  // The user's account's settings of this provider, as stored (validate them again; null
  // when the account chose none): what a check depends on that can change after
  // enrollment, e.g. a counter-based token's look-ahead window.
  ProviderSettings settings;
};

// A login challenge over a user's credentials of one provider.
struct Challenge {
  // Kept by the login flow on the server and given back to verify(); never sent to the
  // client. Empty for typed codes; a FIDO2 challenge's random bytes.
  std::string server_state;
  // Sent to the client's script (kBrowserCeremony), e.g. WebAuthn
  // PublicKeyCredentialRequestOptions with allowCredentials. Null for typed codes.
  nlohmann::json client_options;
  // Unix seconds after which verify() answers kExpired; 0 when it never expires.
  int64_t expires_at = 0;
  ResponseInput input;
};

// Well-known members of Enrollment::client_options, the ones the core renders:
//   "qr_uri"      string: a URI the user scans, shown as a QR code (otpauth://…)
//   "manual_key"  string: a key to type or program by hand, grouped for reading
//   "codes"       array of strings: single-use codes, shown once
//   "ceremony"    object: options for the ceremony script, e.g. WebAuthn
//                 PublicKeyCredentialCreationOptions
//   "command"     string: a command that programs a hardware token with the key, shown to
//                 copy (e.g. `ykman otp hotp 2 …`)
// A provider may add other members for its own script; the core passes them on unread.
inline constexpr const char* kOptionQrUri = "qr_uri";
inline constexpr const char* kOptionManualKey = "manual_key";
inline constexpr const char* kOptionCodes = "codes";
inline constexpr const char* kOptionCeremony = "ceremony";
inline constexpr const char* kOptionCommand = "command";

// What the user needs to enroll, plus the pending credential the caller keeps until confirmed.
struct Enrollment {
  MfaCredential pending;
  nlohmann::json client_options = nlohmann::json::object();  // see the members above
  // True when client_options reveal key material (a TOTP secret, recovery codes): the core
  // seals them at rest and shows them only to the enrolling user.
  bool holds_secret = false;
  ResponseInput input;  // what confirming the enrollment asks for
};

// One setting as the admin page renders it: a choice among listed values.
struct SettingChoice {
  nlohmann::json value;  // as stored in the settings object, e.g. 8
  std::string label;     // as shown, e.g. "8 digits"
};
struct SettingField {
  std::string key;    // the member of the settings object, e.g. "digits"
  std::string label;  // e.g. "Digits"
  std::vector<SettingChoice> choices;  // in display order
};
struct SettingsDescription {
  std::vector<SettingField> fields;  // empty: the provider takes no settings
  std::string help;                  // one sentence for the admin, may be empty
};

// One member of a credential's public details (MfaProvider::public_details) as the admin page
// labels it.
struct DetailField {
  std::string key;    // the member of the details object, e.g. "aaguid"
  std::string label;  // e.g. "Model (AAGUID)"
};

class MfaProvider {
 public:
  virtual ~MfaProvider() = default;
  virtual const ProviderInfo& info() const = 0;

  // ---- Settings (per account; the admin API, console and admin page go through these)

  // The settings an account has before an admin chooses any, normalized (every member
  // present). Equal to *validate_settings(ProviderSettings::object()).
  virtual ProviderSettings default_settings() const { return ProviderSettings::object(); }
  // Checks settings an admin proposes: null or an object whose members the provider knows.
  // On success returns them normalized (defaults filled in). kInvalidArgument with a message
  // naming the member as "<provider id>.<member>" otherwise, safe to show to the admin.
  virtual Result<ProviderSettings> validate_settings(const ProviderSettings& settings) const {
    if (settings.is_null() || (settings.is_object() && settings.empty())) {
      return ProviderSettings::object();
    }
    return make_error(ErrorCode::kInvalidArgument, info().id + " takes no settings");
  }
  // The settings as the admin page shows and edits them.
  virtual SettingsDescription describe_settings() const { return {}; }

  // ---- Enrollment

  // Begins enrollment with fresh key material, under the account's `settings` (as stored:
  // validate them again). On success returns the pending (unconfirmed) credential and what
  // the client needs; persists nothing. kInvalidArgument for bad settings or user.
  virtual Result<Enrollment> begin_enrollment(const UserRef& user,
                                              const ProviderSettings& settings) = 0;
  // Begins enrollment as the core calls it: with `existing` (the user's confirmed
  // credentials of this provider, which a security key must not register again) and the
  // `context` of the server (the relying party; `context.settings` are `settings`). Same
  // contract as begin_enrollment, which the default calls: providers that need neither keep it.
  virtual Result<Enrollment> begin_enrollment_in_context(const UserRef& user,
                                                         const ProviderSettings& settings,
                                                         std::span<const MfaCredential> existing,
                                                         const ChallengeContext& context) {
    (void)existing, (void)context;
    return begin_enrollment(user, settings);
  }
  // Checks the user's first response against the pending credential. On success returns the
  // credential confirmed, with its replay guard, label and lookup_key set; kDenied on a
  // wrong response, kConflict if it is already confirmed.
  virtual Result<MfaCredential> finish_enrollment(const MfaCredential& pending,
                                                  std::string_view response,
                                                  const ChallengeContext& context) = 0;

  // ---- Sign-in

  // Starts a challenge over `credentials`, all confirmed and of this provider (a WebAuthn
  // allowCredentials list; typed codes ignore them). On success returns what the flow keeps
  // and what the client needs; the Random's failure and the like otherwise.
  virtual Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                            const ChallengeContext& context) = 0;
  // The lookup key of the credential `response` belongs to, read from the response itself
  // (a YubiKey code's token ID, a WebAuthn credential ID), or nullopt when the provider
  // cannot tell: then the core checks each credential in turn. Never fails: a response too
  // malformed to carry a key yields nullopt and verify() refuses it.
  virtual std::optional<std::string> lookup_key(std::string_view response) const {
    (void)response;
    return std::nullopt;
  }
  // Checks a login response against one credential and the challenge begin_challenge
  // returned. kDenied on a wrong response, kReplayed on a reused one, kInvalidArgument when
  // it is malformed, kExpired past challenge.expires_at, kCloned when the authenticator
  // looks copied (its signature counter went backwards), kOutOfSync when a counter-based
  // token's code lies beyond the look-ahead window but inside the sync window (the core then
  // asks for the token's next code and calls resync() with both; the code alone is refused). On success returns the updated
  // credential, which the caller must store with compare-and-set before accepting the login.
  virtual Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                                       std::string_view response,
                                       const ChallengeContext& context) = 0;
  // The RFC 8176 amr values a sign-in with `verified` (what verify() just returned) proves:
  // info().amr by default; a security key adds "user" and "pin" when it verified its user.
  virtual std::vector<std::string> amr_of(const MfaCredential& verified) const {
    (void)verified;
    return info().amr;
  }
  // Resynchronises a counter-based token from two consecutive responses typed now (the
  // token's counter ran ahead of the server's look-ahead window): `first` the one verify()
  // answered kOutOfSync, `second` the next. On success returns the credential with its
  // counter at `second`'s (the caller stores it with compare-and-set); kDenied when the two
  // are not consecutive codes of the credential inside its sync window. Providers without a counter keep the default: kInvalidArgument.
  virtual Result<MfaCredential> resync(const MfaCredential& credential, std::string_view first,
                                       std::string_view second, const ChallengeContext& context) {
    (void)credential, (void)first, (void)second, (void)context;
    return make_error(ErrorCode::kInvalidArgument,
                      info().display_name + " has nothing to resynchronise");
  }

  // ---- What an administrator sees of a credential (the admin API's credential lists, the
  // admin page's member screen)

  // The public facts about `credential` (of this provider, confirmed or pending) that help an
  // administrator tell keys apart and build policies from them, as a JSON object of the
  // members describe_details() names, e.g. a security key's model (AAGUID) and attestation
  // format, a token's printed identifier, an app's digits. Never a secret, key material,
  // sealed data or replay state (counters, challenges): the answer is shown as is. Never
  // fails: members the credential does not record are null or left out. {} by default.
  virtual nlohmann::json public_details(const MfaCredential& credential) const {
    (void)credential;
    return nlohmann::json::object();
  }
  // The members public_details() may hold, in the order the admin page shows them, with
  // their labels. Empty by default.
  virtual std::vector<DetailField> describe_details() const { return {}; }

  // ---- Registration by an administrator (the admin API's POST …/credentials)

  // Makes a credential for `user` from what an administrator sends on the user's behalf:
  // `body` is the request's JSON object without its "provider" member, and the provider
  // decides what it holds (an imported secret, a token's ID). `settings` are the account's,
  // as stored: validate them again. On success returns the credential confirmed, with its
  // secret in clear (the caller seals it), params, label and lookup_key set and counter at
  // its replay guard; the caller stores it and issues no recovery codes for it.
  // kInvalidArgument with a message safe to show the administrator, naming a member as
  // "<provider id>.<member>", for a body the provider refuses. Providers whose credentials
  // only their user can make (a key that signs a ceremony in the user's browser) keep the
  // default.
  virtual Result<MfaCredential> register_for(const UserRef& user, const nlohmann::json& body,
                                             const ProviderSettings& settings,
                                             const ChallengeContext& context) {
    (void)user, (void)body, (void)settings, (void)context;
    return make_error(ErrorCode::kInvalidArgument,
                      info().display_name + " cannot be registered by an administrator");
  }
  // Begins a registration by an administrator in which the server draws the key material
  // (a hardware token the administrator's tool then programs) or the challenge (a security
  // key the tool has sign a registration ceremony for the issuer's origin): `body` as for
  // register_for, without a secret; `existing` the user's confirmed credentials of this
  // provider (a key already registered is excluded). On success returns the pending
  // (unconfirmed) credential for `user` with its secret in clear (the caller seals it),
  // params, label and lookup_key set as far as known, and in client_options what the tool
  // needs, once (holds_secret true when that is key material); the caller stores it pending
  // and confirms it with finish_enrollment() and the token's or key's response. Persists
  // nothing. kInvalidArgument as register_for. Providers an administrator's tool cannot
  // register this way keep the default, kNotFound: the caller then hands the body to
  // register_for, whose message tells the administrator what it lacks.
  virtual Result<Enrollment> begin_registration_for(const UserRef& user,
                                                    const nlohmann::json& body,
                                                    const ProviderSettings& settings,
                                                    std::span<const MfaCredential> existing,
                                                    const ChallengeContext& context) {
    (void)user, (void)body, (void)settings, (void)existing, (void)context;
    return make_error(ErrorCode::kNotFound,
                      info().display_name + " has no key the server draws for an administrator");
  }
};

}  // namespace keystep
