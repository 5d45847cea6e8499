#include "providers/webauthn/assertion.h"

#include <string>

#include "providers/webauthn/attestation.h"
#include "providers/webauthn/authenticator_data.h"
#include "providers/webauthn/cbor_limits.h"
#include "providers/webauthn/fido_handles.h"

namespace keystep::webauthn {
namespace {

// libfido2 keeps one key type per algorithm, each with its own new/from_ptr/free.
template <class Key, Key* (*New)(), int (*FromPtr)(Key*, const void*, size_t), void (*Free)(Key**)>
int verify_with(const fido_assert_t* assertion, int alg, std::string_view public_key) {
  Key* key = New();
  if (!key) return FIDO_ERR_INTERNAL;
  int rc = FromPtr(key, public_key.data(), public_key.size());
  if (rc == FIDO_OK)
    rc = fido_assert_verify(assertion, 0, alg, key);
  else
    rc = FIDO_ERR_INTERNAL;  // a stored key libfido2 refuses is our fault, not the user's
  Free(&key);
  return rc;
}

int verify_signature(const fido_assert_t* assertion, int alg, std::string_view public_key) {
  switch (alg) {
    case kAlgEs256:
      return verify_with<es256_pk_t, es256_pk_new, es256_pk_from_ptr, es256_pk_free>(assertion, alg,
                                                                                     public_key);
    case kAlgEdDsa:
      return verify_with<eddsa_pk_t, eddsa_pk_new, eddsa_pk_from_ptr, eddsa_pk_free>(assertion, alg,
                                                                                     public_key);
    case kAlgRs256:
      return verify_with<rs256_pk_t, rs256_pk_new, rs256_pk_from_ptr, rs256_pk_free>(assertion, alg,
                                                                                     public_key);
    default:
      return FIDO_ERR_INTERNAL;
  }
}

}  // namespace

Result<AssertedData> verify_assertion(std::string_view authenticator_data,
                                      std::string_view signature,
                                      const ExpectedAssertion& expected) {
  if (signature.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the signature is missing");
  }
  Result<uint8_t> flags = check_authenticator_data(authenticator_data, expected.rp_id,
                                                   expected.user_verification_required);
  if (!flags) return flags.error();
  // Extension outputs fill the rest; libfido2 loads them with cbor_load, so they are checked
  // first (cbor_limits.h).
  if ((*flags & kFlagExtensionData) &&
      safe_cbor_item_size(authenticator_data.substr(kAuthDataHeaderSize)) !=
          authenticator_data.size() - kAuthDataHeaderSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the authenticator data's extension outputs are malformed");
  }

  FidoAssert assertion(fido_assert_new());
  if (!assertion) return make_error(ErrorCode::kInternal, "libfido2: out of memory");
  const std::string rp_id(expected.rp_id);
  int rc = fido_assert_set_count(assertion.get(), 1);
  if (rc == FIDO_OK) rc = fido_assert_set_rp(assertion.get(), rp_id.c_str());
  if (rc == FIDO_OK) {
    rc = fido_assert_set_clientdata(assertion.get(), bytes_of(expected.client_data_json),
                                    expected.client_data_json.size());
  }
  if (rc == FIDO_OK) rc = fido_assert_set_up(assertion.get(), FIDO_OPT_TRUE);
  if (rc == FIDO_OK) {
    rc = fido_assert_set_uv(assertion.get(),
                            expected.user_verification_required ? FIDO_OPT_TRUE : FIDO_OPT_OMIT);
  }
  if (rc != FIDO_OK) return fido_error(ErrorCode::kInternal, "assertion setup failed", rc);
  rc = fido_assert_set_authdata_raw(assertion.get(), 0, bytes_of(authenticator_data),
                                    authenticator_data.size());
  if (rc == FIDO_OK) {
    rc = fido_assert_set_sig(assertion.get(), 0, bytes_of(signature), signature.size());
  }
  if (rc != FIDO_OK) {
    return fido_error(ErrorCode::kInvalidArgument, "the authenticator data is malformed", rc);
  }
  rc = verify_signature(assertion.get(), expected.alg, expected.public_key);
  if (rc == FIDO_ERR_INVALID_SIG) {
    return make_error(ErrorCode::kDenied, "the key's signature does not verify");
  }
  if (rc == FIDO_ERR_INVALID_PARAM) {
    return fido_error(ErrorCode::kDenied, "the authenticator data was refused", rc);
  }
  if (rc != FIDO_OK) return fido_error(ErrorCode::kInternal, "the signature check failed", rc);
  return AssertedData{fido_assert_flags(assertion.get(), 0),
                      fido_assert_sigcount(assertion.get(), 0)};
}

}  // namespace keystep::webauthn
