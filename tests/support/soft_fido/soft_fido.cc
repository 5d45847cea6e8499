#include "tests/support/soft_fido/soft_fido.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <cstring>
#include <deque>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "tests/unit/providers/webauthn/test_authenticator.h"

namespace keystep::testsupport {

using webauthn::testing::check;
using webauthn::testing::Item;
using webauthn::testing::item_free;

namespace {

// CTAPHID commands and CTAP2 status codes (CTAP 2.1 §11.2, §8.2).
constexpr uint8_t kHidMsg = 0x03, kHidInit = 0x06, kHidCbor = 0x10, kHidCancel = 0x11,
                  kHidError = 0x3f;
constexpr uint8_t kCapCbor = 0x04, kCapNoMsg = 0x08;
constexpr size_t kReport = 64;
enum Status : uint8_t {
  kOk = 0x00,
  kInvalidCommand = 0x01,
  kInvalidCbor = 0x12,
  kMissingParameter = 0x14,
  kCredentialExcluded = 0x19,
  kUnsupportedAlgorithm = 0x26,
  kNoCredentials = 0x2e,
  kUserActionTimeout = 0x2f,
  kPinInvalid = 0x31,
  kPinBlocked = 0x32,
  kPinAuthInvalid = 0x33,
  kPinAuthBlocked = 0x34,
  kPinNotSet = 0x35,
  kPinRequired = 0x36,
};
constexpr uint8_t kFlagUp = 0x01, kFlagUv = 0x04, kFlagAt = 0x40;

std::string status_only(uint8_t status) { return std::string(1, static_cast<char>(status)); }

std::string reply(cbor_item_t* map) { return status_only(kOk) + webauthn::testing::serialize(map); }

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  check(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1);
  return out;
}

// --- reading requests

std::optional<int64_t> int_of(const cbor_item_t* item) {
  if (cbor_isa_uint(item)) return static_cast<int64_t>(cbor_get_int(item));
  if (cbor_isa_negint(item)) return -1 - static_cast<int64_t>(cbor_get_int(item));
  return std::nullopt;
}

const cbor_item_t* member(const cbor_item_t* map, int64_t key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    if (int_of(pairs[i].key) == key) return pairs[i].value;
  }
  return nullptr;
}

const cbor_item_t* member(const cbor_item_t* map, std::string_view key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    const cbor_item_t* k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_is_definite(k) &&
        std::string_view(reinterpret_cast<const char*>(cbor_string_handle(k)),
                         cbor_string_length(k)) == key) {
      return pairs[i].value;
    }
  }
  return nullptr;
}

std::optional<std::string> bytes_of(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(cbor_bytestring_handle(item)),
                     cbor_bytestring_length(item));
}

std::optional<std::string> text_of(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_string(item) || !cbor_string_is_definite(item)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(item)),
                     cbor_string_length(item));
}

Item load(std::string_view bytes) {
  cbor_load_result result{};
  Item item(cbor_load(reinterpret_cast<cbor_data>(bytes.data()), bytes.size(), &result), item_free);
  if (item && result.read != bytes.size()) item.reset();
  return item;
}

bool option_of(const cbor_item_t* options, const char* name, bool otherwise) {
  const cbor_item_t* v = member(options, std::string_view(name));
  return v != nullptr && cbor_is_bool(v) ? cbor_get_bool(v) : otherwise;
}

void add(cbor_item_t* map, int64_t key, cbor_item_t* value) {
  check(cbor_map_add(map, {cbor_move(webauthn::testing::cbor_int(key)), cbor_move(value)}));
}

// --- PIN protocol 1 (CTAP 2.1 §6.5.6)

std::shared_ptr<EVP_PKEY> shared_key(webauthn::testing::Key key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
}

