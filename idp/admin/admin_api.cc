#include "idp/admin/admin_api.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <map>
#include <string_view>

#include "base/crypto/hash.h"
#include "base/html.h"
#include "base/json_body.h"
#include "base/qr_png.h"

namespace keystep {
namespace {

// A request body: a JSON object (parse_json_object) with no member but those `known`.
Result<nlohmann::json> body_with(std::string_view body,
                                 std::initializer_list<std::string_view> known) {
  auto parsed = parse_json_object(body);
  if (!parsed) return parsed;
  for (const auto& [key, value] : parsed->items()) {
    if (std::find(known.begin(), known.end(), key) == known.end())
      return make_error(ErrorCode::kInvalidArgument, "unknown member " + key);
  }
  return parsed;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A provider's settings of an account: the stored ones normalized, or its defaults when
// none are stored (or what is stored no longer validates).
// The providers that take settings: the ones the API shows and changes by their id.
bool takes_settings(const MfaProvider& provider) { return !provider.default_settings().empty(); }

std::string enrollment_email_mode(const nlohmann::json& all) {
  if (all.is_object() && all.contains(kEnrollmentEmailKey) && all[kEnrollmentEmailKey].is_string())
    return all[kEnrollmentEmailKey].get<std::string>();
  return kEnrollmentEmailQr;
}

// The page a list request asks for: `page` (1-based, default 1) and `limit` (1-kMaxPageSize,
// default kDefaultPageSize).
Result<PageRequest> page_request(const Params& query) {
  PageRequest page;
  page.limit = kDefaultPageSize;
  int64_t number = 1;
  if (auto l = get_param(query, "limit")) {
    if (!all_digits(*l) || std::stoll(*l) < 1 || std::stoll(*l) > kMaxPageSize)
      return make_error(ErrorCode::kInvalidArgument,
                        "limit must be 1-" + std::to_string(kMaxPageSize));
    page.limit = std::stoll(*l);
  }
  if (auto p = get_param(query, "page")) {
    if (!all_digits(*p) || std::stoll(*p) < 1 || std::stoll(*p) > kMaxPageNumber)
      return make_error(ErrorCode::kInvalidArgument,
                        "page must be 1-" + std::to_string(kMaxPageNumber));
    number = std::stoll(*p);
  }
  page.offset = (number - 1) * page.limit;
  return page;
}

// A list answer: the page's items under `name`, then where it is in the whole list.
template <class T>
nlohmann::json page_json(const char* name, nlohmann::json items, const PageRequest& request,
                         const Page<T>& page) {
  const int64_t number = request.offset / request.limit + 1;
  nlohmann::json body = {
      {name, std::move(items)}, {"page", number}, {"limit", request.limit}, {"total", page.total}};
  if (request.offset + static_cast<int64_t>(page.items.size()) < page.total)
    body["next_page"] = number + 1;
  return body;
}

// The members without a second factor whom an enforcement emails, and those it cannot: an
// address stored before addresses were checked (check_email_address) is skipped and
// reported, never a failure for everyone.
struct Recipients {
  std::vector<User> to;
  nlohmann::json skipped = nlohmann::json::array();
};

// Whether `member` has set up 2FA, by TwoFactor's one definition, under `account`'s settings.
bool set_up(const TwoFactor& two_factor, const Account& account, const Member& member) {
  return !two_factor.second_factors(account, member.confirmed_providers).empty();
}

Recipients enforcement_recipients(const TwoFactor& two_factor, const Account& account,
                                  const std::vector<Member>& members) {
  Recipients out;
  for (const auto& m : members) {
    if (set_up(two_factor, account, m)) continue;
    if (Status s = check_email_address(m.user.email); !s)
      out.skipped.push_back(
          {{"user_id", m.user.id}, {"email", m.user.email}, {"reason", s.error().message}});
    else
      out.to.push_back(m.user);
  }
  return out;
}

std::string skipped_text(const nlohmann::json& skipped) {
  std::string text;
  for (const auto& s : skipped)
    text += (text.empty() ? "" : ", ") + s["email"].get<std::string>() + " (user " +
            std::to_string(s["user_id"].get<int64_t>()) + ")";
  return text;
}

// The notice `make` builds for `member` of a change made to them. The change is what
// protects the account: an address no message can reach (stored before addresses were
// checked) costs only the notice (none; the answer says email_queued false).
template <class Make>
Result<std::vector<OutgoingMail>> mail_if_deliverable(const User& member, Make make) {
  std::vector<OutgoingMail> mail;
  if (!check_email_address(member.email)) return mail;
  auto message = make();
  if (!message) return message.error();
  mail.push_back(std::move(*message));
  return mail;
}

std::string token_status(const ApiToken& token, int64_t now) {
  if (token.revoked_at) return "revoked";
  if (token.expired(now)) return "expired";
  return "active";
}

std::string invitation_status(const Invitation& invitation, int64_t now) {
  if (invitation.accepted_at) return "accepted";
  if (invitation.revoked_at) return "revoked";
  if (invitation.expires_at <= now) return "expired";
  return "pending";
}

}  // namespace

std::optional<Caller> AdminApi::authenticate(const std::optional<std::string>& authorization,
                                             const std::optional<std::string>& session_cookie,
                                             const std::optional<std::string>& csrf, bool changes,
                                             ApiOutcome& failure) {
  auto unauthenticated = [&](const char* why) {
    failure = api_error(Fault::kInvalidToken, why);
    failure.www_authenticate = std::string("Bearer realm=\"keystep\", error=\"invalid_token\"");
    return std::nullopt;
  };
  if (authorization) {
    constexpr std::string_view kScheme = "Bearer ";
    if (authorization->size() <= kScheme.size() ||
        !std::equal(kScheme.begin(), kScheme.end(), authorization->begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return unauthenticated("use Authorization: Bearer <API token>");
    auto token = store_.api_token_by_hash(sha256_b64url(authorization->substr(kScheme.size())));
    if (!token) {
      if (token.error().code == ErrorCode::kNotFound)
        return unauthenticated("the API token is unknown or revoked");
      failure = api_unavailable();
      return std::nullopt;
    }
    if (token->expired(clock_.now())) return unauthenticated("the API token has expired");
    auto user = store_.user_by_id(token->user_id);
    if (!user) return unauthenticated("the API token's user no longer exists");
    return Caller{*user, false};
  }
  if (session_cookie && !session_cookie->empty()) {
    auto session = store_.session_by_id_hash(sha256_b64url(*session_cookie), clock_.now());
    if (session) {
      if (changes && (!csrf || !constant_time_equal(*csrf, session_csrf_token(*session_cookie)))) {
        failure = api_error(Fault::kInvalidCsrfToken,
                            "changes made with a browser session need the X-CSRF-Token header");
        return std::nullopt;
      }
      auto user = store_.user_by_id(session->user_id);
      if (user) {
        // Reading needs a session at the level the account demands; changing anything also
        // a recent sign-in at that level (RFC 9470 names the answer).
        auto allowed =
            two_factor_.check_session(*session, *user, changes, config_.reauthentication_max_age);
        if (allowed) return Caller{*user, true};
        if (allowed.error().code != ErrorCode::kDenied) {
          failure = api_unavailable();
          return std::nullopt;
        }
        failure = api_error(Fault::kInsufficientUserAuthentication,
                            allowed.error().message + "; sign in again");
        failure.www_authenticate =
            "Bearer realm=\"keystep\", error=\"insufficient_user_authentication\", max_age=" +
            std::to_string(config_.reauthentication_max_age);
        return std::nullopt;
      }
    }
  }
  return unauthenticated("an API token or a signed-in session is required");
}

std::optional<Account> AdminApi::authorize(const Caller& caller, const std::string& account,
                                           const char* permission, ApiOutcome& failure) {
  auto target = all_digits(account) ? store_.account_by_id(std::stoll(account))
                                    : store_.account_by_name(account);
  // Another account's settings are invisible, exactly like a missing one.
  if (!target || target->id != caller.user.account_id) {
    if (!target && target.error().code != ErrorCode::kNotFound) {
      failure = api_unavailable();
      return std::nullopt;
    }
    failure = api_error(Fault::kNotFound, "no such account");
    return std::nullopt;
  }
  auto allowed = directory_.user_has_permission(caller.user, permission);
  if (!allowed) {
    failure = api_unavailable();
    return std::nullopt;
  }
  if (!*allowed) {
    failure =
        api_error(Fault::kForbidden, std::string("this needs the ") + permission + " permission");
    return std::nullopt;
  }
  return *target;
}

nlohmann::json AdminApi::settings_json(const Account& account) const {
  auto all = nlohmann::json::parse(account.mfa_settings_json, nullptr, false);
  nlohmann::json body = {{"account", {{"id", account.id}, {"name", account.name}}},
                         {"enforce_two_factor", account.enforce_two_factor},
                         {"allowed_providers", two_factor_.allowed_providers(account)},
                         {"available_providers", two_factor_.second_factor_ids()},
                         {"enrollment_email", enrollment_email_mode(all)}};
  for (const MfaProvider* provider : two_factor_.registry().all())
    if (takes_settings(*provider)) body[provider->info().id] = two_factor_.settings_of(account, *provider);
  return body;
}

ApiOutcome AdminApi::get_settings(const Caller& caller, const std::string& account) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  return api_ok(settings_json(*target));
}

ApiOutcome AdminApi::put_settings(const Caller& caller, const std::string& account,
                                  const std::string& body, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto parsed = parse_json_object(body);
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  nlohmann::json& request = *parsed;
  // Members beside the account-level ones are providers' settings, by provider id.
  std::vector<const MfaProvider*> providers;
  for (const auto& [key, value] : request.items()) {
    if (key == "enforce_two_factor" || key == "confirm" || key == kAllowedProvidersKey ||
        key == kEnrollmentEmailKey)
      continue;
    const MfaProvider* provider = two_factor_.registry().find(key);
    if (!provider) return api_error(Fault::kInvalidRequest, "unknown member " + key);
    providers.push_back(provider);
  }
  if (request.contains("enforce_two_factor") && !request["enforce_two_factor"].is_boolean())
    return api_error(Fault::kInvalidRequest, "enforce_two_factor must be true or false");
  if (request.contains("confirm") && !request["confirm"].is_boolean())
    return api_error(Fault::kInvalidRequest, "confirm must be true or false");
  auto all = nlohmann::json::parse(target->mfa_settings_json, nullptr, false);
  if (!all.is_object()) all = nlohmann::json::object();
  for (const MfaProvider* provider : providers) {
    // A change names the members it changes; the others keep their stored values. Null is
    // refused here although validate_settings takes it (as "no settings"): it changes nothing.
    const std::string& id = provider->info().id;
    const nlohmann::json& change = request[id];
    if (!change.is_object()) return api_error(Fault::kInvalidRequest, id + " must be an object");
    if (auto checked = provider->validate_settings(change); !checked)
      return api_error(Fault::kInvalidRequest, checked.error().message);
    nlohmann::json merged = two_factor_.settings_of(*target, *provider);
    for (const auto& [key, value] : change.items()) merged[key] = value;
    auto normalized = provider->validate_settings(merged);
    if (!normalized) return api_error(Fault::kInvalidRequest, normalized.error().message);
    all[id] = std::move(*normalized);
  }
  if (request.contains(kAllowedProvidersKey)) {
    const auto& list = request[kAllowedProvidersKey];
    const auto known = two_factor_.second_factor_ids();
    std::vector<std::string> allowed;
    if (!list.is_array() || list.empty())
      return api_error(Fault::kInvalidRequest,
                       "allowed_providers must be a non-empty array of provider ids");
    for (const auto& id : list) {
      if (!id.is_string() || std::find(known.begin(), known.end(), id) == known.end())
        return api_error(
            Fault::kInvalidRequest,
            "allowed_providers: " + (id.is_string() ? id.get<std::string>() : id.dump()) +
                " is not a second factor of this server (see available_providers)");
      if (std::find(allowed.begin(), allowed.end(), id) == allowed.end())
        allowed.push_back(id.get<std::string>());
    }
    all[kAllowedProvidersKey] = allowed;
  }
  if (request.contains(kEnrollmentEmailKey)) {
    const auto& mode = request[kEnrollmentEmailKey];
    if (!mode.is_string() || (mode != kEnrollmentEmailQr && mode != kEnrollmentEmailLink))
      return api_error(Fault::kInvalidRequest, "enrollment_email must be \"qr_code\" or \"link\"");
    all[kEnrollmentEmailKey] = mode;
  }
  const bool enforce = request.value("enforce_two_factor", target->enforce_two_factor);
  // The account as this change leaves it: who has set up 2FA is judged by its settings, as
  // the sign-in after the change judges it.
  Account proposed = *target;
  proposed.mfa_settings_json = all.dump();
  {
    const auto allowed = two_factor_.allowed_providers(proposed);
    if (enforce && std::find(allowed.begin(), allowed.end(), kTotpProvider) == allowed.end())
      return api_error(Fault::kTotpRequired,
                       "the setup members are asked for at sign-in enrolls an authenticator app: "
                       "keep totp in allowed_providers while two-factor authentication is "
                       "enforced");
  }
  const bool by_link = enrollment_email_mode(all) == kEnrollmentEmailLink;
  if (enforce && !target->enforce_two_factor) {
    // The seed's preconditions, enforced here and not only by the page: protect your own
    // login first, then confirm knowing what will happen.
    auto own = two_factor_.status(caller.user);
    if (!own) return api_unavailable();
    if (!own->has_second_factor()) {
      ApiOutcome out = api_error(Fault::kOwnTwoFactorRequired,
                                 "set up two-factor authentication for your own profile first");
      out.body["settings_url"] = config_.issuer + "/profile";
      return out;
    }
    if (!request.value("confirm", false)) {
      auto members = store_.members(target->id);
      if (!members) return api_unavailable();
      const auto without = std::count_if(members->begin(), members->end(), [&](const Member& m) {
        return !set_up(two_factor_, proposed, m);
      });
      const Recipients recipients = enforcement_recipients(two_factor_, proposed, *members);
      ApiOutcome out = api_error(Fault::kConfirmationRequired,
                                 "enforcing two-factor authentication needs \"confirm\": true");
      out.body["summary"] = {
          {"members", members->size()},
          {"members_without_two_factor", without},
          {"emails_to_send", recipients.to.size()},
          {"skipped_recipients", recipients.skipped},
          {"enrollment_email", enrollment_email_mode(all)},
          {"effect", std::string("members without two-factor authentication are "
                                 "emailed ") +
                         (by_link ? "a single-use enrollment link" : "a QR code and secret key") +
                         " and must set it up at their next sign-in; user-level "
                         "settings are not changed"}};
      return out;
    }
  }
  const std::string settings = all.dump();
  // The emails carry secrets made with the settings this request leaves.
  proposed.enforce_two_factor = enforce;
  const bool turned_on = enforce && !target->enforce_two_factor;
  AccountMfaChange change;
  change.account_id = target->id;
  change.was_enforced = target->enforce_two_factor;
  change.enforce_two_factor = enforce;
  change.mfa_settings_json = settings;
  std::vector<OutgoingMail>& mail = change.mail;
  Recipients recipients;
  if (enforce != target->enforce_two_factor || settings != target->mfa_settings_json) {
    if (turned_on) {
      auto members = store_.members(target->id);
      if (!members) return api_unavailable();
      recipients = enforcement_recipients(two_factor_, proposed, *members);
      for (const auto& member : recipients.to) {
        auto message = by_link ? enrollment_link_mail(proposed, member, change.links)
                               : enforcement_mail(proposed, member, change.pending_credentials);
        if (!message) return api_unavailable(message.error().message);
        mail.push_back(std::move(*message));
      }
    }
    if (auto s = store_.update_account_mfa(change); !s) {
      if (s.error().code == ErrorCode::kConflict)
        return api_error(Fault::kConflict,
                         "the setting was changed by another request; read it and try again");
      return api_unavailable();
    }
    if (!mail.empty() && on_mail_queued_) on_mail_queued_();
    if (enforce != target->enforce_two_factor) {
      std::string detail;
      if (enforce) {
        detail =
            std::to_string(mail.size()) + (mail.size() == 1 ? " email" : " emails") + " queued";
        if (!recipients.skipped.empty())
          detail += "; skipped (invalid address): " + skipped_text(recipients.skipped);
      }
      two_factor_.audit(
          caller.user,
          enforce ? "account.two_factor_enforced" : "account.two_factor_enforcement_off", address,
          detail);
    }
  }
  auto updated = store_.account_by_id(target->id);
  if (!updated) return api_unavailable();
  nlohmann::json answer = settings_json(*updated);
  if (turned_on) {
    answer["emails_queued"] = mail.size();
    answer["skipped_recipients"] = recipients.skipped;
  }
  return api_ok(answer);
}

ApiOutcome AdminApi::members(const Caller& caller, const std::string& account,
                             const Params& query) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto request = page_request(query);
  if (!request) return api_error(Fault::kInvalidRequest, request.error().message);
  auto members = store_.members_page(target->id, *request);
  if (!members) return api_unavailable();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members->items) {
    list.push_back({{"id", m.user.id},
                    {"email", m.user.email},
                    {"display_name", m.user.display_name},
                    {"role", m.user.role},
                    {"two_factor_enabled", m.user.two_factor_enabled},
                    {"has_second_factor", set_up(two_factor_, *target, m)},
                    {"challenged", two_factor_challenge_required(m.user.two_factor_enabled,
                                                                 target->enforce_two_factor)}});
  }
  return api_ok(page_json("members", std::move(list), *request, *members));
}

ApiOutcome AdminApi::set_display_name(const Caller& caller, const std::string& account,
                                      const std::string& user_id, const std::string& body,
                                      const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto parsed = body_with(body, {"display_name"});
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  if (!parsed->contains("display_name") || !(*parsed)["display_name"].is_string())
    return api_error(Fault::kInvalidRequest, "display_name is required (a string)");
  const std::string name = (*parsed)["display_name"];
  if (auto s = check_display_name(name); !s)
    return api_error(Fault::kInvalidRequest, s.error().message);
  if (auto s = store_.update_display_name(member->id, name); !s) {
    if (s.error().code == ErrorCode::kNotFound) return api_error(Fault::kNotFound, "no such member");
    return api_unavailable();
  }
  two_factor_.audit(*member, "member.display_name_set", address,
                    "by user " + std::to_string(caller.user.id));
  return api_ok({{"id", member->id}, {"email", member->email}, {"display_name", name}});
}

nlohmann::json AdminApi::token_json(const ApiToken& token, const std::string& user_email) const {
  return {{"id", token.id},
          {"name", token.name},
          {"user_id", token.user_id},
          {"user_email", user_email},
          {"created_at", token.created_at},
          {"expires_at", token.expires_at},
          {"status", token_status(token, clock_.now())},
          {"revoked", token.revoked_at != 0},
          {"revoked_at", token.revoked_at}};
}

ApiOutcome AdminApi::reset_member(const Caller& caller, const std::string& account,
                                  const std::string& user_id, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto mail = mail_if_deliverable(*member, [&] { return reset_mail(*target, *member); });
  if (!mail) return api_unavailable(mail.error().message);
  auto reset = store_.reset_two_factor(member->id, clock_.now(), *mail);
  if (!reset) {
    if (reset.error().code == ErrorCode::kNotFound)
      return api_error(Fault::kNotFound, "no such member");
    return api_unavailable();
  }
  if (!mail->empty() && on_mail_queued_) on_mail_queued_();
  if (on_sessions_ended_) on_sessions_ended_();
  nlohmann::json tokens = nlohmann::json::array();
  std::string names;
  for (const auto& t : reset->api_tokens) {
    tokens.push_back(token_json(t, member->email));
    names += (names.empty() ? "" : ", ") + t.name + " (" + std::to_string(t.id) + ")";
  }
  two_factor_.audit(*member, "mfa.reset_by_admin", address,
                    "by user " + std::to_string(caller.user.id) + "; " +
                        std::to_string(reset->sessions_ended) + " sessions ended, " +
                        std::to_string(reset->grants_revoked) + " grants revoked, " +
                        std::to_string(reset->api_tokens.size()) + " API tokens revoked" +
                        (names.empty() ? "" : ": " + names) +
                        (mail->empty() ? "; no email (invalid address)" : ""));
  return api_ok({{"reset", true},
                 {"user_id", member->id},
                 {"email", member->email},
                 {"sessions_ended", reset->sessions_ended},
                 {"grants_revoked", reset->grants_revoked},
                 {"api_tokens_revoked", tokens},
                 {"email_queued", !mail->empty()}});
}

ApiOutcome AdminApi::remove_member(const Caller& caller, const std::string& account,
                                   const std::string& user_id, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  if (member->id == caller.user.id)
    return api_error(Fault::kConflict,
                     "you cannot remove yourself; another administrator of the account can");
  auto mail = mail_if_deliverable(*member, [&] { return removal_mail(*target, *member); });
  if (!mail) return api_unavailable(mail.error().message);
  auto removed = store_.remove_member(member->id, clock_.now(), *mail);
  if (!removed) {
    switch (removed.error().code) {
      case ErrorCode::kNotFound:
        return api_error(Fault::kNotFound, "no such member");
      case ErrorCode::kConflict:
        return api_error(Fault::kConflict,
                         "the account's last administrator cannot be removed; make another "
                         "member an administrator first");
      default:
        return api_unavailable();
    }
  }
  if (!mail->empty() && on_mail_queued_) on_mail_queued_();
  if (on_sessions_ended_) on_sessions_ended_();
  two_factor_.audit(*member, "member.removed", address,
                    "by user " + std::to_string(caller.user.id) + "; " +
                        std::to_string(removed->sessions_ended) + " sessions ended, " +
                        std::to_string(removed->grants_revoked) + " grants revoked, " +
                        std::to_string(removed->logouts_queued) + " back-channel logouts queued" +
                        (mail->empty() ? "; no email (invalid address)" : ""));
  return api_ok({{"removed", true},
                 {"user_id", member->id},
                 {"email", member->email},
                 {"sessions_ended", removed->sessions_ended},
                 {"grants_revoked", removed->grants_revoked},
                 {"logouts_queued", removed->logouts_queued},
                 {"email_queued", !mail->empty()}});
}

nlohmann::json AdminApi::client_json(const Client& client,
                                     const std::vector<std::string>& required) const {
  const bool by_account =
      std::find(required.begin(), required.end(), client.client_id) != required.end();
  return {{"client_id", client.client_id},
          {"name", shown_name(client)},
          {"display_name", client.display_name},
          {"logo_uri", client.logo_uri},
          {"home_uri", client.home_uri},
          {"required_by_client", client.require_two_factor},
          {"required_by_account", by_account},
          {"require_two_factor", client.require_two_factor || by_account}};
}

ApiOutcome AdminApi::clients(const Caller& caller, const std::string& account) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto all = store_.clients();
  auto required = store_.clients_requiring_two_factor(target->id);
  if (!all || !required) return api_unavailable();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : *all) list.push_back(client_json(c, *required));
  return api_ok({{"clients", std::move(list)}});
}

