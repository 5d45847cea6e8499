#pragma once
// The OpenID Connect provider: authorization (code flow with PKCE), the login flow, token,
// userinfo, RP-initiated logout, discovery and JWKS. http/ turns each request into one call
// here and renders the outcome; nothing here knows about HTTP servers or HTML.
//
// Thread-safety: every method may be called concurrently.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "idp/clock.h"
#include "idp/config.h"
#include "idp/crypto/password.h"
#include "idp/crypto/random.h"
#include "idp/login_flow.h"
#include "idp/signing_keys.h"
#include "idp/store.h"
#include "idp/url.h"

namespace keystep {

inline constexpr const char* kSessionCookie = "ks_session";
inline constexpr const char* kFlowCookie = "ks_flow";

// What the browser sent that matters to the IdP.
struct BrowserContext {
  std::optional<std::string> session_cookie;
  std::optional<std::string> flow_cookie;
  std::string client_address;
};

struct CookieToSet {
  std::string name;
  std::string value;
  std::string path = "/";
  int64_t max_age = -1;  // -1: session cookie; 0: delete
  bool secure = false;
  // Always HttpOnly and SameSite=Lax.
};

// Data for the login page.
struct LoginView {
  std::string flow_id;
  std::string csrf_token;
  std::string email;          // prefilled from login_hint or the previous attempt
  std::string client_id;
  std::string error_message;  // empty when there is nothing to say
};

// Data for the error page, shown when the browser cannot be sent back to the client.
struct ErrorView {
  std::string error;        // OAuth error code or our own short code
  std::string description;  // safe to show
};

// The outcome of a browser-facing call: a redirect or a page, plus cookies.
struct WebOutcome {
  enum class Kind { kRedirect, kLoginPage, kErrorPage, kLoggedOutPage };
  Kind kind = Kind::kErrorPage;
  int status = 400;
  std::string location;  // kRedirect
  LoginView login;       // kLoginPage
  ErrorView error;       // kErrorPage
  std::vector<CookieToSet> cookies;
};

// The outcome of an API call (token, userinfo): a JSON body with a status.
struct ApiOutcome {
  int status = 200;
  nlohmann::json body;
  std::string www_authenticate;  // set on 401
};

class Provider {
 public:
  Provider(const IdpConfig& config, Store& store, SigningKeys& keys,
           const PasswordHasher& hasher, LoginPolicy& policy, Random& random,
           const Clock& clock);

  nlohmann::json discovery() const;
  ApiOutcome jwks();

  // GET /authorize. `query` is the raw query string's parameters.
  WebOutcome authorize(const Params& query, const BrowserContext& browser);
  // GET /login?flow=…
  WebOutcome login_page(const Params& query, const BrowserContext& browser);
  // POST /login with flow, csrf_token, email, password.
  WebOutcome login_submit(const Params& form, const BrowserContext& browser);
  // POST /token. `authorization` is the Authorization header, if any.
  ApiOutcome token(const Params& form, const std::optional<std::string>& authorization);
  // GET or POST /userinfo.
  ApiOutcome userinfo(const std::optional<std::string>& authorization);
  // GET or POST /logout (RP-initiated logout).
  WebOutcome end_session(const Params& params, const BrowserContext& browser);

 private:
  struct IssuedTokens;
  WebOutcome error_page(int status, std::string error, std::string description) const;
  WebOutcome redirect_error(const AuthRequest& request, const std::string& error,
                            const std::string& description) const;
  WebOutcome issue_code(const AuthRequest& request, const Session& session);
  WebOutcome start_flow(const AuthRequest& request, const std::string& email_hint);
  WebOutcome complete_flow(const LoginFlow& flow, const AuthRequest& request,
                           const FlowProgress& progress, const BrowserContext& browser);
  Result<LoginFlow> checked_flow(const Params& form, const BrowserContext& browser,
                                 WebOutcome& failure);
  Result<std::optional<Session>> current_session(const BrowserContext& browser);
  Result<Client> authenticate_client(const Params& form,
                                     const std::optional<std::string>& authorization,
                                     ApiOutcome& failure);
  ApiOutcome code_grant(const Client& client, const Params& form);
  ApiOutcome refresh_grant(const Client& client, const Params& form);
  Result<nlohmann::json> mint_tokens(const Grant& grant, bool with_nonce);
  CookieToSet cookie(std::string name, std::string value, std::string path,
                     int64_t max_age) const;
  std::string hash_token(std::string_view token) const;

  const IdpConfig& config_;
  Store& store_;
  SigningKeys& keys_;
  const PasswordHasher& hasher_;
  LoginPolicy& policy_;
  Random& random_;
  const Clock& clock_;
  bool secure_cookies_;
};

}  // namespace keystep