// The platform's COSE key (x, y) as an OpenSSL public key; null when it is not P-256.
std::shared_ptr<EVP_PKEY> platform_key(const cbor_item_t* cose) {
  std::optional<std::string> x = bytes_of(member(cose, -2));
  std::optional<std::string> y = bytes_of(member(cose, -3));
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  const std::string point = "\x04" + *x + *y;
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(),
                                                                        OSSL_PARAM_BLD_free);
  check(build &&
        OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ==
            1 &&
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) == 1);
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(
      OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// SHA-256 of the ECDH shared point's x coordinate.
std::optional<std::string> shared_secret(EVP_PKEY* ours, EVP_PKEY* theirs) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(ours, nullptr),
                                                                  EVP_PKEY_CTX_free);
  size_t size = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &size) != 1) {
    return std::nullopt;
  }
  std::string z(size, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(z.data()), &size) != 1) {
    return std::nullopt;
  }
  return sha256(z.substr(0, size));
}

// AES-256-CBC with a zero IV and no padding, as protocol 1 encrypts.
std::string aes_cbc(const std::string& key, const std::string& data, bool encrypt) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const unsigned char iv[16] = {};
  std::string out(data.size() + 16, '\0');
  int n = 0, tail = 0;
  check(ctx && data.size() % 16 == 0 &&
        EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr,
                          reinterpret_cast<const unsigned char*>(key.data()), iv,
                          encrypt ? 1 : 0) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
        EVP_CipherUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                         reinterpret_cast<const unsigned char*>(data.data()),
                         static_cast<int>(data.size())) == 1 &&
        EVP_CipherFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &tail) ==
            1);
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

// --- CTAPHID framing (CTAP 2.1 §11.2.4): what libfido2 writes, what it reads back

std::map<std::string, SoftFido*>& registry() {
  static std::map<std::string, SoftFido*> keys;
  return keys;
}

struct Channel {
  SoftFido* key = nullptr;
  std::string cid;  // of the request being received, 4 bytes
  uint8_t cmd = 0;
  size_t expected = 0;
  std::string payload;
  std::deque<std::string> out;  // reports for read(), 64 bytes each

  void send(uint8_t command, const std::string& data) {
    size_t sent = 0;
    std::string frame = cid + static_cast<char>(0x80 | command) +
                        static_cast<char>((data.size() >> 8) & 0xff) +
                        static_cast<char>(data.size() & 0xff);
    for (uint8_t seq = 0;; ++seq) {
      const size_t n = std::min(data.size() - sent, kReport - frame.size());
      frame += data.substr(sent, n);
      sent += n;
      frame.resize(kReport, '\0');
      out.push_back(frame);
      if (sent == data.size()) return;
      frame = cid + static_cast<char>(seq);
    }
  }

  void dispatch() {
    switch (cmd) {
      case kHidInit:
        // nonce, the new channel, CTAPHID protocol 2, device version 1.0.0, capabilities.
        send(kHidInit, payload.substr(0, 8) + std::string("\x01\x02\x03\x04\x02\x01\x00\x00", 8) +
                           static_cast<char>(kCapCbor | kCapNoMsg));
        break;
      case kHidCbor:
        send(kHidCbor, key->handle_cbor(payload));
        break;
      case kHidCancel:
        break;
      case kHidMsg:
      default:
        send(kHidError, std::string(1, '\x01'));  // ERR_INVALID_CMD
    }
  }

  void receive(const unsigned char* report, size_t len) {
    const std::string frame(reinterpret_cast<const char*>(report), len);
    if (frame.size() < 7) return;
    if (static_cast<uint8_t>(frame[4]) & 0x80) {
      cid = frame.substr(0, 4);
      cmd = static_cast<uint8_t>(frame[4]) & 0x7f;
      expected = (static_cast<size_t>(static_cast<uint8_t>(frame[5])) << 8) |
                 static_cast<uint8_t>(frame[6]);
      payload = frame.substr(7, std::min(expected, frame.size() - 7));
    } else {
      payload += frame.substr(5, std::min(expected - payload.size(), frame.size() - 5));
    }
    if (payload.size() == expected) dispatch();
  }
};

