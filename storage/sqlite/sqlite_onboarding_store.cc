// SqliteStore as an OnboardingStore: the invitations and enrollment_links tables of
// migrations/004_onboarding.sql.

#include <sqlite3.h>

#include <string_view>

#include "idp/store/rules.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/sqlite/statement.h"

namespace keystep::sqlite {
namespace {

constexpr std::string_view kInvitationColumns =
    "SELECT id, account_id, email, role, token_hash, invited_by, created_at, expires_at, "
    "accepted_at, revoked_at, user_id FROM invitations ";

Invitation read_invitation(const Statement& st) {
  return Invitation{st.column_int64(0), st.column_int64(1), st.column_text(2),  st.column_text(3),
                    st.column_text(4),  st.column_int64(5), st.column_int64(6), st.column_int64(7),
                    st.column_int64(8), st.column_int64(9), st.column_int64(10)};
}

constexpr std::string_view kLinkColumns =
    "SELECT token_hash, user_id, created_at, expires_at, used_at FROM enrollment_links ";

EnrollmentLink read_link(const Statement& st) {
  return EnrollmentLink{st.column_text(0), st.column_int64(1), st.column_int64(2),
                        st.column_int64(3), st.column_int64(4)};
}

// The invitation with this token hash, read inside the caller's lock.
Result<Invitation> invitation_locked(sqlite3* db, const std::string& token_hash) {
  auto st = Statement::prepare(db, sql(kInvitationColumns, "WHERE token_hash = ?1"));
  if (!st) return st.error();
  st->bind_text(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("invitation");
  return read_invitation(*st);
}

// The enrollment link with this token hash, read inside the caller's lock.
Result<EnrollmentLink> enrollment_link_locked(sqlite3* db, const std::string& token_hash) {
  auto st = Statement::prepare(db, sql(kLinkColumns, "WHERE token_hash = ?1"));
  if (!st) return st.error();
  st->bind_text(1, token_hash);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return not_found("enrollment link");
  return read_link(*st);
}

Result<bool> is_member_locked(sqlite3* db, int64_t account_id, const std::string& email) {
  auto st = Statement::prepare(db, "SELECT 1 FROM users WHERE account_id = ?1 AND email = ?2");
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_text(2, email);
  return st->step();
}

}  // namespace

Result<Invitation> SqliteStore::create_invitation(const Invitation& invitation,
                                                  const std::vector<OutgoingMail>& mail) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kImmediate);
  if (!tx) return tx.error();
  auto member = is_member_locked(db_, invitation.account_id, invitation.email);
  if (!member) return member.error();
  if (*member)
    return make_error(ErrorCode::kAlreadyExists, invitation.email + " is already a member");
  auto role = Statement::prepare(db_, "SELECT 1 FROM roles WHERE name = ?1");
  if (!role) return role.error();
  role->bind_text(1, invitation.role);
  auto role_row = role->step();
  if (!role_row) return role_row.error();
  if (!*role_row)
    return make_error(ErrorCode::kInvalidArgument, "unknown role '" + invitation.role + "'");
  auto replace = Statement::prepare(
      db_,
      "UPDATE invitations SET revoked_at = ?1 WHERE account_id = ?2 AND email = ?3 AND "
      "accepted_at = 0 AND revoked_at = 0");
  if (!replace) return replace.error();
  replace->bind_int64(1, invitation.created_at)
      .bind_int64(2, invitation.account_id)
      .bind_text(3, invitation.email);
  if (Status s = replace->run(); !s) return s.error();
  auto st = Statement::prepare(
      db_,
      "INSERT INTO invitations (account_id, email, role, token_hash, invited_by, "
      "created_at, expires_at, accepted_at, revoked_at, user_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0)");
  if (!st) return st.error();
  st->bind_int64(1, invitation.account_id)
      .bind_text(2, invitation.email)
      .bind_text(3, invitation.role)
      .bind_text(4, invitation.token_hash)
      .bind_int64(5, invitation.invited_by)
      .bind_int64(6, invitation.created_at)
      .bind_int64(7, invitation.expires_at);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return not_found("account " + std::to_string(invitation.account_id));
    return s.error();
  }
  Invitation created = invitation;
  created.id = sqlite3_last_insert_rowid(db_);
  created.accepted_at = created.revoked_at = created.user_id = 0;
  for (const auto& message : mail) {
    if (auto queued = insert_mail_locked(message); !queued) return queued.error();
  }
  if (Status s = tx->commit(); !s) return s.error();
  return created;
}

