#pragma once
// The admin API (docs/admin-api.md, docs/openapi.yaml): an account's authentication
// settings, its members' 2FA state and second factors, the lost-device reset and the audit
// log, plus API tokens. http/ parses a request into one call here and sends the ApiOutcome.
//
// Authentication: an API token (Authorization: Bearer) or the admin's browser session, with
// the profile's CSRF token in X-CSRF-Token for changes. Authorization: reading needs
// auth_settings.view, changing needs auth_settings.edit; another account is invisible (404).
//
// Thread-safety: every method may be called concurrently.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/crypto/random.h"
#include "idp/directory/directory.h"
#include "idp/mail/mail.h"
#include "idp/mail/notices.h"
#include "idp/store/mail_store.h"
#include "idp/oidc/provider.h"
#include "idp/store/store.h"
#include "idp/login/two_factor.h"

namespace keystep {

// How long the links in emails work.
inline constexpr int64_t kEnrollmentLinkTtl = 72 * 3600;
inline constexpr int64_t kInvitationTtl = 7 * 86400;
// The longest code a confirmation body may carry (a token's output is far shorter).
inline constexpr size_t kMaxConfirmationCode = 256;

// Lists (members, invitations, API tokens) come in pages: `limit` rows (default
// kDefaultPageSize, at most kMaxPageSize) of page `page` (1-based, at most kMaxPageNumber).
inline constexpr int64_t kDefaultPageSize = 50;
inline constexpr int64_t kMaxPageSize = 500;
inline constexpr int64_t kMaxPageNumber = 1'000'000;

// An API token lives forever unless created with an expiry, from kMinApiTokenLifetime to
// kMaxApiTokenLifetime seconds ahead.
inline constexpr int64_t kMinApiTokenLifetime = 60;
inline constexpr int64_t kMaxApiTokenLifetime = 730 * 86400;
// The expiry (Unix seconds, 0 for never) of a token created at `now` with at most one of
// `expires_in` (seconds) and `expires_at` (Unix seconds); kInvalidArgument outside the limits.
Result<int64_t> api_token_expiry(int64_t now, std::optional<int64_t> expires_in,
                                 std::optional<int64_t> expires_at);

// Who is calling, once authenticated.
struct Caller {
  User user;
  bool by_session = false;  // the browser session (changes then need the CSRF token)
};

class AdminApi {
 public:
  // `notices` tells members of the factors an administrator added or removed.
  AdminApi(const IdpConfig& config, Store& store, FactorNotifier& notices, Directory& directory,
           TwoFactor& two_factor, Random& random, const Clock& clock)
      : config_(config),
        store_(store),
        notices_(notices),
        directory_(directory),
        two_factor_(two_factor),
        random_(random),
        clock_(clock) {}

  // From the Authorization header, or else the session cookie; `csrf` is X-CSRF-Token.
  // On failure `failure` is the 401 (or 403 for a bad CSRF token on a change) to send.
  std::optional<Caller> authenticate(const std::optional<std::string>& authorization,
                                     const std::optional<std::string>& session_cookie,
                                     const std::optional<std::string>& csrf, bool changes,
                                     ApiOutcome& failure);

