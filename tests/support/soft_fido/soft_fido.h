#pragma once
// A software CTAP2 authenticator for tests: a security key without hardware that libfido2
// talks to through its own CTAPHID framing (fido_dev_io_t), so the client code under test
// runs libfido2 unchanged from fido_dev_open to fido_dev_make_cred / fido_dev_get_assert.
//
// What it speaks: CTAPHID INIT, CBOR and CANCEL (MSG answers ERR_INVALID_CMD: no U2F), with
// CTAP 2.0 commands authenticatorGetInfo, authenticatorMakeCredential (ES256 only, OpenSSL
// keys, packed self attestation or none), authenticatorGetAssertion (allow-list
// credentials, non-resident) and authenticatorClientPIN with PIN protocol 1 (getRetries,
// getKeyAgreement, getPinToken): what libfido2 1.12 uses against a key that advertises only
// protocol 1. A wrong PIN costs a retry (8 in all: PIN_BLOCKED at 0); three wrong in a row
// give PIN_AUTH_BLOCKED until the key is "replugged" (replug()).
//
// Test code only. Not thread-safe: one test thread drives one key.

#include <fido.h>
#include <openssl/evp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep::testsupport {

class SoftFido {
 public:
  enum class Attestation { kPackedSelf, kNone };
  struct Options {
    std::optional<std::string> pin;  // a key with a PIN set; nullopt: none
    Attestation attestation = Attestation::kPackedSelf;
    std::string aaguid = std::string(16, '\x5a');  // 16 bytes
  };

  // Registers the key under `path` (unique per live key), the path fido_dev_open and
  // fido_dev_info_set name it by.
  SoftFido(std::string path, Options options);
  ~SoftFido();
  SoftFido(const SoftFido&) = delete;
  SoftFido& operator=(const SoftFido&) = delete;

  const std::string& path() const { return path_; }
  // libfido2's I/O functions for any SoftFido (the path picks which one).
  static const fido_dev_io_t& io();

  // Whether the user touches the key when it asks for presence: false makes it answer
  // CTAP2_ERR_USER_ACTION_TIMEOUT, as a key nobody touched does.
  void set_touch(bool touch) { touch_ = touch; }
  // How many times the key asked for (and got) a touch.
  int touches() const { return touches_; }
  // The signature counter, shared by all credentials; set it to make a clone.
  uint32_t sign_count() const { return sign_count_; }
  void set_sign_count(uint32_t count) { sign_count_ = count; }
  int pin_retries() const { return pin_retries_; }
  // Power cycle: clears the three-in-a-row PIN_AUTH_BLOCKED state and the key agreement.
  void replug();

  // CTAP2 over CTAPHID, for the I/O functions: one complete request, its response.
  std::string handle_cbor(const std::string& request);

 private:
  struct Credential;
  std::string get_info() const;
  std::string make_credential(const std::string& body);
  std::string get_assertion(const std::string& body);
  std::string client_pin(const std::string& body);
  // CTAP2 status when the request's pinAuth does not prove the PIN token; 0 when it does.
  uint8_t check_pin_auth(const std::string& client_data_hash, const std::string& pin_auth,
                         int64_t protocol) const;
  bool presence();

  std::string path_;
  Options options_;
  std::map<std::string, std::unique_ptr<Credential>> credentials_;  // by credential id
  std::shared_ptr<EVP_PKEY> agreement_key_;  // PIN protocol 1's, new per power-up
  std::string pin_token_;
  int pin_retries_ = 8;
  int wrong_in_a_row_ = 0;
  bool touch_ = true;
  int touches_ = 0;
  uint32_t sign_count_ = 0;
};

// What fido_dev_info_manifest would list if `keys` were plugged in (paths, "Keystep" "Soft
// FIDO2", SoftFido::io()), as a manifest function for keystep-enroll's Fido2Keys. The keys
// must outlive it.
std::function<int(fido_dev_info_t* list, size_t max, size_t* found)> manifest_of(
    std::vector<SoftFido*> keys);

// What a browser posts after navigator.credentials.get() with `key`: libfido2 (as a client,
// through SoftFido::io()) asks the key for an assertion over `request_options` (a
// PublicKeyCredentialRequestOptionsJSON: challenge, rpId, allowCredentials) for `origin`,
// with `pin` when not null (the key then verifies the user). On success returns the
// PublicKeyCredential JSON text {"id", "rawId", "type", "response": {"clientDataJSON",
// "authenticatorData", "signature"}}; kInvalidArgument for unusable options, kDenied with
// libfido2's text when the key refuses (no credential of the list, wrong PIN, no touch).
Result<std::string> sign_in(SoftFido& key, const nlohmann::json& request_options,
                            const std::string& origin, const char* pin);

}  // namespace keystep::testsupport