void* io_open(const char* path) {
  auto it = registry().find(path);
  if (it == registry().end()) return nullptr;
  auto* channel = new Channel;
  channel->key = it->second;
  return channel;
}
void io_close(void* handle) { delete static_cast<Channel*>(handle); }
int io_read(void* handle, unsigned char* buf, size_t len, int /*ms*/) {
  auto* channel = static_cast<Channel*>(handle);
  if (channel->out.empty()) return -1;  // nothing more to say: libfido2 times out
  const std::string report = channel->out.front();
  channel->out.pop_front();
  const size_t n = std::min(len, report.size());
  std::memcpy(buf, report.data(), n);
  return static_cast<int>(n);
}
// libfido2 writes a HID report: the report id (0) then the 64-byte frame.
int io_write(void* handle, const unsigned char* buf, size_t len) {
  if (len < 1) return -1;
  static_cast<Channel*>(handle)->receive(buf + 1, len - 1);
  return static_cast<int>(len);
}

}  // namespace

struct SoftFido::Credential {
  std::string rp_id_hash;
  std::shared_ptr<EVP_PKEY> key;
};

SoftFido::SoftFido(std::string path, Options options)
    : path_(std::move(path)), options_(std::move(options)) {
  check(options_.aaguid.size() == 16 && registry().emplace(path_, this).second);
  replug();
}

SoftFido::~SoftFido() { registry().erase(path_); }

const fido_dev_io_t& SoftFido::io() {
  static const fido_dev_io_t functions{io_open, io_close, io_read, io_write};
  return functions;
}

void SoftFido::replug() {
  agreement_key_ = shared_key(webauthn::testing::p256_key());
  pin_token_ = random_bytes(32);
  wrong_in_a_row_ = 0;
}

bool SoftFido::presence() {
  if (!touch_) return false;
  ++touches_;
  return true;
}

std::string SoftFido::handle_cbor(const std::string& request) {
  if (request.empty()) return status_only(kInvalidCommand);
  const std::string body = request.substr(1);
  switch (static_cast<uint8_t>(request[0])) {
    case 0x01:
      return make_credential(body);
    case 0x02:
      return get_assertion(body);
    case 0x04:
      return get_info();
    case 0x06:
      return client_pin(body);
    default:
      return status_only(kInvalidCommand);
  }
}

std::string SoftFido::get_info() const {
  Item info(cbor_new_definite_map(6), item_free);
  cbor_item_t* versions = cbor_new_definite_array(1);
  check(cbor_array_push(versions, cbor_move(cbor_build_string("FIDO_2_0"))));
  add(info.get(), 1, versions);
  add(info.get(), 3, webauthn::testing::cbor_bytes(options_.aaguid));
  cbor_item_t* options = cbor_new_definite_map(4);
  const auto option = [&](const char* name, bool value) {
    check(cbor_map_add(options,
                       {cbor_move(cbor_build_string(name)), cbor_move(cbor_build_bool(value))}));
  };
  option("rk", false);
  option("up", true);
  option("plat", false);
  option("clientPin", options_.pin.has_value());
  add(info.get(), 4, options);
  add(info.get(), 5, webauthn::testing::cbor_int(1200));
  cbor_item_t* protocols = cbor_new_definite_array(1);
  check(cbor_array_push(protocols, cbor_move(webauthn::testing::cbor_int(1))));
  add(info.get(), 6, protocols);
  return reply(info.get());
}

uint8_t SoftFido::check_pin_auth(const std::string& client_data_hash, const std::string& pin_auth,
                                 int64_t protocol) const {
  if (protocol != 1 || pin_auth.size() != 16) return kPinAuthInvalid;
  const std::string expected = hmac_sha256(pin_token_, client_data_hash).substr(0, 16);
  return constant_time_equal(expected, pin_auth) ? kOk : kPinAuthInvalid;
}

