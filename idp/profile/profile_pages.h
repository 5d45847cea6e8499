#pragma once
// Keystep's own pages for a signed-in user (the profile): their second factor on and off,
// the authenticator app's enrollment, new recovery codes. Without a session, or with one
// too old for a sensitive action, they start a sign-in that comes back to the page.
//
// Thread-safety: every method may be called concurrently.

#include <optional>
#include <string>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "idp/config/config.h"
#include "idp/login/session_auth.h"
#include "idp/login/throttle.h"
#include "idp/login/two_factor.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

class ProfilePages {
 public:
  // `sign_in` starts the sign-ins that come back to these pages.
  ProfilePages(const IdpConfig& config, Store& store, const PasswordHasher& hasher,
               TwoFactor& two_factor, SignInStarter& sign_in, const Clock& clock);

  // GET /profile
  WebOutcome profile(const BrowserContext& browser);
  // POST /profile/two-factor: the toggle. action=enable starts enrollment (a new secret and
  // the Enable page), action=disable turns it off given password or code.
  WebOutcome profile_two_factor(const Params& form, const BrowserContext& browser);
  // GET /profile/two-factor/enable: the pending secret's QR code and key again.
  WebOutcome profile_enable_page(const BrowserContext& browser);
  // POST /profile/two-factor/enable with code: confirms, shows the recovery codes once.
  WebOutcome profile_enable_submit(const Params& form, const BrowserContext& browser);
  // POST /profile/recovery-codes: new codes, shown once.
  WebOutcome profile_recovery_codes(const Params& form, const BrowserContext& browser);

 private:
  struct SignedIn {
    Session session;
    User user;
    std::string csrf_token;
  };
  Result<std::optional<SignedIn>> signed_in(const BrowserContext& browser);
  // The signed-in user for a profile POST, checking the session CSRF token; else `failure`.
  std::optional<SignedIn> profile_post(const Params& form, const BrowserContext& browser,
                                       WebOutcome& failure);
  Result<WebOutcome> profile_view(const SignedIn& who, WebOutcome::Kind kind,
                                  std::optional<Fault> fault = std::nullopt);
  // The step-up gate of sensitive actions (TwoFactor::check_session): nullopt when `session`
  // may act; else a sign-in for `user` at the demanded level that comes back to `local_path`.
  Result<std::optional<WebOutcome>> step_up_needed(const Session& session, const User& user,
                                                   bool recent, const std::string& local_path,
                                                   const BrowserContext& browser);
  // 2FA was just turned on for who.user: ends their other sessions (with their tokens) and,
  // when a code was just typed, records it as this session's second factor.
  Status after_two_factor_on(const SignedIn& who, bool proved_second_factor,
                             const std::string& address);

  const IdpConfig& config_;
  Store& store_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  SignInStarter& sign_in_;
  Throttle throttle_;  // failed passwords, per email: the same keys (in the store) as sign-in
  const Clock& clock_;
};

}  // namespace keystep
