#pragma once
// The OpenID Connect provider: authorization (code flow with PKCE), the login flow, token,
// userinfo, RP-initiated logout, discovery and JWKS. http/ turns each request into one call
// here and renders the outcome; nothing here knows about HTTP servers or HTML.
//
// Thread-safety: every method may be called concurrently.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/url.h"
#include "idp/config/config.h"
#include "idp/login/login_flow.h"
#include "idp/login/throttle.h"
#include "idp/login/two_factor.h"
#include "idp/oidc/signing_keys.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

inline constexpr const char* kSessionCookie = "ks_session";
inline constexpr const char* kFlowCookie = "ks_flow";
// The signup form's CSRF cookie (double submit, path /signup).
inline constexpr const char* kSignupCookie = "ks_signup";

// Authentication context classes (the id_token's acr, and what acr_values may ask for).
inline constexpr const char* kAcrPassword = "urn:keystep:loa:1fa";
inline constexpr const char* kAcrMfa = "urn:keystep:loa:2fa";

// The CSRF token of forms (and admin API changes) made with a browser session: derived from
// the session cookie, so it needs no storage and changes with every new session.
std::string session_csrf_token(std::string_view session_cookie);

// The second step's method when the account requires 2FA and the user has no factor yet:
// set up an authenticator app now (it cannot be skipped), then continue.
inline constexpr const char* kSetupMethod = "setup";

class Provider {
 public:
  Provider(const IdpConfig& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher,
           TwoFactor& two_factor, Random& random, const Clock& clock);

  nlohmann::json discovery() const;
  // discovery(), serialized once: it never changes while the server runs.
  const std::string& discovery_document() const { return discovery_document_; }
  // The JWKS serialized once per key set; kUnavailable without a signing key.
  Result<std::shared_ptr<const std::string>> jwks_document() { return keys_.jwks_text(); }

  // GET /authorize. `query` is the raw query string's parameters.
  WebOutcome authorize(const Params& query, const BrowserContext& browser);
  // GET /login?flow=…
  WebOutcome login_page(const Params& query, const BrowserContext& browser);
  // POST /login with flow, csrf_token, email, password.
  WebOutcome login_submit(const Params& form, const BrowserContext& browser);
  // GET /login/second-factor?flow=…[&method=recovery_code]
  WebOutcome second_factor_page(const Params& query, const BrowserContext& browser);
  // POST /login/second-factor with flow, csrf_token, method, code.
  WebOutcome second_factor_submit(const Params& form, const BrowserContext& browser);

  // Keystep's own pages for a signed-in user (the profile). Without a session they start a
  // sign-in that comes back to the page.
  WebOutcome profile(const BrowserContext& browser);
  // Starts a sign-in to Keystep's own pages that comes back to `local_path` (e.g.
  // "/account/authentication"; a path on this issuer, never a URL).
  WebOutcome sign_in_then(const std::string& local_path, const BrowserContext& browser,
                          const std::string& login_hint = "");
  // POST /profile/two-factor: the toggle. action=enable starts enrollment (a new secret and
  // the Enable page), action=disable turns it off given password or code.
  WebOutcome profile_two_factor(const Params& form, const BrowserContext& browser);
  // GET /profile/two-factor/enable: the pending secret's QR code and key again.
  WebOutcome profile_enable_page(const BrowserContext& browser);
  // POST /profile/two-factor/enable with code: confirms, shows the recovery codes once.
  WebOutcome profile_enable_submit(const Params& form, const BrowserContext& browser);
  // POST /profile/recovery-codes: new codes, shown once.
  WebOutcome profile_recovery_codes(const Params& form, const BrowserContext& browser);
  // GET /signup?invitation=…: the form of an invitation's link (email fixed, new password).
  WebOutcome signup_page(const Params& query, const BrowserContext& browser);
  // POST /signup with invitation, csrf_token, password, password_confirm: creates the member
  // and signs them in; when the account enforces 2FA the setup step follows, then /profile.
  WebOutcome signup_submit(const Params& form, const BrowserContext& browser);
  // GET /enroll?token=…: an enrollment link from the safer enforcement email. Starts a
  // sign-in for the link's user (the link is used up when that user signs in), which then
  // goes to the setup step. Used or expired links get a page saying what to do instead.
  WebOutcome enrollment_link(const Params& query, const BrowserContext& browser);

