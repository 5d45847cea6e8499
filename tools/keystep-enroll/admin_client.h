#pragma once
// keystep-enroll's side of Keystep's admin API (docs/admin-api.md): the members of one
// account and their YubiKey and security key credentials, with a Bearer API token, over libcurl. The tool's
// only way to the server: it never opens a database.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep::enroll {

// A pending YubiKey credential the server began: its id and the secret drawn for it, which
// the server shows this once. The destructor wipes the secret.
struct PendingKey {
  int64_t id = 0;
  std::string secret;  // 20 raw bytes
  int64_t expires_at = 0;
  PendingKey() = default;
  PendingKey(PendingKey&&) = default;
  PendingKey& operator=(PendingKey&&) = default;
  ~PendingKey();
};

// A pending security key registration the server began: its id and the WebAuthn creation
// options (PublicKeyCredentialCreationOptionsJSON) whose challenge the server keeps.
struct PendingSecurityKey {
  int64_t id = 0;
  nlohmann::json creation_options;
  int64_t expires_at = 0;
};

// A credential as the member's list shows it.
struct CredentialSummary {
  int64_t id = 0;
  std::string provider;
  std::string label;
  bool confirmed = false;
};

// A key programmed elsewhere, registered as it is (confirmed at once).
struct ImportedKey {
  std::string secret;  // RFC 4648 base32, 16 to 20 bytes
  int digits = 6;
  uint64_t counter = 0;
  std::optional<std::string> token_id;
  std::string label;
};

// Whether `error` (from an AdminClient) refuses the token or the account as such (401, 403),
// so that every further request would be refused alike and a run of several should stop.
bool refuses_every_request(const Error& error);

class AdminClient;

// `why` a registration failed after the server began pending credential `credential` of
// `member`: removes that credential and adds to the message whether it is gone ("; nothing
// was registered") or left to expire.
Error cancel_pending(AdminClient& api, int64_t member, int64_t credential, Error why);

// Every method answers kUnauthenticated (401), kDenied (403), kNotFound (404), kConflict
// (409), kExpired (410), kInvalidArgument (400) or kUnavailable (no answer, 5xx), with a
// message made of the server's error_description and what to do about it. Messages never
// carry a secret or the token. Not thread-safe.
class AdminClient {
 public:
  // `issuer` is the server's base URL (https://idp.example.com), `account` the account's
  // name or id, `token` an API token of an administrator of it.
  AdminClient(std::string issuer, std::string account, std::string token);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // The account's members: lower-cased email -> user id (every page).
  Result<std::map<std::string, int64_t>> members();
  // The user id of the member with `email` (any case); kNotFound naming it when none.
  Result<int64_t> member_id(const std::string& email);
  Result<std::vector<CredentialSummary>> credentials(int64_t member);
  // Begins a YubiKey credential: the server draws its secret and keeps it pending (not
  // usable) until confirm(). `token_id` absent: a key that types no identifier.
  Result<PendingKey> begin_yubikey(int64_t member, const std::string& label, int digits,
                                   const std::optional<std::string>& token_id);
  // Confirms a pending credential with what the key typed (identifier and code).
  Status confirm(int64_t member, int64_t credential, const std::string& typed);
  // Begins a security key (webauthn) registration: the server keeps the challenge pending
  // until confirm_security_key(). `label` "" lets the server name it.
  Result<PendingSecurityKey> begin_security_key(int64_t member, const std::string& label);
  // Finishes it with the key's registration response (PublicKeyCredential JSON text, from
  // fido2_register), which the server verifies.
  Status confirm_security_key(int64_t member, int64_t credential, const std::string& response);
  // Removes a credential (pending or not).
  Status remove(int64_t member, int64_t credential);
  // Registers a key programmed elsewhere, confirmed at once; returns its credential id.
  Result<int64_t> import_yubikey(int64_t member, const ImportedKey& key);

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  Result<Response> call(const std::string& method, const std::string& path,
                        const std::optional<std::string>& body);
  std::string member_path(int64_t member) const;

  std::string issuer_;
  std::string account_;
  std::string token_;
  void* curl_;
};

}  // namespace keystep::enroll
