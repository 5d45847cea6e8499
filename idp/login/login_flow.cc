#include "idp/login/login_flow.h"

#include "base/crypto/encoding.h"

namespace keystep {

Result<LoginStage> next_stage(LoginStage stage, LoginEvent event, bool second_factor_required) {
  if (stage == LoginStage::kPassword && event == LoginEvent::kPasswordVerified)
    return second_factor_required ? LoginStage::kSecondFactor : LoginStage::kDone;
  if (stage == LoginStage::kSecondFactor && event == LoginEvent::kSecondFactorVerified)
    return LoginStage::kDone;
  return make_error(ErrorCode::kConflict, "this step is not expected now");
}

nlohmann::json to_json(const AuthRequest& r) {
  nlohmann::json j = {{"client_id", r.client_id},   {"redirect_uri", r.redirect_uri},
                      {"scope", r.scope},           {"state", r.state},
                      {"nonce", r.nonce},           {"code_challenge", r.code_challenge},
                      {"login_hint", r.login_hint}, {"prompt_login", r.prompt_login},
                      {"acr_values", r.acr_values}};
  if (r.max_age) j["max_age"] = *r.max_age;
  if (!r.enrollment_link.empty()) j["enrollment_link"] = r.enrollment_link;
  if (r.prompt_consent) j["prompt_consent"] = true;
  if (r.require_mfa) j["require_mfa"] = true;
  if (!r.essential_acr.empty()) j["essential_acr"] = r.essential_acr;
  if (r.requested_claims != "{}") j["requested_claims"] = r.requested_claims;
  return j;
}

Result<AuthRequest> auth_request_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return make_error(ErrorCode::kInternal, "stored authorization request is corrupt");
  try {
    AuthRequest r;
    r.client_id = j.at("client_id").get<std::string>();
    r.redirect_uri = j.at("redirect_uri").get<std::string>();
    r.scope = j.at("scope").get<std::string>();
    r.state = j.at("state").get<std::string>();
    r.nonce = j.at("nonce").get<std::string>();
    r.code_challenge = j.at("code_challenge").get<std::string>();
    r.login_hint = j.at("login_hint").get<std::string>();
    r.prompt_login = j.at("prompt_login").get<bool>();
    r.acr_values = j.at("acr_values").get<std::vector<std::string>>();
    if (j.contains("max_age")) r.max_age = j.at("max_age").get<int64_t>();
    if (j.contains("enrollment_link")) r.enrollment_link = j.at("enrollment_link").get<std::string>();
    r.prompt_consent = j.value("prompt_consent", false);
    // Flows stored before issue 15 have none of these.
    r.require_mfa = j.value("require_mfa", false);
    if (j.contains("essential_acr"))
      r.essential_acr = j.at("essential_acr").get<std::vector<std::string>>();
    r.requested_claims = j.value("requested_claims", std::string("{}"));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("stored authorization request is corrupt: ") + e.what());
  }
}

nlohmann::json to_json(const FlowProgress& p) {
  nlohmann::json j = {{"stage", static_cast<int>(p.stage)},
                      {"user_id", p.user_id},
                      {"password_time", p.password_time},
                      {"mfa_time", p.mfa_time},
                      {"amr", p.amr}};
  // A provider's server state may be any bytes, and JSON text holds only UTF-8.
  if (p.challenge)
    j["challenge"] = {{"provider_id", p.challenge->provider_id},
                      {"server_state", base64url_encode(p.challenge->server_state)},
                      {"expires_at", p.challenge->expires_at}};
  if (p.challenge && p.challenge->ceremony) j["challenge"]["ceremony"] = true;
  if (p.challenge && p.challenge->resync_credential != 0) {
    j["challenge"]["resync_credential"] = p.challenge->resync_credential;
    j["challenge"]["resync_first"] = p.challenge->resync_first;
  }
  return j;
}

Result<FlowProgress> flow_progress_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return make_error(ErrorCode::kInternal, "stored flow progress is corrupt");
  try {
    FlowProgress p;
    const int stage = j.at("stage").get<int>();
    if (stage < 0 || stage > static_cast<int>(LoginStage::kDone))
      return make_error(ErrorCode::kInternal, "stored flow stage is out of range");
    p.stage = static_cast<LoginStage>(stage);
    p.user_id = j.at("user_id").get<int64_t>();
    p.password_time = j.at("password_time").get<int64_t>();
    p.mfa_time = j.at("mfa_time").get<int64_t>();
    p.amr = j.at("amr").get<std::vector<std::string>>();
    // Flows stored before challenges were kept have none.
    if (j.contains("challenge")) {
      const auto& c = j.at("challenge");
      auto state = base64url_decode(c.at("server_state").get<std::string>());
      if (!state) return make_error(ErrorCode::kInternal, "stored flow challenge is corrupt");
      p.challenge = KeptChallenge{c.at("provider_id").get<std::string>(), std::move(*state),
                                  c.at("expires_at").get<int64_t>(),
                                  c.value("resync_credential", int64_t{0}),
                                  c.value("resync_first", std::string()),
                                  c.value("ceremony", false)};
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("stored flow progress is corrupt: ") + e.what());
  }
}

}  // namespace keystep
