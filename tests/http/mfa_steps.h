#pragma once
// The second-factor step helpers of the HTTP integration tests (MfaHttpTest): the profile
// pages, enrolling an authenticator app, the second login step and TOTP codes.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/http/http_client.h"
#include "tests/http/oidc_steps.h"

namespace keystep::httptest {

// What the profile page carries.
struct ProfilePage {
  HttpResponse response;
  std::string csrf_token;
};

// What the second-factor page carries.
struct SecondFactorPage {
  HttpResponse response;
  std::string flow;
  std::string csrf_token;
  std::string method;
};

// Helpers for two-factor tests: the profile pages (enrolling an authenticator app as a user
// does), the second login step, and TOTP codes computed from the secret the enable page
// shows, at the fixture clock's time. The TOTP provider refuses a time step at or before the
// last one it accepted, so a test that needs another code moves the clock to the next step
// (next_code) instead of sleeping.
class MfaHttpTest : public KeystepHttpTest {
 protected:
  static constexpr int64_t kStep = 30;  // the TOTP period of enrollments with default settings

  // Forgets every cookie: the next request comes from a new browser.
  void new_browser() { browser_ = CookieJar(); }

  // GET /profile with the browser's session; expects 200 and a CSRF token.
  ProfilePage open_profile();
  // GET /profile without a session, the login page it leads to, the password, and back to
  // /profile. For a user without two-factor authentication.
  ProfilePage sign_in_to_profile(const std::string& email = TestServer::kAliceEmail,
                                 const std::string& password = TestServer::kAlicePassword);
  // POST /profile/two-factor action=enable, then GET the enable page it redirects to.
  HttpResponse start_enable(const ProfilePage& profile);
  // The secret shown on the enable page, decoded ("" with an ADD_FAILURE when absent).
  std::string secret_on(const HttpResponse& enable_page);
  // POST /profile/two-factor/enable with `code`.
  HttpResponse confirm_enable(const ProfilePage& profile, const std::string& code);
  // Signs in to the profile (password only), enrolls an authenticator app with the current
  // code and returns its secret; recovery_codes_ holds the codes shown. The browser keeps
  // the session.
  std::string enable_two_factor();

  // The code of `secret` at the clock's time / a code no step in now-1..now+1 accepts.
  std::string code_now(const std::string& secret);
  std::string wrong_code(const std::string& secret);
  // Moves the clock one TOTP step on and returns that step's code.
  std::string next_code(const std::string& secret);

  // GET page_url (a /login/second-factor URL) and parses the hidden fields of the page.
  SecondFactorPage open_second_factor_page(const std::string& page_url);
  // POST /login/second-factor with the page's flow and CSRF token, the page's method unless
  // `method` is given.
  HttpResponse submit_second_factor(const SecondFactorPage& page, const std::string& code,
                                    const std::optional<std::string>& method = std::nullopt);
  // authorize → login page → password; expects the redirect to the second-factor page and
  // opens it.
  SecondFactorPage sign_in_to_second_factor(
      const Fields& params, const std::string& email = TestServer::kAliceEmail,
      const std::string& password = TestServer::kAlicePassword);
  // The code of a redirect to `redirect_uri` ("" with an ADD_FAILURE otherwise).
  std::string code_of(const HttpResponse& response,
                      const std::string& redirect_uri = TestServer::kSpaRedirect);
  // Exchanges a code of "spa" and returns the verified id_token claims (null on failure).
  nlohmann::json id_token_claims(const std::string& code, const Pkce& pkce);

  // The recovery codes listed by a recovery codes page.
  static std::vector<std::string> recovery_codes_on(const HttpResponse& page);
  // The user as stored now.
  User stored_user(int64_t user_id);

  std::vector<std::string> recovery_codes_;
};

}  // namespace keystep::httptest
