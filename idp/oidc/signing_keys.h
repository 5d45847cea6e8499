#pragma once
// The IdP's token signing keys: every published key verifies and appears in the JWKS, and
// one key signs. Rotation (docs/operations.md): `keystep key rotate` adds a new active key
// while the old one stays published, so tokens it signed still verify; `keystep key retire
// --kid KID` unpublishes an old key once its tokens have expired. A running server picks a
// change up within kReloadSeconds.
//
// Publish before signing: the active key signs only once it is kReloadSeconds old; until
// then the newest published key older than that signs (the oldest key when none is, as soon
// after `keystep init`; the only key signs at once). Every node sharing the database reloads within kReloadSeconds, so
// every node's JWKS lists a key before any node signs with it, and a relying party that
// fetched the JWKS from any node can verify every token.

#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/crypto/jws.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "base/result.h"
#include "idp/store/store.h"

namespace keystep {

class SigningKeys {
 public:
  static constexpr int64_t kReloadSeconds = 30;

  SigningKeys(KeyStore& store, const SecretBox& box, const Clock& clock)
      : store_(store), box_(box), clock_(clock) {}

  // Generates a key of `alg`, seals its private half and stores it as the active key.
  // On success returns the new kid.
  Result<std::string> rotate(const std::string& alg, Random& random);

  // Signs claims with the signing key (above), the header's typ `typ`. kUnavailable when no
  // key exists. Thread-safe.
  Result<std::string> sign(const nlohmann::json& claims, std::string_view typ = "JWT");
  // Verifies a compact JWS against every published key; returns its payload. Thread-safe.
  Result<nlohmann::json> verify(std::string_view compact);
  // {"keys":[…]} with the public half of every published key. Thread-safe.
  Result<nlohmann::json> jwks();
  // The same, serialized once per key set (served on every JWKS request). Thread-safe.
  Result<std::shared_ptr<const std::string>> jwks_text();

 private:
  struct Loaded {
    std::shared_ptr<JwsSigner> signer;
    std::shared_ptr<JwsVerifier> verifier;
    nlohmann::json jwks;
    std::shared_ptr<const std::string> jwks_text;
    int64_t reload_at = 0;  // kReloadSeconds after loading, or when the active key may sign
  };
  // Returns the current key set, reloading it from the store at its reload_at.
  Result<std::shared_ptr<const Loaded>> current();

  KeyStore& store_;
  const SecretBox& box_;
  const Clock& clock_;
  std::mutex mu_;
  std::shared_ptr<const Loaded> loaded_;
};

}  // namespace keystep
