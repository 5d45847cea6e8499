#include "idp/profile/profile_pages.h"

#include <algorithm>
#include <vector>

#include "base/crypto/hash.h"
#include "idp/directory/directory.h"
#include "base/url.h"
#include "base/words.h"
#include "idp/mail/mailer.h"

namespace keystep {
namespace {

// A credential id or version posted back by a form: digits only, else -1 (never an id).
int64_t posted_number(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(text);
}

}  // namespace

ProfilePages::ProfilePages(const IdpConfig& config, Store& store, FactorNotifier& notices,
                           const PasswordHasher& hasher, TwoFactor& two_factor,
                           SignInStarter& sign_in, const Clock& clock)
    : config_(config),
      store_(store),
      notices_(notices),
      hasher_(hasher),
      two_factor_(two_factor),
      sign_in_(sign_in),
      throttle_(store, clock),
      clock_(clock) {}

Result<std::optional<ProfilePages::SignedIn>> ProfilePages::signed_in(
    const BrowserContext& browser) {
  auto session = current_session(store_, clock_, browser);
  if (!session) return session.error();
  if (!*session) return std::optional<SignedIn>();
  auto user = store_.user_by_id((*session)->user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return std::optional<SignedIn>();
    return user.error();
  }
  const std::string csrf = session_csrf_token(*browser.session_cookie);
  return std::optional<SignedIn>(SignedIn{**session, *user, csrf});
}

Result<WebOutcome> ProfilePages::profile_view(const SignedIn& who, WebOutcome::Kind kind,
                                              std::optional<Fault> fault) {
  auto two_factor = two_factor_.status(who.user);
  if (!two_factor) return two_factor.error();
  auto account = store_.account_by_id(who.user.account_id);
  if (!account) return account.error();
  WebOutcome out;
  out.kind = kind;
  out.fault = fault;
  out.profile.csrf_token = who.csrf_token;
  out.profile.email = who.user.email;
  out.profile.account_name = account->name;
  out.profile.two_factor = *two_factor;
  auto permissions = store_.role_permissions(who.user.role);
  if (!permissions) return permissions.error();
  out.profile.can_view_auth_settings = contains(*permissions, kPermViewAuthSettings);
  auto consents = store_.consents_of_user(who.user.id);
  if (!consents) return consents.error();
  for (const auto& c : *consents)
    out.profile.apps.push_back(AppAccess{c.client_id, app_identity(store_, c.client_id),
                                         split_spaces(c.scope), c.granted_at});
  return out;
}

WebOutcome ProfilePages::profile(const BrowserContext& browser) {
  auto who = signed_in(browser);
  if (!who) return unavailable_page();
  if (!*who) return sign_in_.sign_in_then("/profile", browser);
  auto out = profile_view(**who, WebOutcome::Kind::kProfilePage);
  if (!out) return unavailable_page();
  return *out;
}

Result<std::optional<WebOutcome>> ProfilePages::step_up_needed(const Session& session,
                                                               const User& user, bool recent,
                                                               const std::string& local_path,
                                                               const BrowserContext& browser) {
  auto allowed = two_factor_.check_session(session, user, recent, config_.reauthentication_max_age);
  if (allowed) return std::optional<WebOutcome>();
  if (allowed.error().code != ErrorCode::kDenied) return allowed.error();
  two_factor_.audit(user, "session.reauthentication_required", browser.client_address,
                    allowed.error().message);
  // A full sign-in (password, then the second factor the policy asks for) that comes back to
  // the page; the action itself is not replayed, the user repeats it.
  return std::optional<WebOutcome>(sign_in_.sign_in_then(local_path, browser, user.email));
}

Status ProfilePages::after_two_factor_on(const SignedIn& who, bool proved_second_factor,
                                         const std::string& address) {
  Session session = who.session;
  if (proved_second_factor) {
    // The code that just confirmed the authenticator is a second factor passed now.
    FlowProgress progress;
    progress.mfa_time = clock_.now();
    progress.amr = {"otp"};
    record_factors(progress, session);
    if (Status s = store_.update_session_auth(session); !s) return s;
  }
  // Sessions signed in before 2FA was on ended: none of them may keep acting on a password.
  auto ended = store_.end_other_sessions(who.user.id, session.sid, clock_.now());
  if (!ended) return ended.error();
  if (*ended > 0)
    two_factor_.audit(who.user, "session.others_ended", address,
                      std::to_string(*ended) + " other session(s) ended: 2FA turned on");
  return {};
}

WebOutcome ProfilePages::profile_with(const SignedIn& who, std::optional<Fault> fault,
                                      const std::string& message) {
  auto out = profile_view(who, WebOutcome::Kind::kProfilePage, fault);
  if (!out) return unavailable_page();
  (fault ? out->profile.error_message : out->profile.notice) = message;
  return *out;
}

std::optional<ProfilePages::SignedIn> ProfilePages::profile_post(const Params& form,
                                                                 const BrowserContext& browser,
                                                                 WebOutcome& failure,
                                                                 Stale stale) {
  auto who = signed_in(browser);
  if (!who) {
    failure = unavailable_page();
    return std::nullopt;
  }
  if (!*who) {
    failure = redirect_to(config_.issuer + "/profile");
    return std::nullopt;
  }
  if (!constant_time_equal(param(form, "csrf_token"), (*who)->csrf_token)) {
    failure = error_page(Fault::kInvalidCsrfToken,
                         "The form was not sent by your profile page. Reload it and try again.");
    return std::nullopt;
  }
  if (stale == Stale::kAnyAge) return **who;
  if (stale == Stale::kConfirmItsYou) {
    const SignedIn& w = **who;
    auto allowed =
        two_factor_.check_session(w.session, w.user, true, config_.reauthentication_max_age);
    if (allowed) return **who;
    if (allowed.error().code != ErrorCode::kDenied) {
      failure = unavailable_page();
      return std::nullopt;
    }
    two_factor_.audit(w.user, "session.reauthentication_required", browser.client_address,
                      allowed.error().message);
    auto page = profile_view(w, WebOutcome::Kind::kConfirmItsYouPage,
                             Fault::kInsufficientUserAuthentication);
    if (!page) {
      failure = unavailable_page();
      return std::nullopt;
    }
    page->profile.reauthentication_reason = allowed.error().message;
    page->profile.reauthentication_minutes = (config_.reauthentication_max_age + 59) / 60;
    failure = *page;
    return std::nullopt;
  }
  auto step_up = step_up_needed((*who)->session, (*who)->user, true, "/profile", browser);
  if (!step_up || *step_up) {
    failure = step_up ? **step_up : unavailable_page();
    return std::nullopt;
  }
  return **who;
}

WebOutcome ProfilePages::profile_confirm(const Params& form, const BrowserContext& browser) {
  auto who = signed_in(browser);
  if (!who) return unavailable_page();
  if (!*who) return redirect_to(config_.issuer + "/profile");
  if (!constant_time_equal(param(form, "csrf_token"), (*who)->csrf_token))
    return error_page(Fault::kInvalidCsrfToken,
                      "The form was not sent by your profile page. Reload it and try again.");
  // A full sign-in at the level the policy asks for (password, then the second factor),
  // which comes back to the profile; the user then repeats the action.
  return sign_in_.sign_in_then("/profile", browser, (*who)->user.email);
}

WebOutcome ProfilePages::profile_two_factor(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure);
  if (!who) return failure;
  const std::string action = param(form, "action");
  if (action == "enable") {
    // Replacing a working authenticator must not be possible with a session alone: turn it
    // off first (which asks for the password or a current code).
    auto status = two_factor_.status(who->user);
    if (!status) return unavailable_page();
    if (status->has_second_factor() && !status->user_setting) {
      // Set up already (the account required it): turning the own setting on needs nothing
      // more, and keeps asking for the code even if the account stops requiring it.
      if (auto s = store_.set_two_factor_setting(who->user.id, true); !s) return unavailable_page();
      two_factor_.audit(who->user, "mfa.enabled", browser.client_address, "own setting");
      if (auto s = after_two_factor_on(*who, false, browser.client_address); !s)
        return unavailable_page();
      auto out = profile_view(*who, WebOutcome::Kind::kProfilePage);
      if (!out) return unavailable_page();
      out->profile.notice = "Two-factor authentication is on.";
      return *out;
    }
    if (status->has_second_factor()) {
      auto out = profile_view(*who, WebOutcome::Kind::kProfilePage, Fault::kTwoFactorAlreadyOn);
      if (!out) return unavailable_page();
      out->profile.error_message = "Two-factor authentication is already on.";
      return *out;
    }
    auto view = two_factor_.begin_totp_enrollment(who->user);
    if (!view) {
      if (view.error().code == ErrorCode::kDenied)
        return error_page(Fault::kFactorNotAllowed, view.error().message + ".");
      return unavailable_page(view.error().message);
    }
    return redirect_to(config_.issuer + "/profile/two-factor/enable");
  }
  if (action != "disable") return error_page(Fault::kInvalidRequest, "Unknown action.");
  const std::string password = param(form, "password");
  bool password_ok = false;
  if (!password.empty()) {
    // The same per-email throttle as the sign-in page: a session must not turn this form
    // into an unlimited password oracle.
    const std::string key = "pwd:" + who->user.email;
    auto reserved = throttle_.reserve(key);
    if (!reserved) return unavailable_page();
    if (reserved->wait > 0) {
      auto out = profile_view(*who, WebOutcome::Kind::kProfilePage, Fault::kTooManyAttempts);
      if (!out) return unavailable_page();
      out->retry_after = reserved->wait;
      out->profile.error_message = "Too many incorrect passwords. Wait " +
                                   seconds_text(reserved->wait) + ", then try again.";
      out->profile.error_field = "password";
      return *out;
    }
    password_ok = password.size() <= 1024 && hasher_.verify(who->user.password_hash, password);
    if (password_ok) throttle_.succeeded({key});
  }
  auto disabled =
      two_factor_.disable(who->user, password_ok, param(form, "code"), browser.client_address);
  std::optional<Fault> fault;
  if (!disabled)
    fault = disabled.error().code == ErrorCode::kConflict ? Fault::kTwoFactorEnforced
                                                          : Fault::kWrongCredentials;
  auto out = profile_view(*who, WebOutcome::Kind::kProfilePage, fault);
  if (!out) return unavailable_page();
  if (disabled) {
    out->profile.notice = "Two-factor authentication is off.";
  } else {
    out->profile.error_message = disabled.error().message;
    if (*fault == Fault::kWrongCredentials) out->profile.error_field = "password";
  }
  return *out;
}

