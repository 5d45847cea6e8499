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
  HttpResponse remove(const ProfilePage& profile, const ListedFactor& f, bool confirm = false) {
    Fields form = {{"csrf_token", profile.csrf_token},
                   {"credential", f.credential},
                   {"version", f.version}};
    if (confirm) form.push_back({"confirm", "yes"});
    return client_.post_form(url("/profile/two-factor/remove"), form, &browser_);
  }
  // Adds an authenticator app from the profile (the user has one already) and returns its
  // secret; `done` receives the answer to the code.
  std::string add_app(HttpResponse* done = nullptr) {
    ProfilePage profile = open_profile();
    HttpResponse started = add(profile, "totp");
    if (started.status != 302) {
      ADD_FAILURE() << "add answered " << started.status << ": " << started.body;
      return "";
    }
    HttpResponse page = client_.get(started.location(), &browser_);
    EXPECT_TRUE(has(page.body, "<h1>Add Authenticator app</h1>")) << page.body;
    const std::string secret = secret_on(page);
    HttpResponse r = confirm_enable(profile, code_now(secret));
    if (done) *done = r;
    return secret;
  }
  // Whether a sign-in in a new browser with `secret`'s next code reaches the client.
  bool signs_in_with(const std::string& secret) {
    new_browser();
    const Pkce pkce = make_pkce();
    SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
    HttpResponse r = submit_second_factor(page, next_code(secret));
    return r.status == 302 && has(r.location(), "code=");
  }
  std::vector<OutgoingMail> mail() {
    auto all = server_->outbox().mail_for(TestServer::kAliceEmail);
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

  for (HttpResponse r : {add(profile, "totp"), rename(profile, factors[0], "Renamed"),
                         remove(profile, factors[0], true)}) {
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(has(r.body, "<h1>Confirm it's you</h1>")) << r.body;
    EXPECT_TRUE(has(r.body, "within the last 15 minutes")) << r.body;
    EXPECT_TRUE(has(r.body, "action=\"/profile/confirm\"")) << r.body;
  }
  const auto unchanged = listed_factors(open_profile().response.body);
  ASSERT_EQ(unchanged.size(), 1u);
  EXPECT_EQ(unchanged[0].label, "Authenticator app");
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

TEST_F(ProfileFactors, ASecondAuthenticatorAppIsListedKeepsTheRecoveryCodesAndEachSignsIn) {
  const std::string first = enable_two_factor();
  ASSERT_FALSE(first.empty());
  const auto codes = recovery_codes_;
  HttpResponse done;
  const std::string second = add_app(&done);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(has(done.body, "Authenticator app 2 added.")) << done.body;
  // No new recovery codes: the page is the profile, and the saved codes stay the valid ones.
  EXPECT_TRUE(recovery_codes_on(done).empty()) << done.body;
  EXPECT_TRUE(has(done.body, "10 unused")) << done.body;
  const auto factors = listed_factors(open_profile().response.body);
  ASSERT_EQ(factors.size(), 2u);
  EXPECT_EQ(factors[0].label, "Authenticator app");
  EXPECT_EQ(factors[1].label, "Authenticator app 2");
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
  const auto sent = mail();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].subject, "A second factor was added (Acme)");

  EXPECT_TRUE(signs_in_with(second));
  EXPECT_TRUE(signs_in_with(first));
  new_browser();
  const Pkce pkce = make_pkce();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  EXPECT_FALSE(code_of(submit_second_factor(page, codes[0], "recovery_code")).empty());
}

TEST_F(ProfileFactors, RemovingOneOfTwoKeepsTwoFactorOnAndQueuesTheRemovedNotice) {
  const std::string first = enable_two_factor();
  const std::string second = add_app();
  ASSERT_FALSE(second.empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 2u);
  HttpResponse r = remove(profile, factors[0]);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r.body, "Authenticator app removed.")) << r.body;
  const auto left = listed_factors(open_profile().response.body);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].label, "Authenticator app 2");
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);
  const auto sent = mail();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].subject, "A second factor was removed (Acme)");
  EXPECT_FALSE(signs_in_with(first));
  EXPECT_TRUE(signs_in_with(second));
}

