#include "idp/admin/onboarding_pages.h"

#include "base/crypto/hash.h"
#include "idp/directory/directory.h"
#include "idp/mail/mail.h"

namespace keystep {
namespace {

// Invitation and link tokens are 43 base64url characters; anything much longer is not ours.
bool plausible_token(const std::string& token) { return !token.empty() && token.size() <= 128; }

std::string hash_token(std::string_view token) { return sha256_b64url(token); }

}  // namespace

OnboardingPages::OnboardingPages(const IdpConfig& config, Store& store,
                                 const PasswordHasher& hasher, TwoFactor& two_factor,
                                 LoginController& login, Random& random, const Clock& clock)
    : config_(config),
      store_(store),
      hasher_(hasher),
      two_factor_(two_factor),
      login_(login),
      random_(random),
      clock_(clock) {}

WebOutcome OnboardingPages::sign_in_after_password(const User& user, const AuthRequest& request,
                                                   const BrowserContext& browser) {
  auto required = two_factor_.second_factor_needed(user, request);
  if (!required) return unavailable_page();
  FlowProgress progress;
  progress.user_id = user.id;
  progress.password_time = clock_.now();
  progress.amr = {"pwd"};
  if (*required) {
    progress.stage = LoginStage::kSecondFactor;
    return login_.start_flow(request, progress, browser);
  }
  progress.stage = LoginStage::kDone;
  // No step is left, so no flow is stored: complete_flow's deletion of it finds nothing.
  return login_.complete_flow(LoginFlow{}, request, progress, browser);
}

WebOutcome OnboardingPages::signup_view(const std::string& token, const std::string& csrf) {
  if (!plausible_token(token))
    return error_page(Fault::kInvitationNotFound, "This invitation link is not valid.");
  auto invitation = store_.invitation_by_token(hash_token(token));
  if (!invitation) {
    if (invitation.error().code == ErrorCode::kNotFound)
      return error_page(Fault::kInvitationNotFound, "This invitation link is not valid.");
    return unavailable_page();
  }
  if (invitation->accepted_at)
    return error_page(Fault::kInvitationUsed, "This invitation was already used. Sign in at " +
                                                  config_.issuer +
                                                  "/profile with the password you chose.");
  if (!invitation->pending(clock_.now()))
    return error_page(Fault::kInvitationExpired,
                      "This invitation has expired or was withdrawn. Ask your administrator "
                      "for a new one.");
  // An invitation stored before addresses were checked would make a member whom no message
  // reaches (enforcement, reset): no signup with it.
  if (!check_email_address(invitation->email))
    return error_page(Fault::kInvitationUndeliverable,
                      "This invitation's email address cannot receive email. Ask your "
                      "administrator for a new invitation.");
  auto account = store_.account_by_id(invitation->account_id);
  if (!account) return unavailable_page();
  WebOutcome out;
  out.kind = WebOutcome::Kind::kSignupPage;
  out.signup = SignupView{
      token, csrf, invitation->email, account->issuer_label, account->enforce_two_factor, ""};
  return out;
}

WebOutcome OnboardingPages::signup_page(const Params& query, const BrowserContext& browser) {
  (void)browser;
  auto csrf = random_token(random_, 32);
  if (!csrf) return unavailable_page();
  WebOutcome out = signup_view(param(query, "invitation"), *csrf);
  if (out.kind == WebOutcome::Kind::kSignupPage)
    out.cookies.push_back(login_.cookie(kSignupCookie, *csrf, "/signup", config_.flow_ttl));
  return out;
}

WebOutcome OnboardingPages::signup_submit(const Params& form, const BrowserContext& browser) {
  const std::string token = param(form, "invitation");
  // Double-submit CSRF check: the form's token must equal the cookie set with the form.
  // SameSite=Lax keeps the cookie off cross-site POSTs, so another site cannot sign a
  // browser up (and in) to an account of its choosing.
  const std::string csrf = param(form, "csrf_token");
  if (!browser.signup_cookie || csrf.empty() || !constant_time_equal(csrf, *browser.signup_cookie))
    return error_page(Fault::kInvalidCsrfToken,
                      "The form was not sent by the signup page. Open the invitation link again.");
  // The form again with the same CSRF token, so an earlier copy of it (Back button) still works.
  WebOutcome page = signup_view(token, csrf);
  if (page.kind != WebOutcome::Kind::kSignupPage) return page;
  const std::string password = param(form, "password");
  auto retry = [&](std::string message) {
    page.fault = Fault::kInvalidRequest;
    page.signup.error_message = std::move(message);
    return page;
  };
  if (auto s = check_new_password(password); !s)
    return retry("Choose a password of 8 to 1024 characters.");
  if (password != param(form, "password_confirm"))
    return retry("The two passwords differ. Type the same password twice.");
  // Optional: the name the member goes by (the profile scope's name).
  page.signup.display_name = param(form, "display_name");
  if (auto s = check_display_name(page.signup.display_name); !s)
    return retry("Choose a name of at most 128 characters, or leave it empty.");
  auto hash = hasher_.hash(password);
  if (!hash) return unavailable_page();
  User user;
  user.display_name = page.signup.display_name;
  user.password_hash = *hash;
  user.created_at = clock_.now();
  auto created = store_.accept_invitation(hash_token(token), user, clock_.now());
  if (!created) {
    switch (created.error().code) {
      case ErrorCode::kReplayed:
      case ErrorCode::kAlreadyExists:
        return error_page(Fault::kInvitationUsed, "This invitation was already used. Sign in at " +
                                                      config_.issuer + "/profile.");
      case ErrorCode::kExpired:
      case ErrorCode::kDenied:
        return error_page(Fault::kInvitationExpired,
                          "This invitation has expired or was withdrawn. Ask your administrator "
                          "for a new one.");
      case ErrorCode::kNotFound:
        return error_page(Fault::kInvitationNotFound, "This invitation link is not valid.");
      default:
        return unavailable_page();
    }
  }
  two_factor_.audit(*created, "member.signed_up", browser.client_address, created->role);
  AuthRequest request;
  request.redirect_uri = "/profile";
  WebOutcome out = sign_in_after_password(*created, request, browser);
  out.cookies.push_back(login_.cookie(kSignupCookie, "", "/signup", 0));
  return out;
}

WebOutcome OnboardingPages::enrollment_link(const Params& query, const BrowserContext& browser) {
  (void)browser;
  const std::string token = param(query, "token");
  const std::string used_or_expired =
      "Sign in at " + config_.issuer +
      "/profile instead: if your account requires two-factor authentication and you have not "
      "set it up yet, you are asked to set it up right after your password.";
  if (!plausible_token(token))
    return error_page(Fault::kLinkNotFound, "This enrollment link is not valid.");
  auto link = store_.enrollment_link(hash_token(token));
  if (!link) {
    if (link.error().code == ErrorCode::kNotFound)
      return error_page(Fault::kLinkNotFound, "This enrollment link is not valid.");
    return unavailable_page();
  }
  if (link->used_at)
    return error_page(Fault::kLinkUsed,
                      "This enrollment link was already used. " + used_or_expired);
  if (link->expires_at <= clock_.now())
    return error_page(Fault::kLinkExpired, "This enrollment link has expired. " + used_or_expired);
  auto user = store_.user_by_id(link->user_id);
  if (!user) return unavailable_page();
  // The link proves only that its holder can read the member's email: the member still signs
  // in with their password before any secret is created and shown.
  AuthRequest request;
  request.redirect_uri = "/profile";
  request.login_hint = user->email;
  request.enrollment_link = link->token_hash;
  return login_.start_flow(request, FlowProgress{}, browser);
}

}  // namespace keystep
