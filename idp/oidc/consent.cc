// Provider's consent step (issue 15 item 4): a third-party client gets a code only for scopes
// the user allowed it. The request waits in the store (ConsentRequest) bound to the session
// it was made in, so the page survives a reload and its form cannot be posted from another
// browser.

#include "base/crypto/hash.h"
#include "base/words.h"
#include "idp/directory/directory.h"
#include "idp/oidc/provider.h"

namespace keystep {

namespace {

// Every scope of `asked` is among `allowed` (both space-separated).
bool covers(const std::string& allowed, const std::string& asked) {
  const auto granted = split_spaces(allowed);
  for (const auto& s : split_spaces(asked))
    if (!contains(granted, s)) return false;
  return true;
}

}  // namespace

WebOutcome Provider::code_or_consent(const AuthRequest& request, const Session& session,
                                     bool prompt_none, FlowStep* step) {
  auto client = store_.client_by_id(request.client_id);
  if (!client) return redirect_error(request, "temporarily_unavailable", "please try again");
  // OIDC Core §3.1.2.1: prompt=consent asks even a first-party client's user.
  if (!request.prompt_consent) {
    if (client->grants.first_party) return issue_code(request, session, step);
    auto consent = store_.consent(session.user_id, request.client_id);
    if (!consent && consent.error().code != ErrorCode::kNotFound)
      return redirect_error(request, "temporarily_unavailable", "please try again");
    if (consent && covers(consent->scope, request.scope)) return issue_code(request, session, step);
  }
  if (prompt_none)
    return redirect_error(request, "consent_required",
                          "the user has not allowed this application what it asks for");
  auto id = random_token(random_, 24);
  if (!id) return redirect_error(request, "server_error", "randomness failed");
  const ConsentRequest pending{*id, session.sid, session.user_id, to_json(request).dump(),
                               clock_.now() + config_.flow_ttl};
  if (auto s = store_.create_consent_request(pending); !s)
    return redirect_error(request, "temporarily_unavailable", "please try again");
  return redirect_to(append_query(config_.issuer + "/consent", {{"request", *id}}));
}

std::optional<Provider::PendingConsent> Provider::load_consent(const Params& params,
                                                               const BrowserContext& browser,
                                                               WebOutcome& failure) {
  if (has_duplicate(params, "request")) {
    failure = error_page(Fault::kInvalidRequest, "request must be given once.");
    return std::nullopt;
  }
  auto session = current_session(store_, clock_, browser);
  if (!session) {
    failure = unavailable_page();
    return std::nullopt;
  }
  if (!*session) {
    failure = error_page(Fault::kLoginRequired,
                         "You are no longer signed in. Go back to the application and sign in "
                         "again.");
    return std::nullopt;
  }
  auto pending = store_.consent_request(param(params, "request"), clock_.now());
  if (!pending) {
    const ErrorCode code = pending.error().code;
    failure = code == ErrorCode::kNotFound || code == ErrorCode::kExpired
                  ? error_page(Fault::kExpiredLogin,
                               "This request has expired or was answered already. Go back to "
                               "the application and sign in again.")
                  : unavailable_page();
    return std::nullopt;
  }
  // Another browser (or another sign-in in this one) must not answer it.
  if (pending->sid != (*session)->sid) {
    failure = error_page(Fault::kInvalidSession,
                         "This request belongs to another sign-in. Go back to the application "
                         "and sign in again.");
    return std::nullopt;
  }
  auto request = auth_request_from_json(pending->request_json);
  if (!request) {
    failure = error_page(Fault::kServerError, "The stored request is damaged.");
    return std::nullopt;
  }
  return PendingConsent{*pending, *request, **session};
}

WebOutcome Provider::consent_page(const Params& query, const BrowserContext& browser) {
  WebOutcome failure;
  auto loaded = load_consent(query, browser, failure);
  if (!loaded) return failure;
  auto user = store_.user_by_id(loaded->session.user_id);
  if (!user) return unavailable_page();
  WebOutcome out;
  out.kind = WebOutcome::Kind::kConsentPage;
  out.consent = ConsentView{loaded->pending.id, session_csrf_token(*browser.session_cookie),
                            app_identity(store_, loaded->request.client_id), user->email,
                            split_spaces(loaded->request.scope)};
  return out;
}

WebOutcome Provider::consent_submit(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto loaded = load_consent(form, browser, failure);
  if (!loaded) return failure;
  if (has_duplicate(form, "csrf_token") || has_duplicate(form, "decision") ||
      !constant_time_equal(param(form, "csrf_token"),
                           session_csrf_token(*browser.session_cookie)))
    return error_page(Fault::kInvalidCsrfToken, "The form was not sent by this page.");
  const std::string decision = param(form, "decision");
  if (decision != "allow" && decision != "deny")
    return error_page(Fault::kInvalidRequest, "decision must be allow or deny.");
  // Single use: of two posts of the page, one answers.
  if (auto taken = store_.take_consent_request(loaded->pending.id, clock_.now()); !taken) {
    const ErrorCode code = taken.error().code;
    return code == ErrorCode::kNotFound || code == ErrorCode::kExpired
               ? error_page(Fault::kExpiredLogin,
                            "This request has expired or was answered already. Go back to the "
                            "application and sign in again.")
               : unavailable_page();
  }
  const AuthRequest& request = loaded->request;
  if (decision == "deny")
    return redirect_error(request, "access_denied", "the user did not allow the application");
  // What the user allowed before stays allowed: the consent is the union.
  std::vector<std::string> scopes;
  auto earlier = store_.consent(loaded->session.user_id, request.client_id);
  if (!earlier && earlier.error().code != ErrorCode::kNotFound) return unavailable_page();
  if (earlier) scopes = split_spaces(earlier->scope);
  for (const auto& s : split_spaces(request.scope))
    if (!contains(scopes, s)) scopes.push_back(s);
  if (auto s = store_.put_consent(Consent{loaded->session.user_id, request.client_id,
                                          join_spaces(scopes), clock_.now()});
      !s)
    return unavailable_page();
  if (auto user = store_.user_by_id(loaded->session.user_id))
    two_factor_.audit(*user, "consent.granted", browser.client_address,
                      request.client_id + ": " + join_spaces(scopes));
  return issue_code(request, loaded->session);
}

}  // namespace keystep
