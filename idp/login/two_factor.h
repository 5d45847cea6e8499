#pragma once
// Two-factor authentication in the IdP core: the seed's challenge rule, enrollment from the
// profile page, the second login step with replay and brute-force protection, and the audit
// trail. Providers (plugin/) do the factor arithmetic; this class decides, persists through
// MfaStore with compare-and-set, and seals secrets.
//
// Brute-force protection (idp/throttle.h): wrong codes are counted per user and per client
// address, persisted; past LockoutPolicy's free failures each attempt must wait, doubling up
// to 15 minutes. A success resets the user's and the address's count.
//
// Thread-safety: every method may be called concurrently.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "idp/config/config.h"
#include "idp/login/login_flow.h"
#include "idp/login/throttle.h"
#include "idp/mail/notices.h"
#include "idp/outcome/outcome.h"
#include "idp/store/mfa_store.h"
#include "idp/store/store.h"
#include "plugin/registry.h"

namespace keystep {

inline constexpr const char* kTotpProvider = "totp";
inline constexpr const char* kRecoveryProvider = "recovery_code";

// The seed's rule: a login is challenged when the user-level setting or the account-level
// setting is on, and not when both are off.
constexpr bool two_factor_challenge_required(bool user_setting, bool account_setting) {
  return user_setting || account_setting;
}

// Account-level keys of Account::mfa_settings_json beside the per-provider objects (so no
// provider may take these ids):
// - "allowed_providers": the second factors (non-fallback provider ids) members may use;
//   absent means every registered one. Recovery codes stay available as the fallback of an
//   allowed method.
// - "enrollment_email": how enforcement emails help members enroll: "qr_code" (the seed's
//   email with the QR code and secret key; the default) or "link" (a single-use, expiring
//   enrollment link and never the secret).
inline constexpr const char* kAllowedProvidersKey = "allowed_providers";
inline constexpr const char* kEnrollmentEmailKey = "enrollment_email";
inline constexpr const char* kEnrollmentEmailQr = "qr_code";
inline constexpr const char* kEnrollmentEmailLink = "link";

// How long an administrator's pending registration (a key the server drew for their tool to
// program) waits for its confirmation (its state's kPendingExpiresAt, idp/store/mfa_store.h).
inline constexpr int64_t kPendingRegistrationTtl = 600;

// A pending authenticator-app secret not yet stored: the credential ready for the store
// (secret and view sealed) and what the user sees.
struct PendingTotp {
  MfaCredential credential;
  TotpEnrollmentView view;
};

// The result of a second-step attempt that was not accepted.
struct StepRefusal {
  // kDenied, kReplayed, kInvalidArgument, kLocked, kExpired (the challenge timed out:
  // nothing was checked, the page shows a fresh one), or kOutOfSync (a counter-based token ran
  // ahead of the look-ahead window: the page asks for its next code, for verify_resync)
  ErrorCode code = ErrorCode::kDenied;
  std::string message;                  // shown to the user
  int64_t retry_after = 0;              // seconds, with kLocked
  // With kOutOfSync: the credential the code belongs to, and the code sealed for the flow to
  // keep until the next one comes (base64; only this server can open it).
  int64_t resync_credential = 0;
  std::string resync_first{};
  // A key whose signature counter went backwards (the provider's kCloned; `code` is
  // kDenied): the factor, now marked possibly cloned, for the member's notice. id 0 otherwise.
  FactorSummary cloned{};
};

// The credential state member that marks a key whose signature counter went backwards
// (MfaProvider kCloned): shown on the profile, kept until the key is removed.
inline constexpr const char* kPossiblyCloned = "possibly_cloned";

// What the second step offers a user: the second factors of status().methods, the type of
// the factor used last (greatest last_used_at) first, then the others in status() order;
// and whether unused recovery codes remain.
struct SecondStepChoices {
  std::vector<std::string> methods;
  bool recovery_available = false;
};

// What TwoFactor::remove_factor did.
struct FactorRemoval {
  enum class Outcome {
    kRemoved,            // the factor is gone; others remain
    kTurnedOff,          // it was the last: it, the recovery codes and the user's setting went
    kNeedsConfirmation,  // it is the last: nothing changed, the user must confirm turning off
    kEnforced,           // it is the last and the account enforces 2FA: nothing changed
  };
  Outcome outcome = Outcome::kRemoved;
  FactorSummary factor;  // as it was listed
};

class TwoFactor final : public LoginPolicy {
 public:
  // `issuer` (the server's issuer URL) names the relying party providers are told about
  // (ChallengeContext::rp_id and origin); "" tells them none (tests of the core alone).
  // `caps` bounds the confirmed credentials a user holds of each provider. `rp_id` replaces
  // the issuer's host as the relying-party id (a parent domain, checked by the caller).
  TwoFactor(Store& store, MfaStore& mfa, const ProviderRegistry& registry, const SecretBox& box,
            Random& random, const Clock& clock, const std::string& issuer = "",
            CredentialCaps caps = {}, const std::string& rp_id = "");