Result<std::vector<Invitation>> SqliteStore::invitations(int64_t account_id) {
  std::lock_guard lock(mu_);
  auto st =
      Statement::prepare(db_, sql(kInvitationColumns, "WHERE account_id = ?1 ORDER BY id DESC"));
  if (!st) return st.error();
  st->bind_int64(1, account_id);
  std::vector<Invitation> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read_invitation(*st));
  }
}

Result<Page<Invitation>> SqliteStore::invitations_page(int64_t account_id, PageRequest page) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kDeferred);
  if (!tx) return tx.error();
  auto st = Statement::prepare(
      db_, sql(kInvitationColumns, "WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"));
  if (!st) return st.error();
  st->bind_int64(1, account_id).bind_int64(2, page.limit).bind_int64(3, page.offset);
  Page<Invitation> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.items.push_back(read_invitation(*st));
  }
  auto total = count_locked("SELECT COUNT(*) FROM invitations WHERE account_id = ?1", account_id);
  if (!total) return total.error();
  out.total = *total;
  if (Status s = tx->commit(); !s) return s.error();
  return out;
}

Result<Invitation> SqliteStore::invitation_by_token(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  return invitation_locked(db_, token_hash);
}

Status SqliteStore::revoke_invitation(int64_t account_id, int64_t invitation_id, int64_t now) {
  std::lock_guard lock(mu_);
  auto st = Statement::prepare(
      db_,
      "UPDATE invitations SET revoked_at = ?1 WHERE id = ?2 AND account_id = ?3 AND "
      "accepted_at = 0 AND revoked_at = 0");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, invitation_id).bind_int64(3, account_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes64(db_) == 0)
    return not_found("open invitation " + std::to_string(invitation_id));
  return {};
}

Result<User> SqliteStore::accept_invitation(const std::string& token_hash, const User& user,
                                            int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kImmediate);
  if (!tx) return tx.error();
  auto invitation = invitation_locked(db_, token_hash);
  if (!invitation) return invitation.error();
  if (Status s = store_rules::usable(*invitation, now); !s) return s.error();
  User member = user;
  member.account_id = invitation->account_id;
  member.email = invitation->email;
  member.role = invitation->role;
  member.email_verified = true;
  auto created = insert_user_locked(member);
  if (!created) return created.error();
  auto st = Statement::prepare(
      db_, "UPDATE invitations SET accepted_at = ?1, user_id = ?2 WHERE id = ?3");
  if (!st) return st.error();
  st->bind_int64(1, now).bind_int64(2, created->id).bind_int64(3, invitation->id);
  if (Status s = st->run(); !s) return s.error();
  if (Status s = tx->commit(); !s) return s.error();
  return created;
}

Status SqliteStore::insert_enrollment_link_locked(const EnrollmentLink& link) {
  auto st = Statement::prepare(
      db_,
      "INSERT INTO enrollment_links (token_hash, user_id, created_at, expires_at, used_at) "
      "VALUES (?1, ?2, ?3, ?4, 0)");
  if (!st) return st.error();
  st->bind_text(1, link.token_hash)
      .bind_int64(2, link.user_id)
      .bind_int64(3, link.created_at)
      .bind_int64(4, link.expires_at);
  if (Status s = st->run(); !s) {
    if (s.error().code == ErrorCode::kNotFound)
      return not_found("user " + std::to_string(link.user_id));
    return s;
  }
  return {};
}

Result<EnrollmentLink> SqliteStore::enrollment_link(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  return enrollment_link_locked(db_, token_hash);
}

Result<EnrollmentLink> SqliteStore::use_enrollment_link(const std::string& token_hash,
                                                        int64_t now) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_, Transaction::Mode::kImmediate);
  if (!tx) return tx.error();
  auto found = enrollment_link_locked(db_, token_hash);
  if (!found) return found.error();
  EnrollmentLink link = *found;
  if (Status s = store_rules::usable(link, now); !s) return s.error();
  auto use = Statement::prepare(
      db_, "UPDATE enrollment_links SET used_at = ?1 WHERE token_hash = ?2 AND used_at = 0");
  if (!use) return use.error();
  use->bind_int64(1, now).bind_text(2, token_hash);
  if (Status s = use->run(); !s) return s.error();
  if (Status s = tx->commit(); !s) return s.error();
  link.used_at = now;
  return link;
}

}  // namespace keystep::sqlite