ApiOutcome AdminApi::client(const Caller& caller, const std::string& account,
                            const std::string& client_id) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto found = store_.client_by_id(client_id);
  if (!found && found.error().code == ErrorCode::kNotFound)
    return api_error(Fault::kNotFound, "no such application");
  auto required = store_.clients_requiring_two_factor(target->id);
  if (!found || !required) return api_unavailable();
  return api_ok(client_json(*found, *required));
}

ApiOutcome AdminApi::put_client(const Caller& caller, const std::string& account,
                                const std::string& client_id, const std::string& body,
                                const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto parsed = body_with(body, {"require_two_factor"});
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  if (!parsed->contains("require_two_factor") || !(*parsed)["require_two_factor"].is_boolean())
    return api_error(Fault::kInvalidRequest, "require_two_factor is required (true or false)");
  const bool required = (*parsed)["require_two_factor"];
  if (Status s = store_.set_client_requires_two_factor(target->id, client_id, required); !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return api_error(Fault::kNotFound, "no such application");
    return api_unavailable();
  }
  two_factor_.audit(caller.user,
                    required ? "client.two_factor_required" : "client.two_factor_not_required",
                    address, client_id);
  return client(caller, account, client_id);
}

std::optional<User> AdminApi::member_of(const Account& account, const std::string& user_id,
                                        ApiOutcome& failure) {
  if (all_digits(user_id)) {
    auto member = store_.user_by_id(std::stoll(user_id));
    if (member && member->account_id == account.id) return *member;
    if (!member && member.error().code != ErrorCode::kNotFound) {
      failure = api_unavailable();
      return std::nullopt;
    }
  }
  failure = api_error(Fault::kNotFound, "no such member");
  return std::nullopt;
}

