#include "idp/admin/admin_console.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

namespace keystep {
namespace {

std::string form_value(const Params& form, std::string_view name) {
  return get_param(form, name).value_or("");
}

// A form's number as a JSON number, anything else as the text itself, so that the API's own
// validation answers for it (400 "totp.digits must be 6 or 8").
nlohmann::json number_or_text(const std::string& value) {
  const bool digits =
      !value.empty() && value.size() <= 9 &&
      std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
  return digits ? nlohmann::json(std::stoi(value)) : nlohmann::json(value);
}

// The value of a provider setting's form field: the choice the text names, else the text for
// the API to refuse.
nlohmann::json setting_value(const SettingField& field, const std::string& text) {
  for (const SettingChoice& choice : field.choices)
    if (setting_form_text(choice.value) == text) return choice.value;
  return number_or_text(text);
}

// The API's query for page `number` of a list on the admin page.
Params page_query(int64_t number) {
  return {{"page", std::to_string(number)}, {"limit", std::to_string(kConsolePageSize)}};
}

ListPage list_page(const nlohmann::json& body) {
  return ListPage{body.value("page", int64_t{1}), body.value("total", int64_t{0}),
                  body.contains("next_page")};
}

// The API's error description as the page says it. A refusal names a permission, which means
// nothing to the person reading the page.
std::string description(const ApiOutcome& api) {
  if (api.fault == Fault::kForbidden)
    return "Only administrators of your account who may change its settings can do this.";
  const auto it = api.body.find("error_description");
  return it != api.body.end() && it->is_string() ? it->get<std::string>()
                                                 : std::string(kTryAgainText);
}

// A list's page number as the page's query or a form carries it (1-based), or nullopt.
std::optional<int64_t> page_number(std::string_view value) {
  const bool ok = !value.empty() && value.size() <= 7 &&
                  std::all_of(value.begin(), value.end(),
                              [](unsigned char c) { return std::isdigit(c); });
  if (!ok || std::stoll(std::string(value)) < 1) return std::nullopt;
  return std::stoll(std::string(value));
}

// The error page for an administrator GET …/authentication-settings refuses, if it does.
std::optional<WebOutcome> settings_refused(const ApiOutcome& settings) {
  if (settings.fault == Fault::kForbidden)
    return error_page(Fault::kForbidden,
                      "Only administrators of your account can open Account setup > "
                      "Authentication.");
  if (settings.fault) return error_page(*settings.fault, description(settings));
  return std::nullopt;
}

// A public detail of a credential as the member screen says it.
std::string detail_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_array()) {
    std::string out;
    for (const auto& item : value) out += (out.empty() ? "" : ", ") + detail_text(item);
    return out.empty() ? "not known" : out;
  }
  if (value.is_null()) return "not known";
  return value.dump();
}

// The session cannot act here (none, or below the level the account demands): sign in.
bool sign_in_needed(const ApiOutcome& failure) {
  return failure.fault == Fault::kInvalidToken ||
         failure.fault == Fault::kInsufficientUserAuthentication;
}

}  // namespace

std::string setting_field_name(const std::string& provider_id, const SettingField& field) {
  return provider_id + "_" + field.key;
}

std::string setting_form_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

ConsoleOutcome AdminConsole::web(WebOutcome out) const {
  ConsoleOutcome result;
  result.web = std::move(out);
  return result;
}

ConsoleOutcome AdminConsole::page(const Params& query, const BrowserContext& browser) {
  ApiOutcome failure;
  auto caller =
      admin_.authenticate(std::nullopt, browser.session_cookie, std::nullopt, false, failure);
  if (!caller) {
    if (sign_in_needed(failure))
      return web(sign_in_.sign_in_then(kAuthenticationPagePath, browser));
    return web(unavailable_page(description(failure)));
  }
  const std::string csrf = session_csrf_token(*browser.session_cookie);
  if (const auto member = get_param(query, "member"))
    return member_credentials(*caller, csrf, *member);
  ConsolePages pages;
  for (const auto& [name, number] : {std::pair{"members_page", &pages.members},
                                     std::pair{"invitations_page", &pages.invitations},
                                     std::pair{"tokens_page", &pages.tokens}}) {
    const auto value = get_param(query, name);
    if (!value) continue;
    const auto parsed = page_number(*value);
    if (!parsed) {
      ConsoleOutcome out =
          view(*caller, csrf, AuthenticationView::Screen::kSettings, Fault::kInvalidRequest);
      if (out.is_page) out.view.error_message = "No such page of the list.";
      return out;
    }
    *number = *parsed;
  }
  return view(*caller, csrf, AuthenticationView::Screen::kSettings, std::nullopt, pages);
}

