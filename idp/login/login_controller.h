#pragma once
// The login flow's pages: the password step, the second step (a factor, or the forced setup
// of an authenticator app), and the flows behind them: started for an authorization request
// or for one of Keystep's own pages, loaded and checked once per request, completed into a
// session. Completing a client's flow issues an authorization code, which is OIDC's job: it
// is handed to FlowCompletion (implemented in idp/oidc/), so the links stay oidc -> login.
//
// Thread-safety: every method may be called concurrently.

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "idp/config/config.h"
#include "idp/login/login_flow.h"
#include "idp/login/session_auth.h"
#include "idp/login/throttle.h"
#include "idp/login/two_factor.h"
#include "idp/mail/notices.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

inline constexpr const char* kSessionCookie = "ks_session";
inline constexpr const char* kFlowCookie = "ks_flow";

// The second step's method when the account requires 2FA and the user has no factor yet:
// set up an authenticator app now (it cannot be skipped), then continue.
inline constexpr const char* kSetupMethod = "setup";
// The second step's answer of a user who will not set up a second factor that the
// application requires (AuthRequest::require_mfa): the application is told
// unmet_authentication_requirements.
inline constexpr const char* kDeclineMethod = "decline";
// The second factors the forced setup step can set up: what it can show (a QR code and a
// typed code, or a security key's ceremony). A YubiKey needs a programming tool first.
inline const std::vector<std::string> kSetupProviders = {"totp", "webauthn"};

// What happens when a flow for a client (request.client_id set) has signed the user in.
class FlowCompletion {
 public:
  virtual ~FlowCompletion() = default;
  // The browser's answer for `request` now that `session` is signed in: a redirect to the
  // client with an authorization code, or with an error. The session is stored by `step`,
  // which the caller commits (FlowStore::commit_flow_step) before the answer is sent; the
  // grant and code go into `step` too. Thread-safe.
  virtual WebOutcome flow_completed(const AuthRequest& request, const Session& session,
                                    FlowStep& step) = 0;
  // The browser's answer for `request` when its sign-in cannot reach what the request
  // requires (the user cannot or will not set up the second factor it requires): a redirect
  // to the client with the protocol's `error`. Thread-safe.
  virtual WebOutcome flow_refused(const AuthRequest& request, const std::string& error,
                                  const std::string& description) = 0;
};

// What happens when the second step of a password reset (AuthRequest::password_reset) is
// passed: no one is signed in; the reset (idp/reset/) records which browser passed it and asks
// for the new password.
class ResetVerification {
 public:
  virtual ~ResetVerification() = default;
  // The browser's answer now that the user of `flow` (deleted by the caller afterwards)
  // passed their second factor for `request`'s reset. Thread-safe.
  virtual WebOutcome second_factor_passed(const LoginFlow& flow, const AuthRequest& request,
                                          const FlowProgress& progress,
                                          const BrowserContext& browser) = 0;
};

class LoginController : public SignInStarter {
 public:
  // `completion` answers completed flows of clients; `notices` tells members of the factor
  // the forced setup added.
  LoginController(const IdpConfig& config, Store& store, const PasswordHasher& hasher,
                  TwoFactor& two_factor, FactorNotifier& notices, FlowCompletion& completion,
                  Random& random, const Clock& clock);

  // GET /login?flow=…
  WebOutcome login_page(const Params& query, const BrowserContext& browser);
  // POST /login with flow, csrf_token, email, password.
  WebOutcome login_submit(const Params& form, const BrowserContext& browser);
  // GET /login/second-factor?flow=…[&method=<provider id>]: the default method is the type
  // of the factor used last.
  WebOutcome second_factor_page(const Params& query, const BrowserContext& browser);
  // POST /login/second-factor with flow, csrf_token, method, code.
  WebOutcome second_factor_submit(const Params& form, const BrowserContext& browser);
  // Starts a sign-in to Keystep's own pages that comes back to `local_path` (e.g.
  // "/account/authentication"; a path on this issuer, never a URL).
  WebOutcome sign_in_then(const std::string& local_path, const BrowserContext& browser,
                          const std::string& login_hint = "") override;

