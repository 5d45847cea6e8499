#pragma once
// The OIDC step helpers of the HTTP integration tests: PKCE, and KeystepHttpTest, the base
// fixture that starts a fresh TestServer per test and drives authorize, the login page, the
// code exchange, refresh, userinfo and id_token verification as a browser and a client do.

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/http/http_client.h"
#include "tests/http/html_scrape.h"
#include "tests/http/http_client.h"
#include "tests/http/test_server.h"

namespace keystep::httptest {

// A PKCE verifier and its S256 challenge.
struct Pkce {
  std::string verifier;
  std::string challenge;
};
Pkce make_pkce();
std::string s256_challenge(const std::string& verifier);

// What the login page carries.
struct LoginPage {
  HttpResponse response;
  std::string flow;
  std::string csrf_token;
};

// Base fixture: a fresh server per test, a client and a browser cookie jar, and helpers that
// drive the protocol. Helpers report unexpected answers with ADD_FAILURE and return empty
// values, so a test states only what it is about.
class KeystepHttpTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // What SetUp starts the server with.
  virtual TestServerOptions server_options() const { return {}; }

  std::string url(const std::string& path) const { return server_->url(path); }
  TestClock& clock() { return server_->clock(); }

  // Authorization request parameters of the public client "spa" with PKCE `pkce`, scope
  // "openid email", state "st-123" and nonce "n-456".
  Fields spa_request(const Pkce& pkce) const;
  // Of the confidential client "web", without PKCE.
  Fields web_request() const;
  std::string authorize_url(const Fields& params) const;

  // GET /authorize with the browser jar.
  HttpResponse authorize(const Fields& params);
  // Follows a redirect to the login page and parses its hidden fields.
  LoginPage open_login_page(const std::string& login_url);
  // POST /login with the page's flow and CSRF token.
  HttpResponse submit_login(const LoginPage& page, const std::string& email,
                            const std::string& password);
  // authorize → login page → POST /login; returns the final response (a redirect to the
  // client on success).
  HttpResponse sign_in(const Fields& params, const std::string& email = TestServer::kAliceEmail,
                       const std::string& password = TestServer::kAlicePassword);
  // As sign_in, and returns the code of the redirect to the client ("" on failure).
  std::string sign_in_for_code(const Fields& params,
                               const std::string& email = TestServer::kAliceEmail,
                               const std::string& password = TestServer::kAlicePassword);

  // POST /token, grant_type=authorization_code, for "spa".
  HttpResponse exchange_spa_code(const std::string& code, const std::string& verifier);
  // A full login and code exchange for "spa"; returns the token response body.
  nlohmann::json spa_tokens(const Fields& extra = {});
  // POST /token, grant_type=refresh_token, for "spa".
  HttpResponse refresh_spa(const std::string& refresh_token);
  HttpResponse userinfo(const std::string& access_token);

  // Verifies an id_token against the served JWKS; returns its claims (null on failure).
  nlohmann::json verify_id_token(const std::string& id_token);

  std::unique_ptr<TestServer> server_;
  HttpClient client_;
  CookieJar browser_;
};

}  // namespace keystep::httptest
