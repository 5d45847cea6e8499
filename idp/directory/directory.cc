#include "idp/directory/directory.h"

#include <algorithm>
#include <cctype>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "base/url.h"
#include "idp/directory/origin.h"
#include "idp/directory/redirect_uri.h"
#include "idp/mail/mail.h"

namespace keystep {
namespace {
Status check_client_fields(const Client& client);
}  // namespace

Status check_new_password(std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength)
    return make_error(ErrorCode::kInvalidArgument, "password must be 8-1024 bytes");
  return {};
}

Result<std::string> normalize_email(std::string_view email) {
  if (email.empty() || email.size() > 254)
    return make_error(ErrorCode::kInvalidArgument, "email must be 1-254 characters");
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == email.size() ||
      email.find('@', at + 1) != std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "email must contain one '@' between a local part and a domain");
  std::string out;
  out.reserve(email.size());
  for (unsigned char c : email) {
    if (c <= 0x20 || c == 0x7f)
      return make_error(ErrorCode::kInvalidArgument, "email must not contain spaces or control characters");
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

Result<std::string> normalize_new_email(std::string_view email) {
  auto normalized = normalize_email(email);
  if (!normalized) return normalized.error();
  if (Status s = check_email_address(*normalized); !s) return s.error();
  return normalized;
}

Result<Account> Directory::create_account(const std::string& name,
                                          const std::string& issuer_label) {
  const bool name_ok =
      !name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return (std::islower(c) || std::isdigit(c) || c == '-');
      });
  if (!name_ok)
    return make_error(ErrorCode::kInvalidArgument,
                      "account name must be 1-63 characters of a-z, 0-9 and '-', starting with a "
                      "letter or digit");
  // The admin API takes an account's id or its name in the same path segment, and reads
  // digits as an id: a name of digits only could never be addressed by name.
  if (std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); }))
    return make_error(ErrorCode::kInvalidArgument,
                      "account name must not be digits only (the admin API reads digits as an "
                      "account id)");
  const std::string label = issuer_label.empty() ? name : issuer_label;
  const bool label_ok =
      label.size() <= 64 && std::all_of(label.begin(), label.end(), [](unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != ':';
      });
  if (!label_ok)
    return make_error(ErrorCode::kInvalidArgument,
                      "issuer label must be at most 64 printable characters without ':'");
  Account account{0, name, label, clock_.now()};
  auto created = store_.create_account(account);
  if (!created && created.error().code == ErrorCode::kAlreadyExists)
    return make_error(ErrorCode::kAlreadyExists, "an account named '" + name + "' already exists");
  return created;
}

Status check_display_name(std::string_view name) {
  if (name.size() > kMaxDisplayNameLength)
    return make_error(ErrorCode::kInvalidArgument, "display name must be at most 128 bytes");
  if (!is_utf8(name))
    return make_error(ErrorCode::kInvalidArgument, "display name must be UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f)
      return make_error(ErrorCode::kInvalidArgument,
                        "display name must not contain control characters");
  }
  if (!name.empty() && name.find_first_not_of(' ') == std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "display name must not be only spaces");
  return {};
}

Result<std::string> generate_client_secret(Random& random) { return random_token(random, 32); }

Result<User> Directory::create_user(const std::string& account_name, const std::string& email,
                                    const std::string& password, bool admin,
                                    const UserDetails& details) {
  auto normalized = normalize_new_email(email);
  if (!normalized) return normalized.error();
  if (auto s = check_new_password(password); !s) return s.error();
  if (auto s = check_display_name(details.display_name); !s) return s.error();
  auto account = store_.account_by_name(account_name);
  if (!account) {
    if (account.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound, "no account named '" + account_name + "'");
    return account.error();
  }
  auto hash = hasher_.hash(password);
  if (!hash) return hash.error();
  User user{0,
            account->id,
            *normalized,
            *hash,
            admin ? kRoleAdmin : kRoleMember,
            clock_.now(),
            false,
            details.display_name,
            details.email_verified};
  auto created = store_.create_user(user);
  if (!created && created.error().code == ErrorCode::kAlreadyExists)
    return make_error(ErrorCode::kAlreadyExists,
                      "a user with email " + *normalized + " already exists in " + account_name);
  return created;
}

