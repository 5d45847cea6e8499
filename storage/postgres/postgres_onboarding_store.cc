// PostgresStore as an OnboardingStore and a ConsentStore: the invitations, enrollment_links,
// consents and consent_requests tables.

#include <string_view>

#include "idp/store/rules.h"
#include "storage/postgres/postgres_rows.h"
#include "storage/postgres/postgres_store.h"

namespace keystep::postgres {
namespace {

constexpr std::string_view kInvitationColumns =
    "SELECT id, account_id, email, role, token_hash, invited_by, created_at, expires_at, "
    "accepted_at, revoked_at, user_id FROM invitations ";

Invitation read_invitation(const Row& r) {
  return Invitation{r.int64(0), r.int64(1), r.text(2),  r.text(3),  r.text(4),  r.int64(5),
                    r.int64(6), r.int64(7), r.int64(8), r.int64(9), r.int64(10)};
}

constexpr std::string_view kLinkColumns =
    "SELECT token_hash, user_id, created_at, expires_at, used_at FROM enrollment_links ";

EnrollmentLink read_link(const Row& r) {
  return EnrollmentLink{r.text(0), r.int64(1), r.int64(2), r.int64(3), r.int64(4)};
}

constexpr std::string_view kConsentColumns =
    "SELECT user_id, client_id, scope, granted_at FROM consents ";

Consent read_consent(const Row& r) {
  return Consent{r.int64(0), r.text(1), r.text(2), r.int64(3)};
}

constexpr std::string_view kRequestColumns =
    "SELECT id, sid, user_id, request_json, expires_at FROM consent_requests ";

ConsentRequest read_request(const Row& r) {
  return ConsentRequest{r.text(0), r.text(1), r.int64(2), r.text(3), r.int64(4)};
}

// The one row `query` selects read with `read`, or kNotFound naming `what`.
template <class Read>
auto one_row(Result<Rows> rows, Read read, const std::string& what)
    -> Result<decltype(read(std::declval<Row>()))> {
  if (!rows) return rows.error();
  if (rows->empty()) return not_found(what);
  return read(Row{*rows, 0});
}

}  // namespace

Status insert_enrollment_link(Connection& c, const EnrollmentLink& link) {
  auto rows = c.query(
      "INSERT INTO enrollment_links (token_hash, user_id, created_at, expires_at, used_at) "
      "VALUES ($1, $2, $3, $4, 0)",
      {link.token_hash, link.user_id, link.created_at, link.expires_at});
  if (!rows) {
    if (rows.error().code == ErrorCode::kNotFound)
      return not_found("user " + std::to_string(link.user_id));
    return rows.error();
  }
  return {};
}

Result<Invitation> PostgresStore::create_invitation(const Invitation& invitation,
                                                    const std::vector<OutgoingMail>& mail) {
  return in_transaction(pool_, [&](Connection& c) -> Result<Invitation> {
    // The account's row is locked so two invitations of one email racing on two nodes
    // replace each other in order instead of colliding on the open-invitation index.
    auto account = c.query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
                           {invitation.account_id});
    if (!account) return account.error();
    auto member = c.query("SELECT 1 FROM users WHERE account_id = $1 AND email = $2",
                          {invitation.account_id, invitation.email});
    if (!member) return member.error();
    if (!member->empty())
      return make_error(ErrorCode::kAlreadyExists, invitation.email + " is already a member");
    auto role = c.query("SELECT 1 FROM roles WHERE name = $1", {invitation.role});
    if (!role) return role.error();
    if (role->empty())
      return make_error(ErrorCode::kInvalidArgument, "unknown role '" + invitation.role + "'");
    if (account->empty()) return not_found("account " + std::to_string(invitation.account_id));
    auto replace = c.query(
        "UPDATE invitations SET revoked_at = $1 WHERE account_id = $2 AND email = $3 AND "
        "accepted_at = 0 AND revoked_at = 0",
        {invitation.created_at, invitation.account_id, invitation.email});
    if (!replace) return replace.error();
    auto rows = c.query(
        "INSERT INTO invitations (account_id, email, role, token_hash, invited_by, created_at, "
        "expires_at, accepted_at, revoked_at, user_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0) RETURNING id",
        {invitation.account_id, invitation.email, invitation.role, invitation.token_hash,
         invitation.invited_by, invitation.created_at, invitation.expires_at});
    if (!rows) return rows.error();
    Invitation created = invitation;
    created.id = rows->int64(0, 0);
    created.accepted_at = created.revoked_at = created.user_id = 0;
    for (const auto& message : mail) {
      if (auto queued = insert_mail(c, message); !queued) return queued.error();
    }
    return created;
  });
}

