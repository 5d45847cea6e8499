#include "base/crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include "base/crypto/encoding.h"
#include "base/crypto/ossl.h"

namespace keystep {

Status OsRandom::fill(unsigned char* out, size_t n) {
  // RAND_bytes takes an int count.
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, INT_MAX);
    if (RAND_bytes(out, static_cast<int>(chunk)) != 1) {
      return ossl::error(ErrorCode::kInternal, "RAND_bytes failed");
    }
    out += chunk;
    n -= chunk;
  }
  return {};
}

Result<std::string> random_bytes(Random& random, size_t n) {
  std::string out(n, '\0');
  if (Status s = random.fill(reinterpret_cast<unsigned char*>(out.data()), n); !s) {
    return s.error();
  }
  return out;
}

Result<std::string> random_token(Random& random, size_t n_bytes) {
  Result<std::string> bytes = random_bytes(random, n_bytes);
  if (!bytes) return bytes.error();
  return base64url_encode(*bytes);
}

bool is_random_token(std::string_view text, size_t n_bytes) {
  if (text.size() != (n_bytes * 4 + 2) / 3) return false;
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

}  // namespace keystep
