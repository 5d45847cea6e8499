#include "http/admin_pages.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "http/pages.h"

namespace keystep::http {
namespace {

using Screen = AuthenticationView::Screen;

std::string csrf_field(const AuthenticationView& v) {
  return "<input type=\"hidden\" name=\"csrf_token\" value=\"" + html_escape(v.csrf_token) + "\">";
}

// A form posting `action` (and `extra` hidden fields) to the page, with one submit button.
std::string action_form(const AuthenticationView& v, const std::string& action,
                        const std::string& extra, const std::string& button) {
  return "<form method=\"post\" action=\"/account/authentication\">" + csrf_field(v) +
         "<input type=\"hidden\" name=\"action\" value=\"" + action + "\">" + extra + button +
         "</form>";
}

std::string hidden(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + name + "\" value=\"" + html_escape(value) + "\">";
}

std::string utc(int64_t at) {
  const std::time_t t = static_cast<std::time_t>(at);
  std::tm tm{};
  char text[32] = "";
  if (gmtime_r(&t, &tm)) std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

// "Previous" and "Next" links of a list shown a page at a time; nothing when it fits one.
std::string pager(const ListPage& page, const std::string& param, const std::string& what) {
  if (page.number <= 1 && !page.has_next) return "";
  const int64_t pages = (page.total + kConsolePageSize - 1) / kConsolePageSize;
  const auto link = [&](int64_t number, const char* label) {
    return "<a class=\"link\" href=\"" + std::string(kAuthenticationPagePath) + "?" + param + "=" +
           std::to_string(number) + "\">" + label + "</a>";
  };
  std::string out = "<nav class=\"pager\" aria-label=\"Pages of " + what + "\"><small>";
  if (page.number > 1) out += link(page.number - 1, "Previous") + " · ";
  out += "page " + std::to_string(page.number) + " of " +
         std::to_string(std::max<int64_t>(pages, 1)) + " (" + std::to_string(page.total) + " " +
         what + ")";
  if (page.has_next) out += " · " + link(page.number + 1, "Next");
  return out + "</small></nav>";
}

// A table that scrolls inside the page's card on a narrow screen instead of widening the
// page; focusable, so the keyboard can scroll it too.
std::string scrolling_table(const std::string& label, const std::string& table) {
  return "<div class=\"table\" role=\"region\" aria-label=\"" + label + "\" tabindex=\"0\">" +
         table + "</div>";
}

std::string messages(const AuthenticationView& v) {
  return render_messages(v.notice, v.error_message);
}

std::string heading(const AuthenticationView& v) {
  return render_nav(true) +
         "<h1>Authentication: Configuration</h1><p class=\"sub\">Account setup " +
         "› Authentication · account <strong>" + html_escape(v.account_name) + "</strong></p>";
}

// The label of the choice `value` is, or the value itself when no choice has it.
std::string choice_label(const SettingField& field, const nlohmann::json& value) {
  for (const SettingChoice& choice : field.choices)
    if (choice.value == value) return choice.label;
  return setting_form_text(value);
}

// A provider's settings in its own words, e.g. "SHA1, 6 digits, 30 seconds".
std::string settings_summary(const ProviderSettingsView& p) {
  std::string out;
  for (const SettingField& field : p.description.fields) {
    const auto value = p.values.find(field.key);
    if (value == p.values.end()) continue;
    out += (out.empty() ? "" : ", ") + choice_label(field, *value);
  }
  return html_escape(out);
}

std::string enforcement(const AuthenticationView& v) {
  const bool on = v.enforce_two_factor;
  std::string out =
      "<div class=\"row\"><div><strong>Enforce Two-Factor Authentication</strong><br><small>" +
      std::string(on ? "On: every member is asked for a code from an authenticator app at "
                       "sign-in, whatever their own setting."
                     : "Off: members decide for themselves in their profile.") +
      "</small></div>";
  const std::string attributes = std::string(" role=\"switch\" aria-checked=\"") +
                                 (on ? "true" : "false") +
                                 "\" aria-label=\"Enforce Two-Factor Authentication\"";
  if (v.can_edit) {
    out += action_form(v, on ? "stop" : "enforce", "",
                       "<button class=\"switch\" type=\"submit\"" + attributes + ">" +
                           (on ? "On" : "Off") + "</button>");
  } else {
    out += "<span class=\"" + std::string(on ? "badge" : "switch") + "\"" + attributes +
           " aria-readonly=\"true\">" + (on ? "On" : "Off") + "</span>";
  }
  out += "</div><p><small>";
  for (const auto& p : v.settings)
    out += html_escape(p.display_name) + ": " + settings_summary(p) + ". ";
  out += "Members with their own setting on are always asked for a code.</small></p>";
  return out;
}

std::string members(const AuthenticationView& v) {
  std::string out =
      "<table id=\"members\"><thead><tr><th>Email</th><th>Role</th><th>Own "
      "setting</th>"
      "<th>Authenticator</th><th><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>";
  for (const auto& m : v.members) {
    out +=
        "<tr><td>" + html_escape(m.email) + "</td><td>" + html_escape(m.role) + "</td><td>" +
        (m.two_factor_enabled ? "<span class=\"on\">On</span>" : "<span class=\"off\">Off</span>") +
        "</td><td>" +
        (m.has_second_factor ? "<span class=\"on\">Set up</span>"
                             : "<span class=\"off\">Not set up</span>") +
        "</td><td>";
    out += "<a class=\"link\" href=\"" + std::string(kAuthenticationPagePath) +
           "?member=" + std::to_string(m.id) + "\" aria-label=\"Credentials of " +
           html_escape(m.email) + "\">Credentials</a> ";
    // Lost device: only someone with something to reset, and not yourself (it would end the
    // session you are using; turn it off from your profile instead).
    if (v.can_edit && (m.has_second_factor || m.two_factor_enabled) && m.email != v.email)
      out += action_form(v, "reset", hidden("user_id", std::to_string(m.id)),
                         "<button class=\"secondary\" type=\"submit\" aria-label=\"Reset 2FA of " +
                             html_escape(m.email) + "\">Reset 2FA</button>");
    // Not yourself: another administrator removes you.
    if (v.can_edit && m.email != v.email)
      out += action_form(v, "remove",
                         hidden("user_id", std::to_string(m.id)) +
                             hidden("members_page", std::to_string(v.members_page.number)),
                         "<button class=\"secondary\" type=\"submit\" aria-label=\"Remove " +
                             html_escape(m.email) + "\">Remove</button>");
    out += "</td></tr>";
  }
  out = "<h2>Members</h2>" + scrolling_table("Members", out + "</tbody></table>") +
        pager(v.members_page, "members_page", "members") +
         "<p><small>Reset 2FA is for a lost phone: it removes the member's authenticator and "
         "recovery codes, turns their own setting off, signs them out everywhere (every "
         "session and every app's access and refresh tokens), revokes their API tokens and "
         "emails them. Remove takes a member out of the account for good (you are asked to "
         "confirm first).</small></p>";
  return out;
}

// The applications (clients are the server's, shared by every account) and this account's
// requirement of two-factor authentication for each.
std::string applications(const AuthenticationView& v) {
  std::string out =
      "<h2>Applications</h2><p><small>Require two-factor authentication for an application, "
      "and members signing in to it need a second factor even when the account does not "
      "enforce one.</small></p>";
  std::string table =
      "<table id=\"applications\"><thead><tr><th>Application</th>"
      "<th>Two-factor authentication</th><th><span class=\"sr-only\">Actions</span></th></tr>"
      "</thead><tbody>";
  for (const auto& c : v.clients) {
    const bool required = c.required_by_client || c.required_by_account;
    table += "<tr><td>" + html_escape(c.name) +
           (c.name != c.client_id ? " <small>(" + html_escape(c.client_id) + ")</small>" : "") +
           "</td><td>" +
           (required ? "<span class=\"on\">Required</span>" : "<span class=\"off\">Not required</span>") +
           (c.required_by_client ? " <small>by the application itself</small>" : "") + "</td><td>";
    if (v.can_edit && !c.required_by_client)
      table += action_form(
          v, "client_two_factor",
          hidden("client_id", c.client_id) + hidden("require", c.required_by_account ? "no" : "yes"),
          "<button class=\"secondary\" type=\"submit\" aria-label=\"" +
              std::string(c.required_by_account ? "Stop requiring" : "Require") +
              " two-factor authentication for " + html_escape(c.name) + "\">" +
              (c.required_by_account ? "Stop requiring" : "Require") + "</button>");
    table += "</td></tr>";
  }
  if (v.clients.empty())
    table += "<tr><td colspan=\"3\">No applications are registered.</td></tr>";
  return out + scrolling_table("Applications", table + "</tbody></table>");
}

std::string tokens(const AuthenticationView& v) {
  std::string out = "<h2>API tokens</h2>";
  if (v.tokens.empty()) {
    out += "<p><small>No API tokens yet.</small></p>";
  } else {
    std::string table =
        "<table id=\"api-tokens\"><thead><tr><th>Name</th><th>Acts "
        "for</th><th>Created</th><th>Expires</th><th>Status</th>"
        "<th><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>";
    for (const auto& t : v.tokens) {
      const bool revoked = t.status == "revoked";
      table += "<tr><td>" + html_escape(t.name) + "</td><td>" + html_escape(t.user_email) +
             "</td><td>" + utc(t.created_at) + "</td><td>" +
             (t.expires_at ? utc(t.expires_at) : std::string("Never")) + "</td><td>" +
             (t.status == "active" ? "<span class=\"on\">Active</span>"
              : revoked            ? "<span class=\"off\">Revoked</span>"
                                   : "<span class=\"off\">Expired</span>") +
             "</td><td>";
      if (v.can_edit && !revoked)
        table += action_form(v, "revoke_token", hidden("token_id", std::to_string(t.id)),
                             "<button class=\"secondary\" type=\"submit\" aria-label=\"Revoke " +
                                 html_escape(t.name) + "\">Revoke</button>");
      table += "</td></tr>";
    }
    out += scrolling_table("API tokens", table + "</tbody></table>") +
           pager(v.tokens_page, "tokens_page", "tokens");
  }
  if (v.can_edit)
    out += "<h3>Create a token</h3><form id=\"create-token\" class=\"fields\" method=\"post\" "
           "action=\"/account/authentication\">" +
           csrf_field(v) +
           "<input type=\"hidden\" name=\"action\" value=\"create_token\">"
           "<div class=\"field\"><label for=\"" + kTokenNameField + "\">Token name</label><input "
           "id=\"" + kTokenNameField + "\" type=\"text\" name=\"name\" placeholder=\"e.g. deploy "
           "script\" maxlength=\"64\" autocomplete=\"off\" required" +
           field_focus(v.error_field == kTokenNameField, false) + "></div>"
           "<div><label for=\"token-expires\">Expires</label><select id=\"token-expires\" "
           "name=\"expires_in\"><option value=\"\" selected>Never "
           "expires</option><option value=\"2592000\">Expires in 30 days</option><option "
           "value=\"7776000\">Expires in 90 days</option><option value=\"31536000\">Expires "
           "in 1 year</option></select></div>"
           "<button type=\"submit\">Create token</button></form>"
           "<p><small>A token acts for you in the admin API (<code>/api/v1</code>) with "
           "<code>Authorization: Bearer</code>; it is shown once, when it is created.</small></p>";
  return out;
}

// One <option> of a select, selected when it is the current value.
std::string option(const std::string& value, const std::string& label, const std::string& current) {
  return "<option value=\"" + html_escape(value) + "\"" + (value == current ? " selected" : "") +
         ">" + html_escape(label) + "</option>";
}

std::string provider_label(const ProviderChoice& p) {
  return html_escape(p.display_name) + " <small><code>" + html_escape(p.id) + "</code></small>";
}

// What the enforcement email carries, the allowed providers and each provider's settings: one
// form saved with one PUT of these members (enforcement keeps its own switch and prompts).
std::string two_factor_settings(const AuthenticationView& v) {
  const bool by_link = v.enrollment_email == kEnrollmentEmailLink;
  const std::string hours = std::to_string(kEnrollmentLinkTtl / 3600);
  std::string out = "<h2>Two-factor settings</h2>";
  if (!v.can_edit) {
    std::string allowed;
    for (const auto& p : v.providers)
      if (p.allowed) allowed += (allowed.empty() ? "" : ", ") + provider_label(p);
    out += "<div class=\"table\"><table id=\"two-factor-settings\"><tbody><tr><th>Enforcement email</th><td>";
    out += by_link ? "Single-use enrollment link, no secret in the email"
                   : "QR code and secret key in the email";
    out += "</td></tr><tr><th>Allowed providers</th><td>" + allowed + "</td></tr>";
    for (const auto& p : v.settings)
      out += "<tr><th>" + html_escape(p.display_name) + "</th><td>" + settings_summary(p) +
             "</td></tr>";
    return out + "</tbody></table></div>";
  }
  const auto radio = [&](const char* value, bool checked, const std::string& title,
                         const std::string& explanation) {
    return std::string(
               "<label class=\"choice\"><input type=\"radio\" name=\"enrollment_email\" "
               "value=\"") +
           value + "\"" + (checked ? " checked" : "") + "><span>" + title + "<br><small>" +
           explanation + "</small></span></label>";
  };
  out += "<form id=\"two-factor-settings\" method=\"post\" action=\"/account/authentication\">" +
         csrf_field(v) + "<input type=\"hidden\" name=\"action\" value=\"save_settings\">" +
         "<fieldset><legend>What the enforcement email carries</legend>" +
         radio(kEnrollmentEmailQr, !by_link, "QR code and secret key in the email",
               "Members scan the QR code or type the key; whoever reads the email can make "
               "codes.") +
         radio(kEnrollmentEmailLink, by_link, "Single-use enrollment link, no secret in the email",
               "The link works once and expires after " + hours +
                   " hours; members sign in with their password, then scan the QR code shown.") +
         "</fieldset><fieldset><legend>Allowed providers</legend>";
  for (const auto& p : v.providers)
    out += "<label class=\"choice\"><input type=\"checkbox\" name=\"allowed_providers\" value=\"" +
           html_escape(p.id) + "\"" + (p.allowed ? " checked" : "") + "><span>" +
           provider_label(p) + "</span></label>";
  out +=
      "<small>Recovery codes stay available as the fallback of an allowed method. While 2FA is "
      "enforced the authenticator app must stay allowed: the setup step at sign-in enrolls "
      "one.</small></fieldset>";
  // Each provider's own settings, as it describes them.
  for (const auto& p : v.settings) {
    out += "<fieldset><legend>" + html_escape(p.display_name) +
           "</legend><div class=\"selects\">";
    for (const SettingField& field : p.description.fields) {
      const auto current = p.values.find(field.key);
      const std::string chosen = current == p.values.end() ? "" : setting_form_text(*current);
      out += "<label>" + html_escape(field.label) + " <select name=\"" +
             html_escape(setting_field_name(p.id, field)) + "\">";
      for (const SettingChoice& choice : field.choices)
        out += option(setting_form_text(choice.value), choice.label, chosen);
      out += "</select></label>";
    }
    out += "</div>";
    if (!p.description.help.empty()) out += "<small>" + html_escape(p.description.help) + "</small>";
    out += "</fieldset>";
  }
  return out + "<button class=\"fit\" type=\"submit\">Save</button></form>";
}

// Invite a member, and the account's invitations with their status.
std::string invitations(const AuthenticationView& v) {
  std::string out;
  if (v.can_edit)
    out +=
        "<h3>Invite a member</h3><form id=\"invite\" class=\"fields\" method=\"post\" "
        "action=\"/account/authentication\">" +
        csrf_field(v) +
        "<input type=\"hidden\" name=\"action\" value=\"invite\">"
        "<div class=\"field\"><label for=\"" + kInviteEmailField + "\">Email of the new "
        "member</label><input id=\"" + kInviteEmailField + "\" type=\"email\" name=\"email\" "
        "autocomplete=\"off\" required" + field_focus(v.error_field == kInviteEmailField, false) +
        "></div><div><label for=\"invite-role\">Role</label><select id=\"invite-role\" "
        "name=\"role\"><option value=\"member\" selected>member</option><option "
        "value=\"admin\">admin</option></select></div>"
        "<button type=\"submit\">Invite</button></form><p><small>The invitation email has a "
        "single-use signup link that expires after " +
        std::to_string(kInvitationTtl / 86400) +
        " days. If the account enforces 2FA, signup ends with setting it up.</small></p>";
  if (v.invitations.empty()) return out + "<p><small>No invitations yet.</small></p>";
  std::string table =
      "<table id=\"invitations\"><thead><tr><th>Invited</th><th>Role</th><th>Status</th>"
      "<th>Link expires</th><th><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>";
  for (const auto& i : v.invitations) {
    const bool pending = i.status == "pending";
    table += "<tr><td>" + html_escape(i.email) + "</td><td>" + html_escape(i.role) +
           "</td><td><span class=\"" + (pending ? "on" : "off") + "\">" + html_escape(i.status) +
           "</span></td><td>" + (pending || i.status == "expired" ? utc(i.expires_at) : "") +
           "</td><td>";
    if (v.can_edit && pending)
      table += action_form(v, "revoke_invitation", hidden("invitation_id", std::to_string(i.id)),
                           "<button class=\"secondary\" type=\"submit\" aria-label=\"Revoke the "
                           "invitation of " +
                               html_escape(i.email) + "\">Revoke</button>");
    table += "</td></tr>";
  }
  return out + scrolling_table("Invitations", table + "</tbody></table>") +
         pager(v.invitations_page, "invitations_page", "invitations");
}

std::string settings_page(const AuthenticationView& v) {
  std::string body = heading(v) + messages(v);
  if (!v.can_edit)
    body +=
        "<p class=\"warning\">Read-only: only administrators who may change the account's "
        "settings can change these.</p>";
  body += "<h2>Two-factor authentication</h2>" + enforcement(v) + two_factor_settings(v) +
          applications(v) + members(v) + invitations(v) + tokens(v);
  return render_page("Authentication: Configuration", body, true);
}

std::string confirm_client_page(const AuthenticationView& v) {
  const std::string name = html_escape(v.confirm_client.name);
  std::string body =
      heading(v) + "<h2>Require two-factor authentication for " + name +
      "?</h2><p class=\"warning\" role=\"alert\" id=\"confirm-summary\">Every member of " +
      html_escape(v.account_name) + " who signs in to " + name +
      " will need a second factor. Members without one are asked to set one up the next time "
      "they sign in to it; if they cannot or decline, " +
      name + " is told they could not sign in.</p><div class=\"actions\">" +
      action_form(v, "client_two_factor",
                  hidden("client_id", v.confirm_client.client_id) + hidden("require", "yes") +
                      hidden("confirm", "yes"),
                  "<button type=\"submit\">Require it</button>") +
      "<a class=\"link\" href=\"/account/authentication\">Cancel</a></div>";
  return render_page("Authentication: Configuration", body, true);
}

std::string confirm_remove_page(const AuthenticationView& v) {
  const std::string email = html_escape(v.confirm_member_email);
  std::string body =
      heading(v) + "<h2>Remove " + email + " from " + html_escape(v.account_name) +
      "?</h2><p class=\"warning\" role=\"alert\" id=\"confirm-summary\">" + email +
      " will be signed out everywhere and the applications they use will be told to sign them "
      "out too. Their second factors, API tokens and application permissions are deleted and "
      "they are emailed. They cannot sign in again unless you invite them anew. This cannot be "
      "undone.</p><div class=\"actions\">" +
      action_form(v, "remove",
                  hidden("user_id", std::to_string(v.confirm_member_id)) +
                      hidden("confirm", "yes"),
                  "<button type=\"submit\">Remove " + email + "</button>") +
      "<a class=\"link\" href=\"/account/authentication\">Cancel</a></div>";
  return render_page("Authentication: Configuration", body, true);
}

// The seed's prompt: protect your own login before enforcing it for everyone.
std::string own_two_factor_page(const AuthenticationView& v) {
  std::string body =
      heading(v) +
      "<p class=\"error\" role=\"alert\">Protect your own login first: set up two-factor "
      "authentication for your own profile before you enforce it for every member, so that you "
      "keep your ability to sign in.</p><p>Go to settings to see the QR code and the secret key "
      "for your authenticator app. Then come back here through <strong>Account setup › "
      "Authentication</strong>.</p><div class=\"actions\">"
      "<form method=\"post\" action=\"/profile/two-factor\">" +
      csrf_field(v) +
      "<input type=\"hidden\" name=\"action\" value=\"enable\">"
      "<button type=\"submit\">Go to settings</button></form>"
      "<a class=\"link\" href=\"/account/authentication\">Cancel</a></div>";
  return render_page("Authentication: Configuration", body, true);
}

std::string confirm_page(const AuthenticationView& v) {
  const auto plural = [](int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  // What happens is the API's own sentence (it knows what the email carries).
  std::string effect = v.summary_effect;
  if (!effect.empty()) effect[0] = static_cast<char>(std::toupper(effect[0]));
  std::string body =
      heading(v) +
      "<h2>Enforce two-factor authentication?</h2><p class=\"warning\" role=\"alert\" "
      "id=\"confirm-summary\">Enforce two-factor authentication for all " +
      plural(v.summary_members, "member", "members") + "? " +
      plural(v.summary_without_two_factor, "member has", "members have") + " no 2FA yet (" +
      plural(v.summary_emails, "email", "emails") + " to send). " + html_escape(effect) +
      ".</p><div class=\"actions\">" +
      action_form(v, "enforce", hidden("confirm", "yes"),
                  "<button type=\"submit\">Confirm</button>") +
      "<a class=\"link\" href=\"/account/authentication\">Cancel</a></div>";
  return render_page("Authentication: Configuration", body, true);
}

// One member's credentials; each one's details (a security key's model and attestation) as a
// definition list in its row, so a screen reader reads them with the key they belong to.
std::string member_credentials_page(const AuthenticationView& v) {
  const std::string email = html_escape(v.confirm_member_email);
  std::string table =
      "<table id=\"credentials\"><thead><tr><th>Type</th><th>Label</th><th>Added</th><th>Last "
      "used</th><th>Status</th><th>Details</th></tr></thead><tbody>";
  for (const CredentialRow& c : v.credentials) {
    std::string status = c.confirmed ? "<span class=\"on\">Confirmed</span>"
                                     : "<span class=\"off\">Pending</span>";
    if (c.possibly_cloned)
      status += " <strong class=\"error\">May have been copied: remove it</strong>";
    std::string details;
    for (const auto& [label, text] : c.details)
      details += "<dt>" + html_escape(label) + "</dt><dd>" + html_escape(text) + "</dd>";
    table += "<tr><td>" + html_escape(c.type) + "</td><td>" + html_escape(c.label) + "</td><td>" +
             utc(c.created_at) + "</td><td>" + (c.last_used_at > 0 ? utc(c.last_used_at) : "Never") +
             "</td><td>" + status + "</td><td>" +
             (details.empty() ? "" : "<dl class=\"details\">" + details + "</dl>") + "</td></tr>";
  }
  std::string body = heading(v) + messages(v) + "<h2>Credentials of " + email + "</h2>";
  body += v.credentials.empty()
              ? "<p>" + email + " has no second factor.</p>"
              : scrolling_table("Credentials of " + email, table + "</tbody></table>");
  body +=
      "<p><small>A security key's model (AAGUID) is vouched for by its maker only when its "
      "attestation is \"trusted\": build an allow-list from those.</small></p><p><a "
      "class=\"link\" href=\"/account/authentication\">Back to Authentication "
      "settings</a></p>";
  return render_page("Credentials of " + v.confirm_member_email, body, true);
}

std::string token_created_page(const AuthenticationView& v) {
  std::string body =
      heading(v) + "<h2>API token created</h2><p>Token <strong>" + html_escape(v.new_token_name) +
      "</strong> acts for " + html_escape(v.email) +
      ".</p><p class=\"warning\" role=\"alert\">Copy it now: it is shown only this once. Keystep "
      "keeps only a hash of it; if you lose it, revoke it and create another.</p>"
      "<p class=\"token\" id=\"new-token\">" +
      html_escape(v.new_token) +
      "</p><p><small>Send it as <code>Authorization: Bearer &lt;token&gt;</code> to the admin "
      "API.</small></p><p><a class=\"link\" href=\"/account/authentication\">Back to "
      "Authentication settings</a></p>";
  return render_page("API token created", body, true);
}

}  // namespace

std::string render_authentication_page(const AuthenticationView& v) {
  switch (v.screen) {
    case Screen::kOwnTwoFactorRequired:
      return own_two_factor_page(v);
    case Screen::kConfirmEnforce:
      return confirm_page(v);
    case Screen::kTokenCreated:
      return token_created_page(v);
    case Screen::kConfirmClientTwoFactor:
      return confirm_client_page(v);
    case Screen::kConfirmRemove:
      return confirm_remove_page(v);
    case Screen::kMemberCredentials:
      return member_credentials_page(v);
    case Screen::kSettings:
      break;
  }
  return settings_page(v);
}

}  // namespace keystep::http
