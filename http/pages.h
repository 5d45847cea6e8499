#pragma once
// Server-rendered HTML pages. Every interpolated value goes through html_escape; pages work
// without JavaScript.

#include <string>
#include <string_view>

#include "idp/oidc/provider.h"

namespace keystep::http {

std::string html_escape(std::string_view text);

// The chrome every page shares (head, style, brand) around `body`; `wide` for pages with
// tables. `title` is escaped here.
std::string render_page(std::string_view title, std::string_view body, bool wide = false);
// The navigation of Keystep's signed-in pages: the profile, and Account setup >
// Authentication for users allowed to see it.
std::string render_nav(bool can_view_auth_settings);
// A page's notice (role=status) and error (role=alert, id kPageErrorId) paragraphs; empty
// ones are left out.
std::string render_messages(std::string_view notice, std::string_view error);
inline constexpr std::string_view kPageErrorId = "page-error";
// The attributes of a form field: with `invalid` the page's error is about it (aria-invalid,
// aria-describedby the error, autofocus), else autofocus when `focus`, else nothing.
std::string field_focus(bool invalid, bool focus);
// A code or key as assistive technology should read it: one character at a time, its groups
// (separated by spaces or '-') by commas. "U56N OQNO" -> "U 5 6 N, O Q N O". Not escaped.
std::string spelled_out(std::string_view text);

std::string render_login_page(const LoginView& view);
std::string render_signup_page(const SignupView& view);
// The second step: the method's field as its provider asks (a typed code: inputmode, length,
// a pattern of its characters, autocomplete; a ceremony: its options in the form's
// data-options and one same-origin <script src>, never inline script), and "Use another
// method" as plain links, so typed codes work without JavaScript. The forced setup with
// kSetupMethod.
std::string render_second_factor_page(const SecondFactorView& view);
std::string render_profile_page(const ProfileView& view);
std::string render_enable_two_factor_page(const ProfileView& view);
std::string render_recovery_codes_page(const ProfileView& view);
// Asks to confirm removing the user's last second factor (which turns 2FA off).
std::string render_remove_factor_page(const ProfileView& view);
// "Confirm it's you": a factor action needs a recent sign-in at the demanded level.
std::string render_confirm_its_you_page(const ProfileView& view);
// The error page of `fault`, showing its `error` code (http/error_table.h).
std::string render_error_page(Fault fault, const ErrorView& view);
std::string render_logged_out_page();
std::string render_logout_confirm_page(const LogoutConfirmView& view);
// A third-party application's request: what it may see, Allow and Deny.
std::string render_consent_page(const ConsentView& view);
std::string render_home_page(const std::string& issuer);
// "Forgot your password?": the email form, the same answer for every address, the new
// password's form, and the end (http/reset_pages.cc).
std::string render_password_reset_page(const PasswordResetView& view);

}  // namespace keystep::http