WebOutcome ProfilePages::profile_enable_page(const Params& query,
                                             const BrowserContext& browser) {
  auto who = signed_in(browser);
  if (!who) return unavailable_page();
  if (!*who) return redirect_to(config_.issuer + "/profile");
  // The page shows a secret (possibly the one an enforcement email carries): only to a session
  // that may act on the factors.
  auto step_up = step_up_needed((*who)->session, (*who)->user, true, "/profile", browser);
  if (!step_up) return unavailable_page();
  if (*step_up) return **step_up;
  const std::string method = param(query, "method").empty() ? kTotpProvider : param(query, "method");
  auto view = two_factor_.pending_enrollment((*who)->user, method);
  if (!view) {
    if (view.error().code == ErrorCode::kNotFound || view.error().code == ErrorCode::kUnavailable)
      return redirect_to(config_.issuer + "/profile");
    return unavailable_page(view.error().message);
  }
  auto out = profile_view(**who, WebOutcome::Kind::kEnableTwoFactorPage);
  if (!out) return unavailable_page();
  out->profile.enrollment = *view;
  out->profile.method = method;
  for (const auto& type : out->profile.two_factor.can_add)
    if (type.method == method) out->profile.method_name = type.name;
  out->profile.first_factor = !out->profile.two_factor.has_second_factor();
  return *out;
}