  // LoginPolicy: the seed's rule, reading both settings fresh from the store.
  Result<bool> second_factor_required(const User& user) override;
  // "Does this sign-in need a second factor?", the one answer for every way in (the login
  // page, a step-up of an existing session, a signup): the seed's rule, or `request`
  // requires it (application_requires), or `request`
  // asks for kAcrMfa and the user has a second factor set up.
  Result<bool> second_factor_needed(const User& user, const AuthRequest& request);
  // "Does the application require a second factor of this user?": `request` requires it
  // (AuthRequest::require_mfa: the client's own setting, or an essential acr), or the user's
  // account requires it for the request's client (ClientStore::clients_requiring_two_factor).
  // Only `request`'s own requirement for a sign-in to Keystep's own pages (no client).
  Result<bool> application_requires(const User& user, const AuthRequest& request);

  // "Has this member set up 2FA?", the one answer the sign-in, the member list and the
  // enforcement email share: of `confirmed_providers` (the providers of a member's confirmed
  // credentials), the second factors that count for a member of `account`: registered on this
  // server, not a fallback, allowed by the account. A credential of a provider the server no
  // longer has, or of a method the account no longer allows, is ignored, so the member is
  // asked to set up an allowed one. In the order given, each once; empty: not set up.
  std::vector<std::string> second_factors(
      const Account& account, const std::vector<std::string>& confirmed_providers) const;

  // The user's state; its methods are second_factors() of the user's confirmed credentials,
  // its factors every confirmed credential of a non-fallback provider.
  Result<TwoFactorStatus> status(const User& user);

  // How many confirmed credentials of `provider_id` a user may hold (CredentialCaps).
  int cap_of(const std::string& provider_id) const;

  // A label as the user typed it, checked: surrounding spaces dropped, then 1 to
  // kMaxFactorLabel characters of valid UTF-8 without control characters. kInvalidArgument
  // with a sentence for the user otherwise.
  static constexpr size_t kMaxFactorLabel = 64;
  static Result<std::string> factor_label(std::string_view typed);
  // Removes the user's confirmed second factor `credential_id` (compare-and-set on
  // `version`, as the profile listed it). When none of the user's other factors counts
  // (second_factors()), it is the last: while the account enforces 2FA nothing changes
  // (kEnforced); else, unless `turn_off_if_last`, nothing changes either
  // (kNeedsConfirmation), and with it the user's other credentials (recovery codes, pending
  // enrollments) go too and their own setting turns off (kTurnedOff). kNotFound when it is
  // not one of the user's confirmed second factors, kConflict when it (or the user's other
  // factors) changed meanwhile.
  Result<FactorRemoval> remove_factor(const User& user, int64_t credential_id, int64_t version,
                                      bool turn_off_if_last, const std::string& address);
  // Renames the user's confirmed second factor `credential_id` (compare-and-set on
  // `version`, as the profile listed it). kNotFound when it is not one of the user's
  // confirmed second factors, kInvalidArgument for a bad label (factor_label), kConflict
  // when it changed meanwhile (e.g. used to sign in: the user reloads and renames again).
  Status rename_factor(const User& user, int64_t credential_id, int64_t version,
                       std::string_view label, const std::string& address);

  // Every registered second factor (non-fallback provider), by id.
  std::vector<std::string> second_factor_ids() const;
  // The second factors the account allows (its "allowed_providers", or every registered one).
  std::vector<std::string> allowed_providers(const Account& account) const;
  Result<bool> provider_allowed(const User& user, const std::string& provider_id);

