#include "idp/login/session_auth.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "base/words.h"

namespace keystep {

std::string session_csrf_token(std::string_view session_cookie) {
  return base64url_encode(hmac_sha256(session_cookie, "keystep profile csrf"));
}

Result<std::optional<Session>> current_session(Store& store, const Clock& clock,
                                               const BrowserContext& browser) {
  if (!browser.session_cookie || browser.session_cookie->empty()) return std::optional<Session>();
  auto session = store.session_by_id_hash(sha256_b64url(*browser.session_cookie), clock.now());
  if (!session) {
    if (session.error().code == ErrorCode::kNotFound) return std::optional<Session>();
    return session.error();
  }
  return std::optional<Session>(*session);
}

// The session remembers when each factor was last passed; amr and acr describe what is
// currently fresh, and auth_time is the latest interactive authentication.
void record_factors(const FlowProgress& progress, Session& session) {
  if (progress.password_time) session.password_time = progress.password_time;
  if (progress.mfa_time)
    session.mfa_time = progress.mfa_time;
  else if (progress.password_time)
    session.mfa_time = 0;
  std::vector<std::string> second;  // what the second factor proved
  for (const auto& value : progress.mfa_time ? progress.amr : split_spaces(session.amr)) {
    if (value != "pwd" && value != "mfa" && !contains(second, value)) second.push_back(value);
  }
  if (!session.mfa_time) second.clear();
  std::vector<std::string> amr;
  if (session.password_time) amr.push_back("pwd");
  amr.insert(amr.end(), second.begin(), second.end());
  if (session.password_time && !second.empty()) amr.push_back("mfa");
  session.amr = join_spaces(amr);
  session.acr = session.mfa_time ? kAcrMfa : kAcrPassword;
  session.auth_time = std::max(session.password_time, session.mfa_time);
}

}  // namespace keystep