WebOutcome ProfilePages::profile_enable_submit(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure);
  if (!who) return failure;
  // Typed codes are checked by their provider, and a ceremony's answer (a security key's JSON,
  // a few kB) is bounded by its own; the request's size limit bounds both.
  const std::string code = param(form, "code");
  const std::string method = param(form, "method").empty() ? kTotpProvider : param(form, "method");
  auto before = two_factor_.status(who->user);
  if (!before) return unavailable_page();
  // The user's first factor turns their own setting on (the seed's toggle); a further one
  // leaves it as it is, so adding a spare never flips a setting the account's setup left off.
  const bool first = !before->has_second_factor();
  FactorSummary added;
  auto codes = two_factor_.confirm_enrollment(who->user, method, code, browser.client_address,
                                              first || before->user_setting, &added);
  if (!codes) {
    const ErrorCode kind = codes.error().code;
    if (kind == ErrorCode::kNotFound) return redirect_to(config_.issuer + "/profile");
    if (kind == ErrorCode::kConflict) return profile_with(*who, Fault::kConflict, codes.error().message);
    // A key's identifier names one key: this one is someone's already (or yours).
    if (kind == ErrorCode::kAlreadyExists)
      return profile_with(*who, Fault::kConflict,
                          "This key is registered already, to you or to someone else. Ask your "
                          "administrator.");
    // A ceremony's challenge lasts minutes: a late answer gets a fresh one.
    if (kind == ErrorCode::kExpired) {
      if (auto again = two_factor_.begin_enrollment(who->user, method); !again)
        return unavailable_page(again.error().message);
    } else if (kind != ErrorCode::kDenied && kind != ErrorCode::kInvalidArgument &&
               kind != ErrorCode::kReplayed) {
      return unavailable_page(codes.error().message);
    }
    auto view = two_factor_.pending_enrollment(who->user, method);
    auto out = profile_view(*who, WebOutcome::Kind::kEnableTwoFactorPage, Fault::kWrongCredentials);
    if (!view || !out) return unavailable_page("Please try again.");
    out->profile.enrollment = *view;
    out->profile.method = method;
    for (const auto& type : out->profile.two_factor.can_add)
      if (type.method == method) out->profile.method_name = type.name;
    out->profile.first_factor = first;
    out->profile.error_message =
        method == kTotpProvider
            ? "That code is not valid. Enter the current code from your authenticator app."
        : kind == ErrorCode::kExpired
            ? "The key took too long to answer. Press the button and touch it again."
        : !view->ceremony.empty()
            ? "The security key was refused (" + codes.error().message + "). Try again."
        : view->command.empty()
            ? "That code is not valid. Enter the current code."
            : "That is not what the key typed. Touch it again, once per line.";
    return *out;
  }
  // A security key is named on its page, before the touch.
  if (const std::string label = param(form, "label"); !label.empty() && label != added.label) {
    if (two_factor_.rename_factor(who->user, added.id, added.version, label,
                                  browser.client_address))
      added.label = label;
  }
  two_factor_.notify_member(notices_, who->user, FactorChange::kAdded, added, false,
                            browser.client_address);
  if (first) {
    if (auto s = after_two_factor_on(*who, true, browser.client_address); !s)
      return unavailable_page();
  }
  if (codes->empty()) return profile_with(*who, std::nullopt, added.label + " added.");
  // Recovery codes are a step of their own, after the factor is confirmed, shown only once.
  auto out = profile_view(*who, WebOutcome::Kind::kRecoveryCodesPage);
  if (!out) return unavailable_page();
  out->profile.recovery_codes = *codes;
  out->profile.notice = first ? "Two-factor authentication is on." : added.label + " added.";
  return *out;
}