  // Begins enrollment with any registered provider the account allows (kDenied otherwise),
  // while the user holds fewer than cap_of(provider_id) of its credentials (kConflict, with
  // a message naming the cap, otherwise): stores the pending credential (sealed),
  // replacing an older pending one of that provider, and returns what the user must see.
  Result<Enrollment> begin_enrollment(const User& user, const std::string& provider_id);
  // Stores `pending`, a registration of `member`'s begun by an administrator
  // (MfaProvider::begin_registration_for, secret in clear): sealed, unconfirmed, expiring
  // kPendingRegistrationTtl from now, replacing the member's other pending credential of its
  // provider. kConflict naming the cap when the member holds cap_of(provider) confirmed ones
  // already; kAlreadyExists when its lookup key is another credential's; the store's errors
  // otherwise. On success returns it as stored (its secret sealed).
  Result<MfaCredential> store_pending_registration(const User& member, MfaCredential pending);
  // Confirms `pending` (a pending credential of `member`, as stored) with `response`,
  // checked by its provider (finish_enrollment) under `account`'s settings, as a factor an
  // administrator registered: no recovery codes, the member's own setting left alone.
  // kDenied or kInvalidArgument for the response (with the provider's message),
  // kConflict for the cap or a change meanwhile, kAlreadyExists for a lookup key taken
  // meanwhile, kNotFound when it or its provider is gone. On success returns it confirmed.
  Result<MfaCredential> confirm_pending(const User& member, const Account& account,
                                        const MfaCredential& pending, std::string_view response);
  // The user's pending enrollment of provider_id as its page shows it again (the same QR
  // code and key), or kNotFound when there is none.
  Result<TotpEnrollmentView> pending_enrollment(const User& user, const std::string& provider_id);
  // Confirms the user's pending credential of provider_id with `response`, keeping the
  // user's other factors: turns the user-level setting on and, when the user holds no
  // recovery codes yet (their first factor), returns fresh ones (shown once); else returns
  // none. A wrong response enables nothing (kDenied).
  // With user_setting_on false (the setup an enforcing account forces at sign-in), the
  // credential is confirmed but the user's own setting is left as it is.
  // The credential is labelled with the provider's label, numbered when the user has one so
  // named already ("Authenticator app 2"). kConflict naming the cap when the user holds
  // cap_of(provider_id) confirmed credentials of it already. On success `added` (when given)
  // receives the confirmed factor.
  Result<std::vector<std::string>> confirm_enrollment(const User& user,
                                                      const std::string& provider_id,
                                                      std::string_view response,
                                                      const std::string& address,
                                                      bool user_setting_on = true,
                                                      FactorSummary* added = nullptr);
  // The authenticator-app secret an enforcement email sends `user`, made with `account`'s
  // settings, which may be the ones a request is about to store (kDenied when they do not
  // allow the app). Stores nothing: the caller stores the credential together with the change
  // that sends it (AdminStore::update_account_mfa), so the email, the stored secret and the
  // settings agree. The user's pending secret is kept when it was made with the same
  // settings, so an app it was already scanned into keeps working.
  Result<PendingTotp> totp_enrollment_for(const User& user, const Account& account);
  // Creates a new pending authenticator-app secret (replacing an older pending one).
  Result<TotpEnrollmentView> begin_totp_enrollment(const User& user);
  // Shows the pending secret again (same QR), or kNotFound when there is none.
  Result<TotpEnrollmentView> pending_totp_enrollment(const User& user);
  // confirm_enrollment for the authenticator app.
  Result<std::vector<std::string>> confirm_totp_enrollment(const User& user,
                                                           std::string_view code,
                                                           const std::string& address) {
    return confirm_enrollment(user, kTotpProvider, code, address);
  }
  // Turns the user-level setting off and removes the user's credentials, after checking the
  // password (via `password_ok`) or a current code of the user's first method.
  Status disable(const User& user, bool password_ok, std::string_view code,
                 const std::string& address);
  Result<std::vector<std::string>> regenerate_recovery_codes(const User& user,
                                                             const std::string& address);

  // The second step's methods for `user` (see SecondStepChoices).
  Result<SecondStepChoices> second_step_choices(const User& user);
  // The name a method is shown by: its provider's display name ("" for an unknown id).
  std::string method_name(const std::string& provider_id) const;
  // The RFC 8176 amr values a method proves (its provider's info().amr; none for an unknown id).
  std::vector<std::string> method_amr(const std::string& provider_id) const;
  // Begins the second step's challenge for `provider_id` (one of the user's second factors,
  // or the recovery code) over all the user's confirmed credentials of it: what the page
  // renders (input, client_options) and what the flow keeps until the POST (server_state,
  // expires_at). kNotFound when the user has no such credential or the account does not
  // allow the method, kInvalidArgument for an unknown method, the provider's error otherwise.
  Result<Challenge> begin_login_challenge(const User& user, const std::string& provider_id);

