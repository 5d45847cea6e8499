#pragma once
// SHA-256, HMAC-SHA-256 and constant-time comparison. Stateless and thread-safe.
// These cannot fail short of memory exhaustion; if OpenSSL reports a failure the process
// aborts rather than return a wrong digest that could be compared against.

#include <string>
#include <string_view>

namespace keystep {

// The raw 32-byte SHA-256 digest of data.
std::string sha256(std::string_view data);

// base64url (unpadded) of sha256(data): 43 characters.
std::string sha256_b64url(std::string_view data);

// True iff a and b are equal. The time taken depends only on the lengths, not on the
// contents; strings of different lengths compare unequal without reading their contents.
bool constant_time_equal(std::string_view a, std::string_view b);

// The raw 32-byte HMAC-SHA-256 of data under key (any key length, including empty).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace keystep