WebOutcome ProfilePages::profile_add_factor(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure, Stale::kConfirmItsYou);
  if (!who) return failure;
  const std::string method = param(form, "method");
  auto enrollment = two_factor_.begin_enrollment(who->user, method);
  if (!enrollment) {
    switch (enrollment.error().code) {
      case ErrorCode::kDenied:
        return profile_with(*who, Fault::kFactorNotAllowed, enrollment.error().message + ".");
      case ErrorCode::kInvalidArgument:
        return profile_with(*who, Fault::kInvalidRequest, "Choose a kind of second factor.");
      case ErrorCode::kConflict:
        return profile_with(*who, Fault::kConflict, enrollment.error().message);
      default:
        return unavailable_page(enrollment.error().message);
    }
  }
  return redirect_to(config_.issuer + "/profile/two-factor/enable?method=" + url_encode(method));
}

WebOutcome ProfilePages::profile_remove_factor(const Params& form,
                                               const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure, Stale::kConfirmItsYou);
  if (!who) return failure;
  auto removal = two_factor_.remove_factor(
      who->user, posted_number(param(form, "credential")), posted_number(param(form, "version")),
      param(form, "confirm") == "yes", browser.client_address);
  if (!removal) {
    switch (removal.error().code) {
      case ErrorCode::kNotFound:
        return profile_with(*who, Fault::kNotFound, removal.error().message);
      case ErrorCode::kConflict:
        return profile_with(*who, Fault::kConflict, removal.error().message);
      default:
        return unavailable_page();
    }
  }
  using Outcome = FactorRemoval::Outcome;
  switch (removal->outcome) {
    case Outcome::kEnforced:
      return profile_with(*who, Fault::kTwoFactorEnforced,
                          "Your account requires two-factor authentication, so you cannot "
                          "remove your last second factor. Add another one first.");
    case Outcome::kNeedsConfirmation: {
      auto out = profile_view(*who, WebOutcome::Kind::kRemoveFactorPage,
                              Fault::kConfirmationRequired);
      if (!out) return unavailable_page();
      out->profile.removing = removal->factor;
      return *out;
    }
    case Outcome::kRemoved:
    case Outcome::kTurnedOff:
      break;
  }
  const bool off = removal->outcome == Outcome::kTurnedOff;
  two_factor_.notify_member(notices_, who->user, FactorChange::kRemoved, removal->factor, off,
                            browser.client_address);
  return profile_with(*who, std::nullopt,
                      removal->factor.label + " removed." +
                          (off ? " Two-factor authentication is off." : ""));
}

