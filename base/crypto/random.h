#pragma once
// Injected source of randomness. Everything that needs unpredictable bytes (salts, nonces,
// tokens) takes a Random so tests can substitute a deterministic one.

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace keystep {

class Random {
 public:
  virtual ~Random() = default;
  // Fills out[0..n) with random bytes. On failure returns an Error and out's contents are
  // unspecified. Implementations must be thread-safe.
  virtual Status fill(unsigned char* out, size_t n) = 0;
};

// Cryptographically secure bytes from OpenSSL's DRBG (RAND_bytes). Thread-safe.
class OsRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override;
};

// On success returns n random bytes. On failure returns the Random's error.
Result<std::string> random_bytes(Random& random, size_t n);

// On success returns n_bytes random bytes encoded as unpadded base64url, suitable for
// tokens, codes and identifiers in URLs. On failure returns the Random's error.
Result<std::string> random_token(Random& random, size_t n_bytes = 32);

// True when `text` has the shape of a random_token of n_bytes (length and alphabet), e.g. to
// reuse a value a browser sent back only if it is one we could have issued.
bool is_random_token(std::string_view text, size_t n_bytes = 32);

}  // namespace keystep
