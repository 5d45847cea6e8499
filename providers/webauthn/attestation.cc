#include "providers/webauthn/attestation.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <utility>

#include "providers/webauthn/fido_handles.h"

namespace keystep::webauthn {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;

void free_x509_stack(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }

// After the header (authenticator_data.h) comes the attested credential data: AAGUID 16,
// credentialIdLength 2, credentialId, credentialPublicKey (COSE).
constexpr size_t kAttestedOffset = kAuthDataHeaderSize;
constexpr size_t kAaguidSize = 16;

// id-fido-gen-ce-aaguid (§8.2.1): the AAGUID a packed attestation certificate vouches for.
constexpr const char* kAaguidExtensionOid = "1.3.6.1.4.1.45724.1.1.4";

const cbor_item_t* map_value(const cbor_item_t* map, std::string_view key) {
  const size_t n = cbor_map_size(map);
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; ++i) {
    const cbor_item_t* k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_is_definite(k) &&
        std::string_view(reinterpret_cast<const char*>(cbor_string_handle(k)),
                         cbor_string_length(k)) == key) {
      return pairs[i].value;
    }
  }
  return nullptr;
}

bool definite_bytes(const cbor_item_t* item) {
  return item && cbor_isa_bytestring(item) && cbor_bytestring_is_definite(item);
}

std::string_view bytes_view(const cbor_item_t* item) {
  return {reinterpret_cast<const char*>(cbor_bytestring_handle(item)),
          cbor_bytestring_length(item)};
}

// Where the credential public key ends and what algorithm it is for (COSE label 3), which
// libfido2 must be told before it decodes the key. alg 0 when there is no readable key.
struct CredentialKey {
  int alg = 0;
  size_t end = 0;  // offset in the authenticator data of what follows: extension outputs
};

CredentialKey credential_key(std::string_view auth_data) {
  if (auth_data.size() < kAttestedOffset + kAaguidSize + 2) return {};
  const auto* p = bytes_of(auth_data);
  const size_t id_size =
      (size_t{p[kAttestedOffset + kAaguidSize]} << 8) | p[kAttestedOffset + kAaguidSize + 1];
  const size_t key_offset = kAttestedOffset + kAaguidSize + 2 + id_size;
  if (key_offset >= auth_data.size()) return {};
  const std::optional<size_t> key_size = safe_cbor_item_size(auth_data.substr(key_offset));
  if (!key_size) return {};
  CborItem key = load_cbor(auth_data.substr(key_offset, *key_size));
  if (!key || !cbor_isa_map(key.get()) || !cbor_map_is_definite(key.get())) return {};
  const size_t n = cbor_map_size(key.get());
  const cbor_pair* pairs = cbor_map_handle(key.get());
  for (size_t i = 0; i < n; ++i) {
    if (cbor_isa_uint(pairs[i].key) && cbor_get_int(pairs[i].key) == 3 &&
        cbor_isa_negint(pairs[i].value) && cbor_get_int(pairs[i].value) < 1024) {
      return {-1 - static_cast<int>(cbor_get_int(pairs[i].value)), key_offset + *key_size};
    }
  }
  return {};
}

