#pragma once
// The OpenID Connect provider: authorization (code flow with PKCE), token, userinfo,
// RP-initiated logout, discovery and JWKS. The login flow is LoginController (idp/login/),
// owned here; the profile pages are ProfilePages (idp/profile/), signup and enrollment links
// OnboardingPages (idp/admin/). http/ turns each request into one call here and renders the
// outcome; nothing here knows about HTTP servers or HTML.
//
// Thread-safety: every method may be called concurrently.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/url.h"
#include "idp/config/config.h"
#include "idp/login/login_controller.h"
#include "idp/login/login_flow.h"
#include "idp/login/session_auth.h"
#include "idp/login/throttle.h"
#include "idp/login/two_factor.h"
#include "idp/oidc/cors.h"
#include "idp/oidc/signing_keys.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

class Provider : public FlowCompletion {
 public:
  // `notices` goes to the login flow (LoginController).
  Provider(const IdpConfig& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher,
           TwoFactor& two_factor, FactorNotifier& notices, Random& random, const Clock& clock);

  nlohmann::json discovery() const;
  // discovery(), serialized once: it never changes while the server runs.
  const std::string& discovery_document() const { return discovery_document_; }
  // The JWKS serialized once per key set; kUnavailable without a signing key.
  Result<std::shared_ptr<const std::string>> jwks_document() { return keys_.jwks_text(); }

  // GET /readyz: succeeds while the store answers (Store::ping); its error otherwise.
  Status ready() { return store_.ping(); }

  // GET /authorize. `query` is the raw query string's parameters.
  WebOutcome authorize(const Params& query, const BrowserContext& browser);
  // The login flow's pages (idp/login/), whose client flows complete here.
  LoginController& login() { return login_; }

  // The origin a browser app may read discovery and the JWKS from, and whose preflights are
  // answered: `origin` (the Origin header) when some client allows it (idp/oidc/cors.h).
  std::optional<std::string> cors_origin(const std::optional<std::string>& origin) const {
    return cors_.for_any_client(origin);
  }

  // POST /token. `authorization` is the Authorization header, `origin` the Origin header, if
  // any. A request from an origin the authenticated client does not allow is refused
  // (invalid_request) before any code or refresh token is looked at, so a page elsewhere
  // cannot spend a code it got hold of (a form POST is a CORS "simple" request: the browser
  // sends it without asking first). The answer's cors_origin is `origin` when the client
  // allows it, or, while no client is authenticated, when any client does.
  ApiOutcome token(const Params& form, const std::optional<std::string>& authorization,
                   const std::optional<std::string>& origin);
  // POST /revoke (RFC 7009), the client authenticated as at /token, with /token's CORS. A
  // refresh token takes its grant and every token of it along; an access token goes alone.
  // An unknown token is no error (200); a token of another client is unauthorized_client.
  ApiOutcome revoke(const Params& form, const std::optional<std::string>& authorization,
                    const std::optional<std::string>& origin);
  // POST /introspect (RFC 7662): for confidential clients only (a public one is
  // invalid_client), about any client's token, with /token's CORS. An active token's answer
  // has active, scope, client_id, username, sub, aud, iss, iat, exp, auth_time, acr and, for
  // an access token, token_type; any other token is {"active": false}.
  ApiOutcome introspect(const Params& form, const std::optional<std::string>& authorization,
                        const std::optional<std::string>& origin);
  // GET /consent?request=ID: the consent page of a third-party client's request waiting in
  // this browser's session (idp/oidc/consent.cc).
  WebOutcome consent_page(const Params& query, const BrowserContext& browser);
  // POST /consent with request, csrf_token (the session's) and decision (allow or deny):
  // allow remembers the scopes for the user and client and sends the browser back with a
  // code; deny with access_denied.
  WebOutcome consent_submit(const Params& form, const BrowserContext& browser);
  // GET or POST /userinfo. The access token comes in the Authorization header (RFC 6750
  // §2.1) or, in a POST, as the form's access_token (§2.2); both at once is invalid_request.
  // The answer's cors_origin is `origin` when the token's client allows it, or, without a
  // valid token, when any client does.
  ApiOutcome userinfo(const std::optional<std::string>& authorization, const Params& form,
                      const std::optional<std::string>& origin);
  // GET or POST /logout (RP-initiated logout). The browser's session ends at once when an
  // id_token_hint names it, or on the confirmation form's POST (confirm=yes with the session's
  // CSRF token); otherwise the user is asked first (kLogoutConfirmPage). Without a session, a
  // hint's session ends (the RP logs out from a context without our cookie).
  WebOutcome end_session(const Params& params, const BrowserContext& browser);
  // Called after end_session ended a session, which may have queued back-channel logouts
  // (idp/oidc/backchannel_logout.h), e.g. to wake their worker. Set once, before serving.
  void set_on_session_ended(std::function<void()> callback) {
    on_session_ended_ = std::move(callback);
  }

