#include "tests/http/mfa_steps.h"

#include <algorithm>
#include <cstdio>

#include "providers/totp/totp_provider.h"
#include "tests/http/html_scrape.h"

namespace keystep::httptest {

ProfilePage MfaHttpTest::open_profile() {
  ProfilePage page;
  page.response = client_.get(url("/profile"), &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "/profile answered " << page.response.status << " " << page.response.location()
                  << ": " << page.response.body;
    return page;
  }
  page.csrf_token = input_value(page.response.body, "csrf_token");
  if (page.csrf_token.empty()) ADD_FAILURE() << "profile lacks csrf_token: " << page.response.body;
  return page;
}

ProfilePage MfaHttpTest::sign_in_to_profile(const std::string& email, const std::string& password) {
  HttpResponse start = client_.get(url("/profile"), &browser_);
  if (start.status != 302 || without_query(start.location()) != url("/login")) {
    ADD_FAILURE() << "/profile without a session answered " << start.status << " "
                  << start.location();
    return {start, ""};
  }
  LoginPage login = open_login_page(start.location());
  if (login.flow.empty()) return {login.response, ""};
  HttpResponse done = submit_login(login, email, password);
  if (done.status != 302 || done.location() != url("/profile")) {
    ADD_FAILURE() << "signing in to the profile answered " << done.status << " " << done.location()
                  << ": " << done.body;
    return {done, ""};
  }
  return open_profile();
}

HttpResponse MfaHttpTest::start_enable(const ProfilePage& profile) {
  HttpResponse toggled =
      client_.post_form(url("/profile/two-factor"),
                        {{"csrf_token", profile.csrf_token}, {"action", "enable"}}, &browser_);
  if (toggled.status != 302 || toggled.location() != url("/profile/two-factor/enable")) {
    ADD_FAILURE() << "action=enable answered " << toggled.status << " " << toggled.location()
                  << ": " << toggled.body;
    return toggled;
  }
  HttpResponse page = client_.get(toggled.location(), &browser_);
  if (page.status != 200) ADD_FAILURE() << "enable page answered " << page.status;
  return page;
}

std::string MfaHttpTest::secret_on(const HttpResponse& enable_page) {
  const std::string marker = "id=\"secret-key\">";
  const auto at = enable_page.body.find(marker);
  const auto end = at == std::string::npos ? at : enable_page.body.find("</p>", at);
  if (end == std::string::npos) {
    ADD_FAILURE() << "no secret on the enable page: " << enable_page.body;
    return "";
  }
  const std::string shown =
      html_unescape(enable_page.body.substr(at + marker.size(), end - at - marker.size()));
  auto secret = base32_decode(shown);
  if (!secret || secret->empty()) {
    ADD_FAILURE() << "the secret shown is not base32: " << shown;
    return "";
  }
  return *secret;
}

HttpResponse MfaHttpTest::confirm_enable(const ProfilePage& profile, const std::string& code) {
  return client_.post_form(url("/profile/two-factor/enable"),
                           {{"csrf_token", profile.csrf_token}, {"code", code}}, &browser_);
}

std::string MfaHttpTest::enable_two_factor() {
  ProfilePage profile = sign_in_to_profile();
  if (profile.csrf_token.empty()) return "";
  const std::string secret = secret_on(start_enable(profile));
  if (secret.empty()) return "";
  HttpResponse done = confirm_enable(profile, code_now(secret));
  if (done.status != 200) {
    ADD_FAILURE() << "confirming the enrollment answered " << done.status << ": " << done.body;
    return "";
  }
  recovery_codes_ = recovery_codes_on(done);
  return secret;
}

std::string MfaHttpTest::code_now(const std::string& secret) {
  auto code = totp_code(secret, "SHA1", 6, kStep, clock().now());
  if (!code) {
    ADD_FAILURE() << code.error().message;
    return "";
  }
  return *code;
}

std::string MfaHttpTest::wrong_code(const std::string& secret) {
  std::vector<std::string> accepted;
  for (int64_t offset : {-kStep, int64_t{0}, kStep}) {
    auto code = totp_code(secret, "SHA1", 6, kStep, clock().now() + offset);
    if (code) accepted.push_back(*code);
  }
  for (int candidate = 0;; ++candidate) {
    char text[8];
    std::snprintf(text, sizeof text, "%06d", (candidate * 7919 + 123456) % 1000000);
    if (std::find(accepted.begin(), accepted.end(), text) == accepted.end()) return text;
  }
}

std::string MfaHttpTest::next_code(const std::string& secret) {
  clock().advance(kStep);
  return code_now(secret);
}

SecondFactorPage MfaHttpTest::open_second_factor_page(const std::string& page_url) {
  SecondFactorPage page;
  page.response = client_.get(page_url, &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "second-factor page " << page_url << " answered " << page.response.status
                  << " " << page.response.location() << ": " << page.response.body;
    return page;
  }
  page.flow = input_value(page.response.body, "flow");
  page.csrf_token = input_value(page.response.body, "csrf_token");
  page.method = input_value(page.response.body, "method");
  if (page.flow.empty() || page.csrf_token.empty() || page.method.empty())
    ADD_FAILURE() << "second-factor page lacks flow, csrf_token or method: " << page.response.body;
  return page;
}

HttpResponse MfaHttpTest::submit_second_factor(const SecondFactorPage& page,
                                               const std::string& code,
                                               const std::optional<std::string>& method) {
  return client_.post_form(url("/login/second-factor"),
                           {{"flow", page.flow},
                            {"csrf_token", page.csrf_token},
                            {"method", method.value_or(page.method)},
                            {"code", code}},
                           &browser_);
}

SecondFactorPage MfaHttpTest::sign_in_to_second_factor(const Fields& params,
                                                       const std::string& email,
                                                       const std::string& password) {
  HttpResponse done = sign_in(params, email, password);
  if (done.status != 302 || without_query(done.location()) != url("/login/second-factor")) {
    ADD_FAILURE() << "the password step did not lead to the second factor: " << done.status << " "
                  << done.location() << ": " << done.body;
    return {done, "", "", ""};
  }
  return open_second_factor_page(done.location());
}

std::string MfaHttpTest::code_of(const HttpResponse& response, const std::string& redirect_uri) {
  if (response.status != 302 || without_query(response.location()) != redirect_uri) {
    ADD_FAILURE() << "expected a redirect to " << redirect_uri << ", got " << response.status << " "
                  << response.location() << ": " << response.body;
    return "";
  }
  auto code = field(query_of(response.location()), "code");
  if (!code || code->empty()) {
    ADD_FAILURE() << "no code in " << response.location();
    return "";
  }
  return *code;
}

nlohmann::json MfaHttpTest::id_token_claims(const std::string& code, const Pkce& pkce) {
  if (code.empty()) return nullptr;
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  if (tokens.status != 200) {
    ADD_FAILURE() << "code exchange answered " << tokens.status << ": " << tokens.body;
    return nullptr;
  }
  return verify_id_token(tokens.json().value("id_token", ""));
}

std::vector<std::string> MfaHttpTest::recovery_codes_on(const HttpResponse& page) {
  std::vector<std::string> codes;
  const auto list = page.body.find("<ul class=\"codes\">");
  const auto end = page.body.find("</ul>", list);
  if (list == std::string::npos || end == std::string::npos) return codes;
  for (auto at = page.body.find("<li>", list); at != std::string::npos && at < end;
       at = page.body.find("<li>", at + 1)) {
    const auto close = page.body.find("</li>", at);
    codes.push_back(html_unescape(page.body.substr(at + 4, close - at - 4)));
  }
  return codes;
}

User MfaHttpTest::stored_user(int64_t user_id) {
  auto user = server_->store().user_by_id(user_id);
  if (!user) {
    ADD_FAILURE() << "user " << user_id << ": " << user.error().message;
    return {};
  }
  return *user;
}

}  // namespace keystep::httptest