std::string SoftFido::make_credential(const std::string& body) {
  Item request = load(body);
  if (!request || !cbor_isa_map(request.get())) return status_only(kInvalidCbor);
  std::optional<std::string> cdh = bytes_of(member(request.get(), 1));
  std::optional<std::string> rp_id = text_of(member(member(request.get(), 2), "id"));
  const cbor_item_t* params = member(request.get(), 4);
  if (!cdh || !rp_id || params == nullptr || !cbor_isa_array(params)) {
    return status_only(kMissingParameter);
  }
  bool es256 = false;
  for (size_t i = 0; i < cbor_array_size(params); ++i) {
    cbor_item_t* p = cbor_array_get(params, i);
    es256 = es256 || int_of(member(p, "alg")) == -7;
    cbor_decref(&p);
  }
  if (!es256) return status_only(kUnsupportedAlgorithm);

  uint8_t flags = kFlagUp | kFlagAt;
  if (std::optional<std::string> pin_auth = bytes_of(member(request.get(), 8))) {
    const uint8_t status =
        check_pin_auth(*cdh, *pin_auth, int_of(member(request.get(), 9)).value_or(0));
    if (status != kOk) return status_only(status);
    flags |= kFlagUv;
  } else if (options_.pin) {
    return status_only(kPinRequired);
  }

  const std::string rp_id_hash = sha256(*rp_id);
  bool excluded = false;
  if (const cbor_item_t* list = member(request.get(), 5); list && cbor_isa_array(list)) {
    for (size_t i = 0; i < cbor_array_size(list); ++i) {
      cbor_item_t* descriptor = cbor_array_get(list, i);
      std::optional<std::string> id = bytes_of(member(descriptor, "id"));
      cbor_decref(&descriptor);
      auto known = id ? credentials_.find(*id) : credentials_.end();
      excluded =
          excluded || (known != credentials_.end() && known->second->rp_id_hash == rp_id_hash);
    }
  }
  // A key asks for a touch before it says a credential is excluded, as CTAP 2.1 §6.1.2 wants.
  if (!presence()) return status_only(kUserActionTimeout);
  if (excluded) return status_only(kCredentialExcluded);

  auto credential = std::make_unique<Credential>();
  credential->rp_id_hash = rp_id_hash;
  credential->key = shared_key(webauthn::testing::p256_key());
  const std::string id = random_bytes(32);
  ++sign_count_;
  const std::string auth_data =
      webauthn::testing::auth_data(*rp_id, flags, sign_count_, options_.aaguid, id,
                                   webauthn::testing::cose_es256(credential->key.get()));
  const bool packed = options_.attestation == Attestation::kPackedSelf;
  cbor_item_t* statement = cbor_new_definite_map(packed ? 2 : 0);
  if (packed) {
    check(cbor_map_add(statement, {cbor_move(cbor_build_string("alg")),
                                   cbor_move(webauthn::testing::cbor_int(-7))}));
    const std::string sig = webauthn::testing::es256_sign(credential->key.get(), auth_data + *cdh);
    check(cbor_map_add(statement, {cbor_move(cbor_build_string("sig")),
                                   cbor_move(webauthn::testing::cbor_bytes(sig))}));
  }
  credentials_.emplace(id, std::move(credential));

  Item response(cbor_new_definite_map(3), item_free);
  add(response.get(), 1, cbor_build_string(packed ? "packed" : "none"));
  add(response.get(), 2, webauthn::testing::cbor_bytes(auth_data));
  add(response.get(), 3, statement);
  return reply(response.get());
}

