#pragma once
// The ways into an account besides the login page: signup from an invitation's link (the
// admin API's invitations), and the enrollment link of the safer enforcement email
// (idp/admin/admin_api.h). They sign the member in through the login flow.
//
// Thread-safety: every method may be called concurrently.

#include <string>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "idp/config/config.h"
#include "idp/login/login_controller.h"
#include "idp/login/two_factor.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

// The signup form's CSRF cookie (double submit, path /signup).
inline constexpr const char* kSignupCookie = "ks_signup";

class OnboardingPages {
 public:
  OnboardingPages(const IdpConfig& config, Store& store, const PasswordHasher& hasher,
                  TwoFactor& two_factor, LoginController& login, Random& random,
                  const Clock& clock);

  // GET /signup?invitation=…: the form of an invitation's link (email fixed, new password).
  WebOutcome signup_page(const Params& query, const BrowserContext& browser);
  // POST /signup with invitation, csrf_token, password, password_confirm: creates the member
  // and signs them in; when the account enforces 2FA the setup step follows, then /profile.
  WebOutcome signup_submit(const Params& form, const BrowserContext& browser);
  // GET /enroll?token=…: an enrollment link from the safer enforcement email. Starts a
  // sign-in for the link's user (the link is used up when that user signs in), which then
  // goes to the setup step. Used or expired links get a page saying what to do instead.
  WebOutcome enrollment_link(const Params& query, const BrowserContext& browser);

 private:
  // The signup page of an invitation's token with `csrf` as its form's token, or the error
  // page of an unknown, used, revoked or expired invitation.
  WebOutcome signup_view(const std::string& token, const std::string& csrf);
  // Signs `user` in after a password they have just set or typed outside a flow (signup):
  // to the second step when the policy needs it, else straight to request.redirect_uri.
  WebOutcome sign_in_after_password(const User& user, const AuthRequest& request,
                                    const BrowserContext& browser);

  const IdpConfig& config_;
  Store& store_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  LoginController& login_;
  Random& random_;
  const Clock& clock_;
};

}  // namespace keystep