// libfido2 refuses a registration whose authenticator extension outputs differ from what
// the client asked for: right for a client, wrong for a server, which asks for none and may
// still get outputs a key adds by itself (a default credProtect policy, hmac-secret). The
// known outputs are declared as asked for, so that libfido2 checks their form and the
// signature still covers them; unknown ones libfido2 ignores.
Status accept_extension_outputs(fido_cred_t* cred, std::string_view extensions) {
  const Error malformed = make_error(ErrorCode::kInvalidArgument,
                                     "the authenticator data's extension outputs are malformed");
  CborItem map = load_cbor(extensions);
  if (!map || !cbor_isa_map(map.get()) || !cbor_map_is_definite(map.get())) return malformed;
  const size_t n = cbor_map_size(map.get());
  const cbor_pair* pairs = cbor_map_handle(map.get());
  for (size_t i = 0; i < n; ++i) {
    const cbor_item_t* key = pairs[i].key;
    const cbor_item_t* value = pairs[i].value;
    if (!cbor_isa_string(key) || !cbor_string_is_definite(key)) return malformed;
    const std::string_view name(reinterpret_cast<const char*>(cbor_string_handle(key)),
                                cbor_string_length(key));
    const bool small_uint = cbor_isa_uint(value) && cbor_get_int(value) <= 0xff;
    int rc = FIDO_OK;
    if (name == "credProtect") {
      rc = small_uint ? fido_cred_set_prot(cred, static_cast<int>(cbor_get_int(value)))
                      : FIDO_ERR_INVALID_ARGUMENT;
    } else if (name == "minPinLength") {
      rc = small_uint ? fido_cred_set_pin_minlen(cred, cbor_get_int(value))
                      : FIDO_ERR_INVALID_ARGUMENT;
    } else if (name == "hmac-secret" || name == "credBlob") {
      if (cbor_is_bool(value) && cbor_get_bool(value)) {
        rc = fido_cred_set_extensions(
            cred, name == "hmac-secret" ? FIDO_EXT_HMAC_SECRET : FIDO_EXT_CRED_BLOB);
      }
    }
    if (rc != FIDO_OK) return malformed;
  }
  return {};
}

Status check_auth_data(std::string_view auth_data, const ExpectedRegistration& expected) {
  Result<uint8_t> flags =
      check_authenticator_data(auth_data, expected.rp_id, expected.user_verification_required);
  if (!flags) return flags.error();
  if (!(*flags & kFlagAttestedCredential)) {
    return make_error(ErrorCode::kInvalidArgument, "the authenticator data carries no credential");
  }
  return {};
}

// The DER certificates of attStmt.x5c, leaf first; empty when there is no x5c.
Result<std::vector<X509Ptr>> certificates(const cbor_item_t* att_stmt) {
  std::vector<X509Ptr> out;
  const cbor_item_t* x5c = map_value(att_stmt, "x5c");
  if (!x5c) return out;
  if (!cbor_isa_array(x5c) || !cbor_array_is_definite(x5c) || cbor_array_size(x5c) == 0) {
    return make_error(ErrorCode::kInvalidArgument, "attStmt.x5c is not a list of certificates");
  }
  cbor_item_t** items = cbor_array_handle(x5c);
  for (size_t i = 0; i < cbor_array_size(x5c); ++i) {
    if (!definite_bytes(items[i])) {
      return make_error(ErrorCode::kInvalidArgument, "attStmt.x5c is not a list of certificates");
    }
    const std::string_view der = bytes_view(items[i]);
    const unsigned char* p = bytes_of(der);
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
    if (!cert || p != bytes_of(der) + der.size()) {
      return make_error(ErrorCode::kInvalidArgument, "attStmt.x5c holds a malformed certificate");
    }
    out.push_back(std::move(cert));
  }
  return out;
}

// §8.2.1: a packed attestation certificate is an end-entity certificate, and when it names
// an AAGUID that must be the authenticator data's, else a vendor's certificate could vouch
// for another vendor's model.
Status check_packed_certificate(X509* leaf, std::string_view aaguid) {
  if (X509_get_version(leaf) != X509_VERSION_3 || X509_check_ca(leaf) != 0) {
    return make_error(ErrorCode::kDenied,
                      "the attestation certificate is not an end-entity X.509v3 certificate");
  }
  ASN1_OBJECT* oid = OBJ_txt2obj(kAaguidExtensionOid, 1);
  if (!oid) return make_error(ErrorCode::kInternal, "OpenSSL: cannot make the AAGUID OID");
  const int at = X509_get_ext_by_OBJ(leaf, oid, -1);
  ASN1_OBJECT_free(oid);
  if (at < 0) return {};
  X509_EXTENSION* ext = X509_get_ext(leaf, at);
  if (X509_EXTENSION_get_critical(ext)) {
    return make_error(ErrorCode::kDenied, "the attestation certificate's AAGUID is critical");
  }
  // The extension's value is an OCTET STRING wrapping the 16 bytes.
  const ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
  const unsigned char* p = ASN1_STRING_get0_data(outer);
  ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(outer));
  const bool same = inner && ASN1_STRING_length(inner) == static_cast<int>(kAaguidSize) &&
                    std::memcmp(ASN1_STRING_get0_data(inner), aaguid.data(), kAaguidSize) == 0;
  ASN1_OCTET_STRING_free(inner);
  if (!same) {
    return make_error(ErrorCode::kDenied,
                      "the attestation certificate vouches for another authenticator model");
  }
  return {};
}

