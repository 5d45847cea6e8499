#pragma once
// liboath at the providers' edge, shared by the OATH providers (totp/, yubikey_hotp/): its
// once-per-process initialisation, its errors as ours, and the constant-time comparison its
// validate calls take. Thread-safe.

#include <string_view>

#include "base/result.h"

namespace keystep {

// OATH_OK once liboath is initialised (the first call initialises it), else its error code:
// every call reports a failed initialisation instead of computing with an unready library.
int oath_ready();

// kInternal carrying liboath's text for `rc`.
Error oath_error(int rc);

// The code a validate call looks for, as its strcmp handle.
struct ExpectedCode {
  std::string_view code;
};

// liboath's strcmp callback (`handle` an ExpectedCode): compares in constant time, so the
// response time does not reveal how many leading digits of a guess were right.
int oath_compare_code(void* handle, const char* candidate);

}  // namespace keystep