ConsoleOutcome AdminConsole::view(const Caller& caller, const std::string& csrf_token,
                                  AuthenticationView::Screen screen, std::optional<Fault> fault,
                                  const ConsolePages& pages) {
  const std::string account = std::to_string(caller.user.account_id);
  // Reading goes through the API too, so the page shows exactly what GET returns and refuses
  // exactly whom the API refuses.
  ApiOutcome settings = admin_.get_settings(caller, account);
  if (auto refused = settings_refused(settings)) return web(std::move(*refused));
  ApiOutcome members = admin_.members(caller, account, page_query(pages.members));
  ApiOutcome invitations = admin_.invitations(caller, account, page_query(pages.invitations));
  ApiOutcome tokens = admin_.tokens(caller, account, page_query(pages.tokens));
  ApiOutcome clients = admin_.clients(caller, account);
  auto can_edit = directory_.user_has_permission(caller.user, kPermEditAuthSettings);
  if (members.fault || invitations.fault || tokens.fault || clients.fault || !can_edit)
    return web(unavailable_page());

  ConsoleOutcome out;
  out.is_page = true;
  out.fault = fault;
  AuthenticationView& v = out.view;
  v.screen = screen;
  v.csrf_token = csrf_token;
  v.email = caller.user.email;
  v.account_name = settings.body["account"]["name"].get<std::string>();
  v.can_edit = *can_edit;
  v.enforce_two_factor = settings.body["enforce_two_factor"].get<bool>();
  for (const MfaProvider* provider : registry_.all()) {
    SettingsDescription description = provider->describe_settings();
    if (description.fields.empty()) continue;
    const std::string& id = provider->info().id;
    v.settings.push_back(ProviderSettingsView{
        id, provider->info().display_name, std::move(description),
        settings.body.contains(id) ? settings.body[id] : provider->default_settings()});
  }
  v.enrollment_email = settings.body.value("enrollment_email", std::string(kEnrollmentEmailQr));
  const nlohmann::json& allowed = settings.body["allowed_providers"];
  for (const auto& id : settings.body["available_providers"]) {
    const MfaProvider* second_factor = registry_.find(id.get<std::string>());
    v.providers.push_back(
        ProviderChoice{id.get<std::string>(),
                       second_factor ? second_factor->info().display_name : id.get<std::string>(),
                       std::find(allowed.begin(), allowed.end(), id) != allowed.end()});
  }
  for (const auto& m : members.body["members"])
    v.members.push_back(MemberRow{m["id"].get<int64_t>(), m["email"].get<std::string>(),
                                  m["role"].get<std::string>(), m["two_factor_enabled"].get<bool>(),
                                  m["has_second_factor"].get<bool>()});
  for (const auto& i : invitations.body["invitations"])
    v.invitations.push_back(InvitationRow{
        i["id"].get<int64_t>(), i["email"].get<std::string>(), i["role"].get<std::string>(),
        i["status"].get<std::string>(), i["expires_at"].get<int64_t>()});
  for (const auto& t : tokens.body["tokens"])
    v.tokens.push_back(TokenRow{t["id"].get<int64_t>(), t["name"].get<std::string>(),
                                t["user_email"].get<std::string>(), t["created_at"].get<int64_t>(),
                                t["expires_at"].get<int64_t>(), t["status"].get<std::string>()});
  for (const auto& c : clients.body["clients"])
    v.clients.push_back(ClientRow{c["client_id"].get<std::string>(), c["name"].get<std::string>(),
                                  c["required_by_client"].get<bool>(),
                                  c["required_by_account"].get<bool>()});
  v.members_page = list_page(members.body);
  v.invitations_page = list_page(invitations.body);
  v.tokens_page = list_page(tokens.body);
  return out;
}

