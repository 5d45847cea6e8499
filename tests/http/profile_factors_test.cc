// The profile's second factors (issue 11, items 2, 6, 7): the list with Rename, Remove and
// Add, the caps, the "Confirm it's you" step of an old sign-in, the recovery codes as a step
// of the first factor only, and the notices in the outbox.

#include <gtest/gtest.h>

#include <vector>

#include "tests/http/html_scrape.h"
#include "tests/http/mfa_steps.h"
#include "tests/support/account_mfa.h"

namespace keystep::httptest {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A factor as a row of the profile's list shows it.
struct ListedFactor {
  std::string credential;
  std::string version;
  std::string label;
};

std::vector<ListedFactor> listed_factors(const std::string& html) {
  std::vector<ListedFactor> out;
  const std::string form = "action=\"/profile/two-factor/rename\"";
  for (auto at = html.find(form); at != std::string::npos; at = html.find(form, at + 1)) {
    const std::string row = html.substr(at, html.find("</form>", at) - at);
    out.push_back({input_value(row, "credential"), input_value(row, "version"),
                   input_value(row, "label")});
  }
  return out;
}

class ProfileFactors : public MfaHttpTest {
 protected:
  HttpResponse rename(const ProfilePage& profile, const ListedFactor& f, const std::string& label,
                      bool with_csrf = true) {
    Fields form = {{"credential", f.credential}, {"version", f.version}, {"label", label}};
    if (with_csrf) form.push_back({"csrf_token", profile.csrf_token});
    return client_.post_form(url("/profile/two-factor/rename"), form, &browser_);
  }
  HttpResponse add(const ProfilePage& profile, const std::string& method) {
    return client_.post_form(url("/profile/two-factor/add"),
                             {{"csrf_token", profile.csrf_token}, {"method", method}}, &browser_);
  }
  std::vector<OutgoingMail> mail() {
    auto all = server_->store().mail_for(TestServer::kAliceEmail);
    EXPECT_TRUE(all);
    return all ? *all : std::vector<OutgoingMail>{};
  }
};

TEST_F(ProfileFactors, ListsTheFactorWithItsTypeWhenAddedAndWhenLastUsed) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  const std::string html = open_profile().response.body;
  EXPECT_TRUE(has(html, "Your second factors")) << html;
  const auto factors = listed_factors(html);
  ASSERT_EQ(factors.size(), 1u) << html;
  EXPECT_EQ(factors[0].label, "Authenticator app");
  // Confirming it with a code was its first use.
  EXPECT_TRUE(has(html, "<td>Authenticator app</td><td>2025-06-15 15:06 UTC</td><td>2025-06-15 "
                        "15:06 UTC</td>"))
      << html;
  EXPECT_TRUE(has(html, "action=\"/profile/two-factor/remove\"")) << html;

  // A sign-in with the app is its last use.
  new_browser();
  const Pkce pkce = make_pkce();
  HttpResponse start = client_.get(url("/profile"), &browser_);
  LoginPage login = open_login_page(start.location());
  HttpResponse password = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  SecondFactorPage second = open_second_factor_page(password.location());
  clock().advance(60);
  ASSERT_EQ(submit_second_factor(second, code_now(secret)).status, 302);
  const std::string after = open_profile().response.body;
  EXPECT_TRUE(has(after, "<td>2025-06-15 15:07 UTC</td><td><form")) << after;
}

TEST_F(ProfileFactors, RenameChangesTheLabelTheListShows) {
  ASSERT_FALSE(enable_two_factor().empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  HttpResponse r = rename(profile, factors[0], "  Work phone ");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r.body, "Renamed.")) << r.body;
  const auto after = listed_factors(open_profile().response.body);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].label, "Work phone");  // the spaces around it dropped
}