std::string SoftFido::get_assertion(const std::string& body) {
  Item request = load(body);
  if (!request || !cbor_isa_map(request.get())) return status_only(kInvalidCbor);
  std::optional<std::string> rp_id = text_of(member(request.get(), 1));
  std::optional<std::string> cdh = bytes_of(member(request.get(), 2));
  if (!rp_id || !cdh) return status_only(kMissingParameter);
  const std::string rp_id_hash = sha256(*rp_id);

  const Credential* credential = nullptr;
  std::string id;
  if (const cbor_item_t* list = member(request.get(), 3); list && cbor_isa_array(list)) {
    for (size_t i = 0; i < cbor_array_size(list) && credential == nullptr; ++i) {
      cbor_item_t* descriptor = cbor_array_get(list, i);
      std::optional<std::string> candidate = bytes_of(member(descriptor, "id"));
      cbor_decref(&descriptor);
      auto known = candidate ? credentials_.find(*candidate) : credentials_.end();
      if (known != credentials_.end() && known->second->rp_id_hash == rp_id_hash) {
        credential = known->second.get();
        id = *candidate;
      }
    }
  }

  uint8_t flags = 0;
  if (std::optional<std::string> pin_auth = bytes_of(member(request.get(), 6))) {
    const uint8_t status =
        check_pin_auth(*cdh, *pin_auth, int_of(member(request.get(), 7)).value_or(0));
    if (status != kOk) return status_only(status);
    flags |= kFlagUv;
  }
  if (option_of(member(request.get(), 5), "up", true)) {
    if (!presence()) return status_only(kUserActionTimeout);
    flags |= kFlagUp;
  }
  if (credential == nullptr) return status_only(kNoCredentials);

  ++sign_count_;
  // The authenticator data without attested credential data: rpIdHash, flags, counter.
  const std::string auth_data =
      webauthn::testing::auth_data(*rp_id, flags, sign_count_, "", "", "").substr(0, 37);
  const std::string sig = webauthn::testing::es256_sign(credential->key.get(), auth_data + *cdh);

  Item response(cbor_new_definite_map(3), item_free);
  cbor_item_t* descriptor = cbor_new_definite_map(2);
  check(cbor_map_add(descriptor, {cbor_move(cbor_build_string("id")),
                                  cbor_move(webauthn::testing::cbor_bytes(id))}));
  check(cbor_map_add(descriptor, {cbor_move(cbor_build_string("type")),
                                  cbor_move(cbor_build_string("public-key"))}));
  add(response.get(), 1, descriptor);
  add(response.get(), 2, webauthn::testing::cbor_bytes(auth_data));
  add(response.get(), 3, webauthn::testing::cbor_bytes(sig));
  return reply(response.get());
}

std::string SoftFido::client_pin(const std::string& body) {
  Item request = load(body);
  if (!request || !cbor_isa_map(request.get())) return status_only(kInvalidCbor);
  if (int_of(member(request.get(), 1)) != 1) return status_only(kInvalidCbor);
  Item response(cbor_new_definite_map(1), item_free);
  switch (int_of(member(request.get(), 2)).value_or(0)) {
    case 1:  // getPINRetries
      add(response.get(), 3, webauthn::testing::cbor_int(pin_retries_));
      return reply(response.get());
    case 2: {  // getKeyAgreement
      const std::string cose = webauthn::testing::cose_es256(agreement_key_.get(), -25);
      Item key = load(cose);
      add(response.get(), 1, cbor_incref(key.get()));
      return reply(response.get());
    }
    case 5: {  // getPinToken
      if (!options_.pin) return status_only(kPinNotSet);
      if (pin_retries_ == 0) return status_only(kPinBlocked);
      if (wrong_in_a_row_ >= 3) return status_only(kPinAuthBlocked);
      std::shared_ptr<EVP_PKEY> theirs = platform_key(member(request.get(), 3));
      std::optional<std::string> pin_hash_enc = bytes_of(member(request.get(), 6));
      if (!theirs || !pin_hash_enc || pin_hash_enc->size() != 16) {
        return status_only(kMissingParameter);
      }
      std::optional<std::string> shared = shared_secret(agreement_key_.get(), theirs.get());
      if (!shared) return status_only(kInvalidCbor);
      --pin_retries_;
      const std::string sent = aes_cbc(*shared, *pin_hash_enc, false);
      if (!constant_time_equal(sent, sha256(*options_.pin).substr(0, 16))) {
        ++wrong_in_a_row_;
        agreement_key_ = shared_key(webauthn::testing::p256_key());
        if (pin_retries_ == 0) return status_only(kPinBlocked);
        return status_only(wrong_in_a_row_ >= 3 ? kPinAuthBlocked : kPinInvalid);
      }
      pin_retries_ = 8;
      wrong_in_a_row_ = 0;
      add(response.get(), 2, webauthn::testing::cbor_bytes(aes_cbc(*shared, pin_token_, true)));
      return reply(response.get());
    }
    default:
      return status_only(kInvalidCommand);
  }
}

namespace {

struct DevFree {
  void operator()(fido_dev_t* dev) const {
    fido_dev_close(dev);
    fido_dev_free(&dev);
  }
};
struct AssertFree {
  void operator()(fido_assert_t* assertion) const { fido_assert_free(&assertion); }
};

std::string b64(const unsigned char* p, size_t n) {
  return base64url_encode(std::string(reinterpret_cast<const char*>(p), n));
}

}  // namespace

