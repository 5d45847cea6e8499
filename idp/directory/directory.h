#pragma once
// Administration of accounts, users and OIDC clients, with the validation that keeps bad
// input out of the store. Used by the command line now and by the admin API later.

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto/password.h"
#include "base/crypto/random.h"
#include "base/result.h"
#include "idp/store/store.h"

namespace keystep {

// Client secrets are random strings of at least this many characters (e.g. `openssl rand
// -base64 32`). Being high-entropy, they are stored as salted SHA-256, not Argon2id, so the
// token endpoint stays fast.
inline constexpr size_t kMinClientSecretLength = 32;

struct NewClient {
  std::string client_id;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::optional<std::string> secret;  // absent: a public client
};

class Directory {
 public:
  Directory(Store& store, const PasswordHasher& hasher, Random& random, const Clock& clock)
      : store_(store), hasher_(hasher), random_(random), clock_(clock) {}

  // name: 1-63 chars of [a-z0-9-], starting with a letter or digit, not digits only. issuer_label defaults to
  // the name; printable, at most 64 characters, no ':' (it prefixes otpauth labels).
  Result<Account> create_account(const std::string& name, const std::string& issuer_label);
  // Email is lower-cased; password 8-1024 bytes.
  Result<User> create_user(const std::string& account_name, const std::string& email,
                           const std::string& password, bool admin);
  Status create_client(const NewClient& client);

  Result<bool> user_has_permission(const User& user, const std::string& permission);

 private:
  Store& store_;
  const PasswordHasher& hasher_;
  Random& random_;
  const Clock& clock_;
};

// A new password (CLI, signup): 8-1024 bytes; kInvalidArgument otherwise.
inline constexpr size_t kMinPasswordLength = 8;
inline constexpr size_t kMaxPasswordLength = 1024;
Status check_new_password(std::string_view password);

// Lower-cases an email address to look it up (login, `keystep token create`), with the
// checks addresses always had (one '@', no spaces or controls, <= 254 bytes), so that a
// member stored before addresses were checked as below can still sign in.
Result<std::string> normalize_email(std::string_view email);
// A new address, before it is stored (user create, invitations): normalize_email, then
// check_email_address (idp/mail/mail.h), the check every recipient of a message passes too.
Result<std::string> normalize_new_email(std::string_view email);

// "sha256$<salt>$<digest>" (base64url) of a client secret, and its constant-time check.
Result<std::string> hash_client_secret(std::string_view secret, Random& random);
bool verify_client_secret(std::string_view stored, std::string_view secret);

}  // namespace keystep