 private:
  // A client's flow completed: an authorization code for `session`.
  WebOutcome flow_completed(const AuthRequest& request, const Session& session,
                            FlowStep& step) override;
  // A client's flow cannot reach what the request requires: the error, redirected.
  WebOutcome flow_refused(const AuthRequest& request, const std::string& error,
                          const std::string& description) override;
  // The acr a code for `request` carries when `session` signed in: the session's, or the
  // password level when the request's essential acr values name only that. nullopt when the
  // session does not reach what is required: a second factor when `mfa_required`
  // (TwoFactor::application_requires), an essential acr of the request.
  static std::optional<std::string> code_acr(const AuthRequest& request, const Session& session,
                                             bool mfa_required);
  WebOutcome redirect_error(const AuthRequest& request, const std::string& error,
                            const std::string& description) const;
  // An authorization request refused with a redirect to the client (RFC 6749 §4.1.2.1): the
  // protocol's `error` and a description.
  struct Refusal {
    std::string error;
    std::string description;
  };
  // authorize's steps. The client and redirect_uri (with state) into `request`; else the
  // error page to show in `refused`, never a redirect to an unverified URI.
  std::optional<Client> verified_client(const Params& query, AuthRequest& request,
                                        WebOutcome& refused);
  // The rest of the request into `request`: response type and mode, scope, nonce, login_hint,
  // PKCE (read_pkce), max_age, prompt and acr_values (read_prompt).
  std::optional<Refusal> read_request(const Params& query, const Client& client,
                                      AuthRequest& request, bool& prompt_none);
  std::optional<Refusal> read_pkce(const Params& query, const Client& client,
                                   AuthRequest& request);
  std::optional<Refusal> read_prompt(const Params& query, AuthRequest& request,
                                     bool& prompt_none);
  // The client's require_two_factor and the claims parameter (idp/oidc/claims_request.h):
  // require_mfa, essential_acr, requested_claims. unmet_authentication_requirements when the
  // essential acr values name no level this server offers.
  std::optional<Refusal> read_claims(const Params& query, const Client& client,
                                     AuthRequest& request);
  // A browser with a session: a code at once when its factors are fresh enough for
  // `request`, else a sign-in asking only for the stale ones.
  WebOutcome reuse_session(const AuthRequest& request, bool prompt_none, const Session& current,
                           const BrowserContext& browser);
  // The user of `session` is signed in for `request`: a code, unless the user must consent
  // first (a third-party client without consent to every scope asked, or prompt=consent):
  // then the consent page, or with `prompt_none` consent_required. With `step` the grant
  // and code go into it (FlowCompletion::flow_completed) instead of being stored here.
  WebOutcome code_or_consent(const AuthRequest& request, const Session& session, bool prompt_none,
                             FlowStep* step = nullptr);
  WebOutcome issue_code(const AuthRequest& request, const Session& session,
                        FlowStep* step = nullptr);
  // A request waiting on the consent page, with the request it holds and the session.
  struct PendingConsent {
    ConsentRequest pending;
    AuthRequest request;
    Session session;
  };
  // The consent request `params` names ("request"), made in this browser's live session;
  // else nullopt with the page to show in `failure`.
  std::optional<PendingConsent> load_consent(const Params& params, const BrowserContext& browser,
                                             WebOutcome& failure);
  Result<Client> authenticate_client(const Params& form,
                                     const std::optional<std::string>& authorization,
                                     ApiOutcome& failure);
  // /token, /revoke and /introspect: refuses repeated parameters, authenticates the client,
  // refuses an origin it does not allow, then answers with `call`, setting the CORS origin.
  ApiOutcome client_call(const Params& form, const std::optional<std::string>& authorization,
                         const std::optional<std::string>& origin,
                         const std::function<ApiOutcome(const Client&)>& call);
  ApiOutcome code_grant(const Client& client, const Params& form);
  ApiOutcome refresh_grant(const Client& client, const Params& form);
  // Whether the client's grant refreshes (GrantPolicy::refresh_tokens, the granted scope).
  static bool refresh_allowed(const Client& client, const Grant& grant);
  // When a refresh token issued `now` expires: the client's idle lifetime, capped by its
  // absolute one counted from the grant.
  int64_t refresh_expiry(const Client& client, const Grant& grant, int64_t now) const;
  // The token response: access token (with `scope`, the grant's or narrower), id_token, and
  // with `first` the nonce and, when refresh_allowed, a refresh token.
  struct Minted {
    nlohmann::json body;
    std::vector<Token> tokens;  // to store (hashed) in the same transaction as what issues them
  };
  Result<Minted> mint_tokens(const Client& client, const Grant& grant, bool first,
                             const std::string& scope);
  // The user's claims that `scopes` release (email, profile) and those `requested` by name
  // (the claims parameter), each once.
  static std::vector<std::string> user_claim_names(const std::vector<std::string>& scopes,
                                                   const std::vector<std::string>& requested);
  // The user's claims `names` into `claims`.
  static void add_user_claims(const User& user, const std::vector<std::string>& names,
                              nlohmann::json& claims);
  ApiOutcome userinfo_of(const std::optional<std::string>& authorization, const Params& form,
                         std::string& client_id);
  std::string hash_token(std::string_view token) const;

  const IdpConfig& config_;
  Store& store_;
  SigningKeys& keys_;
  TwoFactor& two_factor_;
  Random& random_;
  const Clock& clock_;
  CorsPolicy cors_;
  std::string discovery_document_;
  LoginController login_;  // completes client flows through *this
  std::function<void()> on_session_ended_;
};

}  // namespace keystep
