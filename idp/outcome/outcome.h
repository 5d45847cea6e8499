#pragma once
// What the IdP core is given by http/ and what it answers: the request types (BrowserContext,
// Params), the data of each page (the views), and the outcomes (WebOutcome for the browser,
// ApiOutcome for JSON APIs). An outcome names its error (Fault), never an HTTP status: http/
// turns it into status and body with its error table (http/error_table.h).
//
// Header only, and below every core folder: the OIDC endpoints, the login flow, the profile
// pages and the administration all build these.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/url.h"
#include "idp/outcome/fault.h"

namespace keystep {

// What the browser sent that matters to the IdP.
struct BrowserContext {
  std::optional<std::string> session_cookie;
  std::optional<std::string> flow_cookie;
  std::string client_address;
  std::optional<std::string> signup_cookie;
  // "Forgot your password?" (idp/reset/): the reset link's token the browser holds, and the
  // CSRF cookie of the form that asks for a link.
  std::optional<std::string> reset_cookie{};
  std::optional<std::string> forgot_cookie{};
};

struct CookieToSet {
  std::string name;
  std::string value;
  std::string path = "/";
  int64_t max_age = -1;  // -1: session cookie; 0: delete
  bool secure = false;
  // Always HttpOnly and SameSite=Lax.
};

// An authenticator-app enrollment as the user sees it.
struct TotpEnrollmentView {
  std::string otpauth_uri;
  std::string qr_png_data_uri;  // data:image/png;base64,…
  std::string display_secret;   // grouped base32, for typing by hand
  std::string issuer_label;
  // A hardware token's enrollment: the command that programs it with this key (the
  // provider's "command" client option, e.g. `ykman otp hotp 2 …`), "" otherwise.
  std::string command;
  // How many codes confirming asks for, one per line (ResponseInput::responses: a key
  // touched twice).
  int responses = 1;
  // A browser ceremony's enrollment (ResponseInput::kBrowserCeremony: a security key): the
  // same-origin script that runs it and its options (the "ceremony" client option, JSON
  // text); both "" for typed codes.
  std::string script;
  std::string ceremony;
};

// One of a user's confirmed second factors, as the profile lists it.
struct FactorSummary {
  int64_t id = 0;
  int64_t version = 0;  // posted back by Rename and Remove: they change this version only
  std::string label;    // the user's name for it, e.g. "Authenticator app", "Work phone"
  std::string method;   // its provider id
  std::string type;     // its provider's display name (the id when the server lost it)
  int64_t created_at = 0;
  int64_t last_used_at = 0;  // 0: never used to sign in
  // False when it no longer counts as a second factor: the account stopped allowing its
  // method or the server no longer has it. Listed so the user can remove it.
  bool usable = true;
  // Its signature counter went backwards once: two copies of the key may exist.
  bool possibly_cloned = false;
};

// A kind of second factor the user may add now.
struct FactorType {
  std::string method;  // provider id
  std::string name;    // display name, e.g. "Authenticator app"
};

// A user's two-factor state (TwoFactor::status).
struct TwoFactorStatus {
  bool user_setting = false;         // the user's own toggle
  bool account_setting = false;      // enforced by the account
  bool has_totp = false;             // a confirmed authenticator app
  std::vector<std::string> methods;  // providers with a confirmed credential, fallbacks excluded
  int recovery_codes_left = 0;
  bool has_recovery_codes = false;   // a set of recovery codes exists (used up or not)
  std::vector<FactorSummary> factors;  // confirmed, fallbacks excluded, oldest first
  // The methods the account allows and the server has, below their cap (CredentialCaps).
  std::vector<FactorType> can_add;
  bool has_second_factor() const { return !methods.empty(); }
};

// An application as people see it (the sign-in, consent and profile pages): its name (its
// display name, or its client_id when it has none) and its home page ("" for none).
struct AppIdentity {
  std::string name;
  std::string home_uri;
};

// Data for the login page.
struct LoginView {
  std::string flow_id;
  std::string csrf_token;
  std::string email;          // prefilled from login_hint or the previous attempt
  AppIdentity app;            // name empty when signing in to Keystep's own pages
  std::string error_message;  // empty when there is nothing to say
};

// How the second step's page asks for the response: the method's ResponseInput
// (plugin/mfa_provider.h) and its challenge's client options, as the page renders them.
struct ResponseField {
  // A browser ceremony: `script` talks to the authenticator and posts the response as the
  // form's code. Otherwise a typed code.
  bool ceremony = false;
  int min_length = 0;  // typed: the code's length range, spaces not counted; 0: not stated
  int max_length = 0;
  std::string characters;             // typed: the characters a code may hold; "": any
  std::string inputmode = "numeric";  // typed: the HTML inputmode
  bool one_time_code = true;          // typed: autocomplete="one-time-code", else "off"
  std::string script;                 // ceremony: a path on this server, e.g. "/assets/x.js"
  std::string client_options;         // ceremony: JSON text the script reads
};

// A method the second step offers in place of the one shown.
struct MethodChoice {
  std::string id;    // a provider id, e.g. "recovery_code"
  std::string name;  // as shown, e.g. "Recovery code"
};

// Data for the second login step.
struct SecondFactorView {
  std::string flow_id;
  std::string csrf_token;
  std::string method;       // a provider id, or kSetupMethod (idp/login/) for the forced setup
  std::string method_name;  // the method as shown, e.g. "Authenticator app"
  std::string error_message;
  TotpEnrollmentView setup;  // with kSetupMethod: what to scan or type, or the ceremony
  std::string setup_provider;  // with kSetupMethod: the provider being set up, e.g. "totp"
  // With kSetupMethod: the other kinds of factor the step can set up (ids and names).
  std::vector<MethodChoice> setup_alternatives;
  // With kSetupMethod: the application requires two-factor authentication (not the
  // account); the page says so and offers to decline (kDeclineMethod).
  bool required_by_application = false;
  ResponseField input;       // with a provider's method
  // The token's code ran ahead of the server's window: the page asks for its next code.
  bool next_code = false;
  // "Use another method": the user's other second factor types, then the recovery code
  // while unused codes remain.
  std::vector<MethodChoice> other_methods;
  // The step guards a password reset, not a sign-in: the page says so.
  bool password_reset = false;
};

// A third-party application the user allowed (the profile's "Apps with access").
struct AppAccess {
  std::string client_id;
  AppIdentity app;
  std::vector<std::string> scopes;  // what the user allowed, e.g. "openid", "email"
  int64_t granted_at = 0;
};

// Data for the consent page: a third-party application asks for `scopes`.
struct ConsentView {
  std::string request_id;  // posted back with the decision
  std::string csrf_token;  // the session's
  AppIdentity app;
  std::string email;                // who is signed in
  std::vector<std::string> scopes;  // what the application asks for
};

// Data for the profile page and its two-factor screens.
struct ProfileView {
  std::string csrf_token;
  std::string email;
  std::string account_name;
  TwoFactorStatus two_factor;
  TotpEnrollmentView enrollment;            // kEnableTwoFactorPage
  std::string method;                       // kEnableTwoFactorPage: the provider being added
  std::string method_name;                  // its display name
  bool first_factor = true;                 // kEnableTwoFactorPage: adding turns 2FA on
  std::vector<std::string> recovery_codes;  // kRecoveryCodesPage: shown once
  // kRemoveFactorPage: the factor whose removal awaits confirmation (the user's last).
  FactorSummary removing;
  // kConfirmItsYouPage: why the session must sign in again, and the allowed age in minutes.
  std::string reauthentication_reason;
  int64_t reauthentication_minutes = 0;
  std::string notice;
  std::string error_message;
  // The id of the field error_message is about ("password": the turn-off form's); "" when it
  // is about the page as a whole.
  std::string error_field;
  // The user may open Account setup > Authentication (auth_settings.view): the pages link it.
  bool can_view_auth_settings = false;
  std::vector<AppAccess> apps{};  // kProfilePage: "Apps with access"
};

// Data for the signup page (an invitation's link).
struct SignupView {
  std::string invitation;  // the invitation token from the link, posted back with the form
  std::string csrf_token;
  std::string email;
  std::string account_label;
  bool two_factor_required = false;  // the account enforces 2FA: setup follows the password
  std::string error_message;
  std::string display_name{};  // as typed, when the form comes back with an error
};

// Data for the "Forgot your password?" pages (idp/reset/).
struct PasswordResetView {
  enum class Step {
    kAsk,          // the form asking for the email address
    kSent,         // the same answer whatever the address: "if it has an account, a link is on its way"
    kNewPassword,  // the reset link's form: the new password, twice
    kDone,         // the password changed; every session ended
  };
  Step step = Step::kAsk;
  std::string csrf_token;  // kAsk, kNewPassword: the form's
  std::string email;       // kAsk: as typed; kNewPassword: whose password (username autocomplete)
  std::string account_label;  // kNewPassword
  std::string flow_id;        // kAsk, kSent: the sign-in page the user came from ("" if none)
  int64_t link_minutes = 0;   // kSent: how long a link works
  std::string error_message;  // kAsk, kNewPassword
  // The form field the error is about ("email", "password", "password_confirm"); "" for the
  // form as a whole.
  std::string error_field{};
};

// Data for the error page, shown when the browser cannot be sent back to the client. The
// error's code is the outcome's fault.
struct ErrorView {
  std::string description;  // safe to show
};

// Data for the sign-out question (RP-initiated logout that cannot prove it speaks for this
// browser's session): a form posting back to /logout with the carried parameters.
struct LogoutConfirmView {
  std::string csrf_token;
  Params carried;  // client_id, post_logout_redirect_uri, state: only those present
};

// The outcome of a browser-facing call: a redirect or a page, plus cookies.
struct WebOutcome {
  enum class Kind {
    kRedirect,
    kLoginPage,
    kSecondFactorPage,
    kErrorPage,
    kLoggedOutPage,
    kProfilePage,
    kEnableTwoFactorPage,
    kRecoveryCodesPage,
    kRemoveFactorPage,
    kConfirmItsYouPage,
    kSignupPage,
    kLogoutConfirmPage,
    kConsentPage,
    kPasswordResetPage,
  };
  Kind kind = Kind::kErrorPage;
  // What went wrong; set on every kErrorPage, and on a page shown again with its error
  // message. None: the redirect or page of a success.
  std::optional<Fault> fault;
  std::string location;      // kRedirect
  LoginView login;           // kLoginPage
  SecondFactorView second;   // kSecondFactorPage
  ErrorView error;           // kErrorPage
  ProfileView profile;       // kProfilePage and the profile's other pages
  SignupView signup;         // kSignupPage
  LogoutConfirmView logout;  // kLogoutConfirmPage
  ConsentView consent;       // kConsentPage
  PasswordResetView reset;   // kPasswordResetPage
  int64_t retry_after = 0;   // seconds, with kTooManyAttempts
  std::vector<CookieToSet> cookies;
};

// The text of kTemporarilyUnavailable pages when there is nothing more precise to say.
inline constexpr const char* kTryAgainText = "Please try again in a moment.";

inline WebOutcome error_page(Fault fault, std::string description) {
  WebOutcome out;
  out.kind = WebOutcome::Kind::kErrorPage;
  out.fault = fault;
  out.error = ErrorView{std::move(description)};
  return out;
}

// The page of a store (or other dependency) that failed: the user may retry.
inline WebOutcome unavailable_page(std::string description = kTryAgainText) {
  return error_page(Fault::kTemporarilyUnavailable, std::move(description));
}

inline WebOutcome redirect_to(std::string location) {
  WebOutcome out;
  out.kind = WebOutcome::Kind::kRedirect;
  out.location = std::move(location);
  return out;
}

// The outcome of an API call (token, userinfo, admin API): a JSON body, or an error.
struct ApiOutcome {
  std::optional<Fault> fault;  // none: success
  bool created = false;        // a success that created something (the resource is the body)
  // On success the answer. With a fault its error_description and any details; http/ adds
  // the fault's "error".
  nlohmann::json body;
  std::string www_authenticate;  // set on some faults (RFC 6750 §3, RFC 7617)
  // The web origin allowed to read this answer from script (CORS; idp/oidc/cors.h); "" for
  // none, and always "" outside the OIDC endpoints.
  std::string cors_origin;
};

inline ApiOutcome api_ok(nlohmann::json body) {
  return ApiOutcome{std::nullopt, false, std::move(body), {}, {}};
}
inline ApiOutcome api_created(nlohmann::json body) {
  return ApiOutcome{std::nullopt, true, std::move(body), {}, {}};
}
inline ApiOutcome api_error(Fault fault, std::string description) {
  return ApiOutcome{fault, false, {{"error_description", std::move(description)}}, {}, {}};
}
// The store failed: the client may retry.
inline ApiOutcome api_unavailable(std::string description = "please try again") {
  return api_error(Fault::kTemporarilyUnavailable, std::move(description));
}

}  // namespace keystep
