#include "http/pages.h"

#include <algorithm>
#include <ctime>

#include "base/html.h"
#include "base/url.h"
#include "http/error_table.h"

namespace keystep::http {
namespace {

constexpr std::string_view kStyle = R"(<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:420px;margin:8vh auto;background:#fff;border-radius:10px;padding:32px 36px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
@media (max-width:520px){main,main.wide{margin:0 auto;border-radius:0;padding:20px 16px;box-shadow:none}}
h1{font-size:1.4rem;margin:0 0 .3rem}p.sub{color:#5b6475;margin:.2rem 0 1.4rem}
label{display:block;font-weight:600;margin:1rem 0 .35rem}
dl.details{margin:0}dl.details dt{font-weight:600}dl.details dd{margin:0 0 .3rem}
input[type=email],input[type=password],input[type=text],textarea{width:100%;box-sizing:border-box;min-height:44px;padding:.65rem .75rem;border:1px solid #767f8f;border-radius:6px;font-size:1rem}
input[aria-invalid=true]{border:2px solid #a1131b}
input[type=checkbox],input[type=radio]{width:24px;height:24px;margin:0;flex:none}
button{margin-top:1.4rem;width:100%;min-height:44px;padding:.7rem;border:0;border-radius:6px;background:#2256d6;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}
.error{background:#fdecec;color:#a1131b;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
.brand{font-weight:700;color:#2256d6;letter-spacing:.02em;margin-bottom:1rem}
.notice{background:#e9f6ee;color:#145c2f;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
.row{display:flex;justify-content:space-between;align-items:center;gap:1rem;border-top:1px solid #e3e6eb;padding:1rem 0}
.switch{width:auto;min-width:4.5rem;margin:0;padding:.35rem .9rem;border-radius:999px;background:#dfe2e7;color:#1d2330;border:1px solid #767f8f}
.switch[aria-checked=true]{background:#187a42;color:#fff;border-color:#187a42}
.secret{font-family:ui-monospace,Menlo,monospace;font-size:1.05rem;letter-spacing:.04em;word-spacing:.3em;background:#f4f5f7;padding:.5rem .7rem;border-radius:6px;word-break:normal;overflow-wrap:normal}
.secret code{overflow-wrap:anywhere}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0;user-select:none}
.codes{columns:2;font-family:ui-monospace,Menlo,monospace;font-size:1.05rem;list-style:none;padding:0;margin:1rem 0}
.codes li{padding:.15rem 0}
ul.methods{list-style:none;padding:0;margin:.2rem 0}ul.methods a{display:inline-block;padding:.6rem 0;min-height:24px}
.badge{display:inline-block;padding:.35rem .9rem;border-radius:999px;background:#187a42;color:#fff;font-weight:600}
button.secondary{background:#eef0f3;color:#1d2330;border:1px solid #767f8f}
form{margin-bottom:1rem}
.qr{display:block;margin:1rem auto;image-rendering:pixelated;width:220px;height:220px}
a.link{color:#2256d6;display:inline-block;padding:.25rem 0;min-height:24px}small{color:#5b6475}
a.button{display:block;text-align:center;padding:.7rem;min-height:24px;border-radius:6px;background:#2256d6;color:#fff;font-weight:600;text-decoration:none}
main.wide{max-width:860px}
.nav{display:flex;flex-wrap:wrap;gap:0 1.2rem;font-size:.92rem;margin:-.4rem 0 1.2rem;padding-bottom:.6rem;border-bottom:1px solid #e3e6eb}
.nav a{color:#2256d6;text-decoration:none;display:inline-block;padding:.5rem 0}
h2{font-size:1.05rem;margin:1.8rem 0 .4rem}h3{font-size:.98rem;margin:1.4rem 0 .5rem}
.table{overflow-x:auto;position:relative}
table{width:100%;border-collapse:collapse;font-size:.93rem}
th,td{text-align:left;padding:.5rem .4rem;border-top:1px solid #e3e6eb;vertical-align:middle}
th{color:#5b6475;font-weight:600}
td form,.inline{margin:0}
td button,.inline button{margin:0;width:auto;padding:.3rem .9rem;font-size:.9rem}
.inline{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}.inline input{flex:1 1 12rem;min-width:0}
.inline label{margin:0}
form.fields{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end}form.fields label{margin:0 0 .35rem}
form.fields .field{flex:1 1 14rem}form.fields button{margin:0;width:auto;padding:.3rem 1.2rem}
.warning{background:#fff6e0;color:#6b4a00;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
.token{font-family:ui-monospace,Menlo,monospace;background:#f4f5f7;padding:.6rem .7rem;border-radius:6px;word-break:break-all}
.actions{display:flex;flex-wrap:wrap;gap:1rem;align-items:center}.actions form{margin:0}.actions button{margin:0;width:auto;padding:.6rem 1.4rem}
.actions a{display:inline-block;padding:.6rem 0}
.off{color:#5b6475}.on{color:#187a42;font-weight:600}
fieldset{border:0;padding:0;margin:1rem 0}legend{font-weight:600;padding:0;margin-bottom:.2rem}
label.choice{display:flex;gap:.55rem;align-items:baseline;font-weight:400;margin:.4rem 0}
select{min-height:44px;max-width:100%;padding:.45rem .6rem;border:1px solid #767f8f;border-radius:6px;font-size:.95rem;background:#fff;color:#1d2330}
fieldset{min-width:0}.selects label{max-width:100%}
.selects{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem}.selects label{margin:.3rem 0}
button.fit{width:auto;padding:.6rem 1.4rem}
</style>)";

}  // namespace

std::string render_page(std::string_view title, std::string_view body, bool wide) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";
  out += html_escape(title);
  out += " · Keystep</title>";
  out += kStyle;
  out += wide ? "</head><body><main class=\"wide\">" : "</head><body><main>";
  out += "<div class=\"brand\">Keystep</div>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

std::string render_nav(bool can_view_auth_settings) {
  std::string out = "<nav class=\"nav\" aria-label=\"Keystep\"><a href=\"/profile\">Profile</a>";
  if (can_view_auth_settings)
    out += "<a href=\"/account/authentication\">Account setup › Authentication</a>";
  return out + "</nav>";
}

namespace {

std::string page(std::string_view title, std::string_view body) { return render_page(title, body); }

// An application's name in bold, a link to its home page when it has one (checked https or
// loopback http when registered).
std::string app_name(const AppIdentity& app) {
  const std::string name = "<strong>" + html_escape(app.name) + "</strong>";
  if (app.home_uri.empty()) return name;
  return "<a class=\"link\" href=\"" + html_escape(app.home_uri) + "\">" + name + "</a>";
}

}  // namespace

std::string html_escape(std::string_view text) { return keystep::html_escape(text); }

std::string render_messages(std::string_view notice, std::string_view error) {
  std::string out;
  if (!notice.empty()) out += "<p class=\"notice\" role=\"status\">" + html_escape(notice) + "</p>";
  if (!error.empty())
    out += "<p class=\"error\" role=\"alert\" id=\"" + std::string(kPageErrorId) + "\">" +
           html_escape(error) + "</p>";
  return out;
}

std::string field_focus(bool invalid, bool focus) {
  if (invalid)
    return " aria-invalid=\"true\" aria-describedby=\"" + std::string(kPageErrorId) +
           "\" autofocus";
  return focus ? " autofocus" : "";
}

std::string spelled_out(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' || c == '-') {
      if (!out.empty() && out.back() != ',') out += ',';
      continue;
    }
    if (!out.empty()) out += ' ';
    out += c;
  }
  return out;
}

std::string render_signup_page(const SignupView& v) {
  std::string body = "<h1>Join " + html_escape(v.account_label) +
                     "</h1><p class=\"sub\">Choose the password for <strong>" +
                     html_escape(v.email) + "</strong>.";
  if (v.two_factor_required)
    body +=
        " The account requires two-factor authentication: next you scan a QR code with "
        "Google Authenticator or any authenticator app.";
  body += "</p>";
  body += render_messages("", v.error_message);
  // Signup's errors are about the password (too short, the two differ).
  const bool invalid = !v.error_message.empty();
  body +=
      "<form method=\"post\" action=\"/signup\">"
      "<input type=\"hidden\" name=\"invitation\" value=\"" +
      html_escape(v.invitation) + "\"><input type=\"hidden\" name=\"csrf_token\" value=\"" +
      html_escape(v.csrf_token) +
      "\"><input type=\"email\" name=\"email\" autocomplete=\"username\" value=\"" +
      html_escape(v.email) +
      "\" hidden readonly>"
      "<label for=\"display_name\">Your name <small>(optional)</small></label>"
      "<input id=\"display_name\" type=\"text\" name=\"display_name\" autocomplete=\"name\" "
      "maxlength=\"128\" value=\"" +
      html_escape(v.display_name) + "\"" + field_focus(false, !invalid) +
      ">"
      "<label for=\"password\">Password</label>"
      "<input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"new-password\" "
      "minlength=\"8\" maxlength=\"1024\" required" +
      field_focus(invalid, false) +
      ">"
      "<label for=\"password_confirm\">Password again</label>"
      "<input id=\"password_confirm\" type=\"password\" name=\"password_confirm\" "
      "autocomplete=\"new-password\" minlength=\"8\" maxlength=\"1024\" required>"
      "<button type=\"submit\">Sign up</button></form>";
  return page("Sign up", body);
}

std::string render_login_page(const LoginView& v) {
  std::string body =
      "<h1>Sign in</h1><p class=\"sub\">to continue to " +
      (v.app.name.empty() ? std::string("<strong>your Keystep profile</strong>")
                          : app_name(v.app)) +
      "</p>";
  body += render_messages("", v.error_message);
  // A refused sign-in is about the password (the email stays filled in), unless there is no
  // email to keep.
  const bool email_invalid = !v.error_message.empty() && v.email.empty();
  const bool password_invalid = !v.error_message.empty() && !v.email.empty();
  body +=
      "<form method=\"post\" action=\"/login\">"
      "<input type=\"hidden\" name=\"flow\" value=\"" +
      html_escape(v.flow_id) +
      "\">"
      "<input type=\"hidden\" name=\"csrf_token\" value=\"" +
      html_escape(v.csrf_token) +
      "\">"
      "<label for=\"email\">Email</label>"
      "<input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"username\" required" +
      field_focus(email_invalid, !password_invalid) + " value=\"" + html_escape(v.email) +
      "\">"
      "<label for=\"password\">Password</label>"
      "<input id=\"password\" type=\"password\" name=\"password\" "
      "autocomplete=\"current-password\" required" +
      field_focus(password_invalid, false) + ">"
      "<button type=\"submit\">Sign in</button></form>"
      "<p><a class=\"link\" href=\"/password/forgot?flow=" +
      html_escape(v.flow_id) + "\">Forgot your password?</a></p>";
  return page("Sign in", body);
}

namespace {

// A key as the page shows it (grouped, for typing by hand) and, for assistive technology,
// spelled out: a speech synthesizer reads "U56N" as words.
std::string secret_key(const std::string& id, const std::string& display_secret) {
  return "<p class=\"secret\" id=\"" + id + "\">" + html_escape(display_secret) +
         "</p><p class=\"sr-only\">The key spelled out: " +
         html_escape(spelled_out(display_secret)) + ".</p>";
}

// The three ways to give an authenticator app its key, as the enable and setup pages show
// them: the QR code to scan, the otpauth:// link (the phone holding the app cannot scan its
// own screen; authenticator apps open these links) and the grouped secret to type.
std::string qr_and_secret(const TotpEnrollmentView& e) {
  std::string out = "<img class=\"qr\" alt=\"QR code of the key for your authenticator app, "
                    "the same key as the link and the text below\" src=\"" +
                    html_escape(e.qr_png_data_uri) + "\">";
  if (!e.otpauth_uri.empty())
    out += "<p><small>On the phone that holds your authenticator app:</small></p><p><a "
           "class=\"button\" id=\"otpauth-link\" href=\"" +
           html_escape(e.otpauth_uri) + "\">Open the key in your authenticator app</a></p>";
  return out + "<p><small>Or type this secret key in the app (time-based):</small></p>" +
         secret_key("secret-key", e.display_secret);
}

// A script path the page may load: a path on this server (CSP script-src 'self').
bool same_origin_path(std::string_view path) {
  return path.size() > 1 && path[0] == '/' && path[1] != '/' &&
         path.find_first_of("\\\"'<> ") == std::string_view::npos;
}

// A browser ceremony (a security key) on a page: the script reads what to ask the
// authenticator from the form's attributes and posts the answer as the form's code; no
// inline script (CSP script-src 'self'). `kind` is "get" (sign-in) or "create" (adding a key).
std::string ceremony_attributes(std::string_view kind, const std::string& options) {
  return " id=\"ceremony\" data-ceremony=\"" + std::string(kind) + "\" data-options=\"" +
         html_escape(options) + "\"";
}

// Inside the ceremony's form: the answer's field, the line the script speaks on (timeouts,
// cancellations, browsers without WebAuthn) and what a browser without JavaScript is told;
// `otherwise` names the way out, e.g. "another method below".
std::string ceremony_fields(std::string_view otherwise) {
  return "<input type=\"hidden\" name=\"code\" id=\"code\"><p id=\"ceremony-status\" "
         "class=\"error\" role=\"status\" hidden></p><noscript><p class=\"error\">Security "
         "keys need JavaScript, which is off in this browser. Turn it on, or use " +
         std::string(otherwise) + ".</p></noscript>";
}

std::string ceremony_script(const std::string& script) {
  if (!same_origin_path(script)) return {};
  return "<script src=\"" + html_escape(script) + "\" defer></script>";
}

// The other kinds of factor the setup step offers, as links.
std::string setup_alternatives(const SecondFactorView& v) {
  if (v.setup_alternatives.empty()) return {};
  std::string out = "<p><small>Or set up instead:</small></p><ul class=\"methods\">";
  for (const auto& m : v.setup_alternatives)
    out += "<li><a class=\"link\" href=\"" +
           html_escape("/login/second-factor?" +
                       encode_form({{"flow", v.flow_id}, {"setup", m.id}})) +
           "\">" + html_escape(m.name) + "</a></li>";
  return out + "</ul>";
}

// The forced setup step with a security key (a browser ceremony).
std::string render_setup_ceremony(const SecondFactorView& v, const std::string& hidden_flow) {
  const auto& e = v.setup;
  std::string body =
      std::string(v.required_by_application
                      ? "<h1>This application requires two-factor authentication</h1>"
                      : "<h1>Set up two-factor authentication</h1>") +
      "<p class=\"sub\">Your sign-in needs a second factor from now on. Press the button and "
      "touch your security key when it blinks (enter its PIN if your browser asks); from then "
      "on you will touch it when you sign in.</p>";
  body += render_messages("", v.error_message);
  body += "<form method=\"post\" action=\"/login/second-factor\"" +
          ceremony_attributes("create", e.ceremony) + ">" + hidden_flow +
          "<input type=\"hidden\" name=\"method\" value=\"setup\"><input type=\"hidden\" "
          "name=\"setup\" value=\"" + html_escape(v.setup_provider) + "\">" +
          ceremony_fields("another kind of second factor below") +
          "<button type=\"submit\">Touch your key</button></form>" + ceremony_script(e.script);
  return body;
}

// The forced setup step: the account or the application requires 2FA and this user has no
// factor yet. Only the application's requirement may be declined (the application is told).
std::string render_setup_step(const SecondFactorView& v) {
  const auto& e = v.setup;
  const std::string hidden_flow =
      "<input type=\"hidden\" name=\"flow\" value=\"" + html_escape(v.flow_id) +
      "\"><input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) +
      "\">";
  const std::string decline =
      v.required_by_application
          ? "<form method=\"post\" action=\"/login/second-factor\">" + hidden_flow +
                "<input type=\"hidden\" name=\"method\" value=\"decline\"><button "
                "type=\"submit\" class=\"link\">Not now: go back to the application</button></form>"
          : std::string();
  if (!e.ceremony.empty())
    return page("Set up two-factor authentication",
                render_setup_ceremony(v, hidden_flow) + setup_alternatives(v) + decline);
  std::string body =
      v.required_by_application
          ? "<h1>This application requires two-factor authentication</h1><p class=\"sub\">Set "
            "it up now to continue: add this key to Google Authenticator or any authenticator "
            "app (scan the QR code, open the link on the phone that holds the app, or type the "
            "key), then enter the code it shows. From now on you will enter a code from the app "
            "when you sign in. The app will show <strong>" +
                html_escape(e.issuer_label) + "</strong>.</p>"
          : "<h1>Set up two-factor authentication</h1><p class=\"sub\">Your account requires a "
            "code from an authenticator app at every sign-in. Add this key to Google "
            "Authenticator or any authenticator app: scan the QR code, open the link on the "
            "phone that holds the app, or type the key (if we emailed you a QR code, it is this "
            "same key). The app will show <strong>" +
                html_escape(e.issuer_label) + "</strong>.</p>";
  body += render_messages("", v.error_message);
  body += qr_and_secret(e);
  body +=
      "<form method=\"post\" action=\"/login/second-factor\">" +
      hidden_flow +
      "<input type=\"hidden\" name=\"method\" value=\"setup\">"
      "<label for=\"code\">Code from the app</label><input id=\"code\" type=\"text\" "
      "name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\" "
      "maxlength=\"9\" required" +
      field_focus(!v.error_message.empty(), true) +
      "><button type=\"submit\">Continue</button></form>"
      "<p><small>Then, in your profile, choose <strong>Generate new codes</strong> under "
      "Recovery codes to see and print codes for when you lose your phone.</small></p>";
  body += setup_alternatives(v) + decline;
  return page("Set up two-factor authentication", body);
}

}  // namespace

namespace {

// The characters of a code as an HTML pattern's character class. Browsers compile patterns
// with the "v" flag (older ones "u"), where a class must escape these and may escape nothing
// else; letters, digits and the other ASCII punctuation stand for themselves. "" when a
// character cannot be put in a pattern safely (control, non-ASCII): then there is none.
std::string pattern_class(std::string_view characters) {
  static constexpr std::string_view kEscaped = "^$\\.*+?()[]{}|/-";
  std::string out;
  for (size_t i = 0; i < characters.size(); ++i) {
    const char c = characters[i];
    if (c < 0x21 || c > 0x7e) return "";
    if (characters.substr(0, i).find(c) != std::string_view::npos) continue;  // "v" refuses "&&"
    if (kEscaped.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The attributes of a typed code's field. Spaces may be typed anywhere (apps show "123 456"
// and the core drops them), so the length attributes leave room for them and the pattern
// counts only the code's characters.
std::string typed_code_attributes(const ResponseField& f) {
  std::string out = " inputmode=\"" + html_escape(f.inputmode.empty() ? "text" : f.inputmode) +
                    "\" autocomplete=\"" + (f.one_time_code ? "one-time-code" : "off") +
                    "\" autocapitalize=\"off\" spellcheck=\"false\"";
  if (f.min_length > 0) out += " minlength=\"" + std::to_string(f.min_length) + "\"";
  if (f.max_length > 0) out += " maxlength=\"" + std::to_string(f.max_length + f.max_length / 3) + "\"";
  const std::string cls = pattern_class(f.characters);
  if (!cls.empty()) {
    const std::string count =
        f.max_length > 0 ? "{" + std::to_string(std::max(f.min_length, 1)) + "," +
                               std::to_string(f.max_length) + "}"
                         : "+";
    out += " pattern=\"" + html_escape(" *(?:[" + cls + "] *)" + count) + "\"";
  }
  return out;
}

std::string method_link(const SecondFactorView& v, const MethodChoice& m) {
  return "<li><a class=\"link\" href=\"" +
         html_escape("/login/second-factor?" +
                     encode_form({{"flow", v.flow_id}, {"method", m.id}})) +
         "\">" + html_escape(m.name.empty() ? m.id : m.name) + "</a></li>";
}

}  // namespace

std::string render_second_factor_page(const SecondFactorView& v) {
  if (v.method == "setup") return render_setup_step(v);
  const bool recovery = v.method == "recovery_code";
  const ResponseField& f = v.input;
  const std::string name = html_escape(v.method_name.empty() ? v.method : v.method_name);
  std::string body;
  if (recovery) {
    body =
        "<h1>Enter a recovery code</h1><p class=\"sub\">Use one of the recovery codes you saved "
        "when you turned on two-factor authentication. Each code works once.</p>";
  } else if (v.method == "totp") {
    body =
        "<h1>Two-factor authentication</h1><p class=\"sub\">Enter the code from your "
        "authenticator app.</p>";
  } else if (f.ceremony) {
    body = "<h1>Two-factor authentication</h1><p class=\"sub\">Use your <strong>" + name +
           "</strong> and follow your browser's prompts.</p>";
  } else if (v.next_code) {
    body = "<h1>Two-factor authentication</h1><p class=\"sub\">Touch your <strong>" + name +
           "</strong> once more: its next code brings it back in step with this server.</p>";
  } else {
    body = "<h1>Two-factor authentication</h1><p class=\"sub\">Enter the code from your <strong>" +
           name + "</strong>.</p>";
  }
  if (v.password_reset)
    body += "<p>Before you choose a new password, confirm it's you with your second factor.</p>";
  body += render_messages("", v.error_message);
  body += "<form method=\"post\" action=\"/login/second-factor\"";
  if (f.ceremony) body += ceremony_attributes("get", f.client_options);
  body +=
      "><input type=\"hidden\" name=\"flow\" value=\"" + html_escape(v.flow_id) +
      "\"><input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) +
      "\"><input type=\"hidden\" name=\"method\" value=\"" + html_escape(v.method) + "\">";
  if (f.ceremony) {
    body += ceremony_fields("another method below") + "<button type=\"submit\">Use your " +
            name + "</button></form>" + ceremony_script(f.script);
  } else {
    body += "<label for=\"code\">" +
            std::string(recovery ? "Recovery code" : "Authentication code") +
            "</label><input id=\"code\" type=\"text\" name=\"code\"" +
            typed_code_attributes(f) + " required" +
            field_focus(!v.error_message.empty(), true) +
            "><button type=\"submit\">Verify</button></form>";
  }
  if (!v.other_methods.empty()) {
    body += "<p><small>Use another method:</small></p><ul class=\"methods\">";
    for (const auto& m : v.other_methods) body += method_link(v, m);
    body += "</ul>";
  }
  return page("Two-factor authentication", body);
}

namespace {

std::string messages(const ProfileView& v) { return render_messages(v.notice, v.error_message); }

// Users who may open Account setup > Authentication get the navigation; the others' pages
// stay as they were.
std::string nav(const ProfileView& v) {
  return v.can_view_auth_settings ? render_nav(true) : std::string();
}

std::string csrf_field(const ProfileView& v) {
  return "<input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) + "\">";
}

// "2026-11-30 14:05 UTC"; "never" for 0.
std::string utc_time(int64_t at) {
  if (at <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

std::string factor_fields(const FactorSummary& f) {
  return "<input type=\"hidden\" name=\"credential\" value=\"" + std::to_string(f.id) +
         "\"><input type=\"hidden\" name=\"version\" value=\"" + std::to_string(f.version) +
         "\">";
}

// The user's second factors, each with Rename and Remove, and the form that adds one.
std::string factors_section(const ProfileView& v) {
  const auto& t = v.two_factor;
  std::string out = "<h2 id=\"factors\">Your second factors</h2>";
  if (t.factors.empty()) {
    out += "<p><small>None yet.</small></p>";
  } else {
    out +=
        "<div class=\"table\" role=\"region\" aria-label=\"Your second factors\" "
        "tabindex=\"0\"><table><thead><tr><th>Name</th><th>Type</th><th>Added</th><th>Last used</th>"
        "<th><span hidden>Remove</span></th></tr></thead><tbody>";
    for (const auto& f : t.factors) {
      const std::string id = std::to_string(f.id);
      out += "<tr><td><form class=\"inline\" method=\"post\" action=\"/profile/two-factor/"
             "rename\">" +
             csrf_field(v) + factor_fields(f) +
             "<input type=\"text\" name=\"label\" value=\"" + html_escape(f.label) +
             "\" aria-label=\"Name of " + html_escape(f.label) +
             "\" maxlength=\"64\" required autocomplete=\"off\"><button class=\"secondary\" "
             "type=\"submit\">Rename</button></form></td><td>" +
             html_escape(f.type) +
             (f.usable ? "" : " <small>(not in use: your account does not allow it)</small>") +
             (f.possibly_cloned ? " <strong class=\"error\">May have been copied: remove it "
                                  "and add a new key</strong>"
                                : "") +
             "</td><td>" + utc_time(f.created_at) + "</td><td>" + utc_time(f.last_used_at) +
             "</td><td><form method=\"post\" action=\"/profile/two-factor/remove\">" +
             csrf_field(v) + factor_fields(f) +
             "<button class=\"secondary\" type=\"submit\" aria-label=\"Remove " +
             html_escape(f.label) + "\">Remove</button></form></td></tr>";
    }
    out += "</tbody></table></div>";
  }
  if (!t.can_add.empty()) {
    out += "<form class=\"inline\" method=\"post\" action=\"/profile/two-factor/add\">" +
           csrf_field(v) +
           "<label for=\"method\">Add</label><select id=\"method\" name=\"method\">";
    for (const auto& type : t.can_add)
      out += "<option value=\"" + html_escape(type.method) + "\">" + html_escape(type.name) +
             "</option>";
    out += "</select><button type=\"submit\">Add a second factor</button></form>";
  }
  return out;
}

// What a scope lets an application see or do, as the consent page and the profile's
// "Apps with access" say it.
std::string scope_text(const std::string& scope) {
  if (scope == "openid") return "Know who you are on this server (your account's number)";
  if (scope == "email") return "See your email address";
  if (scope == "profile") return "See your name";
  if (scope == "offline_access") return "Keep access while you are not using it";
  return html_escape(scope);
}

std::string scope_list(const std::vector<std::string>& scopes) {
  std::string out = "<ul>";
  for (const auto& s : scopes) out += "<li>" + scope_text(s) + "</li>";
  return out + "</ul>";
}

// The third-party applications the user allowed, each with Revoke.
std::string apps_section(const ProfileView& v) {
  std::string out = "<h2 id=\"apps\">Apps with access</h2>";
  if (v.apps.empty()) return out + "<p><small>No other application has access.</small></p>";
  out += "<div class=\"table\" role=\"region\" aria-label=\"Apps with access\" tabindex=\"0\">"
         "<table><thead><tr><th>Application</th><th>May</th><th>Allowed</th>"
         "<th><span hidden>Revoke</span></th></tr></thead><tbody>";
  for (const auto& app : v.apps) {
    out += "<tr><td>" + app_name(app.app) + "</td><td>" + scope_list(app.scopes) +
           "</td><td>" + utc_time(app.granted_at) +
           "</td><td><form method=\"post\" action=\"/profile/apps/revoke\">" + csrf_field(v) +
           "<input type=\"hidden\" name=\"client_id\" value=\"" + html_escape(app.client_id) +
           "\"><button class=\"secondary\" type=\"submit\" aria-label=\"Revoke " +
           html_escape(app.app.name) + "\">Revoke</button></form></td></tr>";
  }
  return out + "</tbody></table></div>";
}

}  // namespace

std::string render_consent_page(const ConsentView& v) {
  const std::string hidden =
      "<input type=\"hidden\" name=\"request\" value=\"" + html_escape(v.request_id) +
      "\"><input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) +
      "\">";
  return page("Allow " + v.app.name + "?",
              "<h1>Allow " + app_name(v.app) +
                  " access?</h1><p class=\"sub\">Signed in as " + html_escape(v.email) +
                  ". The application asks to:</p>" + scope_list(v.scopes) +
                  "<form method=\"post\" action=\"/consent\">" + hidden +
                  "<button type=\"submit\" name=\"decision\" value=\"allow\" autofocus>Allow"
                  "</button> <button class=\"secondary\" type=\"submit\" name=\"decision\" "
                  "value=\"deny\">Deny</button></form><p><small>You can revoke it at any time "
                  "from your <a class=\"link\" href=\"/profile#apps\">profile</a> (Apps with "
                  "access).</small></p>");
}

std::string render_profile_page(const ProfileView& v) {
  const bool on = v.two_factor.user_setting;
  std::string body = nav(v) + "<h1>Profile</h1><p class=\"sub\">" + html_escape(v.email) +
                     " · account <strong>" + html_escape(v.account_name) + "</strong></p>";
  body += messages(v);
  body += "<div class=\"row\"><div><strong>Two-Factor Authentication</strong><br><small>" +
          std::string(on ? "On: every sign-in asks for a code from your authenticator app."
                      : v.two_factor.has_totp
                          ? "Off. Your authenticator app is set up because your account "
                            "requires it; turn this on to keep using it whatever the account "
                            "decides."
                          : "Off: sign-in asks only for your password.") +
          "</small></div>";
  if (!on) {
    body += "<form method=\"post\" action=\"/profile/two-factor\">" + csrf_field(v) +
            "<input type=\"hidden\" name=\"action\" value=\"enable\"><button class=\"switch\" "
            "type=\"submit\" role=\"switch\" aria-checked=\"false\" "
            "aria-label=\"Two-Factor Authentication\">Off</button></form></div>";
  } else {
    // The "On" switch submits the turn-off form below, which needs the password or a code:
    // pressed with both empty, the page comes back asking for them, focused on the password.
    const bool invalid = v.error_field == "password";
    body +=
        "<button class=\"switch\" type=\"submit\" form=\"turn-off\" role=\"switch\" "
        "aria-checked=\"true\" aria-label=\"Two-Factor Authentication\">On</button></div>"
        "<form id=\"turn-off\" method=\"post\" action=\"/profile/two-factor\">" +
        csrf_field(v) +
        "<input type=\"hidden\" name=\"action\" value=\"disable\"><p><small>To turn it "
        "off, confirm with your password or a current code.</small></p>"
        "<label for=\"password\">Password</label><input id=\"password\" type=\"password\" "
        "name=\"password\" autocomplete=\"current-password\"" +
        field_focus(invalid, false) + ">"
        "<label for=\"code\">or authentication code</label><input id=\"code\" type=\"text\" "
        "name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\" maxlength=\"8\">"
        "<button class=\"secondary\" type=\"submit\">Turn off two-factor authentication"
        "</button></form>";
  }
  body += factors_section(v);
  if (v.two_factor.has_second_factor()) {
    body += "<div class=\"row\"><div><strong>Recovery codes</strong><br><small>" +
            std::to_string(v.two_factor.recovery_codes_left) +
            " unused. Codes are shown once, when they are made: if you have not saved yours, "
            "generate new ones (they replace all the old ones).</small></div><form method=\"post\" "
            "action=\"/profile/recovery-codes\">" +
            csrf_field(v) +
            "<button class=\"switch\" type=\"submit\">Generate new codes</button></form></div>";
  }
  if (v.two_factor.account_setting)
    body +=
        "<p><small>Your account requires two-factor authentication for every member, so "
        "sign-in asks for a code even when your own setting is off.</small></p>";
  body += apps_section(v);
  body += "<p><a class=\"link\" href=\"/logout\">Sign out</a></p>";
  return render_page("Profile", body, /*wide=*/true);
}

std::string render_enable_two_factor_page(const ProfileView& v) {
  const auto& e = v.enrollment;
  const bool app = v.method == "totp";
  const std::string name = v.method_name.empty() ? v.method : v.method_name;
  const std::string title =
      v.first_factor ? std::string("Enable Two-Factor Authentication") : "Add " + name;
  std::string body = nav(v) + "<h1>" + html_escape(title) + "</h1><p class=\"sub\">";
  if (app)
    body += "Add this key to Google Authenticator or any authenticator app: scan the QR code, "
            "open the link on the phone that holds the app, or type the key. The app will show "
            "<strong>" + html_escape(e.issuer_label) + "</strong>.";
  else if (!e.ceremony.empty())
    body += "Name your " + html_escape(name) + ", then press the button and touch the key when "
            "it blinks (enter its PIN if your browser asks).";
  else if (!e.command.empty())
    body += "Program your " + html_escape(name) + " with this command (it writes the key's "
            "second slot: a long touch), then touch the key " +
            (e.responses > 1 ? "twice. Each touch types a code on its own line."
                             : "once: it types its code.");
  else
    body += "Set up your " + html_escape(name) + " with what this page shows, then enter the "
            "code it gives.";
  body += "</p>";
  body += messages(v);
  if (!e.command.empty()) {
    body += "<p class=\"secret\" id=\"program-command\"><code>" + html_escape(e.command) +
            "</code></p><p><small>Key, if you program it another way (base32, OATH-HOTP, counter "
            "0):</small></p>" + secret_key("secret-key", e.display_secret);
  } else if (!e.qr_png_data_uri.empty()) {
    body += qr_and_secret(e);
  } else if (!e.display_secret.empty()) {
    body += "<p><small>Key:</small></p>" + secret_key("secret-key", e.display_secret);
  }
  if (!e.ceremony.empty()) {
    body += "<form method=\"post\" action=\"/profile/two-factor/enable\"" +
            ceremony_attributes("create", e.ceremony) + ">" + csrf_field(v) +
            "<input type=\"hidden\" name=\"method\" value=\"" + html_escape(v.method) +
            "\"><label for=\"label\">Name</label><input id=\"label\" type=\"text\" "
            "name=\"label\" value=\"" + html_escape(name) + "\" maxlength=\"64\" "
            "autocomplete=\"off\" required>" + ceremony_fields("another kind of second factor") +
            "<button type=\"submit\">Touch your key</button></form><p><a class=\"link\" "
            "href=\"/profile\">Cancel</a></p>" + ceremony_script(e.script);
    return page(title, body);
  }
  // The page's only error is about the code.
  const std::string focus = field_focus(!v.error_message.empty(), true);
  body += "<form method=\"post\" action=\"/profile/two-factor/enable\">" + csrf_field(v) +
          "<input type=\"hidden\" name=\"method\" value=\"" + html_escape(v.method) + "\">" +
          std::string(app ? "<label for=\"code\">Code from the app</label><input id=\"code\" "
                            "type=\"text\" name=\"code\" autocomplete=\"one-time-code\" "
                            "inputmode=\"numeric\" maxlength=\"9\" required" + focus + ">"
                      : e.responses > 1
                          ? "<label for=\"code\">Codes from the key, one per touch</label>"
                            "<textarea id=\"code\" name=\"code\" rows=\"" +
                                std::to_string(e.responses) +
                                "\" autocomplete=\"off\" autocapitalize=\"off\" "
                                "spellcheck=\"false\" required" + focus + "></textarea>"
                          : "<label for=\"code\">Code</label><input id=\"code\" type=\"text\" "
                            "name=\"code\" autocomplete=\"one-time-code\" maxlength=\"64\" "
                            "required" + focus + ">") +
          "<button type=\"submit\">" + (v.first_factor ? "Enable" : "Add") +
          "</button></form><p><a class=\"link\" href=\"/profile\">Cancel</a></p>";
  return page(title, body);
}

std::string render_remove_factor_page(const ProfileView& v) {
  const auto& f = v.removing;
  std::string body = nav(v) + "<h1>Remove " + html_escape(f.label) + "?</h1>";
  body += messages(v);
  body += "<p class=\"sub\">It is your last second factor. Removing it turns two-factor "
          "authentication off: sign-in will ask only for your password, and your recovery "
          "codes stop working.</p>"
          "<div class=\"actions\"><form method=\"post\" action=\"/profile/two-factor/remove\">" +
          csrf_field(v) + factor_fields(f) +
          "<input type=\"hidden\" name=\"confirm\" value=\"yes\"><button type=\"submit\">"
          "Remove and turn off two-factor authentication</button></form>"
          "<a class=\"link\" href=\"/profile\">Keep it</a></div>";
  return page("Remove a second factor", body);
}

std::string render_confirm_its_you_page(const ProfileView& v) {
  std::string body = nav(v) + "<h1>Confirm it's you</h1>";
  body += messages(v);
  body += "<p class=\"sub\">Changing your second factors needs a recent sign-in: your "
          "password" +
          std::string(v.two_factor.user_setting || v.two_factor.account_setting
                          ? " and a second factor"
                          : "") +
          " within the last " + std::to_string(v.reauthentication_minutes) +
          " minutes. Sign in again as <strong>" + html_escape(v.email) +
          "</strong>; you come back to your profile and repeat what you were doing.</p>"
          "<form method=\"post\" action=\"/profile/confirm\">" +
          csrf_field(v) +
          "<button type=\"submit\" autofocus>Confirm it's you</button></form>"
          "<p><a class=\"link\" href=\"/profile\">Cancel</a></p>";
  return page("Confirm it's you", body);
}

std::string render_recovery_codes_page(const ProfileView& v) {
  std::string body = nav(v) + "<h1>Save your recovery codes</h1>";
  body += messages(v);
  body +=
      "<p class=\"sub\">If you lose your phone, each of these codes signs you in once in "
      "place of an authenticator code. Store them somewhere safe: they are shown only "
      "now.</p><ul class=\"codes\">";
  std::string spelled;
  for (const auto& code : v.recovery_codes) {
    body += "<li>" + html_escape(code) + "</li>";
    spelled += (spelled.empty() ? "" : "; ") + spelled_out(code);
  }
  body += "</ul><p class=\"sr-only\">The codes spelled out: " + html_escape(spelled) +
          ".</p><p><a class=\"link\" href=\"/profile\">Back to your profile</a></p>";
  if (v.can_view_auth_settings)
    body +=
        "<p><a class=\"link\" href=\"/account/authentication\">Back to Authentication "
        "settings</a></p>";
  return page("Recovery codes", body);
}

namespace {

// What an error page says happened (its heading) and what to do next, by the kind of error;
// the core's description says the particulars between them.
struct ErrorWording {
  const char* heading;
  const char* next;
};

ErrorWording error_wording(Fault fault) {
  switch (fault) {
    case Fault::kUnknownClient:
    case Fault::kInvalidClient:
    case Fault::kUnauthorizedClient:
      return {"This application cannot sign you in here",
              "Go back to the application and tell whoever runs it: the address it sent you "
              "to is not one this server knows."};
    case Fault::kInvalidRequest:
    case Fault::kInvalidGrant:
    case Fault::kInvalidScope:
    case Fault::kUnsupportedGrantType:
    case Fault::kBearerTokenMissing:
    case Fault::kInvalidToken:
    case Fault::kInsufficientScope:
      return {"The sign-in request is not valid",
              "Go back to the application and start again. If it happens again, tell whoever "
              "runs the application."};
    case Fault::kInvalidCsrfToken:
      return {"This form has expired",
              "Go back, reload the page and send the form again."};
    case Fault::kInvalidSession:
    case Fault::kExpiredLogin:
    case Fault::kInvalidState:
    case Fault::kLoginRequired:
    case Fault::kInsufficientUserAuthentication:
      return {"This sign-in has ended",
              "Go back to the application (or your profile) and sign in again."};
    case Fault::kWrongCredentials:
    case Fault::kTooManyAttempts:
      return {"Sign-in refused", "Wait a moment, then sign in again."};
    case Fault::kForbidden:
    case Fault::kMetricsTokenRequired:
      return {"You do not have access to this page",
              "If you need it, ask an administrator of your account."};
    case Fault::kFactorNotAllowed:
    case Fault::kTwoFactorOff:
    case Fault::kTwoFactorAlreadyOn:
    case Fault::kTwoFactorEnforced:
    case Fault::kOwnTwoFactorRequired:
    case Fault::kTotpRequired:
    case Fault::kConfirmationRequired:
      return {"This cannot be done now", "Go back to your profile and try another way."};
    case Fault::kNotFound:
    case Fault::kConflict:
    case Fault::kAlreadyMember:
    case Fault::kInvitationPending:
    case Fault::kInvitationUndeliverable:
    case Fault::kWrongCode:
    case Fault::kAlreadyConfirmed:
    case Fault::kRegistrationExpired:
      return {"This cannot be done now", "Go back, reload the page and try again."};
    case Fault::kInvitationNotFound:
    case Fault::kInvitationUsed:
    case Fault::kInvitationExpired:
      return {"This invitation link does not work",
              "Ask the administrator who invited you to send a new invitation. If you have "
              "already signed up, sign in instead."};
    case Fault::kLinkNotFound:
    case Fault::kLinkUsed:
    case Fault::kLinkExpired:
      return {"This enrollment link does not work",
              "Sign in to your profile: if your account requires two-factor authentication, "
              "you are asked to set it up there."};
    case Fault::kServerError:
    case Fault::kTemporarilyUnavailable:
    case Fault::kEnd:
      break;
  }
  return {"Keystep cannot do this right now", "Try again in a moment."};
}

}  // namespace

std::string render_error_page(Fault fault, const ErrorView& v) {
  const ErrorWording wording = error_wording(fault);
  return page(wording.heading,
              "<h1>" + html_escape(wording.heading) + "</h1><p class=\"error\" role=\"alert\">" +
                  html_escape(v.description) + "</p><p>" + html_escape(wording.next) +
                  "</p><p><a class=\"link\" href=\"/profile\">Go to your profile</a></p>"
                  "<p class=\"sub\"><small>Error code: <code>" +
                  html_escape(error_answer(fault).error) + "</code></small></p>");
}

std::string render_logged_out_page() {
  return page("Signed out",
              "<h1>You are signed out</h1><p class=\"sub\">You can close this window, or go "
              "back to the application you came from.</p><p><a class=\"button\" "
              "href=\"/profile\">Sign in again</a></p>");
}

std::string render_logout_confirm_page(const LogoutConfirmView& v) {
  std::string hidden = "<input type=\"hidden\" name=\"csrf_token\" value=\"" +
                       html_escape(v.csrf_token) +
                       "\"><input type=\"hidden\" name=\"confirm\" value=\"yes\">";
  for (const auto& [name, value] : v.carried)
    hidden += "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" +
              html_escape(value) + "\">";
  return page("Sign out?",
              "<h1>Sign out of Keystep?</h1><p class=\"sub\">An application asked to sign you "
              "out. You stay signed in unless you confirm.</p>"
              "<form method=\"post\" action=\"/logout\">" +
                  hidden + "<button type=\"submit\" autofocus>Sign out</button></form>");
}

std::string render_home_page(const std::string& issuer) {
  return page(
      "Home",
      "<h1>Keystep identity provider</h1><p class=\"sub\">OpenID Connect "
      "issuer <code>" +
          html_escape(issuer) +
          "</code></p><p>Applications "
          "discover it at <a href=\"/.well-known/openid-configuration\">"
          "/.well-known/openid-configuration</a>.</p><p><a class=\"link\" href=\"/profile\">"
          "Your profile and two-factor authentication</a></p>");
}

}  // namespace keystep::http
