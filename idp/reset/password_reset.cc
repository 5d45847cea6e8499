#include "idp/reset/password_reset.h"

#include "base/crypto/hash.h"
#include "base/html.h"
#include "base/url.h"
#include "idp/directory/directory.h"
#include "idp/login/session_auth.h"
#include "idp/mail/mailer.h"
#include "idp/mail/notices.h"

namespace keystep {
namespace {

// Reset tokens are 43 base64url characters; anything else is not ours.
bool plausible_token(const std::string& token) { return is_random_token(token, 32); }

std::string hash_token(std::string_view token) { return sha256_b64url(token); }

// The form's CSRF token of a reset: derived from the link's token in the ks_reset cookie, so a
// page of another site cannot post a password into this browser's reset.
std::string reset_csrf(const std::string& token) { return session_csrf_token(token); }

}  // namespace

MailContent password_reset_mail(const std::string& account_label, const std::string& link,
                                int64_t minutes) {
  const std::string lifetime = std::to_string(minutes) + " minutes";
  MailContent content;
  content.subject = "Reset your password (" + account_label + ")";
  content.text_body =
      "Someone, probably you, asked to reset the password of your sign-in to " + account_label +
      ".\n\nTo choose a new password, open this link within " + lifetime +
      " (it works once):\n\n" + link +
      "\n\nIf you use two-factor authentication you will be asked for your second factor "
      "first.\n\nIf you did not ask for this, ignore this email: your password stays as it "
      "is.\n";
  content.html_body =
      "<p>Someone, probably you, asked to "
      "reset the password of your sign-in to " + html_escape(account_label) +
      ".</p><p>To choose a new password, open this link within " + lifetime +
      " (it works once):</p><p><a href=\"" + html_escape(link) + "\">Choose a new password</a></p>"
      "<p>If you use two-factor authentication you will be asked for your second factor "
      "first.</p><p>If you did not ask for this, ignore this email: your password stays as it "
      "is.</p>";
  return content;
}

MailContent password_changed_mail(const std::string& account_label, int64_t at,
                                  const std::string& address, const std::string& forgot_url) {
  const std::string when = rfc5322_date(at) + (address.empty() ? "" : " from " + address);
  MailContent content;
  content.subject = "Your password was changed (" + account_label + ")";
  content.text_body =
      "The password of your sign-in to " + account_label +
      " was changed through a reset link.\n\nWhen: " + when +
      "\n\nYou were signed out everywhere: sign in again with the new password.\n\nIf this was "
      "not you, reset your password again at " + forgot_url +
      " at once, and tell your administrator.\n";
  content.html_body =
      "<p>The password of your sign-in to " +
      html_escape(account_label) + " was changed through a reset link.</p><p>When: " +
      html_escape(when) +
      "</p><p>You were signed out everywhere: sign in again with the new password.</p><p>If this "
      "was not you, <a href=\"" + html_escape(forgot_url) +
      "\">reset your password again</a> at once, and tell your administrator.</p>";
  return content;
}

PasswordResetPages::PasswordResetPages(const IdpConfig& config, Store& store,
                                       const PasswordHasher& hasher, TwoFactor& two_factor,
                                       LoginController& login, Random& random, const Clock& clock)
    : config_(config),
      store_(store),
      hasher_(hasher),
      two_factor_(two_factor),
      login_(login),
      throttle_(store, clock),
      random_(random),
      clock_(clock) {
  MailConfig mail;  // a mail object the configuration accepted; its defaults otherwise
  (void)apply_mail_config_json(config.mail, mail);
  from_ = mail.from;
  login_.set_reset_verification(this);
}

Result<OutgoingMail> PasswordResetPages::outgoing(const std::string& dedupe_key,
                                                  const std::string& to, MailContent content,
                                                  bool sealed) {
  auto host = parse_url(config_.issuer);
  auto mail = queued_mail(dedupe_key, from_, to, std::move(content),
                          host ? host->host : "localhost", random_, clock_.now());
  if (!mail || !sealed) return mail;
  auto mime = seal_mime(two_factor_.box(), random_, mail->mime, dedupe_key);
  if (!mime) return mime.error();
  mail->mime = std::move(*mime);
  return mail;
}

WebOutcome PasswordResetPages::forgot_view(const std::string& csrf,
                                           const std::string& flow_id) const {
  WebOutcome out;
  out.kind = WebOutcome::Kind::kPasswordResetPage;
  out.reset.step = PasswordResetView::Step::kAsk;
  out.reset.csrf_token = csrf;
  // Only a flow id of ours goes back into a link.
  if (is_random_token(flow_id, 24)) out.reset.flow_id = flow_id;
  return out;
}

WebOutcome PasswordResetPages::forgot_page(const Params& query, const BrowserContext& browser) {
  (void)browser;
  auto csrf = random_token(random_, 32);
  if (!csrf) return error_page(Fault::kServerError, "Randomness failed.");
  WebOutcome out = forgot_view(*csrf, param(query, "flow"));
  out.cookies.push_back(login_.cookie(kForgotCookie, *csrf, "/password/forgot", config_.flow_ttl));
  return out;
}

WebOutcome PasswordResetPages::forgot_submit(const Params& form, const BrowserContext& browser) {
  const std::string csrf = param(form, "csrf_token");
  if (!browser.forgot_cookie || csrf.empty() || !constant_time_equal(csrf, *browser.forgot_cookie))
    return error_page(Fault::kInvalidCsrfToken,
                      "The form was not sent by the password reset page. Open it again from "
                      "the sign-in page.");
  WebOutcome page = forgot_view(csrf, param(form, "flow"));
  const std::string email = param(form, "email");
  page.reset.email = email.substr(0, 254);
  auto normalized = normalize_email(email);
  if (!normalized || !check_email_address(*normalized)) {
    page.fault = Fault::kInvalidRequest;
    page.reset.error_message = "Enter your email address, for example name@example.com.";
    page.reset.error_field = "email";
    return page;
  }
  const PasswordResetConfig& limits = config_.password_reset;
  // Per client address the wait may be told: it is the same for every email typed.
  auto address_wait = throttle_.take("reset-addr:" + browser.client_address, limits.per_address,
                                     limits.window);
  if (!address_wait) return unavailable_page();
  if (*address_wait > 0) {
    page.fault = Fault::kTooManyAttempts;
    page.retry_after = *address_wait;
    page.reset.error_message = "Too many password reset requests from your network. Wait " +
                               seconds_text(*address_wait) + ", then try again.";
    return page;
  }
  // Per email the limit is silent (no link is sent, the answer stays the same), so neither
  // the wait nor the answer says whether the address has an account.
  auto email_wait = throttle_.take("reset-email:" + *normalized, limits.per_email, limits.window);
  if (!email_wait) return unavailable_page();
  // The same store calls for every address: the lookup, then one transaction that is empty
  // for an unknown (or throttled) address.
  auto users = store_.users_by_email(*normalized);
  if (!users) return unavailable_page();
  std::vector<PasswordReset> resets;
  std::vector<OutgoingMail> mail;
  const int64_t now = clock_.now();
  const std::vector<User> to_send = *email_wait > 0 ? std::vector<User>{} : *users;
  for (const auto& user : to_send) {
    auto token = random_token(random_, 32);
    if (!token) return error_page(Fault::kServerError, "Randomness failed.");
    auto account = store_.account_by_id(user.account_id);
    if (!account) return unavailable_page();
    PasswordReset reset;
    reset.token_hash = hash_token(*token);
    reset.user_id = user.id;
    reset.created_at = now;
    reset.expires_at = now + limits.link_ttl;
    const std::string link = append_query(config_.issuer + "/password/reset", {{"token", *token}});
    auto message = outgoing("password-reset:" + reset.token_hash, user.email,
                            password_reset_mail(account->issuer_label, link, limits.link_ttl / 60),
                            true);
    // An address stored before addresses were checked cannot receive mail: no link for it.
    if (!message) continue;
    resets.push_back(std::move(reset));
    mail.push_back(std::move(*message));
  }
  if (Status s = store_.create_password_resets(resets, mail); !s) return unavailable_page();
  if (!mail.empty() && on_mail_queued_) on_mail_queued_();
  WebOutcome sent;
  sent.kind = WebOutcome::Kind::kPasswordResetPage;
  sent.reset.step = PasswordResetView::Step::kSent;
  sent.reset.flow_id = page.reset.flow_id;
  sent.reset.link_minutes = limits.link_ttl / 60;
  sent.cookies.push_back(login_.cookie(kForgotCookie, "", "/password/forgot", 0));
  return sent;
}

WebOutcome PasswordResetPages::link_error(ErrorCode code) const {
  const std::string again =
      " Ask for a new link at " + config_.issuer + "/password/forgot, or sign in if you "
      "remember your password.";
  switch (code) {
    case ErrorCode::kNotFound:
      return error_page(Fault::kLinkNotFound, "This password reset link is not valid." + again);
    case ErrorCode::kReplayed:
      return error_page(Fault::kLinkUsed, "This password reset link was already used." + again);
    case ErrorCode::kExpired:
      return error_page(Fault::kLinkExpired, "This password reset link has expired." + again);
    default:
      return unavailable_page();
  }
}

std::optional<PasswordResetPages::Loaded> PasswordResetPages::load(const BrowserContext& browser,
                                                                   WebOutcome& failure) {
  if (!browser.reset_cookie || !plausible_token(*browser.reset_cookie)) {
    failure = link_error(ErrorCode::kNotFound);
    return std::nullopt;
  }
  auto reset = store_.password_reset(hash_token(*browser.reset_cookie));
  if (!reset) {
    failure = link_error(reset.error().code);
    return std::nullopt;
  }
  if (reset->used_at || !reset->usable(clock_.now())) {
    failure = link_error(reset->used_at ? ErrorCode::kReplayed : ErrorCode::kExpired);
    return std::nullopt;
  }
  auto user = store_.user_by_id(reset->user_id);
  if (!user) {
    failure = user.error().code == ErrorCode::kNotFound ? link_error(ErrorCode::kNotFound)
                                                        : unavailable_page();
    return std::nullopt;
  }
  return Loaded{*browser.reset_cookie, std::move(*reset), std::move(*user)};
}

WebOutcome PasswordResetPages::next_step(const Loaded& loaded, const BrowserContext& browser,
                                         const std::string& error, const std::string& field,
                                         std::optional<Fault> fault) {
  auto status = two_factor_.status(loaded.user);
  if (!status) return unavailable_page();
  // A user with a second factor passes it before the password changes, in this browser: a
  // pass recorded by another browser (or none) sends this one to the second step.
  const bool passed = loaded.reset.verified_at != 0 && browser.flow_cookie &&
                      constant_time_equal(sha256_b64url(*browser.flow_cookie),
                                          loaded.reset.verified_by);
  if (status->has_second_factor() && !passed) {
    AuthRequest request;
    request.redirect_uri = "/password/reset";
    request.password_reset = loaded.reset.token_hash;
    FlowProgress progress;
    progress.stage = LoginStage::kSecondFactor;
    progress.user_id = loaded.user.id;
    return login_.start_flow(request, progress, browser);
  }
  auto account = store_.account_by_id(loaded.user.account_id);
  if (!account) return unavailable_page();
  WebOutcome out;
  out.kind = WebOutcome::Kind::kPasswordResetPage;
  out.fault = fault;
  out.reset.step = PasswordResetView::Step::kNewPassword;
  out.reset.csrf_token = reset_csrf(loaded.token);
  out.reset.email = loaded.user.email;
  out.reset.account_label = account->issuer_label;
  out.reset.error_message = error;
  out.reset.error_field = field;
  return out;
}

WebOutcome PasswordResetPages::reset_page(const Params& query, const BrowserContext& browser) {
  if (const auto token = get_param(query, "token")) {
    // The emailed link: check it, then keep its token in a cookie and drop it from the
    // address, so it is neither in the history nor in a Referer.
    if (!plausible_token(*token)) return link_error(ErrorCode::kNotFound);
    auto reset = store_.password_reset(hash_token(*token));
    if (!reset) return link_error(reset.error().code);
    if (!reset->usable(clock_.now()))
      return link_error(reset->used_at ? ErrorCode::kReplayed : ErrorCode::kExpired);
    WebOutcome out = redirect_to(config_.issuer + "/password/reset");
    out.cookies.push_back(login_.cookie(kResetCookie, *token, "/password/reset",
                                        reset->expires_at - clock_.now()));
    return out;
  }
  WebOutcome failure;
  auto loaded = load(browser, failure);
  if (!loaded) return failure;
  return next_step(*loaded, browser);
}

WebOutcome PasswordResetPages::second_factor_passed(const LoginFlow& flow,
                                                    const AuthRequest& request,
                                                    const FlowProgress& progress,
                                                    const BrowserContext& browser) {
  if (Status s = store_.verify_password_reset(request.password_reset, flow.browser_binding_hash,
                                              clock_.now());
      !s)
    return link_error(s.error().code);
  if (auto user = store_.user_by_id(progress.user_id))
    two_factor_.audit(*user, "password.reset_verified", browser.client_address);
  return redirect_to(config_.issuer + request.redirect_uri);
}

WebOutcome PasswordResetPages::reset_submit(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto loaded = load(browser, failure);
  if (!loaded) return failure;
  if (!constant_time_equal(param(form, "csrf_token"), reset_csrf(loaded->token)))
    return error_page(Fault::kInvalidCsrfToken,
                      "The form was not sent by the password reset page. Open the link from "
                      "your email again.");
  // The form of a browser that has not passed the second factor gets that step instead.
  WebOutcome page = next_step(*loaded, browser);
  if (page.kind != WebOutcome::Kind::kPasswordResetPage) return page;
  const std::string password = param(form, "password");
  if (!check_new_password(password))
    return next_step(*loaded, browser, "Choose a password of 8 to 1024 characters.", "password",
                     Fault::kInvalidRequest);
  if (password != param(form, "password_confirm"))
    return next_step(*loaded, browser, "The two passwords differ. Type the same password twice.",
                     "password_confirm", Fault::kInvalidRequest);
  auto hash = hasher_.hash(password);
  if (!hash) return unavailable_page();
  auto account = store_.account_by_id(loaded->user.account_id);
  if (!account) return unavailable_page();
  std::vector<OutgoingMail> mail;
  auto notice = outgoing("password-changed:" + loaded->reset.token_hash, loaded->user.email,
                         password_changed_mail(account->issuer_label, clock_.now(),
                                               browser.client_address,
                                               config_.issuer + "/password/forgot"),
                         false);
  if (notice) mail.push_back(std::move(*notice));
  auto ended = store_.complete_password_reset(loaded->reset.token_hash, *hash, clock_.now(), mail);
  if (!ended) return link_error(ended.error().code);
  two_factor_.audit(loaded->user, "password.reset", browser.client_address,
                    std::to_string(*ended) + " sessions ended");
  // The new password starts with a clean slate of failed sign-ins.
  throttle_.succeeded({"pwd:" + loaded->user.email});
  if (on_sessions_ended_) on_sessions_ended_();
  if (!mail.empty() && on_mail_queued_) on_mail_queued_();
  WebOutcome out;
  out.kind = WebOutcome::Kind::kPasswordResetPage;
  out.reset.step = PasswordResetView::Step::kDone;
  out.reset.email = loaded->user.email;
  out.cookies.push_back(login_.cookie(kResetCookie, "", "/password/reset", 0));
  return out;
}

}  // namespace keystep
