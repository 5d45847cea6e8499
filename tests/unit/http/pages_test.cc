// The page rules (docs/page-rules.md) as http/ renders them: errors tied to their field, the
// focus, keys spelled out for assistive technology, the otpauth:// link, the switch as a
// button, error pages that say what happened and what to do. The rendered pages are checked
// in a browser by tests/e2e/a11y.test.mjs.
#include "http/pages.h"

#include <gtest/gtest.h>

#include <string>

namespace keystep::http {
namespace {

bool has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

TEST(SpelledOut, ReadsEachCharacterAndPausesBetweenGroups) {
  EXPECT_EQ(spelled_out("U56N OQNO"), "U 5 6 N, O Q N O");
  EXPECT_EQ(spelled_out("ABCDE-FGHJK"), "A B C D E, F G H J K");
  EXPECT_EQ(spelled_out(""), "");
}

TEST(FieldFocus, AnInvalidFieldIsDescribedByThePageErrorAndFocused) {
  EXPECT_EQ(field_focus(true, false),
            " aria-invalid=\"true\" aria-describedby=\"page-error\" autofocus");
  EXPECT_EQ(field_focus(false, true), " autofocus");
  EXPECT_EQ(field_focus(false, false), "");
  EXPECT_TRUE(has(render_messages("", "Wrong."), "id=\"page-error\""));
}

TEST(LoginPage, AWrongPasswordFocusesThePasswordNotTheFilledEmail) {
  LoginView v;
  v.email = "alice@example.com";
  v.error_message = "The email or password is not correct.";
  const std::string page = render_login_page(v);
  EXPECT_TRUE(has(page,
                  "autocomplete=\"current-password\" required aria-invalid=\"true\" "
                  "aria-describedby=\"page-error\" autofocus>"))
      << page;
  EXPECT_TRUE(has(page, "autocomplete=\"username\" required value=\"alice@example.com\""))
      << page;
}

TEST(LoginPage, WithoutAnErrorTheEmailIsFocused) {
  const std::string page = render_login_page(LoginView{});
  EXPECT_TRUE(has(page, "autocomplete=\"username\" required autofocus value=\"\"")) << page;
  EXPECT_FALSE(has(page, "aria-invalid=\"true\""));
}

TEST(SecondFactorPage, AWrongCodeMarksTheCodeField) {
  SecondFactorView v;
  v.method = "totp";
  v.error_message = "That code is not valid.";
  EXPECT_TRUE(has(render_second_factor_page(v), "aria-invalid=\"true\""));
}

ProfileView enrolling() {
  ProfileView v;
  v.method = "totp";
  v.enrollment.otpauth_uri = "otpauth://totp/Acme:alice?secret=U56NOQNO&issuer=Acme";
  v.enrollment.qr_png_data_uri = "data:image/png;base64,AAAA";
  v.enrollment.display_secret = "U56N OQNO";
  return v;
}

TEST(EnablePage, OffersTheOtpauthLinkAndTheKeySpelledOut) {
  const std::string page = render_enable_two_factor_page(enrolling());
  EXPECT_TRUE(has(page, "href=\"otpauth://totp/Acme:alice?secret=U56NOQNO&amp;issuer=Acme\""))
      << page;
  EXPECT_TRUE(has(page, "<p class=\"secret\" id=\"secret-key\">U56N OQNO</p>"));
  EXPECT_TRUE(has(page, "<p class=\"sr-only\">The key spelled out: U 5 6 N, O Q N O.</p>"));
  EXPECT_FALSE(has(page, "alt=\"QR code\""));
}

TEST(RecoveryCodesPage, SpellsTheCodesOut) {
  ProfileView v;
  v.recovery_codes = {"ABCDE-FGHJK", "KMNPQ-RSTUV"};
  EXPECT_TRUE(has(render_recovery_codes_page(v),
                  "The codes spelled out: A B C D E, F G H J K; K M N P Q, R S T U V."));
}

TEST(ProfilePage, TheOnSwitchIsAButtonSubmittingTheTurnOffForm) {
  ProfileView v;
  v.two_factor.user_setting = true;
  v.error_field = "password";
  v.error_message = "Enter your password or a current code from your authenticator app.";
  const std::string page = render_profile_page(v);
  EXPECT_TRUE(has(page,
                  "<button class=\"switch\" type=\"submit\" form=\"turn-off\" role=\"switch\" "
                  "aria-checked=\"true\""))
      << page;
  EXPECT_FALSE(has(page, "<a class=\"badge\""));
  EXPECT_TRUE(has(page, "autocomplete=\"current-password\" aria-invalid=\"true\""));
}

TEST(ErrorPage, EveryFaultSaysWhatHappenedAndWhatToDo) {
  for (int i = 0; i < static_cast<int>(Fault::kEnd); ++i) {
    const std::string page = render_error_page(static_cast<Fault>(i), ErrorView{"Details."});
    SCOPED_TRACE("Fault #" + std::to_string(i));
    EXPECT_FALSE(has(page, "Something went wrong"));
    EXPECT_TRUE(has(page, "<p class=\"error\" role=\"alert\">Details.</p><p>")) << page;
    EXPECT_TRUE(has(page, "href=\"/profile\""));
  }
  const std::string forbidden = render_error_page(Fault::kForbidden, ErrorView{"x"});
  EXPECT_TRUE(has(forbidden, "<h1>You do not have access to this page</h1>")) << forbidden;
  const std::string invitation = render_error_page(Fault::kInvitationNotFound, ErrorView{"x"});
  EXPECT_TRUE(has(invitation, "send a new invitation")) << invitation;
}

TEST(SignedOutPage, OffersAWayBack) {
  EXPECT_TRUE(has(render_logged_out_page(), "href=\"/profile\">Sign in again</a>"));
}

TEST(HomePage, IsTitledHome) {
  EXPECT_TRUE(has(render_home_page("https://id.example"), "<title>Home · Keystep</title>"));
}

}  // namespace
}  // namespace keystep::http
