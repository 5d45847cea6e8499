#pragma once
// JWS compact serialization (RFC 7515) for OIDC id_tokens and JWTs: key generation, JWK
// export and import (RFC 7517/7518), JWK thumbprints (RFC 7638), signing and verification.
// Only RS256 (RSA >= 2048 bits, PKCS#1 v1.5, SHA-256) and ES256 (P-256, SHA-256) exist here;
// "none", HMAC and every other algorithm are refused by construction.

#include <openssl/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep {

struct KeyPair {
  std::string kid;          // RFC 7638 thumbprint of public_jwk
  std::string alg;          // "RS256" or "ES256"
  std::string private_pem;  // PKCS#8 PEM, unencrypted: seal it (SecretBox) before storing
  std::string public_jwk;   // JSON object text: kty, kid, use "sig", alg, and n,e or crv,x,y
};

// Generates a key with OpenSSL's DRBG: RSA 2048 with e = 65537 for "RS256", P-256 for
// "ES256". On failure returns kInvalidArgument for another alg, kInternal otherwise.
Result<KeyPair> generate_signing_key(std::string_view alg);

// On success returns the RFC 7638 thumbprint of a public RSA or EC JWK: base64url SHA-256
// of the JSON of its required members (e,kty,n or crv,kty,x,y) in lexicographic order
// without whitespace. On failure (other kty, a required member missing or not a string)
// returns kInvalidArgument.
Result<std::string> jwk_thumbprint(const nlohmann::json& jwk);

// Signs claims with one private key. Immutable; copies share the key; sign() is thread-safe.
class JwsSigner {
 public:
  // On success returns a signer for a PEM private key (PKCS#8 or traditional) that matches
  // alg: RSA of at least 2048 bits for "RS256", P-256 for "ES256". On failure returns
  // kInvalidArgument (unparsable PEM, unsupported alg, key type or size).
  static Result<JwsSigner> from_private_pem(std::string kid, std::string alg, std::string_view pem);

  // On success returns header.payload.signature with header {"alg","kid","typ"} (kid left
  // out when empty; typ "JWT" unless another is given, e.g. "logout+jwt"); an
  // ES256 signature is the 64-byte JOSE r||s form. On failure returns kInvalidArgument if
  // claims is not an object or holds invalid UTF-8, kInternal if OpenSSL fails.
  Result<std::string> sign(const nlohmann::json& claims, std::string_view typ = "JWT") const;

  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }

 private:
  JwsSigner(std::string kid, std::string alg, std::shared_ptr<EVP_PKEY> key)
      : kid_(std::move(kid)), alg_(std::move(alg)), key_(std::move(key)) {}

  std::string kid_;
  std::string alg_;
  std::shared_ptr<EVP_PKEY> key_;
};

// Verifies signatures against a set of public keys. Immutable; copies share the keys;
// verify() is thread-safe.
class JwsVerifier {
 public:
  // Imports the keys of a JWK Set {"keys":[...]}. Keys whose use is not "sig", whose kty is
  // neither RSA nor EC, or whose alg is neither RS256 nor ES256 are skipped (a set may hold
  // keys for other purposes). A key without alg gets RS256 (RSA) or ES256 (EC P-256).
  // On success at least one key was imported. On failure returns kInvalidArgument: not a
  // JWK Set, a supported key with missing or invalid members (RSA under 2048 bits, an EC
  // point not on P-256, ...), two keys with the same kid, or no usable key.
  static Result<JwsVerifier> from_jwks(const nlohmann::json& jwks);

  // On success returns the payload, a JSON object, of a compact JWS whose signature is
  // valid. The claims (exp, aud, iss, ...) are NOT checked: that is the caller's job.
  // The key is the one named by the header's kid; without kid, the only key if there is
  // exactly one. On failure returns kInvalidArgument for a malformed token (not three
  // base64url parts, header or payload not a JSON object), and kDenied for an algorithm
  // other than RS256/ES256 (including "none" and HS256), an alg different from the key's,
  // a "crit" header, an unknown kid or an invalid signature.
  Result<nlohmann::json> verify(std::string_view compact) const;

 private:
  struct Key {
    std::string kid;
    std::string alg;
    std::shared_ptr<EVP_PKEY> pkey;
  };
  explicit JwsVerifier(std::vector<Key> keys) : keys_(std::move(keys)) {}

  std::vector<Key> keys_;
};

}  // namespace keystep