  // The second login step: checks `code` against the user's confirmed credentials of
  // `provider_id` with `challenge`, the one begin_login_challenge gave the page. A provider
  // that names the credential a response belongs to (lookup_key) has only that one checked;
  // otherwise each in turn, so N credentials of a typed-code provider give a guess N chances.
  // Every attempt counts once against the throttle (per user and per address), whatever the
  // number of credentials. On success returns the RFC 8176 amr values proven (the caller adds
  // "mfa"). On failure `refusal` says what to show; kExpired, past challenge.expires_at,
  // checks nothing and counts nothing: the caller shows a fresh challenge.
  // With `defer` an accepted code writes nothing: the credential's update (compare-and-set),
  // the cleared throttle keys and the audit event go into *defer, for the caller to commit
  // with the rest of the sign-in (FlowStore::commit_flow_step); if that finds the credential
  // used meanwhile (kReplayed), the caller refuses the code with refuse_replayed.
  Result<std::vector<std::string>> verify_login(const User& user, const std::string& provider_id,
                                                std::string_view code, const std::string& address,
                                                StepRefusal& refusal, const Challenge& challenge,
                                                FlowStep* defer = nullptr);
  // The second of the two codes a resynchronisation takes (RFC 4226 §7.4): `second`, typed
  // after verify_login refused `first` (sealed, StepRefusal::resync_first) of credential
  // `credential_id` with kOutOfSync. The provider's resync() checks the two are consecutive
  // codes of that credential; on success its counter moves past them (compare-and-set;
  // audited mfa.resynced) and the amr values are returned as by verify_login. A refusal
  // counts against the throttle like a wrong code (audited mfa.resync_refused); kLocked as
  // verify_login.
  Result<std::vector<std::string>> verify_resync(const User& user, const std::string& provider_id,
                                                 int64_t credential_id,
                                                 const std::string& sealed_first,
                                                 std::string_view second,
                                                 const std::string& address, StepRefusal& refusal);
  // verify_login for a code typed where no page showed a challenge (turning 2FA off with a
  // code): begins one and checks against it at once. A challenge the client had to see (one
  // with a server_state, e.g. WebAuthn's) cannot be answered so: kExpired.
  Result<std::vector<std::string>> verify_login(const User& user, const std::string& provider_id,
                                                std::string_view code, const std::string& address,
                                                StepRefusal& refusal, FlowStep* defer = nullptr);
  // The refusal of a code verify_login accepted with `defer` whose credential another
  // request used first (commit_flow_step's kReplayed): counted, audited and worded as a
  // replayed code (`ceremony`: the answer of a security key's ceremony, not a typed code).
  // Always an error.
  Result<std::vector<std::string>> refuse_replayed(const User& user, const std::string& provider_id,
                                                   const std::string& address,
                                                   StepRefusal& refusal, bool ceremony);

  // Whether a browser session may take a sensitive action (recovery codes, factors, turning
  // 2FA off, API tokens, account settings; NIST SP 800-63B §6.1.2.1, OWASP ASVS V3.3):
  // - its level: both factors passed whenever second_factor_required(user), so a
  //   password-only session from before the user turned 2FA on, or before the account
  //   enforced it, is not enough;
  // - with `recent`, the authentication at that level at most `max_age` seconds old.
  // kDenied (the user must sign in again at that level) with a message safe to show;
  // kUnavailable and the like when the store fails.
  Status check_session(const Session& session, const User& user, bool recent, int64_t max_age);

  // The box that seals secrets at rest (also the outbox's setup emails, idp/mail/mail.h).
  const SecretBox& box() const { return box_; }
  // `clear` as a store keeps it: its secret sealed and bound to its user and provider (a
  // credential an administrator registers, idp/admin).
  Result<MfaCredential> sealed(const MfaCredential& clear);
  // The server's providers (their settings and admin registration, idp/admin).
  const ProviderRegistry& registry() const { return registry_; }
  // What providers are told about a challenge (also an admin's registration, idp/admin):
  // the time and the relying party, and with an account its settings of `provider`.
  ChallengeContext challenge_context() const;
  ChallengeContext challenge_context(const Account& account, const MfaProvider& provider) const;
  // `account`'s settings of `provider` as stored, normalized by the provider; its defaults
  // when the account chose none (or the stored ones no longer validate).
  ProviderSettings settings_of(const Account& account, const MfaProvider& provider) const;