std::optional<MfaCredential> AdminApi::credential_of(const User& member,
                                                     const std::string& credential_id,
                                                     ApiOutcome& failure) {
  auto all = store_.credentials_of_user(member.id);
  if (!all) {
    failure = api_unavailable();
    return std::nullopt;
  }
  const auto it = std::find_if(all->begin(), all->end(), [&](const MfaCredential& c) {
    return all_digits(credential_id) && c.id == std::stoll(credential_id);
  });
  if (it == all->end()) {
    failure = api_error(Fault::kNotFound, "no such credential");
    return std::nullopt;
  }
  return std::move(*it);
}

nlohmann::json AdminApi::credential_json(const MfaCredential& credential) const {
  const MfaProvider* provider = two_factor_.registry().find(credential.provider_id);
  const std::string type = provider ? provider->info().display_name : credential.provider_id;
  // The flag is the core's (the login flow sets it on a counter that went backwards), kept
  // in the provider's state; a row whose member is not a boolean counts as unflagged.
  const auto cloned = credential.state.is_object() ? credential.state.find(kPossiblyCloned)
                                                   : credential.state.end();
  nlohmann::json details = provider ? provider->public_details(credential) : nullptr;
  nlohmann::json shown = {
      {"id", credential.id},
      {"provider", credential.provider_id},
      {"type", type},
      {"label", credential.label.empty() ? type : credential.label},
      {"created_at", credential.created_at},
      {"last_used_at", credential.last_used_at},
      {"confirmed", credential.confirmed},
      {"possibly_cloned", cloned != credential.state.end() && cloned->is_boolean() &&
                              cloned->get<bool>()},
      {"details", details.is_object() ? std::move(details) : nlohmann::json::object()}};
  if (!credential.confirmed && credential.state.contains(kPendingExpiresAt))
    shown["expires_at"] = credential.state[kPendingExpiresAt];
  return shown;
}

