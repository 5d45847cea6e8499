#pragma once
// Sign-in (WebAuthn Level 3 §7.2 steps 15 onwards): the authenticator data and the
// signature checked by libfido2's fido_assert_verify, with user presence required
// (libfido2 accepts UP=0 unless told otherwise). Stateless and thread-safe.

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace keystep::webauthn {

struct ExpectedAssertion {
  std::string_view rp_id;             // its SHA-256 must be the rpIdHash
  std::string_view client_data_json;  // the checked clientDataJSON: its hash was signed
  bool user_verification_required = false;
  int alg = 0;                  // the credential's COSE algorithm
  std::string_view public_key;  // the credential's key in libfido2's form
};

// What the authenticator data said, once its signature verified.
struct AssertedData {
  uint8_t flags = 0;
  uint32_t sign_count = 0;
};

// Checks `authenticator_data` and `signature` (raw bytes) against `expected`. On success
// returns the flags and signature counter. kInvalidArgument for malformed authenticator data;
// kDenied when the rpIdHash is not rp_id's, user presence (or verification, when required)
// is not flagged, or the signature does not verify; kInternal for a stored key libfido2
// cannot load. Messages are safe to show the user.
Result<AssertedData> verify_assertion(std::string_view authenticator_data,
                                      std::string_view signature,
                                      const ExpectedAssertion& expected);

}  // namespace keystep::webauthn
