#include "tools/keystep-enroll/fido2_client.h"

#include <cbor.h>

#include <cstdlib>
#include <memory>

#include "base/crypto/encoding.h"
#include "base/url.h"

namespace keystep::enroll {
namespace {

constexpr size_t kMaxKeys = 64;
constexpr int kDefaultTimeoutMs = 60'000;

struct DevInfoList {
  fido_dev_info_t* list = fido_dev_info_new(kMaxKeys);
  size_t found = 0;
  ~DevInfoList() { fido_dev_info_free(&list, kMaxKeys); }
};

Status list_into(const Fido2Keys& keys, DevInfoList& infos) {
  if (infos.list == nullptr) return make_error(ErrorCode::kInternal, "out of memory");
  if (int rc = keys.manifest(infos.list, kMaxKeys, &infos.found); rc != FIDO_OK) {
    return make_error(
        ErrorCode::kUnavailable,
        std::string("could not list security keys (libfido2: ") + fido_strerr(rc) + ")");
  }
  return {};
}
struct DevFree {
  void operator()(fido_dev_t* dev) const {
    fido_dev_close(dev);
    fido_dev_free(&dev);
  }
};
using Dev = std::unique_ptr<fido_dev_t, DevFree>;
struct CredFree {
  void operator()(fido_cred_t* cred) const { fido_cred_free(&cred); }
};
struct CborFree {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using CborItem = std::unique_ptr<cbor_item_t, CborFree>;

// The PIN, wiped when it goes out of scope.
struct Pin {
  std::string text;
  ~Pin() {
    volatile char* p = text.data();
    for (size_t i = 0; i < text.size(); ++i) p[i] = 0;
  }
};

const unsigned char* u8(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string text_or_empty(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// A base64url member of `object`; nullopt when absent or not base64url.
std::optional<std::string> decoded(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  Result<std::string> bytes = base64url_decode(it->get<std::string>());
  if (!bytes || bytes->empty()) return std::nullopt;
  return std::move(*bytes);
}

std::string string_at(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The key's answer for the steps people hit, as messages they can act on.
Error key_error(int rc, std::string_view step) {
  switch (rc) {
    case FIDO_ERR_PIN_INVALID:
      return make_error(ErrorCode::kDenied, "wrong PIN");
    case FIDO_ERR_PIN_BLOCKED:
      return make_error(ErrorCode::kLocked,
                        "the key's PIN is blocked (too many wrong PINs): only a reset of the key "
                        "(which erases its credentials) makes it usable again");
    case FIDO_ERR_PIN_AUTH_BLOCKED:
      return make_error(ErrorCode::kLocked,
                        "three wrong PINs in a row: unplug the key, plug it in again and retry");
    case FIDO_ERR_PIN_REQUIRED:
      return make_error(ErrorCode::kDenied, "the key needs its PIN");
    case FIDO_ERR_CREDENTIAL_EXCLUDED:
      return make_error(ErrorCode::kDenied,
                        "this key is already registered for this user (the server excluded it)");
    case FIDO_ERR_USER_ACTION_TIMEOUT:
    case FIDO_ERR_ACTION_TIMEOUT:
    case FIDO_ERR_TIMEOUT:
      return make_error(ErrorCode::kExpired,
                        "the key was not touched in time: run again and "
                        "touch the key when it blinks");
    case FIDO_ERR_UNSUPPORTED_ALGORITHM:
      return make_error(ErrorCode::kInvalidArgument,
                        "the key cannot make an ES256 credential, which the server requires");
    default:
      return make_error(ErrorCode::kUnavailable, "the security key failed to " + std::string(step) +
                                                     " (libfido2: " + fido_strerr(rc) + ")");
  }
}

// rp.id must be the origin's host or a parent domain of it (WebAuthn §5.1.3 step 8, as a
// browser checks before it lets the key sign for that relying party).
Result<std::string> rp_id_for(const nlohmann::json& options, const std::string& origin) {
  Result<ParsedUrl> url = parse_url(origin);
  if (!url || !url->path.empty() || url->query || url->fragment) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuer origin is not scheme://host[:port]: " + origin);
  }
  auto rp = options.find("rp");
  if (rp == options.end() || !rp->is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "the creation options lack rp");
  }
  const std::string id = string_at(*rp, "id");
  if (id.empty()) return url->host;
  const std::string& host = url->host;
  if (host == id ||
      (host.size() > id.size() && host.ends_with(id) && host[host.size() - id.size() - 1] == '.')) {
    return id;
  }
  return make_error(
      ErrorCode::kInvalidArgument,
      "the server's rp.id " + id + " is not the host of " + origin + " or a parent domain of it");
}

// The attestationObject from libfido2's parts: {"fmt", "attStmt", "authData"}.
Result<std::string> attestation_object(const fido_cred_t* cred) {
  const char* fmt = fido_cred_fmt(cred);
  if (fmt == nullptr || fido_cred_authdata_raw_len(cred) == 0) {
    return make_error(ErrorCode::kUnavailable, "the key answered without authenticator data");
  }
  CborItem statement;
  if (fido_cred_attstmt_len(cred) == 0) {
    statement.reset(cbor_new_definite_map(0));
  } else {
    cbor_load_result loaded{};
    statement.reset(cbor_load(fido_cred_attstmt_ptr(cred), fido_cred_attstmt_len(cred), &loaded));
    if (statement && loaded.read != fido_cred_attstmt_len(cred)) statement.reset();
  }
  CborItem object(cbor_new_definite_map(3));
  if (!statement || !object ||
      !cbor_map_add(object.get(),
                    {cbor_move(cbor_build_string("fmt")), cbor_move(cbor_build_string(fmt))}) ||
      !cbor_map_add(object.get(), {cbor_move(cbor_build_string("attStmt")), statement.get()}) ||
      !cbor_map_add(object.get(),
                    {cbor_move(cbor_build_string("authData")),
                     cbor_move(cbor_build_bytestring(fido_cred_authdata_raw_ptr(cred),
                                                     fido_cred_authdata_raw_len(cred)))})) {
    return make_error(ErrorCode::kInternal, "could not build the attestationObject");
  }
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  const size_t size = cbor_serialize_alloc(object.get(), &buffer, &capacity);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  if (size == 0) return make_error(ErrorCode::kInternal, "could not encode the attestationObject");
  return out;
}

Result<Dev> open_key(const Fido2Keys& keys, const std::string& device) {
  Result<Fido2Key> chosen = choose_fido2_key(keys, device);
  if (!chosen) return chosen.error();
  const std::string& path = chosen->path;
  Dev dev(fido_dev_new());
  if (!dev) return make_error(ErrorCode::kInternal, "out of memory");
  int rc = keys.io == nullptr ? FIDO_OK : fido_dev_set_io_functions(dev.get(), keys.io);
  if (rc == FIDO_OK) rc = fido_dev_open(dev.get(), path.c_str());
  if (rc != FIDO_OK) {
    // A closed device must not be closed again by DevFree.
    fido_dev_t* raw = dev.release();
    fido_dev_free(&raw);
    return make_error(ErrorCode::kUnavailable,
                      "could not open the security key " + path + " (libfido2: " + fido_strerr(rc) +
                          "; on Linux, check your access to /dev/hidraw*)");
  }
  return dev;
}

}  // namespace

Result<std::string> origin_of(std::string_view issuer) {
  Result<ParsedUrl> url = parse_url(issuer);
  if (!url) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuer is not an absolute http(s) URL: " + std::string(issuer));
  }
  return url->scheme + "://" + url->host + (url->port ? ":" + std::to_string(*url->port) : "");
}

Fido2Keys hid_keys() {
  return Fido2Keys{[](fido_dev_info_t* list, size_t max, size_t* found) {
                     return fido_dev_info_manifest(list, max, found);
                   },
                   nullptr};
}

Result<std::vector<Fido2Key>> list_fido2_keys(const Fido2Keys& keys) {
  DevInfoList infos;
  if (Status listed = list_into(keys, infos); !listed) return listed.error();
  const size_t found = infos.found;
  std::vector<Fido2Key> out;
  for (size_t i = 0; i < found; ++i) {
    const fido_dev_info_t* info = fido_dev_info_ptr(infos.list, i);
    out.push_back({text_or_empty(fido_dev_info_path(info)),
                   text_or_empty(fido_dev_info_manufacturer_string(info)),
                   text_or_empty(fido_dev_info_product_string(info))});
  }
  return out;
}

Result<Fido2Key> choose_fido2_key(const Fido2Keys& keys, const std::string& device) {
  Result<std::vector<Fido2Key>> plugged = list_fido2_keys(keys);
  if (!plugged) return plugged.error();
  if (plugged->empty()) {
    return make_error(ErrorCode::kNotFound,
                      "no FIDO2 security key found: plug one in (on Linux, if one is plugged in, "
                      "your user may lack access to /dev/hidraw*: see the udev rules of libfido2)");
  }
  std::string paths;
  for (const Fido2Key& key : *plugged) {
    if (key.path == device || (device.empty() && plugged->size() == 1)) return key;
    paths += "\n  " + key.path + "  " + key.manufacturer + " " + key.product;
  }
  if (device.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "several security keys are plugged in: choose one with --device" + paths);
  }
  return make_error(ErrorCode::kNotFound, "no security key at " + device + "; plugged in:" + paths);
}

Result<std::string> fido2_register(const Fido2Keys& keys, const Fido2Request& request,
                                   const PinPrompt& prompt) {
  const nlohmann::json& options = request.creation_options;
  if (!options.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "the creation options are not an object");
  }
  Result<std::string> rp_id = rp_id_for(options, request.origin);
  if (!rp_id) return rp_id.error();
  std::optional<std::string> challenge = decoded(options, "challenge");
  const nlohmann::json user = options.value("user", nlohmann::json::object());
  std::optional<std::string> user_id = user.is_object() ? decoded(user, "id") : std::nullopt;
  if (!challenge || !user_id) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the creation options lack a base64url challenge or user.id");
  }
  bool es256 = false;
  for (const auto& p : options.value("pubKeyCredParams", nlohmann::json::array())) {
    es256 = es256 || (p.is_object() && p.value("alg", nlohmann::json()) == -7);
  }
  if (!es256) {
    return make_error(ErrorCode::kInvalidArgument, "the creation options do not offer ES256");
  }
  const nlohmann::json selection =
      options.value("authenticatorSelection", nlohmann::json::object());
  const bool uv_required =
      selection.is_object() && selection.value("userVerification", "") == "required";

  // Serialised once: these exact bytes are hashed for the key and sent to the server.
  const std::string client_data = nlohmann::json{
      {"type", "webauthn.create"},
      {"challenge", base64url_encode(*challenge)},
      {"origin", request.origin},
      {"crossOrigin", false}}.dump();

  Result<Dev> dev = open_key(keys, request.device);
  if (!dev) return dev.error();

  Pin pin;
  if (fido_dev_has_pin(dev->get())) {
    int retries = 0;
    if (int rc = fido_dev_get_retry_count(dev->get(), &retries); rc != FIDO_OK) {
      return key_error(rc, "tell its PIN retries");
    }
    if (retries == 0) return key_error(FIDO_ERR_PIN_BLOCKED, "");
    std::optional<std::string> given = prompt(retries);
    if (!given || given->empty()) {
      return make_error(ErrorCode::kDenied, "the key has a PIN and none was given");
    }
    pin.text = std::move(*given);
  } else if (uv_required) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the account requires user verification and this key has no PIN: set one "
                      "(e.g. `fido2-token -S " +
                          request.device +
                          "` or `ykman fido access "
                          "change-pin`) and run again");
  }

  std::unique_ptr<fido_cred_t, CredFree> cred(fido_cred_new());
  if (!cred) return make_error(ErrorCode::kInternal, "out of memory");
  const std::string rp_name = string_at(options.at("rp"), "name");
  const std::string user_name = string_at(user, "name");
  const std::string display_name = string_at(user, "displayName");
  int rc = fido_cred_set_type(cred.get(), COSE_ES256);
  if (rc == FIDO_OK) {
    rc = fido_cred_set_clientdata(cred.get(), u8(client_data), client_data.size());
  }
  if (rc == FIDO_OK) {
    rc = fido_cred_set_rp(cred.get(), rp_id->c_str(), rp_name.empty() ? nullptr : rp_name.c_str());
  }
  if (rc == FIDO_OK) {
    rc = fido_cred_set_user(cred.get(), u8(*user_id), user_id->size(), user_name.c_str(),
                            display_name.empty() ? nullptr : display_name.c_str(), nullptr);
  }
  for (const auto& excluded : options.value("excludeCredentials", nlohmann::json::array())) {
    std::optional<std::string> id = excluded.is_object() ? decoded(excluded, "id") : std::nullopt;
    if (!id) {
      return make_error(ErrorCode::kInvalidArgument,
                        "an excludeCredentials entry lacks a base64url id");
    }
    if (rc == FIDO_OK) rc = fido_cred_exclude(cred.get(), u8(*id), id->size());
  }
  if (rc != FIDO_OK) {
    return make_error(
        ErrorCode::kInvalidArgument,
        std::string("the creation options are unusable (libfido2: ") + fido_strerr(rc) + ")");
  }
  const int timeout_ms = options.value("timeout", nlohmann::json()).is_number_integer()
                             ? options["timeout"].get<int>()
                             : kDefaultTimeoutMs;
  fido_dev_set_timeout(dev->get(), timeout_ms > 0 ? timeout_ms : kDefaultTimeoutMs);

  rc = fido_dev_make_cred(dev->get(), cred.get(), pin.text.empty() ? nullptr : pin.text.c_str());
  if (rc == FIDO_ERR_PIN_INVALID) {
    int retries = 0;
    if (fido_dev_get_retry_count(dev->get(), &retries) == FIDO_OK) {
      return make_error(ErrorCode::kDenied, "wrong PIN (" + std::to_string(retries) +
                                                " tries left before the key "
                                                "blocks its PIN)");
    }
  }
  if (rc != FIDO_OK) return key_error(rc, "make the credential");

  Result<std::string> object = attestation_object(cred.get());
  if (!object) return object.error();
  const std::string id = base64url_encode(std::string(
      reinterpret_cast<const char*>(fido_cred_id_ptr(cred.get())), fido_cred_id_len(cred.get())));
  return nlohmann::json{{"id", id},
                        {"rawId", id},
                        {"type", "public-key"},
                        {"authenticatorAttachment", "cross-platform"},
                        {"clientExtensionResults", nlohmann::json::object()},
                        {"response",
                         {{"clientDataJSON", base64url_encode(client_data)},
                          {"attestationObject", base64url_encode(*object)},
                          {"transports", {"usb"}}}}}
      .dump();
}

}  // namespace keystep::enroll