ApiOutcome AdminApi::credential(const Caller& caller, const std::string& account,
                                const std::string& user_id, const std::string& credential_id) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto found = credential_of(*member, credential_id, failure);
  if (!found) return failure;
  return api_ok(credential_json(*found));
}

ApiOutcome AdminApi::credentials(const Caller& caller, const std::string& account,
                                 const std::string& user_id) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto all = store_.credentials_of_user(member->id);
  if (!all) return api_unavailable();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& credential : *all) list.push_back(credential_json(credential));
  return api_ok(
      {{"user_id", member->id}, {"email", member->email}, {"credentials", std::move(list)}});
}

ApiOutcome AdminApi::register_credential(const Caller& caller, const std::string& account,
                                         const std::string& user_id, const std::string& body,
                                         const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto parsed = parse_json_object(body);
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  nlohmann::json& request = *parsed;
  const auto id = request.find("provider");
  if (id == request.end() || !id->is_string())
    return api_error(Fault::kInvalidRequest,
                     "provider is required: a second factor of this server (see "
                     "available_providers)");
  const std::string provider_id = id->get<std::string>();
  MfaProvider* provider = two_factor_.registry().find(provider_id);
  if (!provider || provider->info().is_fallback)
    return api_error(Fault::kInvalidRequest, "provider: " + provider_id +
                                                 " is not a second factor of this server (see "
                                                 "available_providers)");
  const auto allowed = two_factor_.allowed_providers(*target);
  if (std::find(allowed.begin(), allowed.end(), provider_id) == allowed.end())
    return api_error(Fault::kFactorNotAllowed,
                     provider_id + " is not in the account's allowed_providers");
  request.erase("provider");
  const ChallengeContext context = two_factor_.challenge_context(*target, *provider);
  const int64_t now = context.now;
  const UserRef user{member->id, member->account_id, member->email, target->issuer_label};
  // Without a secret the server draws the key or the challenge (a token or security key the
  // caller's tool then programs or has sign, and confirms), when the provider has such keys;
  // otherwise the body is an import.
  if (!request.contains("secret")) {
    auto held = store_.credentials_of_user(member->id);
    if (!held) return api_unavailable();
    std::vector<MfaCredential> existing;
    for (auto& c : *held)
      if (c.confirmed && c.provider_id == provider_id) existing.push_back(std::move(c));
    auto begun =
        provider->begin_registration_for(user, request, context.settings, existing, context);
    if (begun) return begin_pending(caller, *member, *provider, *begun, address);
    if (begun.error().code != ErrorCode::kNotFound) {
      if (begun.error().code == ErrorCode::kInvalidArgument)
        return api_error(Fault::kInvalidRequest, begun.error().message);
      return api_error(Fault::kServerError, provider_id + " could not begin the registration");
    }
  }
  auto made = provider->register_for(user, request, context.settings, context);
  if (!made) {
    if (made.error().code == ErrorCode::kInvalidArgument)
      return api_error(Fault::kInvalidRequest, made.error().message);
    return api_error(Fault::kServerError, provider_id + " could not register the factor");
  }
  // What the store and the sign-in rely on is the core's to set, whatever the provider said.
  made->id = 0;
  made->user_id = member->id;
  made->provider_id = provider_id;
  made->confirmed = true;
  made->version = 0;
  made->created_at = now;
  made->last_used_at = 0;
  auto sealed = two_factor_.sealed(*made);
  if (!sealed) return api_error(Fault::kServerError, "the secret could not be sealed");
  const int cap = two_factor_.cap_of(provider_id);
  auto added = store_.add_credential(*sealed, cap);
  if (!added) {
    switch (added.error().code) {
      case ErrorCode::kDenied:
        return api_error(Fault::kConflict, "the member already holds the " +
                                               std::to_string(cap) + " " + provider_id +
                                               " credentials a member may have; remove one first");
      case ErrorCode::kAlreadyExists:
        return api_error(Fault::kConflict, "this key is already registered");
      case ErrorCode::kNotFound:
        return api_error(Fault::kNotFound, "no such member");
      default:
        return api_unavailable();
    }
  }
  const bool emailed = notify_factor_change(*target, *member, *added, true, address);
  two_factor_.audit(*member, "mfa.credential_registered_by_admin", address,
                    "by user " + std::to_string(caller.user.id) + "; " + provider_id +
                        " credential " + std::to_string(added->id));
  nlohmann::json answer = credential_json(*added);
  answer["email_queued"] = emailed;
  return api_created(answer);
}