Result<User> Directory::set_display_name(const std::string& account_name,
                                         const std::string& email,
                                         const std::string& display_name) {
  if (auto s = check_display_name(display_name); !s) return s.error();
  auto account = store_.account_by_name(account_name);
  if (!account) {
    if (account.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound, "no account named '" + account_name + "'");
    return account.error();
  }
  auto normalized = normalize_email(email);
  if (!normalized) return normalized.error();
  auto user = store_.user_by_email(account->id, *normalized);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound,
                        "no user with email " + *normalized + " in " + account_name);
    return user.error();
  }
  if (auto s = store_.update_display_name(user->id, display_name); !s) return s.error();
  user->display_name = display_name;
  return user;
}

Result<RefreshTokens> refresh_tokens_from_name(std::string_view name) {
  for (auto policy : {RefreshTokens::kNever, RefreshTokens::kOfflineAccess, RefreshTokens::kAlways})
    if (name == refresh_tokens_name(policy)) return policy;
  return make_error(ErrorCode::kInvalidArgument,
                    "refresh tokens must be never, offline_access or always");
}

const char* refresh_tokens_name(RefreshTokens policy) {
  switch (policy) {
    case RefreshTokens::kNever:
      return "never";
    case RefreshTokens::kOfflineAccess:
      return "offline_access";
    case RefreshTokens::kAlways:
      return "always";
  }
  return "never";
}

Status check_grant_policy(const GrantPolicy& policy) {
  for (int64_t ttl : {policy.refresh_idle_ttl, policy.refresh_absolute_ttl}) {
    if (ttl != 0 && (ttl < 60 || ttl > kMaxRefreshLifetime))
      return make_error(ErrorCode::kInvalidArgument,
                        "a refresh token lifetime must be 60 seconds to 10 years (0: default)");
  }
  return {};
}

Status Directory::create_client(const NewClient& client) {
  const bool id_ok =
      !client.client_id.empty() && client.client_id.size() <= 128 &&
      std::all_of(client.client_id.begin(), client.client_id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
      });
  if (!id_ok)
    return make_error(ErrorCode::kInvalidArgument,
                      "client id must be 1-128 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
  if (client.redirect_uris.empty())
    return make_error(ErrorCode::kInvalidArgument, "at least one redirect URI is required");
  for (const auto* list : {&client.redirect_uris, &client.post_logout_redirect_uris}) {
    for (const auto& uri : *list) {
      if (auto s = validate_redirect_uri(uri); !s)
        return make_error(ErrorCode::kInvalidArgument, uri + ": " + s.error().message);
    }
  }
  Client record;
  record.grants = client.grants;
  record.display_name = client.display_name;
  record.logo_uri = client.logo_uri;
  record.home_uri = client.home_uri;
  record.backchannel_logout_uri = client.backchannel_logout_uri;
  if (Status s = check_client_fields(record); !s) return s;
  record.require_two_factor = client.require_two_factor;
  record.backchannel_logout_session_required = client.backchannel_logout_session_required;
  for (const auto& origin : client.allowed_origins) {
    auto normalized = normalize_origin(origin);
    if (!normalized) return normalized.error();
    if (std::find(record.allowed_origins.begin(), record.allowed_origins.end(), *normalized) ==
        record.allowed_origins.end())
      record.allowed_origins.push_back(*normalized);
  }
  record.client_id = client.client_id;
  record.is_public = !client.secret.has_value();
  record.redirect_uris = client.redirect_uris;
  record.post_logout_redirect_uris = client.post_logout_redirect_uris;
  record.created_at = clock_.now();
  if (client.secret) {
    if (client.secret->size() < kMinClientSecretLength || client.secret->size() > 512)
      return make_error(ErrorCode::kInvalidArgument,
                        "client secret must be 32-512 characters (keystep client create "
                        "--generate-secret makes one)");
    auto hash = hash_client_secret(*client.secret, random_);
    if (!hash) return hash.error();
    record.secret_hash = *hash;
  }
  auto created = store_.create_client(record);
  if (!created && created.error().code == ErrorCode::kAlreadyExists)
    return make_error(ErrorCode::kAlreadyExists,
                      "a client with id '" + client.client_id + "' already exists");
  return created;
}

