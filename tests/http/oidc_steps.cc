#include "tests/http/oidc_steps.h"

#include "base/crypto/hash.h"
#include "base/crypto/jws.h"
#include "base/crypto/random.h"
#include "tests/http/html_scrape.h"

namespace keystep::httptest {

std::string s256_challenge(const std::string& verifier) { return sha256_b64url(verifier); }

Pkce make_pkce() {
  OsRandom random;
  auto verifier = random_token(random, 32);  // 43 characters of the unreserved set
  if (!verifier) {
    ADD_FAILURE() << verifier.error().message;
    return {};
  }
  return Pkce{*verifier, s256_challenge(*verifier)};
}

void KeystepHttpTest::SetUp() {
  auto server = TestServer::start(server_options());
  ASSERT_TRUE(server) << server.error().message;
  server_ = std::move(server).value();
}

void KeystepHttpTest::TearDown() { server_.reset(); }

Fields KeystepHttpTest::spa_request(const Pkce& pkce) const {
  return {{"client_id", "spa"},
          {"redirect_uri", TestServer::kSpaRedirect},
          {"response_type", "code"},
          {"scope", "openid email"},
          {"state", "st-123"},
          {"nonce", "n-456"},
          {"code_challenge", pkce.challenge},
          {"code_challenge_method", "S256"}};
}

Fields KeystepHttpTest::web_request() const {
  return {{"client_id", "web"},      {"redirect_uri", TestServer::kWebRedirect},
          {"response_type", "code"}, {"scope", "openid"},
          {"state", "web-state"},    {"nonce", "web-nonce"}};
}

std::string KeystepHttpTest::authorize_url(const Fields& params) const {
  return url("/authorize?" + encode_fields(params));
}

HttpResponse KeystepHttpTest::authorize(const Fields& params) {
  return client_.get(authorize_url(params), &browser_);
}

LoginPage KeystepHttpTest::open_login_page(const std::string& login_url) {
  LoginPage page;
  page.response = client_.get(login_url, &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "login page " << login_url << " answered " << page.response.status << ": "
                  << page.response.body;
    return page;
  }
  page.flow = input_value(page.response.body, "flow");
  page.csrf_token = input_value(page.response.body, "csrf_token");
  if (page.flow.empty() || page.csrf_token.empty())
    ADD_FAILURE() << "login page lacks flow or csrf_token: " << page.response.body;
  return page;
}

HttpResponse KeystepHttpTest::submit_login(const LoginPage& page, const std::string& email,
                                           const std::string& password) {
  return client_.post_form(url("/login"),
                           {{"flow", page.flow},
                            {"csrf_token", page.csrf_token},
                            {"email", email},
                            {"password", password}},
                           &browser_);
}

HttpResponse KeystepHttpTest::sign_in(const Fields& params, const std::string& email,
                                      const std::string& password) {
  HttpResponse start = authorize(params);
  if (start.status != 302) {
    ADD_FAILURE() << "/authorize answered " << start.status << ": " << start.body;
    return start;
  }
  // With a live session the browser goes straight back to the client.
  if (start.location().rfind(url("/login?"), 0) != 0) return start;
  LoginPage page = open_login_page(start.location());
  if (page.flow.empty()) return page.response;
  return submit_login(page, email, password);
}

std::string KeystepHttpTest::sign_in_for_code(const Fields& params, const std::string& email,
                                              const std::string& password) {
  HttpResponse done = sign_in(params, email, password);
  const std::string redirect = field(params, "redirect_uri").value_or("");
  if (done.status != 302 || without_query(done.location()) != redirect) {
    ADD_FAILURE() << "sign-in did not return to " << redirect << ": " << done.status << " "
                  << done.location() << " " << done.body;
    return "";
  }
  auto code = field(query_of(done.location()), "code");
  if (!code || code->empty()) {
    ADD_FAILURE() << "no code in " << done.location();
    return "";
  }
  return *code;
}

HttpResponse KeystepHttpTest::exchange_spa_code(const std::string& code,
                                                const std::string& verifier) {
  return client_.post_form(url("/token"), {{"grant_type", "authorization_code"},
                                           {"code", code},
                                           {"redirect_uri", TestServer::kSpaRedirect},
                                           {"client_id", "spa"},
                                           {"code_verifier", verifier}});
}

nlohmann::json KeystepHttpTest::spa_tokens(const Fields& extra) {
  const Pkce pkce = make_pkce();
  Fields params = spa_request(pkce);
  for (const auto& [name, value] : extra) params = with(params, name, value);
  const std::string code = sign_in_for_code(params);
  if (code.empty()) return nullptr;
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  if (tokens.status != 200) {
    ADD_FAILURE() << "code exchange answered " << tokens.status << ": " << tokens.body;
    return nullptr;
  }
  return tokens.json();
}

HttpResponse KeystepHttpTest::refresh_spa(const std::string& refresh_token) {
  return client_.post_form(
      url("/token"),
      {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}, {"client_id", "spa"}});
}

HttpResponse KeystepHttpTest::userinfo(const std::string& access_token) {
  return client_.get(url("/userinfo"), nullptr, {"Authorization: Bearer " + access_token});
}

nlohmann::json KeystepHttpTest::verify_id_token(const std::string& id_token) {
  HttpResponse jwks = client_.get(url("/jwks.json"));
  if (jwks.status != 200) {
    ADD_FAILURE() << "/jwks.json answered " << jwks.status;
    return nullptr;
  }
  auto verifier = JwsVerifier::from_jwks(jwks.json());
  if (!verifier) {
    ADD_FAILURE() << "JWKS unusable: " << verifier.error().message;
    return nullptr;
  }
  auto claims = verifier->verify(id_token);
  if (!claims) {
    ADD_FAILURE() << "id_token does not verify: " << claims.error().message;
    return nullptr;
  }
  return *claims;
}

}  // namespace keystep::httptest