  ApiOutcome get_settings(const Caller& caller, const std::string& account);
  // `body` is the raw request body (JSON).
  ApiOutcome put_settings(const Caller& caller, const std::string& account, const std::string& body,
                          const std::string& address);
  // One page of the account's members by email; `query` has `page` and `limit`. 400 for a bad
  // page or limit.
  ApiOutcome members(const Caller& caller, const std::string& account, const Params& query);
  // Lost device: removes the member's second factors, turns their own setting off, revokes
  // every grant of theirs (with its access and refresh tokens) and every API token of theirs,
  // ends their sessions and emails them, all at once. The 200 answer says what it ended
  // (sessions_ended, grants_revoked, api_tokens_revoked: the tokens, as the list shows them)
  // and email_queued (false when their stored address can receive no email).
  ApiOutcome reset_member(const Caller& caller, const std::string& account,
                          const std::string& user_id, const std::string& address);
  // DELETE …/members/{id}: removes the member from the account for good: every session of
  // theirs ends, every grant (with its access and refresh tokens) is revoked, the
  // applications they signed in to are sent back-channel logout notices, their second
  // factors, API tokens and consents go, they are emailed and it is audited
  // (member.removed, under the member's id). 200 {removed, user_id, email, sessions_ended,
  // grants_revoked, logouts_queued, email_queued}. 409 conflict for the caller themself or the
  // account's last admin; 404 for a member of another account.
  ApiOutcome remove_member(const Caller& caller, const std::string& account,
                           const std::string& user_id, const std::string& address);
  // GET …/clients: every application of the server (clients are server-level) with the
  // account's policy for it: {"clients": [client_json]}, by client_id. GET …/clients/{id}:
  // one, 404 for an unknown client.
  ApiOutcome clients(const Caller& caller, const std::string& account);
  ApiOutcome client(const Caller& caller, const std::string& account,
                    const std::string& client_id);
  // PUT …/clients/{id} {"require_two_factor": bool}: whether the account's members need
  // two-factor authentication to sign in to the client (its own setting, `keystep client
  // update --require-2fa`, applies to every account and is not changed here), audited
  // (client.two_factor_required / client.two_factor_not_required). 200 with the client as
  // GET shows it; 400 for another body; 404 for an unknown client.
  ApiOutcome put_client(const Caller& caller, const std::string& account,
                        const std::string& client_id, const std::string& body,
                        const std::string& address);
  // PUT …/members/{id}/display-name {"display_name": "…"}: sets the name the member goes by
  // (the profile scope's name; "" clears it), audited (member.display_name_set). 200 {id,
  // email, display_name}; 400 for a name check_display_name refuses (over 128 bytes, control
  // characters, only spaces); 404 for a member of another account.
  ApiOutcome set_display_name(const Caller& caller, const std::string& account,
                              const std::string& user_id, const std::string& body,
                              const std::string& address);
  // The member's credentials, second factors and recovery codes, confirmed and pending, in
  // the order they were added: {user_id, email, credentials: [{id, provider, type (the
  // provider's display name), label (the type when none was given), created_at, last_used_at
  // (0: never), confirmed, possibly_cloned (the login flow saw its counter go backwards),
  // details (MfaProvider::public_details: a security key's model and attestation, a token's
  // identifier; {} for a provider without)}]}, never a secret, params or state. 404 for a
  // member of another account.
  ApiOutcome credentials(const Caller& caller, const std::string& account,
                         const std::string& user_id);
  // GET …/credentials/{id}: one credential of the member as the list shows it. 404 for a
  // credential or member not of the account.
  ApiOutcome credential(const Caller& caller, const std::string& account,
                        const std::string& user_id, const std::string& credential_id);
  // POST …/credentials {"provider": id, …}: registers a second factor for the member, made by
  // the provider's MfaProvider::register_for from the other members under the account's
  // settings of it (TOTP: {"secret": base32}). The credential is confirmed at once, sealed at
  // rest, gets no recovery codes and leaves the member's own setting alone; the member is
  // emailed and the change audited (mfa.credential_registered_by_admin). 201 with the
  // credential as the list shows it and email_queued; 400 for a body the provider refuses
  // or a provider that is no second factor of this server, 403 method_not_allowed for one
  // the account does not allow, 409 when the member holds the cap of that provider
  // (IdpConfig::credential_caps) or the key is already registered.
  ApiOutcome register_credential(const Caller& caller, const std::string& account,
                                 const std::string& user_id, const std::string& body,
                                 const std::string& address);
  // POST …/credentials {"provider": id, …} WITHOUT "secret", for a provider that begins
  // registrations for an administrator's tool (MfaProvider::begin_registration_for, given
  // the member's confirmed credentials of the provider; YubiKey: {"provider":
  // "yubikey_hotp", "label"?, "digits"?: 6|8, "token_id"?}; security key: {"provider":
  // "webauthn", "label"?}): the server draws the key or the challenge and stores a pending
  // (unconfirmed) credential expiring after kPendingRegistrationTtl, replacing the member's
  // other pending one of that provider. 201 with the credential as the list shows it
  // (confirmed false, expires_at) and the provider's client options (YubiKey: secret_hex,
  // secret_base32, digits, token_id, the only time the secret is ever sent; security key:
  // ceremony, the PublicKeyCredentialCreationOptions). 400, 403 and 409 as above; nothing
  // is emailed yet.
  //
  // POST …/credentials/{id}/confirm {"code": what the token typed} or {"response": a
  // security key's registration response (PublicKeyCredential JSON)}: confirms a pending
  // credential through its provider (finish_enrollment) under the account's settings, as a
  // registration by an administrator (no recovery codes, the member's own setting alone,
  // emailed, audited mfa.credential_registered_by_admin). 200 with the credential as the
  // list shows it and email_queued; 400 invalid_request for another body, 400 invalid_code
  // for a wrong, malformed or refused code or response (audited
  // mfa.credential_confirmation_refused), 404 for a credential or member not of the account,
  // 409 already_confirmed, 409 conflict (cap, key registered meanwhile, changed meanwhile),
  // 410 registration_expired past its expires_at or the provider's own deadline (a security
  // key's ceremony window).
  ApiOutcome confirm_credential(const Caller& caller, const std::string& account,
                                const std::string& user_id, const std::string& credential_id,
                                const std::string& body, const std::string& address);
  // DELETE …/credentials/{id}: removes one credential of the member, emails them and audits
  // it (mfa.credential_removed_by_admin); a pending one (a registration the tool could not
  // finish) is removed without an email. 200 {removed, id, user_id, email_queued}. 409 when
  // it is the member's last second factor (reset_member is the way to remove that: it signs
  // them out as well) or another request changed it meanwhile; 404 for a credential or member
  // not of the account.
  ApiOutcome remove_credential(const Caller& caller, const std::string& account,
                               const std::string& user_id, const std::string& credential_id,
                               const std::string& address);
  // Newest first; `before` (an event id) pages back, `limit` 1-500 (default 50), `event` and
  // `user` filter.
  ApiOutcome audit_events(const Caller& caller, const std::string& account, const Params& query);

