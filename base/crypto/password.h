#pragma once
// Password hashing with Argon2id (libargon2), stored as the standard encoded string
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>", which carries its own
// parameters so costs can be raised later without invalidating existing hashes.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "base/result.h"

namespace keystep {

// The defaults are OWASP's Password Storage Cheat Sheet recommendation for Argon2id
// (19 MiB, 2 passes, 1 lane); docs/security.md#password-hashing says why.
struct Argon2Params {
  uint32_t t_cost = 2;          // passes over memory
  uint32_t m_cost_kib = 19456;  // memory per hash, KiB (19 MiB)
  uint32_t parallelism = 1;     // lanes (and threads) per hash
};

// Bounds enforced by validate_argon2_params: a hash must cost something, and a typo in a
// config file must not make each login allocate gigabytes or run for minutes.
inline constexpr uint32_t kArgon2MaxTCost = 64;
inline constexpr uint32_t kArgon2MaxMemoryKib = 1u << 20;  // 1 GiB
inline constexpr uint32_t kArgon2MaxParallelism = 64;

// Longest password accepted, in bytes.
inline constexpr size_t kMaxPasswordBytes = 1024;

// On success the params are usable: 1 <= t_cost <= kArgon2MaxTCost,
// 1 <= parallelism <= kArgon2MaxParallelism, 8 * parallelism <= m_cost_kib <=
// kArgon2MaxMemoryKib. On failure returns kInvalidArgument naming the bad field.
Status validate_argon2_params(const Argon2Params& params);

// Hashes and verifies passwords. Holds the Random by reference (it must outlive the hasher).
// All methods are const and thread-safe when the Random is.
class PasswordHasher {
 public:
  PasswordHasher(Argon2Params params, Random& random) : params_(params), random_(&random) {}

  // On success returns the encoded Argon2id hash of password under params() with a 16-byte
  // salt from the Random and a 32-byte tag. On failure returns kInvalidArgument if the
  // password exceeds kMaxPasswordBytes or params() fail validate_argon2_params, the Random's
  // error, or kInternal with libargon2's message.
  Result<std::string> hash(std::string_view password) const;

  // True iff `encoded` is a well-formed Argon2id encoded hash of `password` (using the
  // parameters recorded in `encoded`, which comes from our own store). The tag comparison
  // is constant-time. False for malformed input, other Argon2 variants and passwords
  // longer than kMaxPasswordBytes.
  bool verify(std::string_view encoded, std::string_view password) const;

  // Spends the time of a verify() against a hash made with params(), and discards the
  // result: call it when there is no stored hash (unknown user), so that a missing user
  // costs as much as a wrong password.
  void burn(std::string_view password) const;

  const Argon2Params& params() const { return params_; }

 private:
  Argon2Params params_;
  Random* random_;
};

}  // namespace keystep