  // Stores a new flow for `request` at `progress` and sends the browser to its page (the
  // password step, or the second step when progress is there), with the flow cookie.
  WebOutcome start_flow(const AuthRequest& request, const FlowProgress& progress,
                        const BrowserContext& browser);
  // Signs the browser in as progress.user_id with the factors of `progress` (a new session,
  // or the browser's session of that user updated), deletes `flow` (compare-and-set on its
  // version; none when its id is empty), and answers: back to the issuer's
  // request.redirect_uri, or FlowCompletion for a client's request. All of it, with the
  // writes `step` brings (a used credential, cleared throttle keys, audit events), is one
  // write transaction. When the credential was used meanwhile `replayed` (if given) is set
  // and nothing is answered: the caller refuses the code.
  WebOutcome complete_flow(const LoginFlow& flow, const AuthRequest& request,
                           const FlowProgress& progress, const BrowserContext& browser,
                           FlowStep step = {}, bool* replayed = nullptr);
  // Completes the second steps of password resets. Set before serving; without it such a
  // step ends on an error page.
  void set_reset_verification(ResetVerification* reset) { reset_ = reset; }
  // A cookie of this issuer (Secure when the issuer is https).
  CookieToSet cookie(std::string name, std::string value, std::string path, int64_t max_age) const;

 private:
  // The application the sign-in page names: none for Keystep's own pages.
  AppIdentity signing_in_to(const AuthRequest& request);
  // A sign-in flow with its request and progress, loaded by load_flow.
  struct LoadedFlow {
    LoginFlow flow;
    AuthRequest request;
    FlowProgress progress;
  };
  // The one load-and-check of a flow: the flow `params` names ("flow"), bound to this
  // browser, its request and progress readable; with `posted_at` (a form's POST) also the
  // form's CSRF token and the flow at that stage. Otherwise nullopt with the page to show in
  // `failure`.
  std::optional<LoadedFlow> load_flow(const Params& params, const BrowserContext& browser,
                                      std::optional<LoginStage> posted_at, WebOutcome& failure);
  WebOutcome second_factor_view(const LoginFlow& flow, const std::string& method,
                                const std::string& error, std::optional<Fault> fault);
  // The second step's page of `method` (the user's default instead when they cannot use it
  // now): begins its challenge and keeps it in the flow (CAS on the loaded version,
  // replacing an older one), so the POST checks the response against it. With `resync` (a
  // kOutOfSync refusal) the page asks for the token's next code and the flow keeps the
  // first, for TwoFactor::verify_resync.
  WebOutcome challenge_page(const LoadedFlow& loaded, const User& user, std::string method,
                            const std::string& error, std::optional<Fault> fault,
                            const StepRefusal* resync = nullptr);
  // The forced setup step (kSetupMethod) with the user's pending authenticator secret, or
  // with `provider_id`'s pending enrollment when it is a security key the account allows
  // (kSetupProviders; anything else falls back to the authenticator app). When the client
  // requires the second factor (request.require_mfa), the page says so and offers to
  // decline; when nothing can be set up, the client is told at once (unmet_requirements).
  WebOutcome setup_view(const LoadedFlow& loaded, const User& user, const std::string& error,
                        std::optional<Fault> fault, const std::string& provider_id = "");
  // Ends `loaded` without signing anyone in, answering its client with
  // unmet_authentication_requirements (audited as mfa.requirement_unmet, from `address`).
  WebOutcome unmet_requirements(const LoadedFlow& loaded, const User& user,
                                const std::string& description, const std::string& address);
  // Records a passed second factor in the flow and completes it with `step` (see
  // complete_flow).
  WebOutcome finish_second_factor(const LoadedFlow& posted, const std::vector<std::string>& amr,
                                  const BrowserContext& browser, FlowStep step = {},
                                  bool* replayed = nullptr);

  const IdpConfig& config_;
  Store& store_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  FactorNotifier& notices_;
  FlowCompletion& completion_;
  ResetVerification* reset_ = nullptr;
  Throttle throttle_;  // failed passwords, per email
  Random& random_;
  const Clock& clock_;
  bool secure_cookies_;
};

}  // namespace keystep