ConsoleOutcome AdminConsole::member_credentials(const Caller& caller,
                                                const std::string& csrf_token,
                                                const std::string& user_id) {
  const std::string account = std::to_string(caller.user.account_id);
  ApiOutcome settings = admin_.get_settings(caller, account);
  if (auto refused = settings_refused(settings)) return web(std::move(*refused));
  ApiOutcome listed = admin_.credentials(caller, account, user_id);
  if (listed.fault == Fault::kNotFound) {
    ConsoleOutcome out = view(caller, csrf_token, AuthenticationView::Screen::kSettings,
                              Fault::kNotFound);
    if (out.is_page) out.view.error_message = "No such member in your account.";
    return out;
  }
  if (listed.fault) return web(unavailable_page(description(listed)));

  ConsoleOutcome out;
  out.is_page = true;
  AuthenticationView& v = out.view;
  v.screen = AuthenticationView::Screen::kMemberCredentials;
  v.csrf_token = csrf_token;
  v.email = caller.user.email;
  v.account_name = settings.body["account"]["name"].get<std::string>();
  v.confirm_member_id = listed.body["user_id"].get<int64_t>();
  v.confirm_member_email = listed.body["email"].get<std::string>();
  for (const auto& c : listed.body["credentials"]) {
    CredentialRow row{c["type"].get<std::string>(),     c["label"].get<std::string>(),
                      c["created_at"].get<int64_t>(),   c["last_used_at"].get<int64_t>(),
                      c["confirmed"].get<bool>(),       c["possibly_cloned"].get<bool>(),
                      {}};
    // The provider labels its own details (one place); the values are the API's.
    if (const MfaProvider* provider = registry_.find(c["provider"].get<std::string>())) {
      const nlohmann::json& details = c["details"];
      for (const DetailField& field : provider->describe_details()) {
        const auto value = details.find(field.key);
        if (value != details.end()) row.details.emplace_back(field.label, detail_text(*value));
      }
    }
    v.credentials.push_back(std::move(row));
  }
  return out;
}

ConsoleOutcome AdminConsole::with_message(ConsoleOutcome out, const ApiOutcome& api,
                                          std::string notice) {
  if (!out.is_page) return out;
  if (!api.fault) {
    out.view.notice = std::move(notice);
  } else {
    out.fault = api.fault;
    out.view.error_message = description(api);
  }
  return out;
}