Result<std::vector<Invitation>> PostgresStore::invitations(int64_t account_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<Invitation>> {
    auto rows =
        c.query(sql(kInvitationColumns, "WHERE account_id = $1 ORDER BY id DESC"), {account_id});
    if (!rows) return rows.error();
    return read_all<Invitation>(*rows, read_invitation);
  });
}

Result<Page<Invitation>> PostgresStore::invitations_page(int64_t account_id, PageRequest page) {
  return with_connection(pool_, [&](Connection& c) -> Result<Page<Invitation>> {
    auto rows = c.query(
        "SELECT id, account_id, email, role, token_hash, invited_by, created_at, expires_at, "
        "accepted_at, revoked_at, user_id, COUNT(*) OVER () FROM invitations "
        "WHERE account_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        {account_id, page.limit, page.offset});
    if (!rows) return rows.error();
    return page_of<Invitation>(c, *rows, read_invitation, 11,
                               "SELECT COUNT(*) FROM invitations WHERE account_id = $1",
                               account_id);
  });
}

Result<Invitation> PostgresStore::invitation_by_token(const std::string& token_hash) {
  return with_connection(pool_, [&](Connection& c) {
    return one_row(c.query(sql(kInvitationColumns, "WHERE token_hash = $1"), {token_hash}),
                   read_invitation, "invitation");
  });
}

Status PostgresStore::revoke_invitation(int64_t account_id, int64_t invitation_id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND "
        "accepted_at = 0 AND revoked_at = 0",
        {now, invitation_id, account_id});
    if (!rows) return rows.error();
    if (rows->affected() == 0) return not_found("open invitation " + std::to_string(invitation_id));
    return {};
  });
}

Result<User> PostgresStore::accept_invitation(const std::string& token_hash, const User& user,
                                              int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Result<User> {
    auto invitation = one_row(
        c.query(sql(kInvitationColumns, "WHERE token_hash = $1 FOR UPDATE"), {token_hash}),
        read_invitation, "invitation");
    if (!invitation) return invitation.error();
    if (Status s = store_rules::usable(*invitation, now); !s) return s.error();
    User member = user;
    member.account_id = invitation->account_id;
    member.email = invitation->email;
    member.role = invitation->role;
    member.email_verified = true;
    auto created = insert_user(c, member);
    if (!created) return created.error();
    auto rows = c.query("UPDATE invitations SET accepted_at = $1, user_id = $2 WHERE id = $3",
                        {now, created->id, invitation->id});
    if (!rows) return rows.error();
    return created;
  });
}

Result<EnrollmentLink> PostgresStore::enrollment_link(const std::string& token_hash) {
  return with_connection(pool_, [&](Connection& c) {
    return one_row(c.query(sql(kLinkColumns, "WHERE token_hash = $1"), {token_hash}), read_link,
                   "enrollment link");
  });
}

