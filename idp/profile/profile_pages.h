#pragma once
// Keystep's own pages for a signed-in user (the profile): their two-factor setting on and
// off, their second factors (listed, added, renamed, removed), new recovery codes. Without a
// session they start a sign-in that comes back to the page; with one too old or at too low
// a level for a sensitive action, the older actions start that sign-in at once and the
// factor actions show a "Confirm it's you" step that starts it (GitHub's sudo mode).
// Adding or removing a factor emails the user (the outbox). "Apps with access" lists the
// third-party applications the user consented to, each revocable.
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
#include "idp/mail/notices.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

class ProfilePages {
 public:
  // `sign_in` starts the sign-ins that come back to these pages; `outbox` (the mail queue of
  // the store's database) takes the notices.
  ProfilePages(const IdpConfig& config, Store& store, FactorNotifier& notices,
               const PasswordHasher& hasher, TwoFactor& two_factor, SignInStarter& sign_in,
               const Clock& clock);

  // GET /profile
  WebOutcome profile(const BrowserContext& browser);
  // POST /profile/two-factor: the toggle. action=enable starts enrollment (a new secret and
  // the Enable page), action=disable turns it off given password or code.
  WebOutcome profile_two_factor(const Params& form, const BrowserContext& browser);
  // GET /profile/two-factor/enable[?method=…] (default: the authenticator app): the pending
  // enrollment's QR code and key again.
  WebOutcome profile_enable_page(const Params& query, const BrowserContext& browser);
  // POST /profile/two-factor/enable with code and method (default: the authenticator app):
  // confirms the pending enrollment. The user's first factor turns their own setting on and
  // shows new recovery codes once, as their own page; a further one leaves both as they are
  // and shows the profile. Emails the user.
  WebOutcome profile_enable_submit(const Params& form, const BrowserContext& browser);
  // POST /profile/two-factor/add with method: begins enrolling a factor of that method (one
  // the account allows, below its cap) and redirects to its enable page.
  WebOutcome profile_add_factor(const Params& form, const BrowserContext& browser);
  // POST /profile/two-factor/rename with credential, version and label.
  WebOutcome profile_rename_factor(const Params& form, const BrowserContext& browser);
  // POST /profile/two-factor/remove with credential, version and, to remove the user's last
  // factor when only their own setting asks for 2FA, confirm=yes (without it: the page that
  // asks). The last factor of a member of an enforcing account is never removed (409).
  // Emails the user.
  WebOutcome profile_remove_factor(const Params& form, const BrowserContext& browser);
  // POST /profile/confirm: the "Confirm it's you" step's button, a sign-in (email filled in)
  // that comes back to the profile.
  WebOutcome profile_confirm(const Params& form, const BrowserContext& browser);
  // POST /profile/apps/revoke with client_id: the user's consent to that third-party
  // application ends, with every grant (and token) the user gave it. Taking access away needs
  // no recent sign-in.
  WebOutcome profile_revoke_app(const Params& form, const BrowserContext& browser);
  // POST /profile/recovery-codes: new codes, shown once.
  WebOutcome profile_recovery_codes(const Params& form, const BrowserContext& browser);

 private:
  struct SignedIn {
    Session session;
    User user;
    std::string csrf_token;
  };
  Result<std::optional<SignedIn>> signed_in(const BrowserContext& browser);
  // What a profile POST does with a session too old or at too low a level; kAnyAge: nothing,
  // the action only takes access away.
  enum class Stale { kSignIn, kConfirmItsYou, kAnyAge };
  // The signed-in user for a profile POST, checking the session CSRF token and the step-up
  // gate; else `failure`: a sign-in, or with Stale::kConfirmItsYou the step that offers it.
  std::optional<SignedIn> profile_post(const Params& form, const BrowserContext& browser,
                                       WebOutcome& failure, Stale stale = Stale::kSignIn);
  // The profile page with `fault` and its message (or a notice when there is no fault).
  WebOutcome profile_with(const SignedIn& who, std::optional<Fault> fault,
                          const std::string& message);
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
  FactorNotifier& notices_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  SignInStarter& sign_in_;
  Throttle throttle_;  // failed passwords, per email: the same keys (in the store) as sign-in
  const Clock& clock_;
};

}  // namespace keystep