ConsoleOutcome AdminConsole::submit(const Params& form, const BrowserContext& browser) {
  ApiOutcome failure;
  auto caller = admin_.authenticate(std::nullopt, browser.session_cookie,
                                    get_param(form, "csrf_token"), true, failure);
  if (!caller) {
    if (sign_in_needed(failure))
      return web(sign_in_.sign_in_then(kAuthenticationPagePath, browser));
    if (failure.fault == Fault::kInvalidCsrfToken)
      return web(error_page(Fault::kInvalidCsrfToken,
                            "The form was not sent by the Authentication page. Reload it and try "
                            "again."));
    return web(unavailable_page(description(failure)));
  }
  const std::string csrf = session_csrf_token(*browser.session_cookie);
  const std::string account = std::to_string(caller->user.account_id);
  const std::string& address = browser.client_address;
  const std::string action = form_value(form, "action");
  using Screen = AuthenticationView::Screen;

  if (action == "enforce") {
    nlohmann::json change = {{"enforce_two_factor", true}};
    if (form_value(form, "confirm") == "yes") change["confirm"] = true;
    ApiOutcome api = admin_.put_settings(*caller, account, change.dump(), address);
    if (api.fault == Fault::kOwnTwoFactorRequired)
      return view(*caller, csrf, Screen::kOwnTwoFactorRequired, Fault::kOwnTwoFactorRequired);
    if (api.fault == Fault::kConfirmationRequired) {
      ConsoleOutcome out = view(*caller, csrf, Screen::kConfirmEnforce, std::nullopt);
      if (!out.is_page) return out;
      const nlohmann::json& summary = api.body["summary"];
      out.view.summary_members = summary.value("members", int64_t{0});
      out.view.summary_without_two_factor = summary.value("members_without_two_factor", int64_t{0});
      out.view.summary_emails = summary.value("emails_to_send", int64_t{0});
      out.view.summary_effect = summary.value("effect", "");
      return out;
    }
    ConsoleOutcome out = view(*caller, csrf, Screen::kSettings, std::nullopt);
    if (!out.is_page || api.fault) return with_message(std::move(out), api, "");
    // The API's own counts: the page shows one page of members only.
    const int64_t emailed = api.body.value("emails_queued", int64_t{0});
    std::string notice = "Two-factor authentication is enforced for every member of the account.";
    if (emailed > 0)
      notice += " " + std::to_string(emailed) +
                (emailed == 1 ? " member without it was" : " members without it were") +
                " emailed how to set it up; it is asked for at the next sign-in.";
    std::string skipped;
    if (api.body.contains("skipped_recipients"))
      for (const auto& r : api.body["skipped_recipients"])
        skipped += (skipped.empty() ? "" : ", ") + r.value("email", "");
    if (!skipped.empty())
      notice += " Not emailed, because their address cannot receive email: " + skipped +
                " (they are asked to set it up at their next sign-in).";
    return with_message(std::move(out), api, notice);
  }
  if (action == "stop") {
    ApiOutcome api =
        admin_.put_settings(*caller, account, R"({"enforce_two_factor":false})", address);
    return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api,
                        "Two-factor authentication is no longer enforced. Members' own settings "
                        "are unchanged: whoever turned it on keeps it.");
  }
  if (action == "reset") {
    const std::string user_id = form_value(form, "user_id");
    ApiOutcome api = admin_.reset_member(*caller, account, user_id, address);
    ConsoleOutcome out = view(*caller, csrf, Screen::kSettings, std::nullopt);
    std::string notice = "Two-factor authentication of " + api.body.value("email", "") +
                         " was reset: their authenticator and recovery codes no longer work and "
                         "they were signed out everywhere";
    notice += api.body.value("email_queued", false)
                  ? "; they were emailed how to set it up again."
                  : ". No email was sent: their address cannot receive email.";
    std::string names;
    if (api.body.contains("api_tokens_revoked"))
      for (const auto& t : api.body["api_tokens_revoked"])
        names += (names.empty() ? "" : ", ") + t.value("name", "");
    if (!names.empty()) notice += " API tokens revoked: " + names + ".";
    return with_message(std::move(out), api, notice);
  }
  if (action == "save_settings") {
    // The members the form shows, and only those: enforcement has its own switch and prompts.
    nlohmann::json change = {{kAllowedProvidersKey, nlohmann::json::array()}};
    for (const auto& [name, value] : form)
      if (name == kAllowedProvidersKey) change[kAllowedProvidersKey].push_back(value);
    if (auto mode = get_param(form, kEnrollmentEmailKey)) change[kEnrollmentEmailKey] = *mode;
    for (const MfaProvider* provider : registry_.all()) {
      nlohmann::json chosen = nlohmann::json::object();
      for (const SettingField& field : provider->describe_settings().fields)
        if (auto text = get_param(form, setting_field_name(provider->info().id, field)))
          chosen[field.key] = setting_value(field, *text);
      if (!chosen.empty()) change[provider->info().id] = chosen;
    }
    ApiOutcome api = admin_.put_settings(*caller, account, change.dump(), address);
    return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api,
                        "The two-factor settings were saved.");
  }
  if (action == "invite") {
    nlohmann::json request = {{"email", form_value(form, "email")}};
    if (auto role = get_param(form, "role")) request["role"] = *role;
    ApiOutcome api = admin_.invite(*caller, account, request.dump(), address);
    const std::string invited = api.body.value("email", "");
    ConsoleOutcome out =
        with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api,
                     api.created
                         ? "Invitation sent to " + invited + "."
                         : invited + " already has an open invitation; no new email was sent.");
    if (api.fault && out.is_page) out.view.error_field = kInviteEmailField;
    return out;
  }
  if (action == "revoke_invitation") {
    const std::string id = form_value(form, "invitation_id");
    ApiOutcome api = admin_.revoke_invitation(*caller, account, id, address);
    ConsoleOutcome out = view(*caller, csrf, Screen::kSettings, std::nullopt);
    std::string email;
    if (out.is_page)
      for (const auto& i : out.view.invitations)
        if (std::to_string(i.id) == id) email = i.email;
    // The first page may not show it.
    return with_message(std::move(out), api,
                        (email.empty() ? "The invitation" : "The invitation to " + email) +
                            " was revoked: its link no longer works.");
  }
  if (action == "create_token") {
    const std::string name = form_value(form, "name");
    nlohmann::json request = {{"name", name}};
    if (const std::string expires_in = form_value(form, "expires_in"); !expires_in.empty())
      request["expires_in"] = number_or_text(expires_in);
    ApiOutcome api = admin_.create_token(*caller, account, request.dump(), address);
    if (!api.created) {
      ConsoleOutcome out = with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api, "");
      if (api.fault && out.is_page) out.view.error_field = kTokenNameField;
      return out;
    }
    ConsoleOutcome out = view(*caller, csrf, Screen::kTokenCreated, std::nullopt);
    if (!out.is_page) return out;
    out.view.new_token = api.body["token"].get<std::string>();
    out.view.new_token_name = name;
    return out;
  }
  if (action == "revoke_token") {
    ApiOutcome api = admin_.revoke_token(*caller, account, form_value(form, "token_id"), address);
    return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api,
                        "The API token was revoked: requests with it are refused from now on.");
  }
  if (action == "client_two_factor") {
    const std::string client_id = form_value(form, "client_id");
    const bool required = form_value(form, "require") == "yes";
    if (required && form_value(form, "confirm") != "yes") {
      ApiOutcome api = admin_.client(*caller, account, client_id);
      if (api.fault)
        return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api, "");
      ConsoleOutcome out = view(*caller, csrf, Screen::kConfirmClientTwoFactor, std::nullopt);
      if (out.is_page)
        out.view.confirm_client = ClientRow{client_id, api.body["name"].get<std::string>(),
                                            api.body["required_by_client"].get<bool>(),
                                            api.body["required_by_account"].get<bool>()};
      return out;
    }
    ApiOutcome api = admin_.put_client(*caller, account, client_id,
                                       nlohmann::json{{"require_two_factor", required}}.dump(),
                                       address);
    const std::string name = api.body.value("name", client_id);
    std::string notice =
        required ? "Members now need two-factor authentication to sign in to " + name +
                       "; those without it are asked to set it up when they next sign in to it."
                 : "The account no longer requires two-factor authentication for " + name + ".";
    if (!required && api.body.value("required_by_client", false))
      notice += " The application itself still requires it for everyone.";
    return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api, notice);
  }
  if (action == "remove") {
    const std::string user_id = form_value(form, "user_id");
    if (form_value(form, "confirm") != "yes") {
      // The page of the list the admin clicked in, which names the member.
      ConsolePages pages;
      pages.members = page_number(form_value(form, "members_page")).value_or(1);
      ConsoleOutcome out = view(*caller, csrf, Screen::kConfirmRemove, std::nullopt, pages);
      if (!out.is_page) return out;
      // The member is named by the list the admin clicked in.
      for (const auto& m : out.view.members)
        if (std::to_string(m.id) == user_id) {
          out.view.confirm_member_id = m.id;
          out.view.confirm_member_email = m.email;
          return out;
        }
      ConsoleOutcome gone = view(*caller, csrf, Screen::kSettings, Fault::kNotFound);
      if (gone.is_page)
        gone.view.error_message = "That member is not in the list any more. Nothing was removed.";
      return gone;
    }
    ApiOutcome api = admin_.remove_member(*caller, account, user_id, address);
    std::string notice = api.body.value("email", "") +
                         " was removed from the account and signed out everywhere";
    notice += api.body.value("email_queued", false)
                  ? "; they were emailed."
                  : ". No email was sent: their address cannot receive email.";
    return with_message(view(*caller, csrf, Screen::kSettings, std::nullopt), api, notice);
  }
  ConsoleOutcome out = view(*caller, csrf, Screen::kSettings, Fault::kInvalidRequest);
  if (out.is_page) out.view.error_message = "Unknown action.";
  return out;
}

}  // namespace keystep