  void audit(const User& user, const std::string& event, const std::string& address,
             const std::string& detail = "");
  // The audit row audit() would append, logged (obs::security_event) but not stored: for a
  // caller that stores it with other writes.
  AuditEvent audit_logged(const User& user, const std::string& event, const std::string& address,
                          const std::string& detail = "");
  // Tells `user` through `notices` that `factor` was added or removed by themselves (the
  // profile, the forced setup at sign-in); `two_factor_off` when it was their last. The
  // change itself is done: a notice that cannot be queued is audited, not returned.
  void notify_member(FactorNotifier& notices, const User& user, FactorChange change,
                     const FactorSummary& factor, bool two_factor_off,
                     const std::string& address);

 private:
  Result<MfaCredential> unsealed(const MfaCredential& stored) const;
  Result<MfaCredential> new_recovery_codes(const User& user, std::vector<std::string>& shown);
  Result<TotpEnrollmentView> view_of(const User& user, const MfaCredential& pending);
  // kConflict naming the cap of provider_id, for a user who holds that many.
  Error cap_reached(const std::string& provider_id) const;
  // cap_reached when `credentials` (a user's) hold cap_of(provider_id) confirmed ones of
  // provider_id already; the store checks again when it confirms one.
  Status below_cap(const std::vector<MfaCredential>& credentials,
                   const std::string& provider_id) const;
  // `confirmed`'s label, or its provider's name when it has none, numbered (" 2", " 3" …)
  // when another of the user's `credentials` is labelled so already.
  std::string unique_label(const std::vector<MfaCredential>& credentials,
                           const MfaCredential& confirmed) const;
  Result<UserRef> user_ref(const User& user);
  // The provider's enrollment under `account`'s settings, given the user's `credentials` (as
  // stored: its confirmed ones of provider_id are the keys not to register again), its
  // pending credential sealed for the store (`to_store`). Stores nothing.
  Result<Enrollment> prepare_enrollment(const User& user, const Account& account,
                                        const std::string& provider_id,
                                        const std::vector<MfaCredential>& credentials,
                                        MfaCredential& to_store);
  // The user's confirmed credentials of provider_id, unsealed, with their stored rows
  // (parallel vectors). kNotFound when there are none or the account does not allow the
  // method; kInvalidArgument for an unknown provider.
  struct CredentialsOf {
    MfaProvider* provider = nullptr;
    std::vector<MfaCredential> stored;
    std::vector<MfaCredential> clear;
  };
  Result<CredentialsOf> credentials_of(const User& user, const std::string& provider_id);
  // Checks a code against the user's confirmed credentials of provider_id with `challenge`
  // (nullptr: begin one now): only the one the provider's lookup_key(code) names, when it
  // names one, else each in turn. Stores the accepted one's update with CAS, or with `defer`
  // puts it there (see verify_login). With kOutOfSync, `ahead` receives the credential the
  // code ran ahead on. With kCloned, the credential is marked kPossiblyCloned (compare-and-set)
  // and `cloned` describes it.
  Result<MfaCredential> check_code(const User& user, const std::string& provider_id,
                                   std::string_view code, const Challenge* challenge,
                                   int64_t& ahead, FactorSummary& cloned, FlowStep* defer);
  // kLocked, with `refusal` filled and the lockout audited, while a wait of `keys` (the
  // user's and the address's) is in force; the store's error; else success.
  Status not_locked_out(const User& user, const std::string& provider_id,
                        const std::vector<std::string>& keys, const std::string& address,
                        StepRefusal& refusal);
  // The refusal of a code that was checked and not accepted (kDenied, kReplayed,
  // kInvalidArgument, kNotFound, kCloned): counted against the throttle, audited, its message
  // (worded for a security key's ceremony when `ceremony`: it types no code).
  Result<std::vector<std::string>> refuse_code(const User& user, const std::string& provider_id,
                                               ErrorCode kind, const std::string& address,
                                               StepRefusal& refusal, bool ceremony = false);
  Result<std::vector<std::string>> verify_step(const User& user, const std::string& provider_id,
                                               std::string_view code, const std::string& address,
                                               StepRefusal& refusal, const Challenge* challenge,
                                               FlowStep* defer);

  Store& store_;
  MfaStore& mfa_;
  const ProviderRegistry& registry_;
  const SecretBox& box_;
  Random& random_;
  const Clock& clock_;
  Throttle throttle_;
  std::string rp_id_;   // the issuer's host
  std::string origin_;  // the issuer's scheme, host and port
  const CredentialCaps caps_;
};

}  // namespace keystep
