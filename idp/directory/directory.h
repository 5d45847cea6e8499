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
#include "idp/outcome/outcome.h"
#include "idp/store/store.h"

namespace keystep {

// Client secrets are random strings of at least this many characters (generate_client_secret,
// `keystep client create --generate-secret`). Being high-entropy, they are stored as salted
// SHA-256, not Argon2id, so the token endpoint stays fast.
inline constexpr size_t kMinClientSecretLength = 32;

// A new client secret: 32 random bytes, base64url without padding (43 characters of
// A-Z a-z 0-9 - _), so it needs no encoding in a form, a URL or Basic credentials (some
// clients send a '+' of standard Base64 unencoded, RFC 6749 §2.3.1 notwithstanding).
Result<std::string> generate_client_secret(Random& random);

struct NewClient {
  std::string client_id;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
  std::optional<std::string> secret;  // absent: a public client
  // Origins allowed to call /token and /userinfo from script besides those of the redirect
  // URIs (idp/directory/origin.h); normalized and de-duplicated when stored.
  std::vector<std::string> allowed_origins{};
  GrantPolicy grants{};  // checked by check_grant_policy
  // Every sign-in needs a second factor; back-channel logout (Client's fields).
  bool require_two_factor = false;
  std::string backchannel_logout_uri{};  // "" for none; checked by check_web_uri
  bool backchannel_logout_session_required = false;
  // How people see it (Client's fields): display_name checked by check_display_name,
  // logo_uri and home_uri by check_web_uri; "" for none.
  std::string display_name{};
  std::string logo_uri{};
  std::string home_uri{};
};

// The names of RefreshTokens on the command line and in documents: "never", "offline_access",
// "always". kInvalidArgument for another name.
Result<RefreshTokens> refresh_tokens_from_name(std::string_view name);
const char* refresh_tokens_name(RefreshTokens policy);

// Refresh token lifetimes are 0 (the default) or 60 seconds to 10 years. kInvalidArgument
// otherwise.
inline constexpr int64_t kMaxRefreshLifetime = 10LL * 365 * 86400;
Status check_grant_policy(const GrantPolicy& policy);

// What `client update` changes of a client; absent members stay as they are. The strings'
// "" removes what they name.
struct ClientChange {
  std::optional<bool> require_two_factor;
  std::optional<std::string> backchannel_logout_uri;
  std::optional<bool> backchannel_logout_session_required;
  std::optional<RefreshTokens> refresh_tokens;  // GrantPolicy's fields
  std::optional<int64_t> refresh_idle_ttl;
  std::optional<int64_t> refresh_absolute_ttl;
  std::optional<bool> first_party;
  std::optional<std::string> display_name;
  std::optional<std::string> logo_uri;
  std::optional<std::string> home_uri;
};

// A URI the server or a browser fetches for a client (its back-channel logout URI, logo, home
// page): what validate_redirect_uri accepts, over https (or http on a loopback host) only, or
// "" for none. kInvalidArgument naming `what` ("logo URI") otherwise.
Status check_web_uri(std::string_view uri, std::string_view what);

// The name a client is shown by: its display name, or its client_id when it has none.
const std::string& shown_name(const Client& client);
// How people see the client `client_id`: its shown_name and home page. An unknown client (or
// a store failure) is shown by its id: the pages that show it have checked it already.
AppIdentity app_identity(ClientStore& store, const std::string& client_id);

// What a new user may be given besides email, password and role.
struct UserDetails {
  std::string display_name;     // checked by check_display_name; "" for none
  bool email_verified = false;  // the creator vouches that the address reaches the user
};

// A display name: at most 128 bytes of UTF-8 without control characters, not only spaces;
// "" (none) is valid. kInvalidArgument otherwise.
inline constexpr size_t kMaxDisplayNameLength = 128;
Status check_display_name(std::string_view name);

class Directory {
 public:
  Directory(Store& store, const PasswordHasher& hasher, Random& random, const Clock& clock)
      : store_(store), hasher_(hasher), random_(random), clock_(clock) {}

  // name: 1-63 chars of [a-z0-9-], starting with a letter or digit, not digits only. issuer_label defaults to
  // the name; printable, at most 64 characters, no ':' (it prefixes otpauth labels).
  Result<Account> create_account(const std::string& name, const std::string& issuer_label);
  // Email is lower-cased; password 8-1024 bytes.
  Result<User> create_user(const std::string& account_name, const std::string& email,
                           const std::string& password, bool admin,
                           const UserDetails& details = {});
  // Sets (or with "" clears) the display name of the user with `email` in the account.
  // kNotFound naming what is missing; kInvalidArgument from check_display_name.
  Result<User> set_display_name(const std::string& account_name, const std::string& email,
                                const std::string& display_name);
  Status create_client(const NewClient& client);
  // Applies `change` to the client; returns the client as stored. kNotFound for an unknown
  // client, kInvalidArgument for a bad URI, name or grant policy (nothing changes).
  Result<Client> update_client(const std::string& client_id,
                                      const ClientChange& change);

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