// Whether the self-signed `cert` is a root's certificate issued again: a root has its subject
// and key, it is signed by that key and valid at `now`. OpenSSL trusts a self-signed
// certificate only when the store holds that very one, yet a trust anchor is a name and a
// key (RFC 5280 §6.1.1 d), and a maker may issue its self-signed batch certificate again with
// the same key (a later expiry; Chromium's virtual authenticators make one per registration).
bool reissued_root(X509* cert, const AttestationRoots& roots, int64_t now) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  time_t at = static_cast<time_t>(now);
  const bool self_signed =
      key && X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
      X509_verify(cert, key) == 1;
  ERR_clear_error();  // a failed X509_verify leaves its reason on the thread's queue
  if (!self_signed || X509_cmp_time(X509_get0_notBefore(cert), &at) != -1 ||
      X509_cmp_time(X509_get0_notAfter(cert), &at) != 1) {
    return false;
  }
  X509StackPtr anchors(X509_STORE_get1_all_certs(roots.store()), free_x509_stack);
  if (!anchors) return false;
  for (int i = 0; i < sk_X509_num(anchors.get()); ++i) {
    X509* root = sk_X509_value(anchors.get(), i);
    if (X509_NAME_cmp(X509_get_subject_name(root), X509_get_subject_name(cert)) == 0 &&
        EVP_PKEY_eq(X509_get0_pubkey(root), key) == 1) {
      return true;
    }
  }
  return false;
}

// Whether the chain x5c[0] <- x5c[1..] reaches one of the roots at `now`. Roots may be
// intermediates or the attestation certificate itself (FIDO metadata lists such anchors),
// also issued again (reissued_root).
bool chains_to(const std::vector<X509Ptr>& x5c, const AttestationRoots& roots, int64_t now) {
  if (roots.empty() || x5c.empty()) return false;
  X509StackPtr untrusted(sk_X509_new_null(), free_x509_stack);
  if (!untrusted) return false;
  for (size_t i = 1; i < x5c.size(); ++i) {
    if (!X509_up_ref(x5c[i].get())) return false;
    if (!sk_X509_push(untrusted.get(), x5c[i].get())) {
      X509_free(x5c[i].get());
      return false;
    }
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!ctx || !X509_STORE_CTX_init(ctx.get(), roots.store(), x5c[0].get(), untrusted.get())) {
    return false;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));
  if (X509_verify_cert(ctx.get()) == 1) return true;
  return x5c.size() == 1 && reissued_root(x5c[0].get(), roots, now);
}

}  // namespace

std::string_view attestation_type_name(AttestationType type) {
  switch (type) {
    case AttestationType::kNone:
      return "none";
    case AttestationType::kSelf:
      return "self";
    case AttestationType::kBasic:
      return "basic";
    case AttestationType::kTrusted:
      return "trusted";
  }
  return "none";
}

AttestationRoots::AttestationRoots() : store_(X509_STORE_new(), X509_STORE_free) {}