ApiOutcome AdminApi::begin_pending(const Caller& caller, const User& member,
                                   const MfaProvider& provider, Enrollment& begun,
                                   const std::string& address) {
  auto stored = two_factor_.store_pending_registration(member, begun.pending);
  if (!stored) {
    switch (stored.error().code) {
      case ErrorCode::kConflict:
        return api_error(Fault::kConflict, stored.error().message);
      case ErrorCode::kAlreadyExists:
        return api_error(Fault::kConflict, "this key is already registered");
      case ErrorCode::kNotFound:
        return api_error(Fault::kNotFound, "no such member");
      case ErrorCode::kUnavailable:
        return api_unavailable();
      default:
        return api_error(Fault::kServerError, "the registration could not be stored");
    }
  }
  two_factor_.audit(member, "mfa.credential_registration_begun_by_admin", address,
                    "by user " + std::to_string(caller.user.id) + "; " + provider.info().id +
                        " credential " + std::to_string(stored->id));
  nlohmann::json answer = credential_json(*stored);
  // What programs the token, shown this once: only the sealed secret is stored.
  for (const auto& [key, value] : begun.client_options.items()) answer[key] = value;
  return api_created(answer);
}

ApiOutcome AdminApi::confirm_credential(const Caller& caller, const std::string& account,
                                        const std::string& user_id,
                                        const std::string& credential_id, const std::string& body,
                                        const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto parsed = parse_json_object(body);
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  // A typed code stays a string; a key's ceremony answer is an object, which the provider
  // reads as the JSON text a browser would post.
  const auto code = parsed->find("code");
  const auto ceremony = parsed->find("response");
  std::string response;
  if (parsed->size() == 1 && code != parsed->end() && code->is_string() &&
      !code->get_ref<const std::string&>().empty() &&
      code->get_ref<const std::string&>().size() <= kMaxConfirmationCode)
    response = code->get<std::string>();
  else if (parsed->size() == 1 && ceremony != parsed->end() && ceremony->is_object())
    response = ceremony->dump();
  else
    return api_error(Fault::kInvalidRequest,
                     "the body must be {\"code\": what the key typed when touched} or, for a "
                     "security key, {\"response\": its registration response}");
  auto it = credential_of(*member, credential_id, failure);
  if (!it) return failure;
  if (it->confirmed) return api_error(Fault::kAlreadyConfirmed, "the credential is confirmed already");
  const int64_t expires_at = it->state.value(kPendingExpiresAt, int64_t{0});
  const int64_t now = clock_.now();
  if (expires_at != 0 && now >= expires_at)
    return api_error(Fault::kRegistrationExpired,
                     "the registration expired; delete it and begin again");
  auto confirmed = two_factor_.confirm_pending(*member, *target, *it, response);
  if (!confirmed) {
    switch (confirmed.error().code) {
      case ErrorCode::kDenied:
      case ErrorCode::kInvalidArgument:
        two_factor_.audit(*member, "mfa.credential_confirmation_refused", address,
                          it->provider_id + " credential " + std::to_string(it->id));
        return api_error(Fault::kWrongCode, confirmed.error().message);
      case ErrorCode::kConflict:
        return api_error(Fault::kConflict, confirmed.error().message);
      case ErrorCode::kAlreadyExists:
        return api_error(Fault::kConflict, "this key is already registered");
      case ErrorCode::kNotFound:
        return api_error(Fault::kNotFound, "no such credential");
      case ErrorCode::kExpired:  // the provider's own ceremony deadline, before expires_at
        return api_error(Fault::kRegistrationExpired, confirmed.error().message +
                                                          "; delete it and begin again");
      default:
        return api_unavailable();
    }
  }
  const bool emailed = notify_factor_change(*target, *member, *confirmed, true, address);
  two_factor_.audit(*member, "mfa.credential_registered_by_admin", address,
                    "by user " + std::to_string(caller.user.id) + "; " + it->provider_id +
                        " credential " + std::to_string(it->id) + " confirmed");
  nlohmann::json answer = credential_json(*confirmed);
  answer["email_queued"] = emailed;
  return api_ok(answer);
}

