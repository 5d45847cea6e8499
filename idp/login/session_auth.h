#pragma once
// What the login flow and the signed-in pages share about a browser's session: finding it
// from the cookie, its forms' CSRF token, recording factors passed in it, and starting a
// sign-in that comes back to one of Keystep's own pages.

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"
#include "idp/login/login_flow.h"
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

// The CSRF token of forms (and admin API changes) made with a browser session: derived from
// the session cookie, so it needs no storage and changes with every new session.
std::string session_csrf_token(std::string_view session_cookie);

// The live session the browser's session cookie names: nullopt without a cookie or when the
// cookie names no live session; an error only when the store fails.
Result<std::optional<Session>> current_session(Store& store, const Clock& clock,
                                               const BrowserContext& browser);

// Records in `session` the factors `progress` passed: the time each factor was last passed,
// and amr, acr and auth_time as what is fresh now.
void record_factors(const FlowProgress& progress, Session& session);

// Starts a sign-in to Keystep's own pages. Implemented by the login flow; the signed-in pages
// (idp/profile/) use it to send a browser without a (fresh enough) session to sign in.
class SignInStarter {
 public:
  virtual ~SignInStarter() = default;
  // A sign-in that comes back to `local_path` (e.g. "/profile"; a path on this issuer, never
  // a URL), with the email field filled with `login_hint`. Thread-safe.
  virtual WebOutcome sign_in_then(const std::string& local_path, const BrowserContext& browser,
                                  const std::string& login_hint = "") = 0;
};

}  // namespace keystep
