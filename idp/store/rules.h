#pragma once
// The store contract's decisions that do not depend on the database: when a call's arguments
// are invalid, and when a row a call read (and locked) can no longer be used. Every store
// (storage/sqlite, storage/postgres) decides through these, so the two answer each case with
// the same error and the same words; tests/unit/idp/store/ checks the outcomes on both.
//
// Each returns an empty Status when the call may go on. The side effects some refusals carry
// (a replayed code or refresh token revokes its grant) stay in the stores, before these.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "idp/store/model.h"
#include "idp/store/onboarding_store.h"
#include "idp/store/password_reset_store.h"
#include "idp/store/store.h"

namespace keystep::store_rules {

// --- Arguments ---

inline Status credential_cap(int max_of_provider) {
  if (max_of_provider < 1)
    return make_error(ErrorCode::kInvalidArgument, "the credential cap must be at least 1");
  return {};
}

inline Status pending_credential(const MfaCredential& pending) {
  if (pending.confirmed)
    return make_error(ErrorCode::kInvalidArgument, "a pending MFA credential must be unconfirmed");
  return {};
}

inline Status added_credential(const MfaCredential& confirmed) {
  if (!confirmed.confirmed)
    return make_error(ErrorCode::kInvalidArgument, "an added MFA credential must be confirmed");
  return {};
}

// enable_two_factor's recovery codes: the same user's, of another provider.
inline Status recovery_codes_for(const MfaCredential& confirmed,
                                 const std::optional<MfaCredential>& recovery_codes) {
  if (!recovery_codes) return {};
  if (recovery_codes->user_id != confirmed.user_id)
    return make_error(ErrorCode::kInvalidArgument, "recovery codes belong to another user");
  if (recovery_codes->provider_id == confirmed.provider_id)
    return make_error(ErrorCode::kInvalidArgument,
                      "recovery codes must use another provider than the confirmed credential");
  return {};
}

// The only UNIQUE constraint of mfa_credentials is on (provider_id, lookup_key), so
// kAlreadyExists from a credential write names that, in words a caller can show.
inline Error credential_write_error(Error error, const MfaCredential& credential) {
  if (error.code != ErrorCode::kAlreadyExists) return error;
  return make_error(ErrorCode::kAlreadyExists, "another " + credential.provider_id +
                                                   " credential has lookup key " +
                                                   credential.lookup_key);
}

inline Status code_of_grant(const Grant& grant, const AuthCode& code) {
  if (!code.grant_id.empty() && code.grant_id != grant.id)
    return make_error(ErrorCode::kInvalidArgument, "authorization code names another grant");
  return {};
}

inline Status flow_step(const FlowStep& step) {
  if (step.grant && step.session && step.grant->sid != step.session->sid)
    return make_error(ErrorCode::kInvalidArgument, "the grant names another session");
  return {};
}

// rotate_refresh_token's new tokens: a refresh token, and access tokens of its grant.
inline Status rotation(const Token& replacement, const std::vector<Token>& issued) {
  if (replacement.kind != TokenKind::kRefresh)
    return make_error(ErrorCode::kInvalidArgument, "replacement is not a refresh token");
  for (const Token& token : issued) {
    if (token.kind != TokenKind::kAccess || token.grant_id != replacement.grant_id)
      return make_error(ErrorCode::kInvalidArgument,
                        "a token issued with the rotation is not an access token of its grant");
  }
  return {};
}

// MailStore::claim_mail's and LogoutStore::claim_logout_notices' lease: positive.
inline Status claim_lease(int64_t lease) {
  if (lease <= 0) return make_error(ErrorCode::kInvalidArgument, "a claim needs a positive lease");
  return {};
}

// --- Rows read ---

// redeem_code after the used check: the grant revoked, then expiry.
inline Status redeemable(const GrantStore::Redeemed& redeemed, int64_t now) {
  if (redeemed.grant.revoked)
    return make_error(ErrorCode::kReplayed, "authorization code's grant is revoked");
  if (redeemed.code.expires_at <= now)
    return make_error(ErrorCode::kExpired, "authorization code expired");
  return {};
}

// active_token's checks, in its contract's order.
inline Status active(const GrantStore::ActiveToken& found, int64_t now) {
  if (found.token.revoked || found.grant.revoked)
    return make_error(ErrorCode::kDenied, "token revoked");
  if (found.token.used) return make_error(ErrorCode::kReplayed, "token already used");
  if (found.token.expires_at <= now) return make_error(ErrorCode::kExpired, "token expired");
  return {};
}

// rotate_refresh_token after the used check (old is unused here).
inline Status rotatable(const Token& old, bool grant_revoked, const Token& replacement,
                        int64_t now) {
  if (old.revoked || grant_revoked) return make_error(ErrorCode::kDenied, "refresh token revoked");
  if (old.expires_at <= now) return make_error(ErrorCode::kExpired, "refresh token expired");
  if (replacement.grant_id != old.grant_id)
    return make_error(ErrorCode::kInvalidArgument, "replacement belongs to another grant");
  return {};
}

inline Status usable(const Invitation& invitation, int64_t now) {
  if (invitation.accepted_at)
    return make_error(ErrorCode::kReplayed, "the invitation was already accepted");
  if (invitation.revoked_at) return make_error(ErrorCode::kDenied, "the invitation was revoked");
  if (invitation.expires_at <= now)
    return make_error(ErrorCode::kExpired, "the invitation has expired");
  return {};
}

inline Status usable(const EnrollmentLink& link, int64_t now) {
  if (link.used_at) return make_error(ErrorCode::kReplayed, "the link was already used");
  if (link.expires_at <= now) return make_error(ErrorCode::kExpired, "the link has expired");
  return {};
}

inline Status usable(const PasswordReset& reset, int64_t now) {
  if (reset.used_at) return make_error(ErrorCode::kReplayed, "the reset link was already used");
  if (reset.expires_at <= now) return make_error(ErrorCode::kExpired, "the reset link has expired");
  return {};
}

inline Status usable(const ConsentRequest& request, int64_t now) {
  if (request.expires_at <= now) return make_error(ErrorCode::kExpired, "consent request expired");
  return {};
}

}  // namespace keystep::store_rules
