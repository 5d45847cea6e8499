#include "idp/login/two_factor.h"

#include <algorithm>
#include <cassert>
#include <map>

#include "base/crypto/encoding.h"
#include "base/qr_png.h"
#include "base/url.h"
#include "idp/observability/observability.h"

namespace keystep {
namespace {

// Binds a sealed credential secret to its owner and provider, so rows cannot be swapped.
std::string secret_aad(int64_t user_id, const std::string& provider_id) {
  return "keystep mfa secret " + std::to_string(user_id) + " " + provider_id;
}

// Binds a sealed first code of a resynchronisation to its user and credential.
std::string resync_aad(int64_t user_id, int64_t credential_id) {
  return "keystep mfa resync " + std::to_string(user_id) + " " + std::to_string(credential_id);
}

std::string view_aad(int64_t user_id, const std::string& provider_id) {
  return "keystep mfa enrollment view " + std::to_string(user_id) + " " + provider_id;
}

// A pending enrollment the user began (profile, forced setup, enforcement email), not an
// administrator's pending registration, which only its confirmation call finishes.
bool own_pending(const MfaCredential& c, const std::string& provider_id) {
  return c.provider_id == provider_id && !c.confirmed && !c.state.contains(kPendingExpiresAt);
}

std::string user_key(const User& user) { return "user:" + std::to_string(user.id); }
std::string address_key(const std::string& address) { return "addr:" + address; }

// The origin of an issuer URL (RFC 6454 §6.2: scheme, host, and the port unless it is the
// scheme's default).
std::string origin_of(const ParsedUrl& url) {
  const bool default_port = !url.port || (url.scheme == "http" && *url.port == 80) ||
                            (url.scheme == "https" && *url.port == 443);
  return url.scheme + "://" + url.host + (default_port ? "" : ":" + std::to_string(*url.port));
}

}  // namespace

TwoFactor::TwoFactor(Store& store, MfaStore& mfa, const ProviderRegistry& registry,
                     const SecretBox& box, Random& random, const Clock& clock,
                     const std::string& issuer, CredentialCaps caps, const std::string& rp_id)
    : store_(store), mfa_(mfa), registry_(registry), box_(box), random_(random), clock_(clock),
      throttle_(mfa, clock), caps_(std::move(caps)) {
  if (issuer.empty()) return;
  // The issuer was checked when the configuration was read.
  auto url = parse_url(issuer);
  assert(url);
  if (!url) return;
  rp_id_ = rp_id.empty() ? url->host : rp_id;
  origin_ = origin_of(*url);
}

std::vector<std::string> TwoFactor::second_factor_ids() const {
  std::vector<std::string> ids;
  for (const auto* provider : registry_.all()) {
    if (!provider->info().is_fallback) ids.push_back(provider->info().id);
  }
  return ids;
}

std::vector<std::string> TwoFactor::allowed_providers(const Account& account) const {
  auto all = nlohmann::json::parse(account.mfa_settings_json, nullptr, false);
  auto registered = second_factor_ids();
  if (!all.is_object() || !all.contains(kAllowedProvidersKey) ||
      !all[kAllowedProvidersKey].is_array())
    return registered;
  std::vector<std::string> allowed;
  for (const auto& id : all[kAllowedProvidersKey]) {
    if (id.is_string() && std::find(registered.begin(), registered.end(), id) != registered.end())
      allowed.push_back(id.get<std::string>());
  }
  return allowed;
}

Result<bool> TwoFactor::provider_allowed(const User& user, const std::string& provider_id) {
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  const auto allowed = allowed_providers(*account);
  return std::find(allowed.begin(), allowed.end(), provider_id) != allowed.end();
}

Result<bool> TwoFactor::second_factor_required(const User& user) {
  auto fresh = store_.user_by_id(user.id);
  if (!fresh) return fresh.error();
  auto account = store_.account_by_id(fresh->account_id);
  if (!account) return account.error();
  return two_factor_challenge_required(fresh->two_factor_enabled, account->enforce_two_factor);
}

Status TwoFactor::check_session(const Session& session, const User& user, bool recent,
                                int64_t max_age) {
  auto required = second_factor_required(user);
  if (!required) return required.error();
  if (*required && (session.mfa_time == 0 || session.password_time == 0))
    return make_error(ErrorCode::kDenied,
                      "this needs a sign-in with two-factor authentication");
  // At the 2FA level the second factor is the one that must be fresh: it was passed after
  // the session's password (a password-only sign-in resets mfa_time to 0).
  const int64_t at = *required ? session.mfa_time : session.auth_time;
  if (recent && clock_.now() - at > max_age)
    return make_error(ErrorCode::kDenied, "this needs a recent sign-in");
  return {};
}

void TwoFactor::notify_member(FactorNotifier& notices, const User& user, FactorChange change,
                              const FactorSummary& factor, bool two_factor_off,
                              const std::string& address) {
  auto account = store_.account_by_id(user.account_id);
  FactorNotice notice;
  notice.change = change;
  notice.factor_label = factor.label;
  notice.factor_type = factor.type;
  notice.account_label = account ? account->issuer_label : std::string("Keystep");
  notice.two_factor_off = two_factor_off;
  notice.address = address;
  notice.factor_id = factor.id;
  if (Status s = notices.notify(user.email, std::move(notice)); !s)
    audit(user, "mail.notice_failed", address, s.error().message);
}

void TwoFactor::audit(const User& user, const std::string& event, const std::string& address,
                      const std::string& detail) {
  // An audit write failure must not turn a login into an error; it is rare (database gone)
  // and the same failure will surface on the next store call.
  (void)mfa_.append_audit(audit_logged(user, event, address, detail));
}

AuditEvent TwoFactor::audit_logged(const User& user, const std::string& event,
                                   const std::string& address, const std::string& detail) {
  AuditEvent row{0,     clock_.now(), user.account_id, user.id,
                 event, address,      detail,          obs::current_request_id()};
  obs::security_event(row);
  return row;
}

Result<MfaCredential> TwoFactor::unsealed(const MfaCredential& stored) const {
  MfaCredential clear = stored;
  auto secret = box_.open(stored.secret, secret_aad(stored.user_id, stored.provider_id));
  if (!secret)
    return make_error(ErrorCode::kInternal,
                      "cannot unseal an MFA secret (wrong master key?): " + secret.error().message);
  clear.secret = std::move(*secret);
  return clear;
}

Result<MfaCredential> TwoFactor::sealed(const MfaCredential& clear) {
  MfaCredential out = clear;
  auto secret = box_.seal(clear.secret, secret_aad(clear.user_id, clear.provider_id), random_);
  if (!secret) return secret.error();
  out.secret = std::move(*secret);
  return out;
}

ChallengeContext TwoFactor::challenge_context() const {
  return ChallengeContext{clock_.now(), rp_id_, origin_, nullptr};
}

ChallengeContext TwoFactor::challenge_context(const Account& account,
                                              const MfaProvider& provider) const {
  return ChallengeContext{clock_.now(), rp_id_, origin_, settings_of(account, provider)};
}

ProviderSettings TwoFactor::settings_of(const Account& account, const MfaProvider& provider) const {
  const auto all = nlohmann::json::parse(account.mfa_settings_json, nullptr, false);
  if (all.is_object()) {
    const auto stored = all.find(provider.info().id);
    if (stored != all.end()) {
      if (auto normalized = provider.validate_settings(*stored)) return *normalized;
    }
  }
  return provider.default_settings();
}

Result<UserRef> TwoFactor::user_ref(const User& user) {
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  return UserRef{user.id, user.account_id, user.email, account->issuer_label};
}

std::vector<std::string> TwoFactor::second_factors(
    const Account& account, const std::vector<std::string>& confirmed_providers) const {
  const auto allowed = allowed_providers(account);
  std::vector<std::string> out;
  for (const auto& id : confirmed_providers) {
    const MfaProvider* provider = registry_.find(id);
    if (!provider || provider->info().is_fallback) continue;
    if (std::find(allowed.begin(), allowed.end(), id) == allowed.end()) continue;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

Result<bool> TwoFactor::application_requires(const User& user, const AuthRequest& request) {
  if (request.require_mfa) return true;
  if (request.client_id.empty()) return false;
  auto required = store_.clients_requiring_two_factor(user.account_id);
  if (!required) return required.error();
  return std::find(required->begin(), required->end(), request.client_id) != required->end();
}

Result<bool> TwoFactor::second_factor_needed(const User& user, const AuthRequest& request) {
  auto by_application = application_requires(user, request);
  if (!by_application) return by_application.error();
  if (*by_application) return true;
  auto required = second_factor_required(user);
  if (!required) return required.error();
  const auto& acr = request.acr_values;
  if (*required || std::find(acr.begin(), acr.end(), kAcrMfa) == acr.end()) return *required;
  auto current = status(user);
  if (!current) return current.error();
  return current->has_second_factor();
}

Result<TwoFactorStatus> TwoFactor::status(const User& user) {
  auto fresh = store_.user_by_id(user.id);
  if (!fresh) return fresh.error();
  auto account = store_.account_by_id(fresh->account_id);
  if (!account) return account.error();
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  TwoFactorStatus status;
  status.user_setting = fresh->two_factor_enabled;
  status.account_setting = account->enforce_two_factor;
  std::vector<std::string> confirmed;
  for (const auto& c : *credentials)
    if (c.confirmed) confirmed.push_back(c.provider_id);
  status.methods = second_factors(*account, confirmed);
  status.has_totp = std::find(status.methods.begin(), status.methods.end(), kTotpProvider) !=
                    status.methods.end();
  std::map<std::string, int> held;  // confirmed credentials per provider
  for (const auto& c : *credentials) {
    if (!c.confirmed) continue;
    if (c.provider_id == kRecoveryProvider) {
      status.has_recovery_codes = true;
      for (const auto& code : c.state.value("codes", nlohmann::json::array()))
        status.recovery_codes_left += code.value("used", true) ? 0 : 1;
      continue;
    }
    const MfaProvider* provider = registry_.find(c.provider_id);
    if (provider && provider->info().is_fallback) continue;
    ++held[c.provider_id];
    FactorSummary factor;
    factor.id = c.id;
    factor.version = c.version;
    factor.method = c.provider_id;
    factor.type = provider ? provider->info().display_name : c.provider_id;
    factor.label = c.label.empty() ? factor.type : c.label;
    factor.created_at = c.created_at;
    factor.last_used_at = c.last_used_at;
    factor.usable = std::find(status.methods.begin(), status.methods.end(), c.provider_id) !=
                    status.methods.end();
    factor.possibly_cloned = c.state.is_object() && c.state.value(kPossiblyCloned, false);
    status.factors.push_back(std::move(factor));
  }
  for (const auto& id : allowed_providers(*account)) {
    if (held[id] < cap_of(id))
      status.can_add.push_back(FactorType{id, registry_.find(id)->info().display_name});
  }
  return status;
}

int TwoFactor::cap_of(const std::string& provider_id) const {
  const MfaProvider* provider = registry_.find(provider_id);
  return caps_.of(provider_id, provider && provider->info().kind == ProviderKind::kHardware);
}

Result<std::string> TwoFactor::factor_label(std::string_view typed) {
  while (!typed.empty() && typed.front() == ' ') typed.remove_prefix(1);
  while (!typed.empty() && typed.back() == ' ') typed.remove_suffix(1);
  if (typed.empty()) return make_error(ErrorCode::kInvalidArgument, "Enter a name.");
  if (!is_utf8(typed))
    return make_error(ErrorCode::kInvalidArgument, "The name holds characters that are not text.");
  size_t characters = 0;
  for (size_t i = 0; i < typed.size(); ++characters) {
    const auto lead = static_cast<unsigned char>(typed[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k)
      code = (code << 6) | (static_cast<unsigned char>(typed[i + k]) & 0x3F);
    i += length;
    // Control characters would break the page's and the email's lines; bidirectional
    // overrides and line separators would make one label look like another.
    const bool control = code < 0x20 || (code >= 0x7F && code <= 0x9F);
    const bool spoofing = code == 0x2028 || code == 0x2029 || (code >= 0x202A && code <= 0x202E) ||
                          (code >= 0x2066 && code <= 0x2069);
    if (control || spoofing)
      return make_error(ErrorCode::kInvalidArgument,
                        "The name may not hold control characters or line breaks.");
  }
  if (characters > kMaxFactorLabel)
    return make_error(ErrorCode::kInvalidArgument, "Use at most " +
                                                       std::to_string(kMaxFactorLabel) +
                                                       " characters for the name.");
  return std::string(typed);
}

Result<FactorRemoval> TwoFactor::remove_factor(const User& user, int64_t credential_id,
                                               int64_t version, bool turn_off_if_last,
                                               const std::string& address) {
  auto current = status(user);
  if (!current) return current.error();
  FactorRemoval removal;
  bool found = false;
  bool others = false;  // another factor that counts remains
  for (const auto& f : current->factors) {
    if (f.id == credential_id) {
      removal.factor = f;
      found = true;
    } else {
      others = others || f.usable;
    }
  }
  if (!found) return make_error(ErrorCode::kNotFound, "That second factor no longer exists.");
  if (!others && current->account_setting) {
    removal.outcome = FactorRemoval::Outcome::kEnforced;
    return removal;
  }
  if (!others && !turn_off_if_last) {
    removal.outcome = FactorRemoval::Outcome::kNeedsConfirmation;
    return removal;
  }
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  // The store decides "last" again inside its transaction, over the same providers, so a
  // factor removed meanwhile in another browser cannot leave an enforced member with none.
  const MfaStore::LastFactor when_last = others ? MfaStore::LastFactor::kRefuse : MfaStore::LastFactor::kTurnOff;
  if (auto s = mfa_.remove_credential(user.id, credential_id, version, allowed_providers(*account),
                                      when_last);
      !s) {
    if (s.error().code == ErrorCode::kConflict)
      return make_error(ErrorCode::kConflict,
                        "Your second factors changed meanwhile. Reload the page and try again.");
    if (s.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound, "That second factor no longer exists.");
    return s.error();
  }
  removal.outcome =
      others ? FactorRemoval::Outcome::kRemoved : FactorRemoval::Outcome::kTurnedOff;
  audit(user, "mfa.factor_removed", address,
        removal.factor.method + " " + std::to_string(credential_id));
  if (!others) audit(user, "mfa.disabled", address, "last factor removed");
  return removal;
}

Status TwoFactor::rename_factor(const User& user, int64_t credential_id, int64_t version,
                                std::string_view label, const std::string& address) {
  auto checked = factor_label(label);
  if (!checked) return checked.error();
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  const auto it = std::find_if(credentials->begin(), credentials->end(), [&](const auto& c) {
    const MfaProvider* provider = registry_.find(c.provider_id);
    return c.id == credential_id && c.confirmed && c.provider_id != kRecoveryProvider &&
           !(provider && provider->info().is_fallback);
  });
  if (it == credentials->end())
    return make_error(ErrorCode::kNotFound, "That second factor no longer exists.");
  MfaCredential renamed = *it;  // still sealed: update_credential never changes the secret
  renamed.label = *checked;
  if (auto s = mfa_.update_credential(renamed, version); !s) {
    if (s.error().code == ErrorCode::kConflict)
      return make_error(ErrorCode::kConflict,
                        "That second factor changed meanwhile. Reload the page and try again.");
    return s;
  }
  audit(user, "mfa.factor_renamed", address,
        it->provider_id + " " + std::to_string(credential_id));
  return {};
}

Result<TotpEnrollmentView> TwoFactor::view_of(const User& user, const MfaCredential& pending) {
  // The URI is derived from the pending credential so that showing the page again shows the
  // same QR code; the provider owns its format.
  auto* provider = registry_.find(pending.provider_id);
  if (!provider)
    return make_error(ErrorCode::kUnavailable, pending.provider_id + " is not available");
  nlohmann::json json = pending.state.value("view", nlohmann::json());
  if (json.is_null()) {
    auto sealed_view = base64_decode(pending.state.value("sealed_view", ""));
    if (!sealed_view) return make_error(ErrorCode::kInternal, "the pending enrollment is damaged");
    auto text = box_.open(*sealed_view, view_aad(user.id, pending.provider_id));
    if (!text) return make_error(ErrorCode::kInternal, "cannot unseal the pending enrollment");
    json = nlohmann::json::parse(*text, nullptr, false);
  }
  if (!json.is_object()) return make_error(ErrorCode::kInternal, "the pending enrollment is damaged");
  // Enrollments begun before provider interface version 2 kept the TOTP fields themselves.
  const nlohmann::json options =
      json.contains("client_options")
          ? json["client_options"]
          : nlohmann::json{{kOptionQrUri, json.value("otpauth_uri", "")},
                           {kOptionManualKey, json.value("display_secret", "")}};
  if (!options.is_object())
    return make_error(ErrorCode::kInternal, "the pending enrollment is damaged");
  TotpEnrollmentView view;
  view.otpauth_uri = options.value(kOptionQrUri, "");
  view.display_secret = options.value(kOptionManualKey, "");
  view.issuer_label = json.value("issuer_label", "");
  view.command = options.value(kOptionCommand, "");
  view.responses = json.value("responses", 1);
  view.script = json.value("script", "");
  if (const auto ceremony = options.find(kOptionCeremony); ceremony != options.end())
    view.ceremony = ceremony->dump();
  if (view.otpauth_uri.empty()) return view;  // nothing to scan, e.g. a key to type
  auto png = qr_png(view.otpauth_uri);
  if (!png) return png.error();
  view.qr_png_data_uri = png_data_uri(*png);
  return view;
}

Result<Enrollment> TwoFactor::prepare_enrollment(const User& user, const Account& account,
                                                 const std::string& provider_id,
                                                 const std::vector<MfaCredential>& credentials,
                                                 MfaCredential& to_store) {
  auto* provider = registry_.find(provider_id);
  if (!provider || provider->info().is_fallback)
    return make_error(ErrorCode::kInvalidArgument, "unknown method " + provider_id);
  const auto allowed = allowed_providers(account);
  if (std::find(allowed.begin(), allowed.end(), provider_id) == allowed.end())
    return make_error(ErrorCode::kDenied,
                      provider->info().display_name + " is not allowed in your account");
  auto all = nlohmann::json::parse(account.mfa_settings_json, nullptr, false);
  if (!all.is_object())
    return make_error(ErrorCode::kInternal, "the account's MFA settings are corrupt");
  // The keys a security key must not register twice.
  std::vector<MfaCredential> existing;
  for (const auto& c : credentials) {
    if (c.provider_id != provider_id || !c.confirmed) continue;
    auto clear = unsealed(c);
    if (!clear) return clear.error();
    existing.push_back(std::move(*clear));
  }
  const UserRef ref{user.id, user.account_id, user.email, account.issuer_label};
  const ChallengeContext context = challenge_context(account, *provider);
  const auto settings = all.find(provider_id);
  auto enrollment = provider->begin_enrollment_in_context(
      ref, settings == all.end() ? ProviderSettings::object() : *settings, existing, context);
  if (!enrollment) return enrollment.error();
  MfaCredential& pending = enrollment->pending;
  pending.user_id = user.id;
  pending.provider_id = provider_id;
  pending.confirmed = false;
  pending.created_at = clock_.now();
  // What the enrollment page shows is kept with the pending credential, so that showing the
  // page again shows the same QR code, and dropped on confirmation. When it reveals the
  // secret it is sealed like the secret.
  nlohmann::json view = {{"client_options", enrollment->client_options},
                         {"issuer_label", ref.issuer_label},
                         {"responses", enrollment->input.responses}};
  if (enrollment->input.kind == InputKind::kBrowserCeremony)
    view["script"] = enrollment->input.script;
  if (enrollment->holds_secret) {
    auto sealed_view = box_.seal(view.dump(), view_aad(user.id, provider_id), random_);
    if (!sealed_view) return sealed_view.error();
    pending.state["sealed_view"] = base64_encode(*sealed_view);
  } else {
    pending.state["view"] = view;
  }
  auto sealed_pending = sealed(pending);
  if (!sealed_pending) return sealed_pending.error();
  to_store = std::move(*sealed_pending);
  return enrollment;
}

Result<Enrollment> TwoFactor::begin_enrollment(const User& user, const std::string& provider_id) {
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  if (Status s = below_cap(*credentials, provider_id); !s) return s.error();
  MfaCredential to_store;
  auto enrollment = prepare_enrollment(user, *account, provider_id, *credentials, to_store);
  if (!enrollment) return enrollment.error();
  auto stored = mfa_.put_pending_credential(to_store);
  if (!stored) return stored.error();
  return enrollment;
}

Result<PendingTotp> TwoFactor::totp_enrollment_for(const User& user, const Account& account) {
  PendingTotp out;
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  auto enrollment = prepare_enrollment(user, account, kTotpProvider, *credentials, out.credential);
  if (!enrollment) return enrollment.error();
  for (const auto& c : *credentials) {
    if (c.provider_id != kTotpProvider || c.confirmed || c.params != out.credential.params)
      continue;
    auto view = view_of(user, c);
    if (!view) return view.error();
    if (view->issuer_label != account.issuer_label) continue;
    out.credential = c;
    out.view = std::move(*view);
    return out;
  }
  auto view = view_of(user, enrollment->pending);
  if (!view) return view.error();
  out.view = std::move(*view);
  return out;
}

Result<MfaCredential> TwoFactor::store_pending_registration(const User& member,
                                                            MfaCredential pending) {
  const int64_t now = clock_.now();
  pending.id = 0;
  pending.user_id = member.id;
  pending.confirmed = false;
  pending.version = 0;
  pending.created_at = now;
  pending.last_used_at = 0;
  pending.state[kPendingExpiresAt] = now + kPendingRegistrationTtl;
  auto credentials = mfa_.credentials_of_user(member.id);
  if (!credentials) return credentials.error();
  if (Status s = below_cap(*credentials, pending.provider_id); !s) return s.error();
  auto to_store = sealed(pending);
  if (!to_store) return to_store.error();
  return mfa_.put_pending_credential(*to_store);
}

Result<MfaCredential> TwoFactor::confirm_pending(const User& member, const Account& account,
                                                 const MfaCredential& pending,
                                                 std::string_view response) {
  MfaProvider* provider = registry_.find(pending.provider_id);
  if (!provider) return make_error(ErrorCode::kNotFound, pending.provider_id + " is gone");
  auto clear = unsealed(pending);
  if (!clear) return clear.error();
  auto confirmed =
      provider->finish_enrollment(*clear, response, challenge_context(account, *provider));
  if (!confirmed) return confirmed.error();
  confirmed->state.erase(kPendingExpiresAt);
  confirmed->secret = pending.secret;  // still sealed; the provider does not change it
  auto credentials = mfa_.credentials_of_user(member.id);
  if (!credentials) return credentials.error();
  confirmed->label = unique_label(*credentials, *confirmed);
  if (auto s = mfa_.enable_two_factor(*confirmed, pending.version, std::nullopt,
                                      /*user_setting_on=*/false, cap_of(pending.provider_id));
      !s)
    return s.error().code == ErrorCode::kDenied ? cap_reached(pending.provider_id) : s.error();
  confirmed->confirmed = true;
  confirmed->version = pending.version + 1;
  return *confirmed;
}

Result<TotpEnrollmentView> TwoFactor::begin_totp_enrollment(const User& user) {
  auto enrollment = begin_enrollment(user, kTotpProvider);
  if (!enrollment) return enrollment.error();
  return view_of(user, enrollment->pending);
}

Result<TotpEnrollmentView> TwoFactor::pending_totp_enrollment(const User& user) {
  return pending_enrollment(user, kTotpProvider);
}

Result<TotpEnrollmentView> TwoFactor::pending_enrollment(const User& user,
                                                         const std::string& provider_id) {
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  for (const auto& c : *credentials) {
    if (own_pending(c, provider_id)) return view_of(user, c);
  }
  return make_error(ErrorCode::kNotFound, "no pending enrollment of " + provider_id);
}

Error TwoFactor::cap_reached(const std::string& provider_id) const {
  const MfaProvider* provider = registry_.find(provider_id);
  return make_error(ErrorCode::kConflict,
                    "You have the most of " +
                        (provider ? provider->info().display_name : provider_id) +
                        " allowed already (at most " + std::to_string(cap_of(provider_id)) +
                        "). Remove one first.");
}

Status TwoFactor::below_cap(const std::vector<MfaCredential>& credentials,
                            const std::string& provider_id) const {
  const auto held = std::count_if(credentials.begin(), credentials.end(), [&](const auto& c) {
    return c.confirmed && c.provider_id == provider_id;
  });
  if (held < cap_of(provider_id)) return {};
  return cap_reached(provider_id);
}

std::string TwoFactor::unique_label(const std::vector<MfaCredential>& credentials,
                                    const MfaCredential& confirmed) const {
  const MfaProvider* provider = registry_.find(confirmed.provider_id);
  const std::string base = !confirmed.label.empty() ? confirmed.label
                           : provider                ? provider->info().display_name
                                                     : confirmed.provider_id;
  const auto taken = [&](const std::string& label) {
    return std::any_of(credentials.begin(), credentials.end(), [&](const auto& c) {
      if (!c.confirmed || c.id == confirmed.id) return false;
      const MfaProvider* p = registry_.find(c.provider_id);
      return label == (!c.label.empty() ? c.label : p ? p->info().display_name : c.provider_id);
    });
  };
  std::string label = base;
  for (int n = 2; taken(label); ++n) label = base + " " + std::to_string(n);
  return label;
}

Result<MfaCredential> TwoFactor::new_recovery_codes(const User& user,
                                                    std::vector<std::string>& shown) {
  auto* provider = registry_.find(kRecoveryProvider);
  if (!provider)
    return make_error(ErrorCode::kUnavailable, "the recovery code provider is not available");
  auto ref = user_ref(user);
  if (!ref) return ref.error();
  auto enrollment = provider->begin_enrollment(*ref, ProviderSettings::object());
  if (!enrollment) return enrollment.error();
  auto confirmed = provider->finish_enrollment(enrollment->pending, "", challenge_context());
  if (!confirmed) return confirmed.error();
  confirmed->user_id = user.id;
  confirmed->provider_id = kRecoveryProvider;
  confirmed->created_at = clock_.now();
  const auto codes = enrollment->client_options.find(kOptionCodes);
  if (codes == enrollment->client_options.end() || !codes->is_array())
    return make_error(ErrorCode::kInternal, "the recovery code provider showed no codes");
  shown.clear();
  for (const auto& code : *codes) {
    if (!code.is_string())
      return make_error(ErrorCode::kInternal, "the recovery code provider showed no codes");
    shown.push_back(code.get<std::string>());
  }
  return sealed(*confirmed);
}

Result<std::vector<std::string>> TwoFactor::confirm_enrollment(const User& user,
                                                               const std::string& provider_id,
                                                               std::string_view code,
                                                               const std::string& address,
                                                               bool user_setting_on,
                                                               FactorSummary* added) {
  auto* provider = registry_.find(provider_id);
  if (!provider) return make_error(ErrorCode::kInvalidArgument, "unknown method " + provider_id);
  auto allowed = provider_allowed(user, provider_id);
  if (!allowed) return allowed.error();
  if (!*allowed)
    return make_error(ErrorCode::kDenied,
                      provider->info().display_name + " is not allowed in your account");
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  auto pending_it = std::find_if(credentials->begin(), credentials->end(), [&](const auto& c) {
    return own_pending(c, provider_id);
  });
  if (pending_it == credentials->end())
    return make_error(ErrorCode::kNotFound, "Start again: nothing is waiting for confirmation.");
  auto clear = unsealed(*pending_it);
  if (!clear) return clear.error();
  auto view = view_of(user, *pending_it);
  if (!view) return view.error();
  // Codes are typed with spaces ("123 456"); a ceremony's JSON answer is passed on as it came.
  std::string typed(code);
  if (view->script.empty()) typed.erase(std::remove(typed.begin(), typed.end(), ' '), typed.end());
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  auto confirmed = provider->finish_enrollment(*clear, typed, challenge_context(*account, *provider));
  if (!confirmed) {
    audit(user, "mfa.enable_refused", address, error_code_name(confirmed.error().code).data());
    return confirmed.error();
  }
  confirmed->state.erase("sealed_view");
  confirmed->state.erase("view");
  confirmed->secret = pending_it->secret;  // still sealed; the provider does not change it
  confirmed->label = unique_label(*credentials, *confirmed);
  // Recovery codes come with the user's first factor only: a further one never replaces the
  // codes the user saved (and a factor an administrator registers gets none, add_credential).
  const bool has_codes = std::any_of(credentials->begin(), credentials->end(), [](const auto& c) {
    return c.confirmed && c.provider_id == kRecoveryProvider;
  });
  std::vector<std::string> shown;
  std::optional<MfaCredential> recovery;
  if (!has_codes) {
    auto fresh = new_recovery_codes(user, shown);
    if (!fresh) return fresh.error();
    recovery = std::move(*fresh);
  }
  // The store checks the cap again in its transaction: another factor may have been
  // confirmed meanwhile (a second browser).
  if (auto s = mfa_.enable_two_factor(*confirmed, pending_it->version, recovery,
                                      user_setting_on, cap_of(provider_id));
      !s)
    return s.error().code == ErrorCode::kDenied ? cap_reached(provider_id) : s.error();
  audit(user, user_setting_on ? "mfa.enabled" : "mfa.enrolled_for_account", address,
        provider_id);
  if (added) {
    *added = FactorSummary{pending_it->id,         pending_it->version + 1, confirmed->label,
                           provider_id,            provider->info().display_name,
                           pending_it->created_at, confirmed->last_used_at};
  }
  return shown;
}

Result<SecondStepChoices> TwoFactor::second_step_choices(const User& user) {
  auto current = status(user);
  if (!current) return current.error();
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  const auto last_used = [&](const std::string& provider_id) {
    int64_t at = 0;
    for (const auto& c : *credentials)
      if (c.confirmed && c.provider_id == provider_id) at = std::max(at, c.last_used_at);
    return at;
  };
  SecondStepChoices choices{current->methods, current->recovery_codes_left > 0};
  std::stable_sort(choices.methods.begin(), choices.methods.end(),
                   [&](const std::string& a, const std::string& b) {
                     return last_used(a) > last_used(b);
                   });
  return choices;
}

std::string TwoFactor::method_name(const std::string& provider_id) const {
  const MfaProvider* provider = registry_.find(provider_id);
  return provider ? provider->info().display_name : std::string();
}

std::vector<std::string> TwoFactor::method_amr(const std::string& provider_id) const {
  const MfaProvider* provider = registry_.find(provider_id);
  return provider ? provider->info().amr : std::vector<std::string>{};
}

Result<TwoFactor::CredentialsOf> TwoFactor::credentials_of(const User& user,
                                                          const std::string& provider_id) {
  CredentialsOf out;
  out.provider = registry_.find(provider_id);
  if (!out.provider) return make_error(ErrorCode::kInvalidArgument, "unknown method");
  if (!out.provider->info().is_fallback) {
    auto allowed = provider_allowed(user, provider_id);
    if (!allowed) return allowed.error();
    if (!*allowed) return make_error(ErrorCode::kNotFound, "this method is not allowed");
  }
  auto credentials = mfa_.credentials_of_user(user.id);
  if (!credentials) return credentials.error();
  for (const auto& stored : *credentials) {
    if (stored.provider_id != provider_id || !stored.confirmed) continue;
    auto clear = unsealed(stored);
    if (!clear) return clear.error();
    out.stored.push_back(stored);
    out.clear.push_back(std::move(*clear));
  }
  if (out.clear.empty()) return make_error(ErrorCode::kNotFound, "no credential for this method");
  return out;
}

Result<Challenge> TwoFactor::begin_login_challenge(const User& user,
                                                   const std::string& provider_id) {
  auto of = credentials_of(user, provider_id);
  if (!of) return of.error();
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  return of->provider->begin_challenge(of->clear, challenge_context(*account, *of->provider));
}

Result<MfaCredential> TwoFactor::check_code(const User& user, const std::string& provider_id,
                                            std::string_view code, const Challenge* challenge,
                                            int64_t& ahead, FactorSummary& cloned, FlowStep* defer) {
  auto of = credentials_of(user, provider_id);
  if (!of) return of.error();
  MfaProvider& provider = *of->provider;
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  const ChallengeContext context = challenge_context(*account, provider);
  Challenge begun;
  if (!challenge) {
    auto fresh = provider.begin_challenge(of->clear, context);
    if (!fresh) return fresh.error();
    if (!fresh->server_state.empty())
      return make_error(ErrorCode::kExpired, "this method needs the sign-in page's challenge");
    begun = std::move(*fresh);
    challenge = &begun;
  } else if (challenge->expires_at != 0 && context.now > challenge->expires_at) {
    return make_error(ErrorCode::kExpired, "the challenge has expired");
  }
  // A response that names its credential is checked against that one only, so holding
  // several credentials does not multiply a guesser's odds.
  const std::optional<std::string> key = provider.lookup_key(code);
  std::optional<Error> last_error;
  for (size_t i = 0; i < of->clear.size(); ++i) {
    const MfaCredential& stored = of->stored[i];
    if (key && stored.lookup_key != *key) continue;
    auto updated = provider.verify(of->clear[i], *challenge, code, context);
    if (!updated) {
      // Another credential may still take the code; this one is the resync's if none does.
      if (updated.error().code == ErrorCode::kOutOfSync) {
        if (ahead == 0) ahead = stored.id;
        continue;
      }
      last_error = updated.error();
      if (last_error->code == ErrorCode::kCloned) {
        // The flag outlives this refusal: the member and the administrators see it on the
        // key. A concurrent change of the key only delays it to the next regression.
        MfaCredential marked = stored;
        marked.state[kPossiblyCloned] = true;
        if (auto s = mfa_.update_credential(marked, stored.version);
            !s && s.error().code != ErrorCode::kConflict)
          return s.error();
        cloned = FactorSummary{stored.id,         stored.version + 1,
                               stored.label.empty() ? provider.info().display_name : stored.label,
                               provider_id,       provider.info().display_name,
                               stored.created_at, stored.last_used_at};
        cloned.possibly_cloned = true;
      }
      // The expiry was checked above with this context's time; a provider that still finds
      // the challenge expired looked at the response, so it counts as a refused one.
      if (last_error->code == ErrorCode::kExpired) last_error->code = ErrorCode::kDenied;
      continue;
    }
    MfaCredential to_store = *updated;
    to_store.secret = stored.secret;
    to_store.last_used_at = clock_.now();
    if (defer) {
      defer->credential = std::move(to_store);
      defer->credential_version = stored.version;
      return *updated;
    }
    // Compare-and-set: of two requests racing with the same code, only one stores its
    // update; the other sees kConflict, which is a replay.
    if (auto s = mfa_.update_credential(to_store, stored.version); !s) {
      if (s.error().code == ErrorCode::kConflict)
        return make_error(ErrorCode::kReplayed, "this code was just used");
      return s.error();
    }
    return *updated;
  }
  if (ahead != 0) return make_error(ErrorCode::kOutOfSync, "the token ran ahead");
  if (!last_error)  // the key named none of them
    return make_error(ErrorCode::kDenied, "the response names none of your credentials");
  return *last_error;  // every credential refused the code
}

Result<std::vector<std::string>> TwoFactor::verify_login(
    const User& user, const std::string& provider_id, std::string_view code,
    const std::string& address, StepRefusal& refusal, const Challenge& challenge, FlowStep* defer) {
  return verify_step(user, provider_id, code, address, refusal, &challenge, defer);
}

Result<std::vector<std::string>> TwoFactor::verify_login(const User& user,
                                                         const std::string& provider_id,
                                                         std::string_view code,
                                                         const std::string& address,
                                                         StepRefusal& refusal, FlowStep* defer) {
  return verify_step(user, provider_id, code, address, refusal, nullptr, defer);
}

Result<std::vector<std::string>> TwoFactor::refuse_replayed(const User& user,
                                                            const std::string& provider_id,
                                                            const std::string& address,
                                                            StepRefusal& refusal,
                                                            bool ceremony) {
  return refuse_code(user, provider_id, ErrorCode::kReplayed, address, refusal, ceremony);
}

Result<std::vector<std::string>> TwoFactor::verify_step(
    const User& user, const std::string& provider_id, std::string_view code,
    const std::string& address, StepRefusal& refusal, const Challenge* challenge, FlowStep* defer) {
  const std::vector<std::string> keys = {user_key(user), address_key(address)};
  if (Status open = not_locked_out(user, provider_id, keys, address, refusal); !open)
    return open.error();
  // Authenticator apps show codes as "123 456"; spaces are not part of any code. A
  // ceremony's answer is the browser's JSON, passed on as it came.
  std::string typed(code);
  if (!challenge || challenge->input.kind == InputKind::kTypedCode)
    typed.erase(std::remove(typed.begin(), typed.end(), ' '), typed.end());
  int64_t ahead = 0;
  auto checked = check_code(user, provider_id, typed, challenge, ahead, refusal.cloned, defer);
  if (checked) {
    const char* event =
        provider_id == kRecoveryProvider ? "mfa.recovery_code_used" : "mfa.code_accepted";
    if (defer) {
      defer->reset_attempts.insert(defer->reset_attempts.end(), keys.begin(), keys.end());
      defer->audit.push_back(audit_logged(user, event, address, provider_id));
    } else {
      throttle_.succeeded(keys);
      audit(user, event, address, provider_id);
    }
    obs::second_factor_check(provider_id, obs::kFactorAccepted);
    return registry_.find(provider_id)->amr_of(*checked);
  }
  const ErrorCode code_kind = checked.error().code;
  if (code_kind == ErrorCode::kExpired) {
    // Nothing was checked, so it is no guess: not counted.
    refusal = {ErrorCode::kExpired, "The sign-in request timed out. Try again.", 0};
    return make_error(ErrorCode::kExpired, refusal.message);
  }
  if (code_kind == ErrorCode::kOutOfSync) {
    // Alone the code proves nothing (the sync window is wide): it counts as a failed attempt
    // until the token's next code completes the pair.
    auto delay = throttle_.failed(keys);
    if (!delay) return delay.error();
    auto first = box_.seal(typed, resync_aad(user.id, ahead), random_);
    if (!first) return first.error();
    refusal = {ErrorCode::kOutOfSync,
               "Your key is ahead of this server. Touch it again to enter its next code.", 0,
               ahead, base64_encode(*first)};
    audit(user, "mfa.resync_asked", address, provider_id + " credential " + std::to_string(ahead));
    obs::second_factor_check(provider_id, obs::kFactorDenied);
    return make_error(ErrorCode::kOutOfSync, refusal.message);
  }
  if (code_kind != ErrorCode::kDenied && code_kind != ErrorCode::kReplayed &&
      code_kind != ErrorCode::kInvalidArgument && code_kind != ErrorCode::kNotFound &&
      code_kind != ErrorCode::kCloned)
    return checked.error();
  return refuse_code(user, provider_id, code_kind, address, refusal,
                     challenge && challenge->input.kind == InputKind::kBrowserCeremony);
}

Status TwoFactor::not_locked_out(const User& user, const std::string& provider_id,
                                 const std::vector<std::string>& keys,
                                 const std::string& address, StepRefusal& refusal) {
  auto wait = throttle_.wait(keys);
  if (!wait) return wait.error();
  if (*wait == 0) return {};
  refusal = {ErrorCode::kLocked,
             "Too many incorrect codes. Wait " + seconds_text(*wait) + ", then try again.",
             *wait};
  audit(user, "mfa.locked_out", address, "retry after " + std::to_string(*wait) + " s");
  obs::second_factor_check(provider_id, obs::kFactorLocked);
  return make_error(ErrorCode::kLocked, refusal.message);
}

Result<std::vector<std::string>> TwoFactor::refuse_code(const User& user,
                                                        const std::string& provider_id,
                                                        ErrorCode code_kind,
                                                        const std::string& address,
                                                        StepRefusal& refusal, bool ceremony) {
  // One attempt, one count, however many credentials it was checked against.
  auto delay = throttle_.failed({user_key(user), address_key(address)});
  if (!delay) return delay.error();
  const MfaProvider* provider = registry_.find(provider_id);
  const bool hardware = provider && provider->info().kind == ProviderKind::kHardware;
  if (code_kind == ErrorCode::kReplayed) {
    refusal = {ErrorCode::kReplayed,
               provider_id == kRecoveryProvider
                   ? "That recovery code was already used. Each code works once."
               : ceremony ? "That answer of your security key was already used. Touch your key "
                            "again."
               : hardware ? "That code was already used. Touch your key for a new one."
                          : "That code was already used. Wait for the next code in your app.",
               0};
    audit(user, "mfa.replay_refused", address, provider_id);
    obs::second_factor_check(provider_id, obs::kFactorReplayed);
  } else if (code_kind == ErrorCode::kCloned) {
    FactorSummary cloned = std::move(refusal.cloned);
    refusal = {ErrorCode::kDenied,
               "This key may have been copied, so it was refused. Use another method and tell "
               "your administrator.",
               0};
    refusal.cloned = std::move(cloned);
    audit(user, "mfa.clone_refused", address,
          provider_id + " credential " + std::to_string(refusal.cloned.id));
    obs::second_factor_check(provider_id, obs::kFactorDenied);
  } else {
    refusal = {code_kind == ErrorCode::kInvalidArgument ? ErrorCode::kInvalidArgument
                                                        : ErrorCode::kDenied,
               provider_id == kRecoveryProvider ? "That recovery code is not valid."
               : ceremony ? "Your security key was not accepted. Use a key registered for you, "
                            "touch it when it blinks and try again."
               : hardware ? "That code is not valid. Touch your key and try again."
                          : "That code is not valid. Check your authenticator app and try again.",
               0};
    audit(user, "mfa.code_refused", address, provider_id);
    obs::second_factor_check(provider_id, obs::kFactorDenied);
  }
  if (*delay > 0)
    refusal.message += " Too many incorrect codes: wait " + seconds_text(*delay) +
                       " before the next try.";
  return make_error(refusal.code, refusal.message);
}

Result<std::vector<std::string>> TwoFactor::verify_resync(const User& user,
                                                          const std::string& provider_id,
                                                          int64_t credential_id,
                                                          const std::string& sealed_first,
                                                          std::string_view second,
                                                          const std::string& address,
                                                          StepRefusal& refusal) {
  const std::vector<std::string> keys = {user_key(user), address_key(address)};
  if (Status open = not_locked_out(user, provider_id, keys, address, refusal); !open)
    return open.error();
  auto of = credentials_of(user, provider_id);
  if (!of) return of.error();
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  std::string typed(second);
  typed.erase(std::remove(typed.begin(), typed.end(), ' '), typed.end());
  const auto refused = [&] {
    audit(user, "mfa.resync_refused", address,
          provider_id + " credential " + std::to_string(credential_id));
    return refuse_code(user, provider_id, ErrorCode::kDenied, address, refusal);
  };
  auto sealed = base64_decode(sealed_first);
  if (!sealed) return refused();
  auto first = box_.open(*sealed, resync_aad(user.id, credential_id));
  if (!first) return refused();
  for (size_t i = 0; i < of->stored.size(); ++i) {
    const MfaCredential& stored = of->stored[i];
    if (stored.id != credential_id) continue;
    auto synced = of->provider->resync(of->clear[i], *first, typed,
                                       challenge_context(*account, *of->provider));
    if (!synced) {
      if (synced.error().code != ErrorCode::kDenied &&
          synced.error().code != ErrorCode::kInvalidArgument)
        return synced.error();
      return refused();
    }
    MfaCredential to_store = *synced;
    to_store.secret = stored.secret;
    to_store.last_used_at = clock_.now();
    if (auto s = mfa_.update_credential(to_store, stored.version); !s) {
      if (s.error().code != ErrorCode::kConflict) return s.error();
      return refuse_code(user, provider_id, ErrorCode::kReplayed, address, refusal);
    }
    throttle_.succeeded(keys);
    audit(user, "mfa.resynced", address,
          provider_id + " credential " + std::to_string(credential_id) + " counter " +
              std::to_string(stored.counter) + " -> " + std::to_string(synced->counter));
    obs::second_factor_check(provider_id, obs::kFactorAccepted);
    return of->provider->info().amr;
  }
  return refused();
}

Status TwoFactor::disable(const User& user, bool password_ok, std::string_view code,
                          const std::string& address) {
  auto account = store_.account_by_id(user.account_id);
  if (!account) return account.error();
  // Removing the only factor of a member of an enforcing account would lock them out.
  if (account->enforce_two_factor)
    return make_error(ErrorCode::kConflict,
                      "Your account requires two-factor authentication for every member, so "
                      "it cannot be turned off here.");
  if (!password_ok) {
    // A mistyped password is not a failed code: only an entered code counts toward lockout.
    if (code.empty())
      return make_error(ErrorCode::kDenied,
                        "Enter your password or a current code from your authenticator app.");
    auto current = status(user);
    if (!current) return current.error();
    if (!current->has_second_factor())
      return make_error(ErrorCode::kDenied, "Enter your password.");
    StepRefusal refusal;
    auto checked = verify_login(user, current->methods.front(), code, address, refusal);
    if (!checked)
      return make_error(ErrorCode::kDenied,
                        "Enter your password or a current code from your authenticator app.");
  }
  if (auto s = mfa_.disable_two_factor(user.id); !s) return s;
  audit(user, "mfa.disabled", address);
  return {};
}

Result<std::vector<std::string>> TwoFactor::regenerate_recovery_codes(const User& user,
                                                                      const std::string& address) {
  std::vector<std::string> shown;
  auto recovery = new_recovery_codes(user, shown);
  if (!recovery) return recovery.error();
  if (auto s = mfa_.replace_credentials(*recovery); !s) return s.error();
  audit(user, "mfa.recovery_codes_regenerated", address);
  return shown;
}

}  // namespace keystep