  // POST …/invitations {"email", "role"?}: invites an email address (201; 200 with the open
  // invitation when repeated; 409 already_member). The invitation email carries a single-use
  // signup link, expiring after kInvitationTtl.
  ApiOutcome invite(const Caller& caller, const std::string& account, const std::string& body,
                    const std::string& address);
  // One page of the invitations, newest first; `query` as for members.
  ApiOutcome invitations(const Caller& caller, const std::string& account, const Params& query);
  ApiOutcome revoke_invitation(const Caller& caller, const std::string& account,
                               const std::string& invitation_id, const std::string& address);

  // One page of the account's API tokens (never the tokens themselves), oldest first, revoked
  // and expired ones too, each with its status (active, expired or revoked); `query` as for
  // members.
  ApiOutcome tokens(const Caller& caller, const std::string& account, const Params& query);
  // `body` is {"name": "…"} (1-64 printable characters), optionally with "expires_in"
  // (seconds) or "expires_at" (Unix seconds) within api_token_expiry's limits. The new token
  // acts for the caller; the 201 answer carries it once ("token"), only its hash is stored.
  ApiOutcome create_token(const Caller& caller, const std::string& account, const std::string& body,
                          const std::string& address);
  // 404 when the token is not the account's or already revoked.
  ApiOutcome revoke_token(const Caller& caller, const std::string& account,
                          const std::string& token_id, const std::string& address);

  // Called after a change queued mail (serve wakes its mail worker with it).
  void set_on_mail_queued(std::function<void()> callback) { on_mail_queued_ = std::move(callback); }
  // Called after a change that ended sessions and so may have queued back-channel logouts
  // (idp/oidc/backchannel_logout.h), e.g. to wake their worker. Set once, before serving.
  void set_on_sessions_ended(std::function<void()> callback) {
    on_sessions_ended_ = std::move(callback);
  }

