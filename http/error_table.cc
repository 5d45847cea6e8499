#include "http/error_table.h"

namespace keystep::http {

ErrorAnswer error_answer(Fault fault) {
  // A switch without default: -Wswitch names an entry that has no row.
  // clang-format off
  switch (fault) {
    case Fault::kInvalidRequest: return {400, "invalid_request"};
    case Fault::kUnknownClient: return {400, "invalid_client"};
    case Fault::kInvalidClient: return {401, "invalid_client"};
    case Fault::kUnauthorizedClient: return {400, "unauthorized_client"};
    case Fault::kInvalidGrant: return {400, "invalid_grant"};
    case Fault::kInvalidScope: return {400, "invalid_scope"};
    case Fault::kUnsupportedGrantType: return {400, "unsupported_grant_type"};
    case Fault::kBearerTokenMissing: return {401, "invalid_request"};
    case Fault::kInvalidToken: return {401, "invalid_token"};
    case Fault::kInsufficientScope: return {403, "insufficient_scope"};
    case Fault::kMetricsTokenRequired: return {401, "unauthorized"};
    case Fault::kInvalidCsrfToken: return {403, "invalid_csrf_token"};
    case Fault::kInvalidSession: return {403, "invalid_session"};
    case Fault::kExpiredLogin: return {400, "expired_login"};
    case Fault::kInvalidState: return {409, "invalid_state"};
    case Fault::kLoginRequired: return {401, "login_required"};
    case Fault::kInsufficientUserAuthentication: return {401, "insufficient_user_authentication"};
    case Fault::kWrongCredentials: return {401, "invalid_credentials"};
    case Fault::kTooManyAttempts: return {429, "too_many_attempts"};
    case Fault::kForbidden: return {403, "forbidden"};
    case Fault::kFactorNotAllowed: return {403, "method_not_allowed"};
    case Fault::kTwoFactorOff: return {409, "two_factor_off"};
    case Fault::kTwoFactorAlreadyOn: return {409, "two_factor_on"};
    case Fault::kTwoFactorEnforced: return {409, "two_factor_enforced"};
    case Fault::kOwnTwoFactorRequired: return {409, "own_two_factor_required"};
    case Fault::kTotpRequired: return {409, "totp_required"};
    case Fault::kConfirmationRequired: return {428, "confirmation_required"};
    case Fault::kNotFound: return {404, "not_found"};
    case Fault::kConflict: return {409, "conflict"};
    case Fault::kAlreadyMember: return {409, "already_member"};
    case Fault::kInvitationPending: return {409, "invitation_pending"};
    case Fault::kInvitationNotFound: return {404, "invalid_invitation"};
    case Fault::kInvitationUndeliverable: return {400, "invalid_invitation"};
    case Fault::kInvitationUsed: return {410, "invitation_used"};
    case Fault::kInvitationExpired: return {410, "invitation_expired"};
    case Fault::kLinkNotFound: return {404, "invalid_link"};
    case Fault::kLinkUsed: return {410, "link_used"};
    case Fault::kLinkExpired: return {410, "link_expired"};
    case Fault::kWrongCode: return {400, "invalid_code"};
    case Fault::kAlreadyConfirmed: return {409, "already_confirmed"};
    case Fault::kRegistrationExpired: return {410, "registration_expired"};
    case Fault::kServerError: return {500, "server_error"};
    case Fault::kTemporarilyUnavailable: return {503, "temporarily_unavailable"};
    case Fault::kEnd: break;
  }
  // clang-format on
  return {};
}

int status_of(const WebOutcome& out) {
  if (out.fault) return error_answer(*out.fault).status;
  return out.kind == WebOutcome::Kind::kRedirect ? 302 : 200;
}

int status_of(const ApiOutcome& out) {
  if (out.fault) return error_answer(*out.fault).status;
  return out.created ? 201 : 200;
}

int status_of(const ConsoleOutcome& out) {
  if (!out.is_page) return status_of(out.web);
  return out.fault ? error_answer(*out.fault).status : 200;
}

int status_of(const MetricsAnswer& out) {
  return out.fault ? error_answer(*out.fault).status : 200;
}

nlohmann::json body_of(const ApiOutcome& out) {
  if (!out.fault) return out.body;
  nlohmann::json body = out.body;
  body["error"] = error_answer(*out.fault).error;
  return body;
}

}  // namespace keystep::http