ApiOutcome AdminApi::remove_credential(const Caller& caller, const std::string& account,
                                       const std::string& user_id,
                                       const std::string& credential_id,
                                       const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto member = member_of(*target, user_id, failure);
  if (!member) return failure;
  auto all = store_.credentials_of_user(member->id);
  if (!all) return api_unavailable();
  const auto it = std::find_if(all->begin(), all->end(), [&](const MfaCredential& c) {
    return all_digits(credential_id) && c.id == std::stoll(credential_id);
  });
  if (it == all->end()) return api_error(Fault::kNotFound, "no such credential");
  const MfaCredential removed = *it;
  // The last second factor stays: reset_member removes it, together with what a lost device
  // calls for (the sessions and tokens it may have opened).
  const auto factors = two_factor_.allowed_providers(*target);
  const auto counts = [&](const MfaCredential& c) {
    return c.confirmed && std::find(factors.begin(), factors.end(), c.provider_id) != factors.end();
  };
  const bool last = counts(removed) && std::count_if(all->begin(), all->end(), counts) == 1;
  if (auto s = store_.remove_credential(member->id, removed.id, removed.version, factors,
                                        MfaStore::LastFactor::kRefuse);
      !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return api_error(Fault::kNotFound, "no such credential");
    if (s.error().code == ErrorCode::kConflict)
      return api_error(Fault::kConflict,
                       last ? "this is the member's last second factor: register another one "
                              "first, or reset their two-factor authentication (POST "
                              "…/members/" + std::to_string(member->id) + "/two-factor/reset)"
                            : "the credential was changed by another request; read the list "
                              "and try again");
    return api_unavailable();
  }
  // A pending registration was never the member's factor: nothing to tell them.
  const bool emailed =
      removed.confirmed && notify_factor_change(*target, *member, removed, false, address);
  two_factor_.audit(*member, "mfa.credential_removed_by_admin", address,
                    "by user " + std::to_string(caller.user.id) + "; " + removed.provider_id +
                        " credential " + std::to_string(removed.id));
  return api_ok({{"removed", true},
                 {"id", removed.id},
                 {"user_id", member->id},
                 {"email_queued", emailed}});
}

bool AdminApi::notify_factor_change(const Account& account, const User& member,
                                    const MfaCredential& credential, bool added,
                                    const std::string& address) {
  const nlohmann::json shown = credential_json(credential);
  FactorNotice notice;
  notice.change = added ? FactorChange::kAdded : FactorChange::kRemoved;
  notice.factor_label = shown["label"].get<std::string>();
  notice.factor_type = shown["type"].get<std::string>();
  notice.account_label = account.issuer_label;
  notice.by_administrator = true;
  notice.address = address;
  notice.factor_id = credential.id;
  return static_cast<bool>(notices_.notify(member.email, std::move(notice)));
}

ApiOutcome AdminApi::audit_events(const Caller& caller, const std::string& account,
                                  const Params& query) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  int64_t before = 0;
  int limit = 50;
  if (auto b = get_param(query, "before")) {
    if (!all_digits(*b)) return api_error(Fault::kInvalidRequest, "before must be an event id");
    before = std::stoll(*b);
  }
  if (auto l = get_param(query, "limit")) {
    if (!all_digits(*l) || std::stoll(*l) < 1 || std::stoll(*l) > 500)
      return api_error(Fault::kInvalidRequest, "limit must be 1-500");
    limit = static_cast<int>(std::stoll(*l));
  }
  const auto event_filter = get_param(query, "event");
  const auto user_filter = get_param(query, "user");
  if (user_filter && !all_digits(*user_filter))
    return api_error(Fault::kInvalidRequest, "user must be a user id");
  nlohmann::json list = nlohmann::json::array();
  int64_t next = 0;
  // Filters apply after paging by id, so read pages until `limit` events match or none remain.
  while (static_cast<int>(list.size()) < limit) {
    auto page = store_.audit_events(target->id, before, 500);
    if (!page) return api_unavailable();
    if (page->empty()) break;
    for (const auto& e : *page) {
      before = e.id;
      if (event_filter && e.event != *event_filter) continue;
      if (user_filter && e.user_id != std::stoll(*user_filter)) continue;
      list.push_back({{"id", e.id},
                      {"at", e.at},
                      {"user_id", e.user_id},
                      {"event", e.event},
                      {"address", e.address},
                      {"detail", e.detail},
                      {"request_id", e.request_id}});
      next = e.id;
      if (static_cast<int>(list.size()) == limit) break;
    }
  }
  nlohmann::json body = {{"events", list}};
  if (static_cast<int>(list.size()) == limit) body["next_before"] = next;
  return api_ok(body);
}

Result<OutgoingMail> AdminApi::outgoing(const std::string& dedupe_key, const User& to,
                                        MailContent content) {
  const std::string from = config_.mail.contains("from") && config_.mail["from"].is_string()
                               ? config_.mail["from"].get<std::string>()
                               : std::string("Keystep <keystep@localhost>");
  auto host = parse_url(config_.issuer);
  auto message_id = new_message_id(random_, host ? host->host : "localhost");
  if (!message_id) return message_id.error();
  content.from = from;
  content.to = to.email;
  content.date = clock_.now();
  content.message_id = *message_id;
  const std::string subject = content.subject;
  auto mime = build_message(content);
  if (!mime) return mime.error();
  auto sealed = seal_mime(two_factor_.box(), random_, *mime, dedupe_key);
  if (!sealed) return sealed.error();
  OutgoingMail mail;
  mail.dedupe_key = dedupe_key;
  mail.to = to.email;
  mail.subject = subject;
  mail.mime = std::move(*sealed);
  mail.created_at = clock_.now();
  mail.next_attempt_at = clock_.now();
  return mail;
}

std::string AdminApi::enforcement_key(const Account& account, const User& member) {
  // Unique per enforcement: turning enforcement off and on again, even within a second, is a
  // new enforcement with new emails (the compare-and-set keeps a repeat from sending twice).
  auto nonce = random_token(random_, 9);
  return "enforce:" + std::to_string(account.id) + ":" + std::to_string(member.id) + ":" +
         std::to_string(clock_.now()) + ":" + (nonce ? *nonce : std::string());
}

Result<OutgoingMail> AdminApi::enforcement_mail(const Account& account, const User& member,
                                                std::vector<MfaCredential>& pending) {
  auto enrollment = two_factor_.totp_enrollment_for(member, account);
  if (!enrollment) return enrollment.error();
  pending.push_back(std::move(enrollment->credential));
  const TotpEnrollmentView& view = enrollment->view;
  auto png = qr_png(view.otpauth_uri);
  if (!png) return png.error();
  const std::string sign_in = config_.issuer + "/profile";
  MailContent content;
  content.subject = "Set up two-factor authentication for " + account.issuer_label;
  content.text_body =
      "Your administrator now requires two-factor authentication for every member of " +
      account.issuer_label +
      ".\n\n1. Open Google Authenticator or any authenticator app and add an account with the "
      "attached QR code, or type this secret key (time-based):\n\n    " +
      view.display_secret + "\n\n2. Sign in at " + sign_in +
      "\n3. After your password, enter the code your app shows.\n";
  content.html_body =
      "<p>Your administrator now requires two-factor authentication for every member of <b>" +
      html_escape(account.issuer_label) +
      "</b>.</p><ol><li>Scan this QR code with Google Authenticator or any authenticator "
      "app:<br><img src=\"cid:qr\" alt=\"QR code of your key for the authenticator app; the same "
      "key is written next to it\" width=\"200\" height=\"200\"><br>or type "
      "this secret key (time-based): <code>" +
      html_escape(view.display_secret) + "</code></li><li>Sign in at <a href=\"" +
      html_escape(sign_in) + "\">" + html_escape(sign_in) +
      "</a></li><li>After your password, enter the code your app shows.</li></ol>";
  content.inline_images.push_back(InlineImage{"qr", *png});
  return outgoing(enforcement_key(account, member), member, std::move(content));
}

