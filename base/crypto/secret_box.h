#pragma once
// Sealing of secrets at rest (signing keys, provider secrets) under the master key, and the
// master key's own storage.

#include <array>
#include <string>
#include <string_view>

#include "base/crypto/random.h"
#include "base/result.h"

namespace keystep {

// AES-256-GCM with a random 96-bit nonce per message. Sealed format:
//   0x01 (version) || nonce (12 bytes) || ciphertext (len(plaintext)) || tag (16 bytes)
// The aad (associated data) is authenticated but not stored: bind a sealed value to its
// place (e.g. "signing_key:<kid>") so it cannot be moved to another row undetected.
// Immutable after construction; seal and open are thread-safe.
class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;

  // On success returns a box under key32. On failure (key not exactly 32 bytes) returns
  // kInvalidArgument.
  static Result<SecretBox> from_key(std::string_view key32);

  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  ~SecretBox();

  // On success returns the sealed bytes (binary; 29 bytes longer than plaintext). On failure
  // returns the Random's error or kInternal.
  Result<std::string> seal(std::string_view plaintext, std::string_view aad, Random& random) const;

  // On success returns the plaintext. On failure returns kInvalidArgument if `sealed` is
  // shorter than the format allows or has an unknown version, and kDenied ("decryption
  // failed") for a wrong key, a different aad or any altered byte.
  Result<std::string> open(std::string_view sealed, std::string_view aad) const;

 private:
  SecretBox() = default;
  std::array<unsigned char, kKeySize> key_{};
};

// Name of the environment variable that, when set, supplies the master key.
inline constexpr const char* kMasterKeyEnv = "KEYSTEP_MASTER_KEY";

// Loads the 32-byte master key. If KEYSTEP_MASTER_KEY is set it must hold the standard
// base64 (padded) of exactly 32 bytes; the file is then not consulted. Otherwise reads
// <data_dir>/master.key, which must be a regular file holding that base64 text (trailing
// whitespace allowed) and must not be readable or writable by group or others.
// On success returns the raw 32 bytes. On failure returns kNotFound (no file and no
// variable), kDenied (file permissions too open) or kInvalidArgument (malformed content),
// each with a message naming the source. Reads the environment: call at start-up.
Result<std::string> load_master_key(const std::string& data_dir);

// Creates <data_dir>/master.key holding a new random key in the format load_master_key
// reads, with mode 0600. Never replaces an existing file: O_CREAT|O_EXCL, then write and
// fsync; on a failure after creation the partial file is removed.
// On success the key is durable. On failure returns kAlreadyExists if the file exists,
// kNotFound if data_dir does not exist, kInternal for other I/O errors, or the Random's error.
Status create_master_key_file(const std::string& data_dir, Random& random);

}  // namespace keystep
