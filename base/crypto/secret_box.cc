#include "base/crypto/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/crypto/encoding.h"
#include "base/crypto/ossl.h"

namespace keystep {
namespace {

constexpr unsigned char kVersion = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kOverhead = 1 + kNonceSize + kTagSize;
constexpr const char* kMasterKeyFile = "master.key";

unsigned char* bytes(std::string& s, size_t offset = 0) {
  return reinterpret_cast<unsigned char*>(s.data()) + offset;
}
const unsigned char* bytes(std::string_view s, size_t offset = 0) {
  return reinterpret_cast<const unsigned char*>(s.data()) + offset;
}

// Erases a buffer that held key material when it goes out of scope.
class Wiped {
 public:
  explicit Wiped(std::string& s) : s_(s) {}
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { OPENSSL_cleanse(s_.data(), s_.size()); }

 private:
  std::string& s_;
};

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error that a destructor would have to swallow.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Error io_error(ErrorCode code, const std::string& what, const std::string& path) {
  return make_error(code, what + " " + path + ": " + std::strerror(errno));
}

std::string_view trim_trailing_space(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<std::string> parse_master_key(std::string_view text, const std::string& source) {
  Result<std::string> key = base64_decode(trim_trailing_space(text));
  if (!key || key->size() != SecretBox::kKeySize) {
    if (key) OPENSSL_cleanse(key->data(), key->size());
    return make_error(ErrorCode::kInvalidArgument,
                      source + " must contain the base64 encoding of exactly 32 bytes");
  }
  return key;
}

}  // namespace

Result<SecretBox> SecretBox::from_key(std::string_view key32) {
  if (key32.size() != kKeySize) {
    return make_error(ErrorCode::kInvalidArgument, "secret box key must be 32 bytes");
  }
  SecretBox box;
  std::memcpy(box.key_.data(), key32.data(), kKeySize);
  return box;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<std::string> SecretBox::seal(std::string_view plaintext, std::string_view aad,
                                    Random& random) const {
  if (plaintext.size() > INT_MAX - kOverhead || aad.size() > INT_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "secret box input too large");
  }
  std::string out(kOverhead + plaintext.size(), '\0');
  out[0] = static_cast<char>(kVersion);
  if (Status s = random.fill(bytes(out, 1), kNonceSize); !s) return s.error();

  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.data(), bytes(out, 1), nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(ctx.get(), bytes(out, 1 + kNonceSize), &len, bytes(plaintext),
                         static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out, 1 + kNonceSize + plaintext.size()), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize,
                          bytes(out, out.size() - kTagSize)) != 1) {
    return ossl::error(ErrorCode::kInternal, "AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> SecretBox::open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() < kOverhead) {
    return make_error(ErrorCode::kInvalidArgument, "sealed data is truncated");
  }
  if (static_cast<unsigned char>(sealed[0]) != kVersion) {
    return make_error(ErrorCode::kInvalidArgument, "sealed data has an unknown version");
  }
  if (sealed.size() > INT_MAX || aad.size() > INT_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "sealed data too large");
  }
  const size_t ct_size = sealed.size() - kOverhead;
  std::string out(ct_size, '\0');
  unsigned char tag[kTagSize];
  std::memcpy(tag, bytes(sealed, sealed.size() - kTagSize), kTagSize);

  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.data(), bytes(sealed, 1), nullptr) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize, tag) != 1) {
    return ossl::error(ErrorCode::kInternal, "AES-256-GCM setup failed");
  }
  const bool ok =
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad),
                                        static_cast<int>(aad.size())) == 1) &&
      (ct_size == 0 || EVP_DecryptUpdate(ctx.get(), bytes(out), &len, bytes(sealed, 1 + kNonceSize),
                                         static_cast<int>(ct_size)) == 1) &&
      EVP_DecryptFinal_ex(ctx.get(), bytes(out, ct_size), &len) == 1;
  if (!ok) {
    // Unauthenticated plaintext must not linger.
    OPENSSL_cleanse(out.data(), out.size());
    return ossl::error(ErrorCode::kDenied, "decryption failed");
  }
  return out;
}

Result<std::string> load_master_key(const std::string& data_dir) {
  if (const char* env = std::getenv(kMasterKeyEnv)) {
    return parse_master_key(env, kMasterKeyEnv);
  }
  const std::string path = data_dir + "/" + kMasterKeyFile;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return make_error(ErrorCode::kNotFound, "master key file " + path + " does not exist and " +
                                                  kMasterKeyEnv + " is not set");
    }
    return io_error(ErrorCode::kInternal, "cannot open master key file", path);
  }
  // fstat on the open descriptor: the file checked is the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return io_error(ErrorCode::kInternal, "cannot stat master key file", path);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "master key file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(ErrorCode::kDenied, "master key file " + path + " has mode " + mode +
                                              "; it must not be accessible by group or "
                                              "others (chmod 600 " +
                                              path + ")");
  }
  // A valid file is 44 base64 characters plus a newline; anything much larger is wrong.
  std::string text(256, '\0');
  Wiped wipe_text(text);
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(ErrorCode::kInternal, "cannot read master key file", path);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used == text.size()) {
    return make_error(ErrorCode::kInvalidArgument, "master key file " + path + " is too large");
  }
  return parse_master_key(std::string_view(text.data(), used), "master key file " + path);
}

Status create_master_key_file(const std::string& data_dir, Random& random) {
  Result<std::string> key = random_bytes(random, SecretBox::kKeySize);
  if (!key) return key.error();
  Wiped wipe_key(*key);
  std::string text = base64_encode(*key) + "\n";
  Wiped wipe_text(text);

  const std::string path = data_dir + "/" + kMasterKeyFile;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return make_error(ErrorCode::kAlreadyExists, "master key file " + path + " already exists");
    }
    if (errno == ENOENT) {
      return make_error(ErrorCode::kNotFound, "data directory " + data_dir + " does not exist");
    }
    return io_error(ErrorCode::kInternal, "cannot create master key file", path);
  }
  auto fail = [&](const char* what) {
    Error e = io_error(ErrorCode::kInternal, what, path);
    ::unlink(path.c_str());
    return e;
  };
  // The umask may have cleared owner bits; set the mode exactly.
  if (::fchmod(fd.get(), 0600) != 0) return fail("cannot chmod master key file");
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write master key file");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot fsync master key file");
  if (fd.close() != 0) return fail("cannot close master key file");
  // Make the new directory entry durable too.
  UniqueFd dir(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) return fail("cannot fsync directory of");
  return {};
}

}  // namespace keystep