Result<AttestationRoots> AttestationRoots::from_pem(const std::vector<std::string>& pems) {
  AttestationRoots roots;
  if (!roots.store_) return make_error(ErrorCode::kInternal, "OpenSSL: cannot make a store");
  for (size_t i = 0; i < pems.size(); ++i) {
    const Error bad =
        make_error(ErrorCode::kInvalidArgument,
                   "attestation root " + std::to_string(i) + " is not a PEM certificate");
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pems[i].data(), static_cast<int>(pems[i].size())), BIO_free);
    if (!bio) return bad;
    size_t in_text = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      const X509Ptr owned(cert, X509_free);
      if (!X509_STORE_add_cert(roots.store_.get(), cert)) return bad;
      ++in_text;
    }
    ERR_clear_error();  // PEM_read_bio_X509 leaves "no start line" at the end of the text
    if (in_text == 0) return bad;
    roots.count_ += in_text;
  }
  return roots;
}

Result<AttestedCredential> verify_attestation(std::string_view attestation_object,
                                              const ExpectedRegistration& expected) {
  const Error malformed = make_error(
      ErrorCode::kInvalidArgument, "the attestationObject is not a map of fmt, attStmt, authData");
  CborItem object = load_cbor(attestation_object);
  if (!object || !cbor_isa_map(object.get()) || !cbor_map_is_definite(object.get())) {
    return malformed;
  }
  const cbor_item_t* fmt_item = map_value(object.get(), "fmt");
  const cbor_item_t* att_stmt = map_value(object.get(), "attStmt");
  const cbor_item_t* auth_item = map_value(object.get(), "authData");
  if (!fmt_item || !cbor_isa_string(fmt_item) || !cbor_string_is_definite(fmt_item) || !att_stmt ||
      !cbor_isa_map(att_stmt) || !cbor_map_is_definite(att_stmt) || !definite_bytes(auth_item)) {
    return malformed;
  }
  const std::string fmt(reinterpret_cast<const char*>(cbor_string_handle(fmt_item)),
                        cbor_string_length(fmt_item));
  if (fmt != "packed" && fmt != "fido-u2f" && fmt != "none") {
    return make_error(ErrorCode::kInvalidArgument,
                      "the attestation format is not supported (packed, fido-u2f or none)");
  }
  const std::string_view auth_data = bytes_view(auth_item);
  if (Status s = check_auth_data(auth_data, expected); !s) return s.error();
  const CredentialKey key = credential_key(auth_data);
  const int alg = key.alg;
  if (alg != kAlgEs256 && alg != kAlgEdDsa && alg != kAlgRs256) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the key's algorithm is not accepted (ES256, EdDSA or RS256)");
  }
  if (fmt == "fido-u2f" && alg != kAlgEs256) {
    return make_error(ErrorCode::kInvalidArgument, "a fido-u2f key must be ES256");
  }

  FidoCred cred(fido_cred_new());
  if (!cred) return make_error(ErrorCode::kInternal, "libfido2: out of memory");
  int rc = fido_cred_set_type(cred.get(), alg);
  if (rc != FIDO_OK) return fido_error(ErrorCode::kInternal, "registration setup failed", rc);
  // What follows the key is the extension outputs when the ED flag says so, else nothing;
  // checked before libfido2 loads them.
  if (static_cast<uint8_t>(auth_data[kFlagsOffset]) & kFlagExtensionData) {
    if (Status s = accept_extension_outputs(cred.get(), auth_data.substr(key.end)); !s) {
      return s.error();
    }
  } else if (key.end != auth_data.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the authenticator data has bytes after the credential");
  }
  rc = fido_cred_set_authdata_raw(cred.get(), bytes_of(auth_data), auth_data.size());
  if (rc != FIDO_OK) {
    return fido_error(ErrorCode::kInvalidArgument, "the authenticator data is malformed", rc);
  }
  rc = fido_cred_set_clientdata(cred.get(), bytes_of(expected.client_data_json),
                                expected.client_data_json.size());
  if (rc == FIDO_OK) {
    const std::string rp_id(expected.rp_id);
    rc = fido_cred_set_rp(cred.get(), rp_id.c_str(), nullptr);
  }
  if (rc == FIDO_OK) rc = fido_cred_set_fmt(cred.get(), fmt.c_str());
  if (rc == FIDO_OK) {
    rc = fido_cred_set_uv(cred.get(),
                          expected.user_verification_required ? FIDO_OPT_TRUE : FIDO_OPT_OMIT);
  }
  if (rc != FIDO_OK) return fido_error(ErrorCode::kInternal, "registration setup failed", rc);

  AttestedCredential out;
  out.alg = alg;
  out.fmt = fmt;
  out.aaguid.assign(reinterpret_cast<const char*>(fido_cred_aaguid_ptr(cred.get())),
                    fido_cred_aaguid_len(cred.get()));
  if (out.aaguid.size() != kAaguidSize) return malformed;

  if (fmt == "none") {
    if (cbor_map_size(att_stmt) != 0) {
      return make_error(ErrorCode::kInvalidArgument, "a \"none\" attestation has a statement");
    }
    out.attestation = AttestationType::kNone;
  } else {
    Result<std::vector<X509Ptr>> x5c = certificates(att_stmt);
    if (!x5c) return x5c.error();
    unsigned char* stmt = nullptr;
    size_t stmt_capacity = 0;
    const size_t stmt_size = cbor_serialize_alloc(att_stmt, &stmt, &stmt_capacity);
    std::unique_ptr<unsigned char, decltype(&std::free)> stmt_owner(stmt, std::free);
    if (stmt_size == 0) return make_error(ErrorCode::kInternal, "libcbor: out of memory");
    rc = fido_cred_set_attstmt(cred.get(), stmt, stmt_size);
    if (rc != FIDO_OK) {
      return fido_error(ErrorCode::kInvalidArgument, "the attestation statement is malformed", rc);
    }
    const bool self = x5c->empty();
    if (self) {
      if (fmt != "packed") {
        return make_error(ErrorCode::kInvalidArgument, "a fido-u2f statement needs x5c");
      }
      // §8.2 self attestation: attStmt.alg must be the credential's own algorithm.
      const cbor_item_t* stmt_alg = map_value(att_stmt, "alg");
      if (!stmt_alg || !cbor_isa_negint(stmt_alg) ||
          -1 - static_cast<int64_t>(cbor_get_int(stmt_alg)) != alg) {
        return make_error(ErrorCode::kInvalidArgument,
                          "a self attestation's alg is not the key's algorithm");
      }
      rc = fido_cred_verify_self(cred.get());
    } else {
      if (fmt == "packed") {
        if (Status s = check_packed_certificate((*x5c)[0].get(), out.aaguid); !s) {
          return s.error();
        }
      }
      rc = fido_cred_verify(cred.get());
    }
    if (rc == FIDO_ERR_INVALID_SIG) {
      return make_error(ErrorCode::kDenied, "the attestation signature does not verify");
    }
    if (rc != FIDO_OK) {
      return fido_error(ErrorCode::kInvalidArgument, "the attestation does not verify", rc);
    }
    out.attestation = self ? AttestationType::kSelf
                      : expected.roots && chains_to(*x5c, *expected.roots, expected.now)
                          ? AttestationType::kTrusted
                          : AttestationType::kBasic;
  }
  out.id.assign(reinterpret_cast<const char*>(fido_cred_id_ptr(cred.get())),
                fido_cred_id_len(cred.get()));
  out.public_key.assign(reinterpret_cast<const char*>(fido_cred_pubkey_ptr(cred.get())),
                        fido_cred_pubkey_len(cred.get()));
  out.sign_count = fido_cred_sigcount(cred.get());
  out.flags = fido_cred_flags(cred.get());
  if (out.id.empty() || out.public_key.empty()) return malformed;
  return out;
}

}  // namespace keystep::webauthn
