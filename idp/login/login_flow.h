#pragma once
// The login flow: a small explicit state machine that a browser walks through between the
// authorization request and the authorization code.
//
//   kPassword ──password ok, policy needs no 2nd factor──▶ kDone
//   kPassword ──password ok, policy needs a 2nd factor───▶ kSecondFactor
//   kSecondFactor ──factor ok────────────────────────────▶ kDone
//
// Any other (stage, event) pair is refused. The second-factor stage is where the MFA
// framework (plugin/) plugs in; the policy that decides it lives in idp/ (LoginPolicy).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "idp/store/model.h"
#include "base/result.h"

namespace keystep {

// Authentication context classes (the id_token's acr, and what acr_values may ask for).
inline constexpr const char* kAcrPassword = "urn:keystep:loa:1fa";
inline constexpr const char* kAcrMfa = "urn:keystep:loa:2fa";

enum class LoginStage { kPassword, kSecondFactor, kDone };
enum class LoginEvent { kPasswordVerified, kSecondFactorVerified };

// On success the stage after `event`; kConflict when the event is not allowed in `stage`.
Result<LoginStage> next_stage(LoginStage stage, LoginEvent event, bool second_factor_required);

// The validated authorization request a flow carries (stored as LoginFlow::request_json).
// A sign-in to Keystep's own pages has an empty client_id and a local path in redirect_uri.
struct AuthRequest {
  std::string client_id;
  std::string redirect_uri;
  std::string scope;
  std::string state;
  std::string nonce;
  std::string code_challenge;  // S256 only; empty when the (confidential) client sent none
  std::string login_hint;
  std::optional<int64_t> max_age;
  bool prompt_login = false;
  std::vector<std::string> acr_values;
  // A sign-in started by an enrollment link (the safer enforcement email): the link's token
  // hash, used up when its user signs in. Empty otherwise.
  std::string enrollment_link;
  // prompt=consent: the consent page is shown even when the user consented before.
  bool prompt_consent = false;
  // The sign-in must pass a second factor whatever the user's and account's settings: the
  // client requires two-factor authentication, or the claims parameter made acr kAcrMfa
  // essential. A user without one is offered to set one up, or the client gets
  // unmet_authentication_requirements; never a code at a lower acr.
  bool require_mfa = false;
  // The values of an essential acr (claims parameter): the code's acr is one of them.
  std::vector<std::string> essential_acr{};
  // The claims asked for by name, as the grant keeps them (Grant::requested_claims).
  std::string requested_claims = "{}";
};

// The challenge of the second step's page (MfaProvider::begin_challenge), kept in the flow
// from the page to its POST: what verify() is given back. Never sent to the browser.
struct KeptChallenge {
  std::string provider_id;
  std::string server_state;  // any bytes (base64url in progress_json)
  int64_t expires_at = 0;    // unix seconds; 0: never
  // A resynchronisation under way (RFC 4226 §7.4): the page asks for the next code of the
  // token whose code ran ahead of the look-ahead window. The credential, and that first
  // code as TwoFactor sealed it (StepRefusal::resync_first). 0 and "" otherwise.
  int64_t resync_credential = 0;
  std::string resync_first{};
  // The page answers with a browser ceremony (InputKind::kBrowserCeremony), not a typed code.
  bool ceremony = false;
};

// How far the browser got (stored as LoginFlow::progress_json).
struct FlowProgress {
  LoginStage stage = LoginStage::kPassword;
  int64_t user_id = 0;
  int64_t password_time = 0;  // when the password was verified in this flow (0: not asked)
  int64_t mfa_time = 0;       // when a second factor was verified in this flow
  std::vector<std::string> amr;  // RFC 8176 values proven in this flow
  // The latest second-step page's challenge; none before that page was shown.
  std::optional<KeptChallenge> challenge{};
};

nlohmann::json to_json(const AuthRequest& request);
Result<AuthRequest> auth_request_from_json(const std::string& text);
nlohmann::json to_json(const FlowProgress& progress);
Result<FlowProgress> flow_progress_from_json(const std::string& text);

// Decides which factors a login needs beyond the password.
class LoginPolicy {
 public:
  virtual ~LoginPolicy() = default;
  // True when `user` must pass a second factor before the flow completes. Thread-safe.
  virtual Result<bool> second_factor_required(const User& user) = 0;
};

}  // namespace keystep
