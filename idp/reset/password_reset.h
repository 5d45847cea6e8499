#pragma once
// "Forgot your password?": the reset by email.
//
//   GET/POST /password/forgot   the email form. Whatever the address, the same answer ("if it
//                               has an account, a link is on its way"), after the same store
//                               calls; throttled per address typed and per client address.
//   GET /password/reset?token=  the emailed link (single use, expiring, only its SHA-256
//                               stored): its token moves to a cookie (ks_reset, path
//                               /password/reset) and the browser to /password/reset, so the
//                               token leaves the address bar and the history.
//   GET /password/reset         a user with a second factor passes it first, on the login
//                               flow's second step (LoginController, AuthRequest::password_reset:
//                               every method, recovery codes, the lockout), bound to that
//                               browser; then the new password's form.
//   POST /password/reset        the password policy, both fields equal; then in one store
//                               transaction the link is used up, the password stored, every
//                               session of the user ended and their grants revoked (back-channel
//                               logouts queued), and the user emailed that it changed.
//
// Thread-safety: every method may be called concurrently.

#include <functional>
#include <string>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "idp/config/config.h"
#include "idp/login/login_controller.h"
#include "idp/login/throttle.h"
#include "idp/login/two_factor.h"
#include "idp/mail/mail.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

// The reset link's token, once the link was opened (path /password/reset).
inline constexpr const char* kResetCookie = "ks_reset";
// The email form's CSRF cookie (double submit, path /password/forgot).
inline constexpr const char* kForgotCookie = "ks_forgot";

// The emailed link's message (sealed in the outbox: the link is a secret): subject, text and
// HTML bodies; `link` is the whole URL, `minutes` its lifetime.
MailContent password_reset_mail(const std::string& account_label, const std::string& link,
                                int64_t minutes);
// The notice once the password changed (not sealed: no secret): when, from which client
// address ("" when unknown), and where to ask again if it was not the user.
MailContent password_changed_mail(const std::string& account_label, int64_t at,
                                  const std::string& address, const std::string& forgot_url);

class PasswordResetPages final : public ResetVerification {
 public:
  // Registers itself with `login` for the second steps of resets.
  PasswordResetPages(const IdpConfig& config, Store& store, const PasswordHasher& hasher,
                     TwoFactor& two_factor, LoginController& login, Random& random,
                     const Clock& clock);

  // Called after mail was queued (e.g. Mailer::notify), and after sessions ended with
  // back-channel logouts queued (BackchannelLogouts::notify). Set before serving.
  void set_on_mail_queued(std::function<void()> callback) { on_mail_queued_ = std::move(callback); }
  void set_on_sessions_ended(std::function<void()> callback) {
    on_sessions_ended_ = std::move(callback);
  }

  // GET /password/forgot[?flow=…] (the sign-in page it came from, for "Back to sign-in").
  WebOutcome forgot_page(const Params& query, const BrowserContext& browser);
  // POST /password/forgot with csrf_token, email[, flow].
  WebOutcome forgot_submit(const Params& form, const BrowserContext& browser);
  // GET /password/reset[?token=…].
  WebOutcome reset_page(const Params& query, const BrowserContext& browser);
  // POST /password/reset with csrf_token, password, password_confirm. Hashes: run it off the
  // HTTP workers (the password pool).
  WebOutcome reset_submit(const Params& form, const BrowserContext& browser);

  // ResetVerification: records the browser that passed the second factor, back to the form.
  WebOutcome second_factor_passed(const LoginFlow& flow, const AuthRequest& request,
                                  const FlowProgress& progress,
                                  const BrowserContext& browser) override;

 private:
  // The reset the browser's ks_reset cookie names and its user, usable now; otherwise
  // nullopt with the page to show in `failure`.
  struct Loaded {
    std::string token;
    PasswordReset reset;
    User user;
  };
  std::optional<Loaded> load(const BrowserContext& browser, WebOutcome& failure);
  // The page of a usable reset: the second step when the user has a factor this browser has
  // not passed for it, else the new password's form (with `error` about `field`).
  WebOutcome next_step(const Loaded& loaded, const BrowserContext& browser,
                       const std::string& error = "", const std::string& field = "",
                       std::optional<Fault> fault = std::nullopt);
  // The error page of a link that is unknown (kNotFound), used (kReplayed) or expired
  // (kExpired), saying how to get a new one; unavailable_page otherwise.
  WebOutcome link_error(ErrorCode code) const;
  WebOutcome forgot_view(const std::string& csrf, const std::string& flow_id) const;
  Result<OutgoingMail> outgoing(const std::string& dedupe_key, const std::string& to,
                                MailContent content, bool sealed);

  const IdpConfig& config_;
  Store& store_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  LoginController& login_;
  Throttle throttle_;
  Random& random_;
  const Clock& clock_;
  std::string from_;  // the mail configuration's sender
  std::function<void()> on_mail_queued_;
  std::function<void()> on_sessions_ended_;
};

}  // namespace keystep
