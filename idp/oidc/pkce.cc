#include "idp/oidc/pkce.h"

#include <algorithm>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"

namespace keystep {

bool is_valid_code_verifier(std::string_view verifier) {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  return std::all_of(verifier.begin(), verifier.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

bool is_valid_code_challenge(std::string_view challenge) {
  if (challenge.size() != 43) return false;
  Result<std::string> digest = base64url_decode(challenge);
  return digest.ok() && digest->size() == 32;
}

bool pkce_s256_matches(std::string_view verifier, std::string_view challenge) {
  return is_valid_code_verifier(verifier) &&
         constant_time_equal(sha256_b64url(verifier), challenge);
}

}  // namespace keystep