Status check_web_uri(std::string_view uri, std::string_view what) {
  if (uri.empty()) return {};
  const std::string named = std::string(uri) + ": a " + std::string(what);
  if (uri.rfind("https://", 0) != 0 && uri.rfind("http://", 0) != 0)
    return make_error(ErrorCode::kInvalidArgument, named + " must be https (or http on localhost)");
  if (auto s = validate_redirect_uri(uri); !s) {
    // The redirect URI rules apply, but the message should name what the URI is for.
    std::string_view why = s.error().message;
    if (why.rfind("invalid redirect URI: ", 0) == 0) why.remove_prefix(22);
    return make_error(ErrorCode::kInvalidArgument, named + " is not valid: " + std::string(why));
  }
  return {};
}

const std::string& shown_name(const Client& client) {
  return client.display_name.empty() ? client.client_id : client.display_name;
}

AppIdentity app_identity(ClientStore& store, const std::string& client_id) {
  auto client = store.client_by_id(client_id);
  if (!client) return AppIdentity{client_id, ""};
  return AppIdentity{shown_name(*client), client->home_uri};
}

namespace {

// What may change of a client after its creation, checked before it is stored.
Status check_client_fields(const Client& client) {
  if (Status s = check_display_name(client.display_name); !s) return s;
  for (const auto& [uri, what] : {std::pair{&client.backchannel_logout_uri,
                                            "back-channel logout URI"},
                                  std::pair{&client.logo_uri, "logo URI"},
                                  std::pair{&client.home_uri, "home page URI"}}) {
    if (Status s = check_web_uri(*uri, what); !s) return s;
  }
  return check_grant_policy(client.grants);
}

}  // namespace

Result<Client> Directory::update_client(const std::string& client_id,
                                        const ClientChange& change) {
  auto client = store_.client_by_id(client_id);
  if (!client) return client.error();
  const auto apply = [](auto& field, const auto& value) {
    if (value) field = *value;
  };
  apply(client->require_two_factor, change.require_two_factor);
  apply(client->backchannel_logout_uri, change.backchannel_logout_uri);
  apply(client->backchannel_logout_session_required, change.backchannel_logout_session_required);
  apply(client->grants.refresh_tokens, change.refresh_tokens);
  apply(client->grants.refresh_idle_ttl, change.refresh_idle_ttl);
  apply(client->grants.refresh_absolute_ttl, change.refresh_absolute_ttl);
  apply(client->grants.first_party, change.first_party);
  apply(client->display_name, change.display_name);
  apply(client->logo_uri, change.logo_uri);
  apply(client->home_uri, change.home_uri);
  if (Status s = check_client_fields(*client); !s) return s.error();
  if (Status s = store_.update_client(*client); !s) return s.error();
  return *client;
}

Result<bool> Directory::user_has_permission(const User& user, const std::string& permission) {
  auto permissions = store_.role_permissions(user.role);
  if (!permissions) return permissions.error();
  return std::find(permissions->begin(), permissions->end(), permission) != permissions->end();
}

Result<std::string> hash_client_secret(std::string_view secret, Random& random) {
  auto salt = random_bytes(random, 16);
  if (!salt) return salt.error();
  std::string input = *salt;
  input.append(secret);
  return "sha256$" + base64url_encode(*salt) + "$" + base64url_encode(sha256(input));
}

bool verify_client_secret(std::string_view stored, std::string_view secret) {
  constexpr std::string_view kPrefix = "sha256$";
  if (stored.substr(0, kPrefix.size()) != kPrefix) return false;
  stored.remove_prefix(kPrefix.size());
  const auto dollar = stored.find('$');
  if (dollar == std::string_view::npos) return false;
  auto salt = base64url_decode(stored.substr(0, dollar));
  auto digest = base64url_decode(stored.substr(dollar + 1));
  if (!salt || !digest) return false;
  std::string input = *salt;
  input.append(secret);
  return constant_time_equal(sha256(input), *digest);
}

}  // namespace keystep