Result<EnrollmentLink> PostgresStore::use_enrollment_link(const std::string& token_hash,
                                                          int64_t now) {
  return in_transaction(pool_, [&](Connection& c) -> Result<EnrollmentLink> {
    auto link = one_row(c.query(sql(kLinkColumns, "WHERE token_hash = $1 FOR UPDATE"),
                                {token_hash}),
                        read_link, "enrollment link");
    if (!link) return link.error();
    if (Status s = store_rules::usable(*link, now); !s) return s.error();
    auto use = c.query("UPDATE enrollment_links SET used_at = $1 WHERE token_hash = $2",
                       {now, token_hash});
    if (!use) return use.error();
    link->used_at = now;
    return link;
  });
}

// ---- ConsentStore

Result<Consent> PostgresStore::consent(int64_t user_id, const std::string& client_id) {
  return with_connection(pool_, [&](Connection& c) {
    return one_row(c.query(sql(kConsentColumns, "WHERE user_id = $1 AND client_id = $2"),
                           {user_id, client_id}),
                   read_consent, "consent");
  });
}

Status PostgresStore::put_consent(const Consent& consent) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
        "granted_at = excluded.granted_at",
        {consent.user_id, consent.client_id, consent.scope, consent.granted_at});
    if (!rows) {
      if (rows.error().code == ErrorCode::kNotFound)
        return not_found("user or client of the consent");
      return rows.error();
    }
    return {};
  });
}

Result<std::vector<Consent>> PostgresStore::consents_of_user(int64_t user_id) {
  return with_connection(pool_, [&](Connection& c) -> Result<std::vector<Consent>> {
    auto rows = c.query(sql(kConsentColumns, "WHERE user_id = $1 ORDER BY client_id"), {user_id});
    if (!rows) return rows.error();
    return read_all<Consent>(*rows, read_consent);
  });
}

Status PostgresStore::revoke_consent(int64_t user_id, const std::string& client_id) {
  return in_transaction(pool_, [&](Connection& c) -> Status {
    auto del = c.query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2",
                       {user_id, client_id});
    if (!del) return del.error();
    if (del->affected() == 0) return not_found("consent");
    // What the consent allowed ends with it: every grant of the user to the client, and their
    // tokens.
    for (const char* text :
         {"UPDATE tokens SET revoked = TRUE WHERE grant_id IN (SELECT id FROM grants WHERE "
          "user_id = $1 AND client_id = $2)",
          "UPDATE grants SET revoked = TRUE WHERE user_id = $1 AND client_id = $2"}) {
      auto rows = c.query(text, {user_id, client_id});
      if (!rows) return rows.error();
    }
    return {};
  });
}

Status PostgresStore::create_consent_request(const ConsentRequest& request) {
  return with_connection(pool_, [&](Connection& c) -> Status {
    auto rows = c.query(
        "INSERT INTO consent_requests (id, sid, user_id, request_json, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        {request.id, request.sid, request.user_id, request.request_json, request.expires_at});
    if (!rows) {
      if (rows.error().code == ErrorCode::kNotFound)
        return not_found("user of the consent request");
      return rows.error();
    }
    return {};
  });
}

Result<ConsentRequest> PostgresStore::consent_request(const std::string& id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<ConsentRequest> {
    auto request = one_row(c.query(sql(kRequestColumns, "WHERE id = $1"), {id}), read_request,
                           "consent request");
    if (!request) return request.error();
    if (Status s = store_rules::usable(*request, now); !s) return s.error();
    return request;
  });
}

Result<ConsentRequest> PostgresStore::take_consent_request(const std::string& id, int64_t now) {
  return with_connection(pool_, [&](Connection& c) -> Result<ConsentRequest> {
    // One DELETE ... RETURNING: of two nodes taking the same request, one gets it.
    auto request = one_row(c.query("DELETE FROM consent_requests WHERE id = $1 RETURNING id, "
                                   "sid, user_id, request_json, expires_at",
                                   {id}),
                           read_request, "consent request");
    if (!request) return request.error();
    if (Status s = store_rules::usable(*request, now); !s) return s.error();
    return request;
  });
}

}  // namespace keystep::postgres
