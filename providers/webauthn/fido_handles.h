#pragma once
// Owning handles for libfido2 and libcbor objects, and the edge where their error codes
// become ours (keeping the library's text). Internal to providers/webauthn.

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "providers/webauthn/cbor_limits.h"

namespace keystep::webauthn {

struct CborFree {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using CborItem = std::unique_ptr<cbor_item_t, CborFree>;

struct FidoCredFree {
  void operator()(fido_cred_t* cred) const { fido_cred_free(&cred); }
};
using FidoCred = std::unique_ptr<fido_cred_t, FidoCredFree>;

struct FidoAssertFree {
  void operator()(fido_assert_t* assertion) const { fido_assert_free(&assertion); }
};
using FidoAssert = std::unique_ptr<fido_assert_t, FidoAssertFree>;

// Loads exactly one CBOR item spanning all of `bytes`, checked by safe_cbor_item_size first;
// nullptr when the bytes are not that.
inline CborItem load_cbor(std::string_view bytes) {
  if (safe_cbor_item_size(bytes) != bytes.size()) return nullptr;
  cbor_load_result result{};
  CborItem item(
      cbor_load(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &result));
  if (item && result.read != bytes.size()) item.reset();
  return item;
}

inline const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A libfido2 failure as our error: `what` says which step, the library's text follows.
inline Error fido_error(ErrorCode code, std::string_view what, int rc) {
  return make_error(code, std::string(what) + " (libfido2: " + fido_strerr(rc) + ")");
}

}  // namespace keystep::webauthn