TEST_F(ProfileFactors, RenameWithoutOrWithAWrongCsrfTokenIs403AndKeepsTheLabel) {
  ASSERT_FALSE(enable_two_factor().empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  EXPECT_EQ(rename(profile, factors[0], "Stolen", false).status, 403);
  ProfilePage wrong = profile;
  wrong.csrf_token += "x";
  EXPECT_EQ(rename(wrong, factors[0], "Stolen").status, 403);
  EXPECT_EQ(listed_factors(open_profile().response.body)[0].label, "Authenticator app");
}

TEST_F(ProfileFactors, RenameRefusesEmptyTooLongAndControlCharacterLabelsWith400) {
  ASSERT_FALSE(enable_two_factor().empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  for (const std::string& bad : {std::string("   "), std::string(65, 'a'), std::string("a\x01z"),
                                 std::string("line\nbreak"), std::string("\xE2\x80\xAE" "evil")}) {
    HttpResponse r = rename(profile, factors[0], bad);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has(r.body, "class=\"error\"")) << r.body;
  }
  EXPECT_EQ(rename(profile, factors[0], "\xFF").status, 400);  // not UTF-8: refused by http/
  EXPECT_EQ(listed_factors(open_profile().response.body)[0].label, "Authenticator app");
  // 64 characters, several bytes each, are fine.
  std::string longest;
  for (int i = 0; i < 64; ++i) longest += "\xC3\xA9";  // é
  EXPECT_EQ(rename(profile, factors[0], longest).status, 200);
  EXPECT_EQ(listed_factors(open_profile().response.body)[0].label, longest);
}

TEST_F(ProfileFactors, RenameOfAVersionThatChangedMeanwhileIs409) {
  ASSERT_FALSE(enable_two_factor().empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  ASSERT_EQ(rename(profile, factors[0], "First").status, 200);
  HttpResponse stale = rename(profile, factors[0], "Second");  // the version before "First"
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(listed_factors(open_profile().response.body)[0].label, "First");
  ListedFactor other = factors[0];
  other.credential = "999999";
  EXPECT_EQ(rename(profile, other, "Nope").status, 404);
}

TEST_F(ProfileFactors, AddOffersTheMethodsTheAccountAllows) {
  ProfilePage profile = sign_in_to_profile();
  EXPECT_TRUE(has(profile.response.body, "action=\"/profile/two-factor/add\""))
      << profile.response.body;
  EXPECT_TRUE(has(profile.response.body, "<option value=\"totp\">Authenticator app</option>"));
  HttpResponse r = add(profile, "totp");
  EXPECT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.location(), url("/profile/two-factor/enable?method=totp"));
  HttpResponse unknown = add(profile, "no_such_method");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
}

TEST_F(ProfileFactors, TheFirstFactorQueuesTheAddedNoticeInTheOutbox) {
  ASSERT_TRUE(mail().empty());
  ASSERT_FALSE(enable_two_factor().empty());
  const auto sent = mail();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subject, "A second factor was added (Acme)");
  EXPECT_TRUE(has(sent[0].mime, "Subject: A second factor was added")) << sent[0].mime;
}

// The "Confirm it's you" step (sudo mode): a factor action from a sign-in older than
// reauthentication_max_age shows the step, which signs in again and comes back.
TEST_F(ProfileFactors, OldSignInIsAskedToConfirmItsYouBeforeAFactorAction) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  clock().advance(15 * 60 + 1);  // past reauthentication_max_age

  for (HttpResponse r : {add(profile, "totp"), rename(profile, factors[0], "Renamed")}) {
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(has(r.body, "<h1>Confirm it's you</h1>")) << r.body;
    EXPECT_TRUE(has(r.body, "within the last 15 minutes")) << r.body;
    EXPECT_TRUE(has(r.body, "action=\"/profile/confirm\"")) << r.body;
  }
  EXPECT_EQ(listed_factors(open_profile().response.body)[0].label, "Authenticator app");
  EXPECT_EQ(client_.get(url("/profile/two-factor/enable?method=totp"), &browser_).status, 302);

  // The step's button needs the form's CSRF token, then starts a sign-in that comes back.
  EXPECT_EQ(client_.post_form(url("/profile/confirm"), {}, &browser_).status, 403);
  HttpResponse confirm =
      client_.post_form(url("/profile/confirm"), {{"csrf_token", profile.csrf_token}}, &browser_);
  ASSERT_EQ(confirm.status, 302) << confirm.body;
  LoginPage login = open_login_page(confirm.location());
  EXPECT_TRUE(has(login.response.body, TestServer::kAliceEmail));
  HttpResponse password = submit_login(login, TestServer::kAliceEmail, TestServer::kAlicePassword);
  SecondFactorPage second = open_second_factor_page(password.location());
  HttpResponse done = submit_second_factor(second, next_code(secret));
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(done.location(), url("/profile"));
  ProfilePage fresh = open_profile();
  EXPECT_EQ(rename(fresh, listed_factors(fresh.response.body)[0], "Renamed").status, 200);
}

class CappedProfileFactors : public ProfileFactors {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.credential_caps = CredentialCaps{};
    options.credential_caps->providers = {{"totp", 1}};
    return options;
  }
};

TEST_F(CappedProfileFactors, AtTheCapTheMethodIsNotOfferedAndAddingIsRefusedWith409) {
  ASSERT_FALSE(enable_two_factor().empty());
  ProfilePage profile = open_profile();
  EXPECT_FALSE(has(profile.response.body, "<option value=\"totp\">")) << profile.response.body;
  HttpResponse r = add(profile, "totp");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(has(r.body, "at most 1")) << r.body;
  EXPECT_EQ(listed_factors(open_profile().response.body).size(), 1u);
}

}  // namespace
}  // namespace keystep::httptest
