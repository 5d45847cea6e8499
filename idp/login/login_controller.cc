#include "idp/login/login_controller.h"

#include <algorithm>
#include <cassert>

#include "base/crypto/hash.h"
#include "base/words.h"
#include "idp/directory/directory.h"
#include "idp/observability/observability.h"

namespace keystep {

LoginController::LoginController(const IdpConfig& config, Store& store,
                                 const PasswordHasher& hasher, TwoFactor& two_factor,
                                 FactorNotifier& notices, FlowCompletion& completion,
                                 Random& random, const Clock& clock)
    : config_(config),
      store_(store),
      hasher_(hasher),
      two_factor_(two_factor),
      notices_(notices),
      completion_(completion),
      throttle_(store, clock),
      random_(random),
      clock_(clock),
      secure_cookies_(config.issuer.rfind("https://", 0) == 0) {}

CookieToSet LoginController::cookie(std::string name, std::string value, std::string path,
                                    int64_t max_age) const {
  return CookieToSet{std::move(name), std::move(value), std::move(path), max_age, secure_cookies_};
}

WebOutcome LoginController::start_flow(const AuthRequest& request, const FlowProgress& progress,
                                       const BrowserContext& browser) {
  auto id = random_token(random_, 24);
  // One binding secret per browser, not per flow: a second sign-in in another tab reuses it,
  // so the first tab's flow stays bound to this browser and keeps working.
  Result<std::string> binding = browser.flow_cookie && is_random_token(*browser.flow_cookie, 32)
                                    ? Result<std::string>(*browser.flow_cookie)
                                    : random_token(random_, 32);
  auto csrf = random_token(random_, 32);
  if (!id || !binding || !csrf) return error_page(Fault::kServerError, "Randomness failed.");
  const int64_t now = clock_.now();
  LoginFlow flow;
  flow.id = *id;
  flow.browser_binding_hash = sha256_b64url(*binding);
  flow.csrf_token = *csrf;
  flow.request_json = to_json(request).dump();
  flow.progress_json = to_json(progress).dump();
  flow.created_at = now;
  flow.expires_at = now + config_.flow_ttl;
  if (auto s = store_.create_flow(flow); !s) return unavailable_page();
  const std::string page =
      progress.stage == LoginStage::kSecondFactor ? "/login/second-factor" : "/login";
  WebOutcome out = redirect_to(append_query(config_.issuer + page, {{"flow", flow.id}}));
  // Path=/: /authorize must see it to reuse it for a sign-in in another tab.
  out.cookies.push_back(cookie(kFlowCookie, *binding, "/", config_.flow_ttl));
  return out;
}

std::optional<LoginController::LoadedFlow> LoginController::load_flow(
    const Params& params, const BrowserContext& browser, std::optional<LoginStage> posted_at,
    WebOutcome& failure) {
  const auto id = get_param(params, "flow");
  if (!id || id->empty() || id->size() > 128) {
    failure = error_page(Fault::kInvalidRequest, "The sign-in link is incomplete.");
    return std::nullopt;
  }
  auto flow = store_.flow_by_id(*id, clock_.now());
  if (!flow) {
    if (flow.error().code == ErrorCode::kNotFound || flow.error().code == ErrorCode::kExpired)
      failure = error_page(Fault::kExpiredLogin,
                           "This sign-in page has expired. Go back to the application and "
                           "sign in again.");
    else
      failure = unavailable_page();
    return std::nullopt;
  }
  // The flow must belong to this browser: this defeats login CSRF, where an attacker sends a
  // victim the attacker's own sign-in page.
  if (!browser.flow_cookie ||
      !constant_time_equal(sha256_b64url(*browser.flow_cookie), flow->browser_binding_hash)) {
    failure = error_page(Fault::kInvalidSession,
                         "This sign-in page was opened in another browser or its cookie is "
                         "missing. Go back to the application and sign in again.");
    return std::nullopt;
  }
  if (posted_at && !constant_time_equal(param(params, "csrf_token"), flow->csrf_token)) {
    failure = error_page(Fault::kInvalidCsrfToken,
                         "The form was not sent by this sign-in page. Reload it and try again.");
    return std::nullopt;
  }
  auto request = auth_request_from_json(flow->request_json);
  auto progress = flow_progress_from_json(flow->progress_json);
  if (!request || !progress) {
    failure = error_page(Fault::kServerError, "The sign-in request is damaged.");
    return std::nullopt;
  }
  if (posted_at && progress->stage != *posted_at) {
    failure = error_page(Fault::kInvalidState, "This step of the sign-in is not expected now.");
    return std::nullopt;
  }
  return LoadedFlow{std::move(*flow), std::move(*request), std::move(*progress)};
}

AppIdentity LoginController::signing_in_to(const AuthRequest& request) {
  if (request.client_id.empty()) return AppIdentity{};
  return app_identity(store_, request.client_id);
}

WebOutcome LoginController::login_page(const Params& query, const BrowserContext& browser) {
  WebOutcome failure;
  auto loaded = load_flow(query, browser, std::nullopt, failure);
  if (!loaded) return failure;
  const LoginFlow& flow = loaded->flow;
  if (loaded->progress.stage == LoginStage::kSecondFactor)
    return redirect_to(append_query(config_.issuer + "/login/second-factor", {{"flow", flow.id}}));
  WebOutcome out;
  out.kind = WebOutcome::Kind::kLoginPage;
  out.login = LoginView{flow.id, flow.csrf_token, loaded->request.login_hint,
                        signing_in_to(loaded->request), ""};
  return out;
}

WebOutcome LoginController::login_submit(const Params& form, const BrowserContext& browser) {
  WebOutcome failure;
  auto posted = load_flow(form, browser, LoginStage::kPassword, failure);
  if (!posted) return failure;
  const LoginFlow* flow = &posted->flow;
  const AuthRequest* request = &posted->request;
  const FlowProgress* progress = &posted->progress;

  const std::string email = param(form, "email");
  const std::string password = param(form, "password");
  WebOutcome retry;
  retry.kind = WebOutcome::Kind::kLoginPage;
  retry.fault = Fault::kWrongCredentials;
  // One message for every failure, so the page does not tell whether an email exists.
  retry.login = LoginView{flow->id, flow->csrf_token, email.substr(0, 254), signing_in_to(*request),
                          "Incorrect email or password."};
  auto normalized = normalize_email(email);
  // Failed passwords are throttled per email (existing or not, so the wait reveals nothing),
  // before any hashing is spent on the attempt. Not per address: behind a reverse proxy every
  // user shares one address, and one attacker could then lock everybody out. The attempt is
  // counted before the slow check (Throttle::reserve), so concurrent guesses cannot all pass
  // on the same old count.
  const std::string key = "pwd:" + (normalized ? *normalized : email.substr(0, 254));
  auto reserved = throttle_.reserve(key);
  if (!reserved) return unavailable_page();
  if (reserved->wait > 0) {
    obs::sign_in(obs::kSignInThrottled, 0, 0, browser.client_address);
    retry.fault = Fault::kTooManyAttempts;
    retry.retry_after = reserved->wait;
    retry.login.error_message =
        "Too many failed sign-ins. Wait " + seconds_text(reserved->wait) + ", then try again.";
    return retry;
  }
  const auto refuse = [&]() {
    obs::sign_in(obs::kSignInWrongPassword, 0, 0, browser.client_address);
    if (reserved->delay > 0)
      retry.login.error_message += " Too many failed sign-ins: wait " +
                                   seconds_text(reserved->delay) + " before the next try.";
    return retry;
  };
  if (!normalized || password.empty() || password.size() > 1024) {
    hasher_.burn(password);
    return refuse();
  }
  auto candidates = store_.users_by_email(*normalized);
  if (!candidates) return unavailable_page();
  std::optional<User> user;
  for (const auto& candidate : *candidates) {
    if (hasher_.verify(candidate.password_hash, password)) {
      user = candidate;
      break;
    }
  }
  if (candidates->empty()) hasher_.burn(password);
  if (!user) return refuse();
  // The password's throttle key is cleared by the step's write below.
  FlowStep step;
  step.reset_attempts = {key};
  if (!request->enrollment_link.empty()) {
    // Started by an enrollment link: its user signing in uses it up (single use); another
    // user signing in here leaves it alone.
    auto link = store_.enrollment_link(request->enrollment_link);
    if (link && link->user_id == user->id) {
      auto used = store_.use_enrollment_link(request->enrollment_link, clock_.now());
      if (!used) {
        if (used.error().code != ErrorCode::kReplayed && used.error().code != ErrorCode::kExpired)
          return unavailable_page();
        return error_page(Fault::kLinkUsed,
                          "This enrollment link was already used or has expired. Sign in at " +
                              config_.issuer + "/profile instead.");
      }
      two_factor_.audit(*user, "mfa.enrollment_link_used", browser.client_address);
    }
  }

  auto second = two_factor_.second_factor_needed(*user, *request);
  if (!second) return unavailable_page();
  const bool needs_second = *second;
  auto stage = next_stage(progress->stage, LoginEvent::kPasswordVerified, needs_second);
  if (!stage) return error_page(Fault::kInvalidState, stage.error().message);
  obs::sign_in(needs_second ? obs::kSignInSecondFactor : obs::kSignInOk, user->id, user->account_id,
               browser.client_address);
  FlowProgress next = *progress;
  next.stage = *stage;
  next.user_id = user->id;
  next.password_time = clock_.now();
  next.amr = {"pwd"};
  if (next.stage != LoginStage::kSecondFactor)
    return complete_flow(*flow, *request, next, browser, std::move(step));
  step.flow_id = flow->id;
  step.expected_version = flow->version;
  step.progress_json = to_json(next).dump();
  if (auto s = store_.commit_flow_step(step, clock_.now()); !s) {
    if (s.error().code != ErrorCode::kConflict && s.error().code != ErrorCode::kNotFound)
      return unavailable_page();
    return error_page(Fault::kInvalidState, "This sign-in was continued elsewhere.");
  }
  return redirect_to(append_query(config_.issuer + "/login/second-factor", {{"flow", flow->id}}));
}

namespace {

// The page's field for a challenge of a method (a fallback's codes are not one-time codes a
// browser should offer from a message).
ResponseField field_of(const Challenge& challenge, bool fallback) {
  ResponseField field;
  const ResponseInput& input = challenge.input;
  field.ceremony = input.kind == InputKind::kBrowserCeremony;
  field.min_length = input.min_length;
  field.max_length = input.max_length;
  field.characters = input.characters;
  field.inputmode = input.inputmode;
  field.one_time_code = !fallback;
  field.script = input.script;
  if (field.ceremony) field.client_options = challenge.client_options.dump();
  return field;
}

}  // namespace

WebOutcome LoginController::second_factor_view(const LoginFlow& flow, const std::string& method,
                                               const std::string& error,
                                               std::optional<Fault> fault) {
  WebOutcome out;
  out.kind = WebOutcome::Kind::kSecondFactorPage;
  out.fault = fault;
  out.second.flow_id = flow.id;
  out.second.csrf_token = flow.csrf_token;
  out.second.method = method;
  out.second.error_message = error;
  return out;
}

WebOutcome LoginController::challenge_page(const LoadedFlow& loaded, const User& user,
                                           std::string method, const std::string& error,
                                           std::optional<Fault> fault,
                                           const StepRefusal* resync) {
  auto choices = two_factor_.second_step_choices(user);
  if (!choices) return unavailable_page();
  // No factor the account allows (any more): the only way on is setting one up.
  if (choices->methods.empty()) return setup_view(loaded, user, error, fault);
  const bool recovery = method == kRecoveryProvider && choices->recovery_available;
  if (!recovery && !contains(choices->methods, method)) method = choices->methods.front();
  auto challenge = two_factor_.begin_login_challenge(user, method);
  if (!challenge) return unavailable_page();
  // The flow keeps the challenge the page answers: the POST gives it back to the provider.
  // A typed code's challenge holds nothing (no server state, no expiry), and the POST checks
  // such a code against a fresh one, which is the same: then showing the page writes nothing,
  // unless the flow keeps an older challenge, which must stop answering (the last page shown
  // decides).
  const bool stateless =
      challenge->server_state.empty() && challenge->expires_at == 0 && resync == nullptr;
  if (!stateless || loaded.progress.challenge) {
    FlowProgress progress = loaded.progress;
    progress.challenge = KeptChallenge{method, challenge->server_state, challenge->expires_at};
    progress.challenge->ceremony = challenge->input.kind == InputKind::kBrowserCeremony;
    if (resync) {
      progress.challenge->resync_credential = resync->resync_credential;
      progress.challenge->resync_first = resync->resync_first;
    }
    if (auto s = store_.update_flow(loaded.flow.id, loaded.flow.version, to_json(progress).dump());
        !s) {
      if (s.error().code != ErrorCode::kConflict && s.error().code != ErrorCode::kNotFound)
        return unavailable_page();
      return error_page(Fault::kInvalidState, "This sign-in was continued elsewhere.");
    }
  }
  WebOutcome out = second_factor_view(loaded.flow, method, error, fault);
  out.second.password_reset = !loaded.request.password_reset.empty();
  out.second.method_name = two_factor_.method_name(method);
  out.second.input = field_of(*challenge, recovery);
  out.second.next_code = resync != nullptr;
  for (const auto& other : choices->methods)
    if (other != method) out.second.other_methods.push_back({other, two_factor_.method_name(other)});
  if (choices->recovery_available && !recovery)
    out.second.other_methods.push_back(
        {kRecoveryProvider, two_factor_.method_name(kRecoveryProvider)});
  return out;
}

WebOutcome LoginController::second_factor_page(const Params& query, const BrowserContext& browser) {
  WebOutcome failure;
  auto loaded = load_flow(query, browser, std::nullopt, failure);
  if (!loaded) return failure;
  const LoginFlow* flow = &loaded->flow;
  const FlowProgress* progress = &loaded->progress;
  if (progress->stage != LoginStage::kSecondFactor)
    return redirect_to(append_query(config_.issuer + "/login", {{"flow", flow->id}}));
  auto user = store_.user_by_id(progress->user_id);
  if (!user) return unavailable_page();
  auto status = two_factor_.status(*user);
  if (!status) return unavailable_page();
  if (!status->has_second_factor()) {
    // A reset asks only for a factor the user has: without one, its page asks for the new
    // password (the next sign-in sets one up if the account enforces it).
    if (!loaded->request.password_reset.empty())
      return redirect_to(config_.issuer + loaded->request.redirect_uri);
    auto required = two_factor_.second_factor_needed(*user, loaded->request);
    if (!required) return unavailable_page();
    if (!*required && progress->password_time > 0) {
      // The account stopped enforcing 2FA during this sign-in and the user has no factor:
      // nothing is left to ask, the password of this flow signs them in.
      FlowProgress done = *progress;
      done.stage = LoginStage::kDone;
      return complete_flow(*flow, loaded->request, done, browser);
    }
    return setup_view(*loaded, *user, "", std::nullopt, param(query, "setup"));
  }
  // Without ?method= (or with one the user cannot use) the page offers the default: the type
  // of the factor used last.
  return challenge_page(*loaded, *user, param(query, "method"), "", std::nullopt);
}

WebOutcome LoginController::second_factor_submit(const Params& form,
                                                 const BrowserContext& browser) {
  WebOutcome failure;
  auto posted = load_flow(form, browser, LoginStage::kSecondFactor, failure);
  if (!posted) return failure;
  const FlowProgress* progress = &posted->progress;
  auto user = store_.user_by_id(progress->user_id);
  if (!user) return unavailable_page();
  const std::string method = param(form, "method");
  std::string code = param(form, "code");
  // The challenge the page showed, when it was of this method.
  const std::optional<KeptChallenge>& kept = progress->challenge;
  const bool ours = kept && kept->provider_id == method;
  // A typed code is short; a ceremony's answer is the browser's JSON (a few kB), which its
  // provider bounds, as the setup step's.
  const bool ceremony = ours && kept->ceremony;
  if (!ceremony && method != kSetupMethod && code.size() > 64) code.resize(64);
  if (method == kDeclineMethod) {
    // Only a user the client's requirement sent to the setup step may decline it; anyone
    // else has a factor to use or an account that enforces one.
    auto status = two_factor_.status(*user);
    auto required = two_factor_.application_requires(*user, posted->request);
    if (!status || !required) return unavailable_page();
    if (!*required || posted->request.client_id.empty() || status->has_second_factor())
      return error_page(Fault::kInvalidState, "There is nothing to decline here.");
    return unmet_requirements(*posted, *user,
                              "the user did not set up the two-factor authentication that this "
                              "application requires",
                              browser.client_address);
  }
  if (method == kSetupMethod) {
    // The setup an enforcing account forces: only for a user who has no factor yet.
    auto status = two_factor_.status(*user);
    if (!status) return unavailable_page();
    if (status->has_second_factor())
      return error_page(Fault::kInvalidState, "Two-factor authentication is already set up.");
    const std::string setup = param(form, "setup").empty() ? kTotpProvider : param(form, "setup");
    if (!contains(kSetupProviders, setup))
      return error_page(Fault::kInvalidRequest, "This kind of second factor cannot be set up here.");
    // The typed code of an authenticator app is short; a security key's answer is its JSON.
    if (setup == kTotpProvider && code.size() > 64) code.resize(64);
    FactorSummary added;
    auto enrolled = two_factor_.confirm_enrollment(*user, setup, code, browser.client_address,
                                                   false, &added);
    if (!enrolled) {
      const ErrorCode kind = enrolled.error().code;
      if (kind == ErrorCode::kAlreadyExists)
        return setup_view(*posted, *user,
                          "This key is registered already, to you or to someone else. Use "
                          "another key, or ask your administrator.",
                          Fault::kConflict, setup);
      if (kind != ErrorCode::kDenied && kind != ErrorCode::kInvalidArgument &&
          kind != ErrorCode::kReplayed && kind != ErrorCode::kNotFound &&
          kind != ErrorCode::kExpired)
        return unavailable_page();
      if (setup != kTotpProvider && kind == ErrorCode::kExpired)
        (void)two_factor_.begin_enrollment(*user, setup);
      return setup_view(*posted, *user,
                        setup == kTotpProvider
                            ? "That code is not valid. Enter the current code from your "
                              "authenticator app."
                        : kind == ErrorCode::kExpired
                            ? "The key took too long to answer. Press the button and touch it "
                              "again."
                            : "The security key was refused (" + enrolled.error().message +
                                  "). Try again.",
                        Fault::kWrongCredentials, setup);
    }
    two_factor_.notify_member(notices_, *user, FactorChange::kAdded, added, false,
                              browser.client_address);
    return finish_second_factor(*posted, two_factor_.method_amr(setup), browser);
  }
  StepRefusal refusal;
  FlowStep step;  // an accepted code's writes, committed with the sign-in
  // The response answers the challenge the page showed. A form of another method (a page
  // from before a method switch) has none kept: a typed code is checked at once, a
  // ceremony's response is refused (kExpired) and its page shown afresh. A page that asked
  // for a token's next code completes its resynchronisation.
  ResponseInput kept_input;
  if (ceremony) kept_input.kind = InputKind::kBrowserCeremony;
  auto amr =
      ours && kept->resync_credential != 0
          ? two_factor_.verify_resync(*user, method, kept->resync_credential, kept->resync_first,
                                      code, browser.client_address, refusal)
      : ours
          ? two_factor_.verify_login(
                *user, method, code, browser.client_address, refusal,
                Challenge{kept->server_state, nullptr, kept->expires_at, kept_input}, &step)
          : two_factor_.verify_login(*user, method, code, browser.client_address, refusal, &step);
  if (refusal.cloned.id != 0)
    two_factor_.notify_member(notices_, *user, FactorChange::kPossiblyCloned, refusal.cloned,
                              false, browser.client_address);
  if (amr) {
    bool replayed = false;
    WebOutcome done = finish_second_factor(*posted, *amr, browser, std::move(step), &replayed);
    if (!replayed) return done;
    // Another request used the credential between the check and this sign-in's write.
    amr = two_factor_.refuse_replayed(*user, method, browser.client_address, refusal, ceremony);
  }
  switch (amr.error().code) {
    case ErrorCode::kOutOfSync:
      return challenge_page(*posted, *user, method, refusal.message, Fault::kWrongCredentials,
                            &refusal);
    case ErrorCode::kLocked: {
      WebOutcome out =
          challenge_page(*posted, *user, method, refusal.message, Fault::kTooManyAttempts);
      if (out.kind == WebOutcome::Kind::kSecondFactorPage) out.retry_after = refusal.retry_after;
      return out;
    }
    case ErrorCode::kDenied:
    case ErrorCode::kReplayed:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kExpired:
      return challenge_page(*posted, *user, method, refusal.message, Fault::kWrongCredentials);
    default:
      return unavailable_page();
  }
}

WebOutcome LoginController::finish_second_factor(const LoadedFlow& posted,
                                                 const std::vector<std::string>& amr,
                                                 const BrowserContext& browser, FlowStep step,
                                                 bool* replayed) {
  auto stage = next_stage(posted.progress.stage, LoginEvent::kSecondFactorVerified, true);
  if (!stage) return error_page(Fault::kInvalidState, stage.error().message);
  FlowProgress next = posted.progress;
  next.stage = *stage;
  next.mfa_time = clock_.now();
  for (const auto& value : amr) {
    if (!contains(next.amr, value)) next.amr.push_back(value);
  }
  return complete_flow(posted.flow, posted.request, next, browser, std::move(step), replayed);
}

WebOutcome LoginController::setup_view(const LoadedFlow& loaded, const User& user,
                                       const std::string& error, std::optional<Fault> fault,
                                       const std::string& provider_id) {
  auto required = two_factor_.application_requires(user, loaded.request);
  if (!required) return unavailable_page();
  const bool client_requires = *required && !loaded.request.client_id.empty();
  auto status = two_factor_.status(user);
  if (!status) return unavailable_page();
  const auto can_set_up = [&](const std::string& id) {
    return contains(kSetupProviders, id) &&
           std::any_of(status->can_add.begin(), status->can_add.end(),
                       [&](const FactorType& t) { return t.method == id; });
  };
  std::vector<MethodChoice> alternatives;
  for (const auto& id : kSetupProviders)
    if (can_set_up(id)) alternatives.push_back({id, two_factor_.method_name(id)});
  const auto setup_page = [&](TotpEnrollmentView view, const std::string& id) {
    WebOutcome out = second_factor_view(loaded.flow, kSetupMethod, error, fault);
    out.second.setup = std::move(view);
    out.second.setup_provider = id;
    out.second.required_by_application = client_requires;
    for (auto& other : alternatives)
      if (other.id != id) out.second.setup_alternatives.push_back(std::move(other));
    return out;
  };
  if (provider_id != kTotpProvider && can_set_up(provider_id)) {
    // A security key's registration: its own pending challenge, begun afresh when gone.
    auto key = two_factor_.pending_enrollment(user, provider_id);
    if (!key && key.error().code == ErrorCode::kNotFound) {
      if (auto begun = two_factor_.begin_enrollment(user, provider_id); !begun)
        return unavailable_page();
      key = two_factor_.pending_enrollment(user, provider_id);
    }
    if (!key) return unavailable_page();
    return setup_page(std::move(*key), provider_id);
  }
  // The pending secret is kept, so the QR code from an email or an earlier visit still works.
  auto view = two_factor_.pending_totp_enrollment(user);
  if (!view && view.error().code == ErrorCode::kNotFound)
    view = two_factor_.begin_totp_enrollment(user);
  if (!view && view.error().code == ErrorCode::kDenied && !alternatives.empty())
    return setup_view(loaded, user, error, fault, alternatives.front().id);
  if (!view && view.error().code == ErrorCode::kDenied) {
    // Nothing can be set up: the application hears why at once rather than sending the
    // user back to be asked again.
    if (client_requires)
      return unmet_requirements(loaded, user,
                                "the user has no second factor and the account allows none "
                                "that can be set up here",
                                "");
    return error_page(
        Fault::kFactorNotAllowed,
        view.error().message + ", and no other method can be set up here. Ask your administrator.");
  }
  if (!view) return unavailable_page();
  return setup_page(std::move(*view), kTotpProvider);
}

WebOutcome LoginController::unmet_requirements(const LoadedFlow& loaded, const User& user,
                                               const std::string& description,
                                               const std::string& address) {
  // No session and no code: the flow ends here, and the client decides what to show.
  (void)store_.delete_flow(loaded.flow.id);
  two_factor_.audit(user, "mfa.requirement_unmet", address, loaded.request.client_id);
  return completion_.flow_refused(loaded.request, "unmet_authentication_requirements",
                                  description);
}

WebOutcome LoginController::complete_flow(const LoginFlow& flow, const AuthRequest& request,
                                          const FlowProgress& progress,
                                          const BrowserContext& browser, FlowStep step,
                                          bool* replayed) {
  if (!request.password_reset.empty()) {
    // A reset's second step signs no one in: the flow is used up with what the step brought
    // (the credential's replay guard, throttle keys, audit), then the reset goes on with the
    // new password.
    if (!reset_) return error_page(Fault::kServerError, "Password resets are not served here.");
    step.flow_id = flow.id;
    step.expected_version = flow.version;
    step.progress_json.reset();
    if (auto s = store_.commit_flow_step(step, clock_.now()); !s) {
      if (s.error().code == ErrorCode::kReplayed && replayed) {
        *replayed = true;
        return {};
      }
      if (s.error().code == ErrorCode::kConflict || s.error().code == ErrorCode::kNotFound ||
          s.error().code == ErrorCode::kReplayed)
        return error_page(Fault::kInvalidState, "This sign-in was continued elsewhere.");
      return unavailable_page();
    }
    return reset_->second_factor_passed(flow, request, progress, browser);
  }
  const int64_t now = clock_.now();
  std::vector<CookieToSet> cookies;
  Session session;
  auto existing = current_session(store_, clock_, browser);
  const bool same_user = existing && *existing && (*existing)->user_id == progress.user_id;
  // A flow that asked only for the missing second factor stands on the password of the
  // session it started from; if that session is gone (signed out, expired, or another user
  // signed in meanwhile) the second factor alone signs no one in.
  if (progress.password_time == 0 && !same_user)
    return error_page(Fault::kLoginRequired,
                      "Your session ended while you were signing in. Go back to the "
                      "application and sign in again.");
  // Another user signs in on this browser: the previous user's session ends here.
  if (existing && *existing && !same_user) step.end_sid = (*existing)->sid;
  if (same_user) {
    session = **existing;
  } else {
    auto cookie_value = random_token(random_, 32);
    auto sid = random_token(random_, 16);
    if (!cookie_value || !sid) return error_page(Fault::kServerError, "Randomness failed.");
    session.id_hash = sha256_b64url(*cookie_value);
    session.sid = *sid;
    session.user_id = progress.user_id;
    session.created_at = now;
    session.expires_at = now + config_.session_ttl;
    cookies.push_back(cookie(kSessionCookie, *cookie_value, "/", config_.session_ttl));
  }
  record_factors(progress, session);
  step.flow_id = flow.id;
  step.expected_version = flow.version;
  step.progress_json.reset();
  step.session = session;
  step.session_exists = same_user;
  WebOutcome out = request.client_id.empty() ? redirect_to(config_.issuer + request.redirect_uri)
                                             : completion_.flow_completed(request, session, step);
  // One write for the whole step: the flow used up, the session, the code and what the
  // step brought (the second factor's credential, throttle keys, audit).
  if (auto s = store_.commit_flow_step(step, now); !s) {
    const ErrorCode code = s.error().code;
    if (code == ErrorCode::kReplayed && replayed) {
      *replayed = true;
      return {};
    }
    if (code == ErrorCode::kConflict || code == ErrorCode::kNotFound ||
        code == ErrorCode::kReplayed)
      return error_page(Fault::kInvalidState, "This sign-in was continued elsewhere.");
    return unavailable_page();
  }
  for (auto& c : cookies) out.cookies.push_back(std::move(c));
  return out;
}

WebOutcome LoginController::sign_in_then(const std::string& local_path,
                                         const BrowserContext& browser,
                                         const std::string& login_hint) {
  // complete_flow sends the browser to issuer + redirect_uri: only a path keeps it here.
  assert(!local_path.empty() && local_path[0] == '/' && local_path.rfind("//", 0) != 0);
  AuthRequest request;
  request.redirect_uri = local_path;
  request.login_hint = login_hint;
  return start_flow(request, FlowProgress{}, browser);
}

}  // namespace keystep