Result<OutgoingMail> AdminApi::enrollment_link_mail(const Account& account, const User& member,
                                                    std::vector<EnrollmentLink>& links) {
  auto token = random_token(random_, 32);
  if (!token) return token.error();
  const int64_t now = clock_.now();
  links.push_back(
      EnrollmentLink{sha256_b64url(*token), member.id, now, now + kEnrollmentLinkTtl, 0});
  const std::string link = config_.issuer + "/enroll?token=" + *token;
  const std::string hours = std::to_string(kEnrollmentLinkTtl / 3600);
  MailContent content;
  content.subject = "Set up two-factor authentication for " + account.issuer_label;
  content.text_body =
      "Your administrator now requires two-factor authentication for every member of " +
      account.issuer_label +
      ".\n\nOpen this link, sign in with your password and scan the QR code it shows with "
      "Google Authenticator or any authenticator app:\n\n    " +
      link + "\n\nThe link works once and expires in " + hours +
      " hours. Afterwards, or if it has expired, sign in at " + config_.issuer +
      "/profile and you will be asked to set it up.\n";
  content.html_body =
      "<p>Your administrator now requires two-factor authentication for every member of <b>" +
      html_escape(account.issuer_label) + "</b>.</p><p><a href=\"" + html_escape(link) +
      "\">Set up two-factor authentication</a>: sign in with your password and scan the QR "
      "code it shows with Google Authenticator or any authenticator app.</p><p>The link works "
      "once and expires in " +
      hours + " hours. Afterwards, sign in at <a href=\"" + html_escape(config_.issuer) +
      "/profile\">" + html_escape(config_.issuer) +
      "/profile</a> and you will be asked to set it up.</p>";
  return outgoing(enforcement_key(account, member), member, std::move(content));
}

Result<OutgoingMail> AdminApi::reset_mail(const Account& account, const User& member) {
  MailContent content;
  content.subject = "Your two-factor authentication was reset";
  content.text_body = "An administrator of " + account.issuer_label +
                      " reset two-factor authentication for " + member.email +
                      " (for example after a lost phone). You were signed out everywhere. "
                      "Set it up again from your profile: " +
                      config_.issuer + "/profile\n";
  return outgoing("reset:" + std::to_string(member.id) + ":" + std::to_string(clock_.now()), member,
                  std::move(content));
}

Result<OutgoingMail> AdminApi::removal_mail(const Account& account, const User& member) {
  MailContent content;
  content.subject = "You were removed from " + account.issuer_label;
  content.text_body = "An administrator of " + account.issuer_label + " removed " + member.email +
                      " from the account. You were signed out everywhere, and you can no "
                      "longer sign in to its applications with this address. If you think "
                      "this is a mistake, ask an administrator of " +
                      account.issuer_label + ".\n";
  return outgoing("removed:" + std::to_string(member.id) + ":" + std::to_string(clock_.now()),
                  member, std::move(content));
}

nlohmann::json AdminApi::invitation_json(const Invitation& invitation) const {
  return {{"id", invitation.id},
          {"email", invitation.email},
          {"role", invitation.role},
          {"status", invitation_status(invitation, clock_.now())},
          {"created_at", invitation.created_at},
          {"expires_at", invitation.expires_at},
          {"accepted_at", invitation.accepted_at},
          {"revoked_at", invitation.revoked_at},
          {"user_id", invitation.user_id},
          {"invited_by", invitation.invited_by}};
}

ApiOutcome AdminApi::invite(const Caller& caller, const std::string& account,
                            const std::string& body, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto parsed = body_with(body, {"email", "role"});
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  nlohmann::json& request = *parsed;
  if (!request.contains("email") || !request["email"].is_string())
    return api_error(Fault::kInvalidRequest, "email is required");
  auto email = normalize_new_email(request["email"].get<std::string>());
  if (!email) return api_error(Fault::kInvalidRequest, email.error().message);
  const auto role = request.value("role", std::string(kRoleMember));
  if (role != kRoleMember && role != kRoleAdmin)
    return api_error(Fault::kInvalidRequest, "role must be \"member\" or \"admin\"");
  if (auto existing = store_.user_by_email(target->id, *email); existing)
    return api_error(Fault::kAlreadyMember, *email + " is already a member of the account");
  else if (existing.error().code != ErrorCode::kNotFound)
    return api_unavailable();
  const int64_t now = clock_.now();
  auto all = store_.invitations(target->id);
  if (!all) return api_unavailable();
  for (const auto& open : *all) {
    // Repeating the request while the invitation is open changes nothing and sends nothing.
    if (open.email == *email && open.pending(now)) {
      if (open.role != role)
        return api_error(Fault::kInvitationPending,
                         *email + " has an open invitation as " + open.role +
                             "; revoke it to invite again with another role");
      return api_ok(invitation_json(open));
    }
  }
  auto token = random_token(random_, 32);
  if (!token) return api_error(Fault::kServerError, "randomness failed");
  Invitation invitation;
  invitation.account_id = target->id;
  invitation.email = *email;
  invitation.role = role;
  invitation.token_hash = sha256_b64url(*token);
  invitation.invited_by = caller.user.id;
  invitation.created_at = now;
  invitation.expires_at = now + kInvitationTtl;
  auto message = invitation_mail(*target, invitation, *token);
  if (!message) return api_unavailable(message.error().message);
  auto created = store_.create_invitation(invitation, {*message});
  if (!created) {
    if (created.error().code == ErrorCode::kAlreadyExists)
      return api_error(Fault::kAlreadyMember, created.error().message);
    return api_unavailable();
  }
  if (on_mail_queued_) on_mail_queued_();
  two_factor_.audit(caller.user, "member.invited", address, *email + " as " + role);
  return api_created(invitation_json(*created));
}

ApiOutcome AdminApi::invitations(const Caller& caller, const std::string& account,
                                 const Params& query) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto request = page_request(query);
  if (!request) return api_error(Fault::kInvalidRequest, request.error().message);
  auto page = store_.invitations_page(target->id, *request);
  if (!page) return api_unavailable();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& invitation : page->items) list.push_back(invitation_json(invitation));
  return api_ok(page_json("invitations", std::move(list), *request, *page));
}

ApiOutcome AdminApi::revoke_invitation(const Caller& caller, const std::string& account,
                                       const std::string& invitation_id,
                                       const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  if (!all_digits(invitation_id)) return api_error(Fault::kNotFound, "no such open invitation");
  if (auto s = store_.revoke_invitation(target->id, std::stoll(invitation_id), clock_.now()); !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return api_error(Fault::kNotFound, "no such open invitation");
    return api_unavailable();
  }
  two_factor_.audit(caller.user, "member.invitation_revoked", address,
                    "invitation " + invitation_id);
  return api_ok({{"revoked", true}, {"id", std::stoll(invitation_id)}});
}

