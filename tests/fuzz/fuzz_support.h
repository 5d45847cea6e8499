#pragma once
// What the libFuzzer harnesses of tests/fuzz share: a property check that aborts (so
// libFuzzer records the input as a crash, whatever NDEBUG says), splitting an input into
// text fields, and a complete IdP wired as `keystep serve` wires it (tools/keystep/wiring.h)
// over an in-memory SQLite store, built once per process and rebuilt from scratch every
// World::kRunsPerWorld uses so the state a long run accumulates stays small.
//
// Not thread-safe: libFuzzer calls a harness from one thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "idp/admin/admin_api.h"
#include "idp/config/config.h"
#include "idp/oidc/provider.h"
#include "storage/sqlite/sqlite_store.h"
#include "tools/keystep/wiring.h"

namespace keystep::fuzz {

// Aborts with the property's text when it does not hold.
[[noreturn]] void property_failed(const char* file, int line, const char* text);
#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) ::keystep::fuzz::property_failed(__FILE__, __LINE__, #cond); \
  } while (0)

// The input as text.
inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The first `count - 1` fields of text terminated by `separator`, then the rest as the last
// field (which may contain the separator). Missing fields are empty. With '\n' seeds stay
// readable; kFieldSeparator (ASCII RS) leaves CR, LF and NUL to the fields themselves.
inline constexpr char kFieldSeparator = '\x1e';
std::vector<std::string> split_fields(std::string_view text, size_t count, char separator = '\n');

// True iff text is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view text);

// A clock standing still, so TOTP steps and expiries are reproducible.
class FixedClock final : public Clock {
 public:
  static constexpr int64_t kStart = 1'750'000'000;
  int64_t now() const override { return now_; }

 private:
  int64_t now_ = kStart;
};

struct World {
  static constexpr const char* kIssuer = "https://id.example.com";
  static constexpr const char* kAdminEmail = "boss@example.com";
  static constexpr const char* kMemberEmail = "alice@example.com";
  static constexpr const char* kPassword = "correct horse battery";
  // Client "spa" (public) and "web" (confidential, kWebSecret), both in account "acme".
  static constexpr const char* kSpaRedirect = "https://spa.example.com/cb";
  static constexpr const char* kWebRedirect = "https://web.example.com/cb?x=1";
  static constexpr const char* kNativeRedirect = "http://127.0.0.1:7000/cb";
  static constexpr const char* kWebSecret = "w3b-client-secret-0123456789abcdefghijkl";
  static constexpr int64_t kRunsPerWorld = 20000;

  IdpConfig config;
  FixedClock clock;
  OsRandom random;
  std::unique_ptr<sqlite::SqliteStore> store;
  std::unique_ptr<SecretBox> box;
  std::unique_ptr<WiredServer> server;  // wired as `keystep serve` is, never started
  Provider* provider = nullptr;         // server's
  AdminApi* admin_api = nullptr;        // server's
  User admin;                  // of "acme", with every admin permission
  User member;                 // of "acme", no permission
  std::string session_cookie;  // a live password-only session of the member
};

// The process's world; a new one every kRunsPerWorld calls. Aborts if it cannot be built.
World& world();

}  // namespace keystep::fuzz