TEST_F(ProfileFactors, RemovingTheLastFactorWhileTheAccountEnforcesTwoFactorIsRefusedWithTheReason) {
  ASSERT_FALSE(enable_two_factor().empty());
  const User alice = stored_user(server_->alice_id());
  ASSERT_TRUE(testsupport::set_account_mfa(server_->store(), alice.account_id, true, "{}"));
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  for (bool confirm : {false, true}) {
    HttpResponse r = remove(profile, factors[0], confirm);
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_TRUE(has(r.body, "Your account requires two-factor authentication, so you cannot "
                            "remove your last second factor. Add another one first."))
        << r.body;
  }
  EXPECT_EQ(listed_factors(open_profile().response.body).size(), 1u);
  EXPECT_EQ(mail().size(), 1u);  // the notice of the factor added only
}

TEST_F(ProfileFactors, RemovingTheLastFactorWithOnlyTheOwnSettingAsksThenTurnsTwoFactorOff) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 1u);
  HttpResponse ask = remove(profile, factors[0]);
  EXPECT_EQ(ask.status, 428) << ask.body;
  EXPECT_TRUE(has(ask.body, "<h1>Remove Authenticator app?</h1>")) << ask.body;
  EXPECT_TRUE(has(ask.body, "Removing it turns two-factor authentication off")) << ask.body;
  EXPECT_EQ(input_value(ask.body, "confirm"), "yes");
  EXPECT_TRUE(stored_user(server_->alice_id()).two_factor_enabled);  // nothing changed yet
  EXPECT_EQ(listed_factors(open_profile().response.body).size(), 1u);

  HttpResponse r = remove(profile, factors[0], true);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r.body, "Authenticator app removed. Two-factor authentication is off."))
      << r.body;
  EXPECT_TRUE(has(r.body, "aria-checked=\"false\"")) << r.body;
  EXPECT_FALSE(stored_user(server_->alice_id()).two_factor_enabled);
  auto status = server_->two_factor().status(stored_user(server_->alice_id()));
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->factors.empty());
  EXPECT_FALSE(status->has_recovery_codes);
  const auto sent = mail();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].subject, "A second factor was removed (Acme)");
  // A fresh sign-in asks for the password only.
  new_browser();
  const Pkce pkce = make_pkce();
  EXPECT_FALSE(sign_in_for_code(spa_request(pkce)).empty());
}

TEST_F(ProfileFactors, RemoveOfAnotherUsersOrAStaleFactorChangesNothing) {
  ASSERT_FALSE(enable_two_factor().empty());
  ASSERT_FALSE(add_app().empty());
  ProfilePage profile = open_profile();
  const auto factors = listed_factors(profile.response.body);
  ASSERT_EQ(factors.size(), 2u);
  ASSERT_EQ(rename(profile, factors[0], "Renamed").status, 200);
  EXPECT_EQ(remove(profile, factors[0]).status, 409);  // listed before the rename
  ListedFactor unknown = factors[0];
  unknown.credential = "999999";
  EXPECT_EQ(remove(profile, unknown).status, 404);
  EXPECT_EQ(listed_factors(open_profile().response.body).size(), 2u);
  Fields no_csrf = {{"credential", factors[1].credential}, {"version", factors[1].version}};
  EXPECT_EQ(client_.post_form(url("/profile/two-factor/remove"), no_csrf, &browser_).status, 403);
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

TEST_F(CappedProfileFactors, TheCapIsCheckedAgainWhenTheFactorIsConfirmed) {
  // Cap 1: enrolling begins while Alice has no app; before she confirms it, one is
  // registered for her (as an administrator would).
  ProfilePage profile = sign_in_to_profile();
  const std::string secret = secret_on(start_enable(profile));
  ASSERT_FALSE(secret.empty());
  MfaCredential registered;
  registered.user_id = server_->alice_id();
  registered.provider_id = "totp";
  registered.confirmed = true;
  registered.secret = "not used";
  registered.params = {{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}};
  registered.state = nlohmann::json::object();
  ASSERT_TRUE(server_->store().add_credential(registered, 1));
  HttpResponse r = confirm_enable(profile, code_now(secret));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(has(r.body, "at most 1")) << r.body;
  EXPECT_TRUE(recovery_codes_on(r).empty());
}

}  // namespace
}  // namespace keystep::httptest
