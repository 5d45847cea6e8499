#include "http/pages.h"

namespace keystep::http {
namespace {

constexpr std::string_view kStyle = R"(<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:420px;margin:8vh auto;background:#fff;border-radius:10px;padding:32px 36px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .3rem}p.sub{color:#5b6475;margin:.2rem 0 1.4rem}
label{display:block;font-weight:600;margin:1rem 0 .35rem}
input[type=email],input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.65rem .75rem;border:1px solid #c5cad3;border-radius:6px;font-size:1rem}
button{margin-top:1.4rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#2256d6;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}
.error{background:#fdecec;color:#a1131b;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
.brand{font-weight:700;color:#2256d6;letter-spacing:.02em;margin-bottom:1rem}
</style>)";

std::string page(std::string_view title, std::string_view body) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";
  out += html_escape(title);
  out += " · Keystep</title>";
  out += kStyle;
  out += "</head><body><main><div class=\"brand\">Keystep</div>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_login_page(const LoginView& v) {
  std::string body = "<h1>Sign in</h1><p class=\"sub\">to continue to <strong>" +
                     html_escape(v.client_id) + "</strong></p>";
  if (!v.error_message.empty())
    body += "<p class=\"error\" role=\"alert\">" + html_escape(v.error_message) + "</p>";
  body += "<form method=\"post\" action=\"/login\">"
          "<input type=\"hidden\" name=\"flow\" value=\"" + html_escape(v.flow_id) + "\">"
          "<input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) + "\">"
          "<label for=\"email\">Email</label>"
          "<input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"username\" required "
          "autofocus value=\"" + html_escape(v.email) + "\">"
          "<label for=\"password\">Password</label>"
          "<input id=\"password\" type=\"password\" name=\"password\" "
          "autocomplete=\"current-password\" required>"
          "<button type=\"submit\">Sign in</button></form>";
  return page("Sign in", body);
}

std::string render_error_page(const ErrorView& v) {
  return page("Error", "<h1>Something went wrong</h1><p class=\"error\" role=\"alert\">" +
                           html_escape(v.description) + "</p><p class=\"sub\">Error code: <code>" +
                           html_escape(v.error) + "</code></p>");
}

std::string render_logged_out_page() {
  return page("Signed out", "<h1>You are signed out</h1><p class=\"sub\">You can close this "
                            "window.</p>");
}

std::string render_home_page(const std::string& issuer) {
  return page("Keystep", "<h1>Keystep identity provider</h1><p class=\"sub\">OpenID Connect "
                         "issuer <code>" + html_escape(issuer) + "</code></p><p>Applications "
                         "discover it at <a href=\"/.well-known/openid-configuration\">"
                         "/.well-known/openid-configuration</a>.</p>");
}

}  // namespace keystep::http
