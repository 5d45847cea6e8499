#pragma once
// Storage for bringing members in and getting them enrolled: invitations (an admin invites an
// email address; the invitation link leads to signup) and enrollment links (the safer
// enforcement email: a single-use, expiring link instead of the TOTP secret). Same contract
// as idp/store/store.h: thread-safe, each method atomic, kNotFound / kAlreadyExists /
// kUnavailable / kInternal. Only SHA-256 hashes of the link tokens are stored. Enrollment
// links are stored by AdminStore::update_account_mfa, with the change that sends them.

#include <cstdint>
#include <string>
#include <vector>

#include "idp/store/mail_store.h"
#include "idp/store/model.h"
#include "base/result.h"

namespace keystep {

struct Invitation {
  int64_t id = 0;
  int64_t account_id = 0;
  std::string email;  // normalized
  std::string role;   // the role the new member gets
  std::string token_hash;
  int64_t invited_by = 0;  // user id of the admin
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t accepted_at = 0;  // 0 while not accepted
  int64_t revoked_at = 0;   // 0 while not revoked (also set when replaced by a new one)
  int64_t user_id = 0;      // the member it created, once accepted

  bool pending(int64_t now) const {
    return accepted_at == 0 && revoked_at == 0 && now < expires_at;
  }
};

struct EnrollmentLink {
  std::string token_hash;
  int64_t user_id = 0;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t used_at = 0;  // 0 while unused
};

class OnboardingStore {
 public:
  virtual ~OnboardingStore() = default;

  // In one transaction: revokes the account's earlier invitations of the same email that are
  // neither accepted nor revoked (a new invitation replaces an expired one), stores
  // `invitation` and queues `mail`. kAlreadyExists when the email is already a member of the
  // account; kNotFound for an unknown account; kInvalidArgument for an unknown role.
  // On success returns the invitation with its id.
  virtual Result<Invitation> create_invitation(const Invitation& invitation,
                                               const std::vector<OutgoingMail>& mail) = 0;
  // The account's invitations, newest first.
  virtual Result<std::vector<Invitation>> invitations(int64_t account_id) = 0;
  virtual Result<Page<Invitation>> invitations_page(int64_t account_id, PageRequest page) = 0;
  // kNotFound for an unknown token.
  virtual Result<Invitation> invitation_by_token(const std::string& token_hash) = 0;
  // kNotFound when it is not in the account, or already accepted or revoked.
  virtual Status revoke_invitation(int64_t account_id, int64_t invitation_id, int64_t now) = 0;
  // Signup, in one transaction: checks the invitation is pending at `now`, creates `user`
  // (its account, email and role are the invitation's, and its email is verified: the
  // invitation's link reached that address) and marks the invitation accepted.
  // kNotFound for an unknown token, kReplayed when already accepted, kDenied when revoked,
  // kExpired past expires_at, kAlreadyExists when the email became a member meanwhile.
  // On success returns the new user with its id.
  virtual Result<User> accept_invitation(const std::string& token_hash, const User& user,
                                         int64_t now) = 0;

  // kNotFound for an unknown token (used, expired or not: callers check).
  virtual Result<EnrollmentLink> enrollment_link(const std::string& token_hash) = 0;
  // Single use, compare-and-set: marks the link used at `now` if it is unused and unexpired.
  // kNotFound unknown, kReplayed already used, kExpired past expires_at.
  virtual Result<EnrollmentLink> use_enrollment_link(const std::string& token_hash,
                                                     int64_t now) = 0;
};

}  // namespace keystep
