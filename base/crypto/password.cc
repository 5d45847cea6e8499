#include "base/crypto/password.h"

#include <argon2.h>

#include <cstring>

namespace keystep {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kTagBytes = 32;

}  // namespace

Status validate_argon2_params(const Argon2Params& p) {
  if (p.t_cost < 1 || p.t_cost > kArgon2MaxTCost) {
    return make_error(ErrorCode::kInvalidArgument,
                      "argon2 t_cost must be between 1 and " + std::to_string(kArgon2MaxTCost));
  }
  if (p.parallelism < 1 || p.parallelism > kArgon2MaxParallelism) {
    return make_error(ErrorCode::kInvalidArgument, "argon2 parallelism must be between 1 and " +
                                                       std::to_string(kArgon2MaxParallelism));
  }
  if (p.m_cost_kib < 8 * p.parallelism || p.m_cost_kib > kArgon2MaxMemoryKib) {
    return make_error(ErrorCode::kInvalidArgument,
                      "argon2 m_cost_kib must be between 8 * parallelism and " +
                          std::to_string(kArgon2MaxMemoryKib));
  }
  return {};
}

Result<std::string> PasswordHasher::hash(std::string_view password) const {
  if (password.size() > kMaxPasswordBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "password longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (Status s = validate_argon2_params(params_); !s) return s.error();
  Result<std::string> salt = random_bytes(*random_, kSaltBytes);
  if (!salt) return salt.error();

  std::string encoded(argon2_encodedlen(params_.t_cost, params_.m_cost_kib, params_.parallelism,
                                        kSaltBytes, kTagBytes, Argon2_id),
                      '\0');
  const int rc = argon2id_hash_encoded(params_.t_cost, params_.m_cost_kib, params_.parallelism,
                                       password.data(), password.size(), salt->data(), salt->size(),
                                       kTagBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return make_error(ErrorCode::kInternal,
                      std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool PasswordHasher::verify(std::string_view encoded, std::string_view password) const {
  if (password.size() > kMaxPasswordBytes) return false;
  // libargon2 wants a NUL-terminated string; an embedded NUL would silently truncate it.
  if (encoded.find('\0') != std::string_view::npos) return false;
  const std::string encoded_z(encoded);
  return argon2id_verify(encoded_z.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void PasswordHasher::burn(std::string_view password) const {
  if (password.size() > kMaxPasswordBytes || !validate_argon2_params(params_)) return;
  static constexpr char kSalt[kSaltBytes] = "keystep-burn-sa";
  unsigned char tag[kTagBytes];
  argon2id_hash_raw(params_.t_cost, params_.m_cost_kib, params_.parallelism, password.data(),
                    password.size(), kSalt, kSaltBytes, tag, kTagBytes);
}

}  // namespace keystep