WebOutcome ProfilePages::profile_rename_factor(const Params& form,
                                               const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure, Stale::kConfirmItsYou);
  if (!who) return failure;
  auto renamed =
      two_factor_.rename_factor(who->user, posted_number(param(form, "credential")),
                                posted_number(param(form, "version")), param(form, "label"),
                                browser.client_address);
  if (renamed) return profile_with(*who, std::nullopt, "Renamed.");
  switch (renamed.error().code) {
    case ErrorCode::kInvalidArgument:
      return profile_with(*who, Fault::kInvalidRequest, renamed.error().message);
    case ErrorCode::kNotFound:
      return profile_with(*who, Fault::kNotFound, renamed.error().message);
    case ErrorCode::kConflict:
      return profile_with(*who, Fault::kConflict, renamed.error().message);
    default:
      return unavailable_page();
  }
}

WebOutcome ProfilePages::profile_revoke_app(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure, Stale::kAnyAge);
  if (!who) return failure;
  const std::string client_id = param(form, "client_id");
  auto revoked = store_.revoke_consent(who->user.id, client_id);
  if (revoked) {
    two_factor_.audit(who->user, "consent.revoked", browser.client_address, client_id);
    return profile_with(*who, std::nullopt, client_id + " no longer has access.");
  }
  if (revoked.error().code == ErrorCode::kNotFound)
    return profile_with(*who, Fault::kNotFound, client_id + " has no access to revoke.");
  return unavailable_page();
}

WebOutcome ProfilePages::profile_recovery_codes(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto who = profile_post(form, browser, failure);
  if (!who) return failure;
  auto status = two_factor_.status(who->user);
  if (!status) return unavailable_page();
  if (!status->has_second_factor())
    return error_page(Fault::kTwoFactorOff, "Turn on two-factor authentication first.");
  auto codes = two_factor_.regenerate_recovery_codes(who->user, browser.client_address);
  if (!codes) return unavailable_page(codes.error().message);
  auto out = profile_view(*who, WebOutcome::Kind::kRecoveryCodesPage);
  if (!out) return unavailable_page();
  out->profile.recovery_codes = *codes;
  out->profile.notice = "New recovery codes. The old ones no longer work.";
  return *out;
}

}  // namespace keystep
