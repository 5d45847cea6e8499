#include "tests/fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>

#include "base/crypto/hash.h"

namespace keystep::fuzz {
namespace {

[[noreturn]] void setup_failed(const char* what, const Error& error) {
  std::fprintf(stderr, "fuzz world: %s: %s\n", what, error.message.c_str());
  std::abort();
}

template <class T>
T must(Result<T> result, const char* what) {
  if (!result) setup_failed(what, result.error());
  return std::move(*result);
}

void must(const Status& status, const char* what) {
  if (!status) setup_failed(what, status.error());
}

std::unique_ptr<World> build_world() {
  auto w = std::make_unique<World>();
  w->config.issuer = World::kIssuer;
  w->config.argon2 = Argon2Params{1, 1024, 1};  // cheap: setup runs again every kRunsPerWorld
  must(validate_config(w->config), "config");
  w->store = must(sqlite::SqliteStore::open(":memory:"), "store");
  w->box = std::make_unique<SecretBox>(
      must(SecretBox::from_key(std::string(SecretBox::kKeySize, 'k')), "secret box"));
  w->server = must(wire_server(w->config, *w->store, *w->store, *w->box, w->random, w->clock),
                   "wiring");
  w->provider = &w->server->provider();
  w->admin_api = &w->server->admin_api();
  Directory* directory = &w->server->directory();

  must(directory->create_account("acme", "Acme"), "account");
  must(directory->create_account("globex", "Globex"), "account");
  w->admin =
      must(directory->create_user("acme", World::kAdminEmail, World::kPassword, true), "admin");
  w->member = must(directory->create_user("acme", World::kMemberEmail, World::kPassword, false),
                   "member");
  must(directory->create_user("globex", World::kMemberEmail, World::kPassword, false),
       "other member");
  must(directory->create_client(
           {"spa", {World::kSpaRedirect, World::kNativeRedirect}, {}, std::nullopt}),
       "client spa");
  must(directory->create_client(
           {"web", {World::kWebRedirect}, {}, std::string(World::kWebSecret)}),
       "client web");

  const int64_t now = w->clock.now();
  w->session_cookie = must(random_token(w->random, 32), "session cookie");
  Session session;
  session.id_hash = sha256_b64url(w->session_cookie);
  session.sid = must(random_token(w->random, 16), "sid");
  session.user_id = w->member.id;
  session.auth_time = now;
  session.acr = kAcrPassword;
  session.amr = "pwd";
  session.created_at = now;
  session.expires_at = now + w->config.session_ttl;
  session.password_time = now;
  must(w->store->create_session(session), "session");
  return w;
}

}  // namespace

void property_failed(const char* file, int line, const char* text) {
  std::fprintf(stderr, "%s:%d: property does not hold: %s\n", file, line, text);
  std::abort();
}

std::vector<std::string> split_fields(std::string_view text, size_t count, char separator) {
  std::vector<std::string> fields;
  while (fields.size() + 1 < count) {
    const size_t end = text.find(separator);
    if (end == std::string_view::npos) break;
    fields.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  fields.emplace_back(text);
  fields.resize(count);
  return fields;
}

bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = cp << 6 | (next & 0x3F);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += extra + 1;
  }
  return true;
}

World& world() {
  static std::unique_ptr<World> current;
  static int64_t uses = 0;
  if (!current || ++uses % World::kRunsPerWorld == 0) {
    current.reset();  // the old store closes before the new one opens
    current = build_world();
  }
  return *current;
}

}  // namespace keystep::fuzz