Result<OutgoingMail> AdminApi::invitation_mail(const Account& account, const Invitation& invitation,
                                               const std::string& token) {
  const std::string link = config_.issuer + "/signup?invitation=" + token;
  const std::string days = std::to_string(kInvitationTtl / 86400);
  const std::string two_factor =
      account.enforce_two_factor
          ? " The account requires two-factor authentication: during signup you will scan a "
            "QR code with Google Authenticator or any authenticator app."
          : "";
  MailContent content;
  content.subject = "You are invited to " + account.issuer_label;
  content.text_body = "You are invited to join " + account.issuer_label +
                      ". Open this link to choose your password and finish signing up:\n\n    " +
                      link + "\n\nThe link works once and expires in " + days + " days." +
                      two_factor + "\n";
  content.html_body = "<p>You are invited to join <b>" + html_escape(account.issuer_label) +
                      "</b>.</p><p><a href=\"" + html_escape(link) +
                      "\">Choose your password and sign up</a></p><p>The link works once and "
                      "expires in " +
                      days + " days." + html_escape(two_factor) + "</p>";
  User to;
  to.email = invitation.email;
  return outgoing("invite:" + invitation.token_hash, to, std::move(content));
}

Result<int64_t> api_token_expiry(int64_t now, std::optional<int64_t> expires_in,
                                 std::optional<int64_t> expires_at) {
  if (expires_in && expires_at)
    return make_error(ErrorCode::kInvalidArgument, "give expires_in or expires_at, not both");
  if (expires_in) {
    if (*expires_in < kMinApiTokenLifetime || *expires_in > kMaxApiTokenLifetime)
      return make_error(ErrorCode::kInvalidArgument,
                        "expires_in must be " + std::to_string(kMinApiTokenLifetime) + "-" +
                            std::to_string(kMaxApiTokenLifetime) + " seconds");
    return now + *expires_in;
  }
  if (expires_at) {
    if (*expires_at < now + kMinApiTokenLifetime || *expires_at > now + kMaxApiTokenLifetime)
      return make_error(ErrorCode::kInvalidArgument,
                        "expires_at must be a Unix time " + std::to_string(kMinApiTokenLifetime) +
                            " seconds to " + std::to_string(kMaxApiTokenLifetime / 86400) +
                            " days from now");
    return *expires_at;
  }
  return 0;
}

Result<std::string> AdminApi::create_token(const std::string& account, const std::string& email,
                                           const std::string& name,
                                           std::optional<int64_t> expires_in) {
  auto target = store_.account_by_name(account);
  if (!target) {
    if (target.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound, "no account named '" + account + "'");
    return target.error();
  }
  auto expires_at = api_token_expiry(clock_.now(), expires_in, std::nullopt);
  if (!expires_at) return expires_at.error();
  auto normalized = normalize_email(email);
  if (!normalized) return normalized.error();
  auto user = store_.user_by_email(target->id, *normalized);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound, "no user " + *normalized + " in " + account);
    return user.error();
  }
  auto issued = issue_token(*target, *user, name, *expires_at);
  if (!issued) return issued.error();
  two_factor_.audit(*user, "api_token.created", "cli", name);
  return issued->first;
}

Result<std::pair<std::string, ApiToken>> AdminApi::issue_token(const Account& account,
                                                               const User& user,
                                                               const std::string& name,
                                                               int64_t expires_at) {
  auto token = random_token(random_, 32);
  if (!token) return token.error();
  std::string secret = "ks_" + *token;
  ApiToken record{0, account.id, user.id, name, sha256_b64url(secret), clock_.now(), 0, expires_at};
  auto created = store_.create_api_token(record);
  if (!created) return created.error();
  return std::make_pair(std::move(secret), std::move(*created));
}

ApiOutcome AdminApi::tokens(const Caller& caller, const std::string& account, const Params& query) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermViewAuthSettings, failure);
  if (!target) return failure;
  auto request = page_request(query);
  if (!request) return api_error(Fault::kInvalidRequest, request.error().message);
  auto page = store_.api_tokens_page(target->id, *request);
  if (!page) return api_unavailable();
  std::map<int64_t, std::string> emails;  // of the page's token owners
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : page->items) {
    auto known = emails.find(t.user_id);
    if (known == emails.end()) {
      auto owner = store_.user_by_id(t.user_id);
      if (!owner && owner.error().code != ErrorCode::kNotFound) return api_unavailable();
      known = emails.emplace(t.user_id, owner ? owner->email : "").first;
    }
    list.push_back(token_json(t, known->second));
  }
  return api_ok(page_json("tokens", std::move(list), *request, *page));
}

ApiOutcome AdminApi::create_token(const Caller& caller, const std::string& account,
                                  const std::string& body, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  auto parsed = body_with(body, {"name", "expires_in", "expires_at"});
  if (!parsed) return api_error(Fault::kInvalidRequest, parsed.error().message);
  nlohmann::json& request = *parsed;
  const auto name_it = request.find("name");
  if (name_it == request.end() || !name_it->is_string())
    return api_error(Fault::kInvalidRequest, "name must be a string");
  const std::string name = name_it->get<std::string>();
  const bool printable =
      std::all_of(name.begin(), name.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
  if (name.empty() || name.size() > 64 || !printable ||
      name.find_first_not_of(' ') == std::string::npos)
    return api_error(Fault::kInvalidRequest, "name must be 1-64 printable characters");
  std::optional<int64_t> expiry[2];
  const char* const expiry_keys[2] = {"expires_in", "expires_at"};
  for (int i = 0; i < 2; ++i) {
    const auto it = request.find(expiry_keys[i]);
    if (it == request.end()) continue;
    if (!it->is_number_integer())
      return api_error(Fault::kInvalidRequest,
                       std::string(expiry_keys[i]) + " must be a whole number of seconds");
    expiry[i] = it->get<int64_t>();
  }
  auto expires_at = api_token_expiry(clock_.now(), expiry[0], expiry[1]);
  if (!expires_at) return api_error(Fault::kInvalidRequest, expires_at.error().message);
  auto issued = issue_token(*target, caller.user, name, *expires_at);
  if (!issued) return api_unavailable();
  two_factor_.audit(caller.user, "api_token.created", address, name);
  nlohmann::json answer = token_json(issued->second, caller.user.email);
  answer["token"] = issued->first;
  return api_created(answer);
}

ApiOutcome AdminApi::revoke_token(const Caller& caller, const std::string& account,
                                  const std::string& token_id, const std::string& address) {
  ApiOutcome failure;
  auto target = authorize(caller, account, kPermEditAuthSettings, failure);
  if (!target) return failure;
  if (!all_digits(token_id)) return api_error(Fault::kNotFound, "no such token");
  if (auto s = store_.revoke_api_token(target->id, std::stoll(token_id), clock_.now()); !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return api_error(Fault::kNotFound, "no such token, or it is already revoked");
    return api_unavailable();
  }
  two_factor_.audit(caller.user, "api_token.revoked", address, "token " + token_id);
  return api_ok({{"revoked", true}, {"id", std::stoll(token_id)}});
}

}  // namespace keystep