std::function<int(fido_dev_info_t*, size_t, size_t*)> manifest_of(std::vector<SoftFido*> keys) {
  return [keys](fido_dev_info_t* list, size_t max, size_t* found) {
    *found = 0;
    for (SoftFido* key : keys) {
      if (*found == max) break;
      const int rc = fido_dev_info_set(list, (*found)++, key->path().c_str(), "Keystep",
                                       "Soft FIDO2", &SoftFido::io(), nullptr);
      if (rc != FIDO_OK) return rc;
    }
    return FIDO_OK;
  };
}

Result<std::string> sign_in(SoftFido& key, const nlohmann::json& request_options,
                            const std::string& origin, const char* pin) {
  const Error unusable = make_error(ErrorCode::kInvalidArgument, "unusable request options");
  if (!request_options.is_object() || !request_options.contains("challenge") ||
      !request_options["challenge"].is_string() || !request_options.contains("rpId") ||
      !request_options["rpId"].is_string()) {
    return unusable;
  }
  Result<std::string> challenge = base64url_decode(request_options["challenge"].get<std::string>());
  if (!challenge) return unusable;
  const std::string client_data = nlohmann::json{
      {"type", "webauthn.get"},
      {"challenge", base64url_encode(*challenge)},
      {"origin", origin},
      {"crossOrigin", false}}.dump();
  std::unique_ptr<fido_dev_t, DevFree> dev(fido_dev_new());
  std::unique_ptr<fido_assert_t, AssertFree> assertion(fido_assert_new());
  const std::string rp_id = request_options["rpId"].get<std::string>();
  int rc = fido_dev_set_io_functions(dev.get(), &SoftFido::io());
  if (rc == FIDO_OK) rc = fido_dev_open(dev.get(), key.path().c_str());
  if (rc == FIDO_OK) rc = fido_assert_set_rp(assertion.get(), rp_id.c_str());
  if (rc == FIDO_OK) {
    rc = fido_assert_set_clientdata(assertion.get(),
                                    reinterpret_cast<const unsigned char*>(client_data.data()),
                                    client_data.size());
  }
  for (const auto& allowed : request_options.value("allowCredentials", nlohmann::json::array())) {
    if (!allowed.is_object() || !allowed.contains("id") || !allowed["id"].is_string()) {
      return unusable;
    }
    Result<std::string> id = base64url_decode(allowed["id"].get<std::string>());
    if (!id) return unusable;
    if (rc == FIDO_OK) {
      rc = fido_assert_allow_cred(assertion.get(),
                                  reinterpret_cast<const unsigned char*>(id->data()), id->size());
    }
  }
  if (rc == FIDO_OK) rc = fido_dev_get_assert(dev.get(), assertion.get(), pin);
  if (rc != FIDO_OK) return make_error(ErrorCode::kDenied, fido_strerr(rc));
  // libfido2 holds the authenticator data as the CBOR byte string the key sent.
  Item wrapped = load(
      std::string_view(reinterpret_cast<const char*>(fido_assert_authdata_ptr(assertion.get(), 0)),
                       fido_assert_authdata_len(assertion.get(), 0)));
  std::optional<std::string> auth_data = bytes_of(wrapped.get());
  if (!auth_data) return make_error(ErrorCode::kInternal, "no authenticator data");
  const std::string id =
      b64(fido_assert_id_ptr(assertion.get(), 0), fido_assert_id_len(assertion.get(), 0));
  return nlohmann::json{{"id", id},
                        {"rawId", id},
                        {"type", "public-key"},
                        {"response",
                         {{"clientDataJSON", base64url_encode(client_data)},
                          {"authenticatorData", base64url_encode(*auth_data)},
                          {"signature", b64(fido_assert_sig_ptr(assertion.get(), 0),
                                            fido_assert_sig_len(assertion.get(), 0))}}}}
      .dump();
}

}  // namespace keystep::testsupport
