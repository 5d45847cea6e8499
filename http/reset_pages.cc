// The "Forgot your password?" pages (idp/reset/). An error about one field is tied to it
// (aria-describedby, aria-invalid) and that field gets the focus.

#include "base/html.h"
#include "http/pages.h"

namespace keystep::http {
namespace {

// An input with its label and, under it, its hint (`hint`, id <id>-hint); with `error` (this
// field's) the message sits under the label, is announced (role=alert) and describes the
// field, which takes the focus.
std::string field(const std::string& id, const std::string& label, const std::string& attributes,
                  const std::string& error, bool focus, const std::string& hint = "") {
  std::string out = "<label for=\"" + id + "\">" + html_escape(label) + "</label>";
  std::string described;
  if (!error.empty()) {
    out += "<p class=\"error\" role=\"alert\" id=\"" + id + "-error\">" + html_escape(error) +
           "</p>";
    described = id + "-error";
  }
  if (!hint.empty()) described += (described.empty() ? "" : " ") + id + "-hint";
  out += "<input id=\"" + id + "\" name=\"" + id + "\" " + attributes;
  if (!error.empty()) out += " aria-invalid=\"true\"";
  if (!described.empty()) out += " aria-describedby=\"" + described + "\"";
  if (focus) out += " autofocus";
  out += ">";
  if (!hint.empty()) out += "<p><small id=\"" + id + "-hint\">" + html_escape(hint) + "</small></p>";
  return out;
}

std::string back_to_sign_in(const PasswordResetView& v) {
  if (v.flow_id.empty()) return "<p><a class=\"link\" href=\"/profile\">Back to sign-in</a></p>";
  return "<p><a class=\"link\" href=\"/login?flow=" + html_escape(v.flow_id) +
         "\">Back to sign-in</a></p>";
}

std::string ask(const PasswordResetView& v) {
  const bool on_email = v.error_field == "email";
  std::string body =
      "<h1>Reset your password</h1><p class=\"sub\">Enter the email address you sign in with. "
      "If it has an account, we email it a link to choose a new password.</p>";
  if (!on_email) body += render_messages("", v.error_message);
  body += "<form method=\"post\" action=\"/password/forgot\"><input type=\"hidden\" "
          "name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) + "\">";
  if (!v.flow_id.empty())
    body += "<input type=\"hidden\" name=\"flow\" value=\"" + html_escape(v.flow_id) + "\">";
  body += field("email", "Email",
                "type=\"email\" autocomplete=\"username\" required maxlength=\"254\" value=\"" +
                    html_escape(v.email) + "\"",
                on_email ? v.error_message : "", true);
  body += "<button type=\"submit\">Email me a link</button></form>" + back_to_sign_in(v);
  return render_page("Reset your password", body);
}

std::string sent(const PasswordResetView& v) {
  std::string body =
      "<h1>Check your email</h1><p class=\"notice\" role=\"status\">If an account uses that "
      "address, we have sent it a link to choose a new password. The link works once, for " +
      std::to_string(v.link_minutes) +
      " minutes.</p><p>No email after a few minutes? Check your spam folder, make sure you typed "
      "the address you sign in with, or ask again. If it still does not come, ask your "
      "administrator.</p>";
  return render_page("Check your email", body + back_to_sign_in(v));
}

std::string new_password(const PasswordResetView& v) {
  const bool on_confirm = v.error_field == "password_confirm";
  const bool on_password = !on_confirm && !v.error_message.empty();
  std::string body = "<h1>Choose a new password</h1><p class=\"sub\">For <strong>" +
                     html_escape(v.email) + "</strong> at " + html_escape(v.account_label) +
                     ". When it is saved you are signed out everywhere.</p>";
  const std::string attributes =
      "type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" "
      "required";
  body += "<form method=\"post\" action=\"/password/reset\"><input type=\"hidden\" "
          "name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) +
          "\"><input type=\"email\" name=\"username\" autocomplete=\"username\" value=\"" +
          html_escape(v.email) + "\" hidden readonly>";
  body += field("password", "New password", attributes, on_password ? v.error_message : "",
                !on_confirm, "8 to 1024 characters.");
  body += field("password_confirm", "New password again", attributes,
                on_confirm ? v.error_message : "", on_confirm);
  body += "<button type=\"submit\">Save the new password</button></form>";
  return render_page("Choose a new password", body);
}

std::string done(const PasswordResetView& v) {
  std::string body =
      "<h1>Your password was changed</h1><p class=\"notice\" role=\"status\">The new password of "
      "<strong>" + html_escape(v.email) +
      "</strong> is saved. You were signed out everywhere, and we emailed you that the password "
      "changed.</p><p>Go back to the application you were using and sign in with the new "
      "password, or <a class=\"link\" href=\"/profile\">sign in to your Keystep profile</a>.</p>";
  return render_page("Password changed", body);
}

}  // namespace

std::string render_password_reset_page(const PasswordResetView& v) {
  switch (v.step) {
    case PasswordResetView::Step::kAsk: return ask(v);
    case PasswordResetView::Step::kSent: return sent(v);
    case PasswordResetView::Step::kNewPassword: return new_password(v);
    case PasswordResetView::Step::kDone: return done(v);
  }
  return ask(v);
}

}  // namespace keystep::http