  // For `keystep token create`: a new token for the account's user, expiring after
  // `expires_in` seconds when given; the token itself is returned once and only its hash is
  // stored.
  Result<std::string> create_token(const std::string& account, const std::string& email,
                                   const std::string& name,
                                   std::optional<int64_t> expires_in = std::nullopt);

 private:
  // The target account if the caller may act on it with `permission`, else the 404/403.
  std::optional<Account> authorize(const Caller& caller, const std::string& account,
                                   const char* permission, ApiOutcome& failure);
  // The seed's email to a member without 2FA when enforcement starts: the QR code as an
  // inline PNG, the secret key as text and a link to sign in. The secret is made with the
  // settings of `account` as the change will store them; it becomes the member's pending
  // enrollment, which the forced setup at sign-in shows again. Appends the pending credential
  // to store to `pending`.
  Result<OutgoingMail> enforcement_mail(const Account& account, const User& member,
                                        std::vector<MfaCredential>& pending);
  // The safer enforcement email (enrollment_email "link"): a single-use enrollment link that
  // expires after kEnrollmentLinkTtl, never the secret. Appends the link to store to `links`.
  Result<OutgoingMail> enrollment_link_mail(const Account& account, const User& member,
                                            std::vector<EnrollmentLink>& links);
  std::string enforcement_key(const Account& account, const User& member);
  Result<OutgoingMail> invitation_mail(const Account& account, const Invitation& invitation,
                                       const std::string& token);
  nlohmann::json invitation_json(const Invitation& invitation) const;
  // A token as the list and the reset summary show it (never its hash).
  nlohmann::json token_json(const ApiToken& token, const std::string& user_email) const;
  Result<OutgoingMail> reset_mail(const Account& account, const User& member);
  Result<OutgoingMail> removal_mail(const Account& account, const User& member);
  // A client as GET …/clients shows it for `account`, whose policy lists `required`: client_id,
  // name (shown_name), display_name, logo_uri, home_uri, required_by_client (its own
  // setting), required_by_account, require_two_factor (either: what members get).
  nlohmann::json client_json(const Client& client, const std::vector<std::string>& required) const;
  // The member of `account` named by `user_id`, or the 404 (or 503) to send.
  std::optional<User> member_of(const Account& account, const std::string& user_id,
                                ApiOutcome& failure);
  // The credential of `member` named by `credential_id`, or the 404 (or 503) to send.
  std::optional<MfaCredential> credential_of(const User& member, const std::string& credential_id,
                                             ApiOutcome& failure);
  // A credential as the list shows it: never a secret, params or state; a pending
  // registration's expires_at.
  nlohmann::json credential_json(const MfaCredential& credential) const;
  // Stores a registration the provider began (the server drew the key) and answers with
  // what programs the token.
  ApiOutcome begin_pending(const Caller& caller, const User& member, const MfaProvider& provider,
                           Enrollment& begun, const std::string& address);
  // Tells `member` that an administrator added or removed `credential` (idp/mail/notices.h,
  // the notice the member's own changes send too); false when their address can receive no
  // email or queueing failed (the change stands either way).
  bool notify_factor_change(const Account& account, const User& member,
                            const MfaCredential& credential, bool added,
                            const std::string& address);
  Result<OutgoingMail> outgoing(const std::string& dedupe_key, const User& to, MailContent content);
  nlohmann::json settings_json(const Account& account) const;
  // A new token for `user`: the token itself, shown once, and the stored record.
  Result<std::pair<std::string, ApiToken>> issue_token(const Account& account, const User& user,
                                                       const std::string& name, int64_t expires_at);

  const IdpConfig& config_;
  Store& store_;
  FactorNotifier& notices_;
  Directory& directory_;
  TwoFactor& two_factor_;
  Random& random_;
  const Clock& clock_;
  std::function<void()> on_mail_queued_;
  std::function<void()> on_sessions_ended_;
};

}  // namespace keystep
