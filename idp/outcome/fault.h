#pragma once
// Every error Keystep answers a request with, by meaning. The core names the entry; http/
// (http/error_table.h) alone decides its HTTP status and its OAuth `error` string, and a unit
// test walks every entry. One wire name answered with two statuses is two entries
// (kUnknownClient and kInvalidClient), so each entry has exactly one answer.
//
// Errors sent back to a client in a redirect (RFC 6749 §4.1.2.1) are not entries: their
// status is always 302 and their `error` is the protocol's value, written where it is decided.

namespace keystep {

enum class Fault {
  // The request.
  kInvalidRequest,        // malformed or missing parameters, bad input to the admin API
  kUnknownClient,         // /authorize: no such client (shown on a page, never redirected)
  kInvalidClient,         // /token: client authentication failed
  kUnauthorizedClient,    // /revoke: a token issued to another client
  kInvalidGrant,          // a code or refresh token that is unusable for this client
  kInvalidScope,          // a refresh asks for more than was granted
  kUnsupportedGrantType,  // /token: grant_type is neither code nor refresh_token
  kBearerTokenMissing,    // /userinfo without an access token
  kInvalidToken,          // an access, API or metrics token that is not (or no longer) valid
  kInsufficientScope,     // /userinfo with a token lacking openid
  kMetricsTokenRequired,  // /metrics from an address that must send the metrics token
  // Browser forms and sessions.
  kInvalidCsrfToken,  // a form (or admin API change) not sent by our own page
  kInvalidSession,    // a sign-in page opened in another browser (flow cookie mismatch)
  kExpiredLogin,      // an unknown or expired sign-in flow
  kInvalidState,      // a sign-in step that is not expected now, or continued elsewhere
  kLoginRequired,     // the session a second-factor-only flow stood on has ended
  kInsufficientUserAuthentication,  // the session must sign in again at a higher level
  kWrongCredentials,                // a wrong password or code: the page asks again
  kTooManyAttempts,  // throttled or locked out: the page asks again after Retry-After
  // Permissions and two-factor state.
  kForbidden,             // the caller lacks the permission
  kFactorNotAllowed,      // the account does not allow the second factor asked for
  kTwoFactorOff,          // an action that needs two-factor authentication on
  kTwoFactorAlreadyOn,    // turning on what is on already
  kTwoFactorEnforced,     // turning off what the account enforces
  kOwnTwoFactorRequired,  // enforcing 2FA before protecting one's own login
  kTotpRequired,          // enforcing 2FA without the authenticator app allowed
  kConfirmationRequired,  // enforcing 2FA needs "confirm": true
  // Administration and onboarding.
  kNotFound,                 // no such account, member, invitation or token (for this caller)
  kConflict,                 // changed by another request meanwhile
  kAlreadyMember,            // inviting an existing member
  kInvitationPending,        // inviting an address with an open invitation in another role
  kInvitationNotFound,       // an invitation link that is not ours
  kInvitationUndeliverable,  // an invitation whose address cannot receive email
  kInvitationUsed,
  kInvitationExpired,  // expired or withdrawn
  kLinkNotFound,       // an enrollment or password reset link that is not ours
  kLinkUsed,
  kLinkExpired,
  kWrongCode,            // an administrator's confirmation of a key with a wrong or malformed code
  kAlreadyConfirmed,     // confirming a credential that is confirmed already
  kRegistrationExpired,  // confirming a pending registration past its expiry
  // The server.
  kServerError,             // an invariant failed (randomness, a damaged stored request)
  kTemporarilyUnavailable,  // the store (or a worker) failed: the client may retry
  kEnd                      // not an entry: the count, for the table's test
};

}  // namespace keystep