  // POST /token. `authorization` is the Authorization header, if any.
  ApiOutcome token(const Params& form, const std::optional<std::string>& authorization);
  // GET or POST /userinfo.
  ApiOutcome userinfo(const std::optional<std::string>& authorization);
  // GET or POST /logout (RP-initiated logout). The browser's session ends at once when an
  // id_token_hint names it, or on the confirmation form's POST (confirm=yes with the session's
  // CSRF token); otherwise the user is asked first (kLogoutConfirmPage). Without a session, a
  // hint's session ends (the RP logs out from a context without our cookie).
  WebOutcome end_session(const Params& params, const BrowserContext& browser);

 private:
  // A flow posted by one of its forms: bound to this browser, CSRF token checked, at the
  // expected stage. Otherwise nullopt with the page to show in `failure`.
  struct PostedFlow {
    LoginFlow flow;
    AuthRequest request;
    FlowProgress progress;
  };
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
  WebOutcome second_factor_view(const LoginFlow& flow, const std::string& method,
                                const std::string& error, std::optional<Fault> fault);
  // The forced setup step (kSetupMethod) with the user's pending authenticator secret.
  WebOutcome setup_view(const LoginFlow& flow, const User& user, const std::string& error,
                        std::optional<Fault> fault);
  // Records a passed second factor in the flow and completes it.
  WebOutcome finish_second_factor(const PostedFlow& posted, const std::vector<std::string>& amr,
                                  const BrowserContext& browser);
  WebOutcome redirect_error(const AuthRequest& request, const std::string& error,
                            const std::string& description) const;
  WebOutcome issue_code(const AuthRequest& request, const Session& session);
  WebOutcome start_flow(const AuthRequest& request, const FlowProgress& progress,
                        const BrowserContext& browser);
  // The signup page of an invitation's token with `csrf` as its form's token, or the error
  // page of an unknown, used, revoked or expired invitation.
  WebOutcome signup_view(const std::string& token, const std::string& csrf);
  // Signs `user` in after a password they have just set or typed outside a flow (signup):
  // to the second step when the policy needs it, else straight to request.redirect_uri.
  WebOutcome sign_in_after_password(const User& user, const AuthRequest& request,
                                    const BrowserContext& browser);
  WebOutcome complete_flow(const LoginFlow& flow, const AuthRequest& request,
                           const FlowProgress& progress, const BrowserContext& browser);
  Result<LoginFlow> checked_flow(const Params& form, const BrowserContext& browser,
                                 WebOutcome& failure);
  std::optional<PostedFlow> posted_flow(const Params& form, const BrowserContext& browser,
                                        LoginStage expected, WebOutcome& failure);
  Result<std::optional<Session>> current_session(const BrowserContext& browser);
  Result<Client> authenticate_client(const Params& form,
                                     const std::optional<std::string>& authorization,
                                     ApiOutcome& failure);
  ApiOutcome code_grant(const Client& client, const Params& form);
  ApiOutcome refresh_grant(const Client& client, const Params& form);
  // Access token (with `scope`, the grant's or narrower), id_token, and with `first` the
  // nonce and a refresh token.
  Result<nlohmann::json> mint_tokens(const Grant& grant, bool first, const std::string& scope);
  CookieToSet cookie(std::string name, std::string value, std::string path, int64_t max_age) const;
  std::string hash_token(std::string_view token) const;

  const IdpConfig& config_;
  Store& store_;
  SigningKeys& keys_;
  const PasswordHasher& hasher_;
  TwoFactor& two_factor_;
  Throttle throttle_;  // failed passwords, per email
  Random& random_;
  const Clock& clock_;
  bool secure_cookies_;
  std::string discovery_document_;
};

}  // namespace keystep
