#pragma once
// PKCE (RFC 7636) with the S256 method only; "plain" is not offered. Stateless, thread-safe.

#include <string_view>

namespace keystep {

// True iff verifier is 43 to 128 characters of [A-Z a-z 0-9 - . _ ~] (RFC 7636 §4.1).
bool is_valid_code_verifier(std::string_view verifier);

// True iff challenge is an S256 challenge: the unpadded base64url of 32 bytes (43 chars).
bool is_valid_code_challenge(std::string_view challenge);

// True iff verifier is valid and base64url(SHA-256(verifier)) equals challenge, compared
// in constant time.
bool pkce_s256_matches(std::string_view verifier, std::string_view challenge);

}  // namespace keystep
