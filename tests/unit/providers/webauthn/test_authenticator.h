#pragma once
// A software authenticator for the webauthn tests: makes the registrations Chromium's
// virtual authenticators cannot (attestation certificates with an AAGUID extension, chains
// to a test root, other algorithms and formats) with OpenSSL keys and libcbor encoding.
// Test code only: the provider itself never builds CBOR or signatures.

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/crypto/hash.h"

namespace keystep::webauthn::testing {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

inline void check(bool ok) {
  if (!ok) std::abort();  // a broken test fixture, not a test failure
}

inline Key p256_key() {
  Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr);
  return key;
}

// ECDSA P-256 / SHA-256, DER, as authenticators sign.
inline std::string es256_sign(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  check(ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(ctx.get(), nullptr, &size,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  std::string sig(size, '\0');
  check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &size,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  sig.resize(size);
  return sig;
}

struct CertSpec {
  std::string common_name = "Test Authenticator";
  bool ca = false;
  std::string aaguid;       // 16 bytes: adds id-fido-gen-ce-aaguid; empty: none
  long valid_from = -3600;  // seconds from now
  long valid_until = 86400 * 365;
};

// A certificate for `subject_key` signed by `issuer_key` (itself when issuer is null).
inline Cert make_cert(EVP_PKEY* subject_key, const CertSpec& spec, X509* issuer,
                      EVP_PKEY* issuer_key) {
  Cert cert(X509_new(), X509_free);
  check(cert != nullptr);
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Authenticator Attestation"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_until);
  X509_set_pubkey(cert.get(), subject_key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints,
                                           spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  check(bc && X509_add_ext(cert.get(), bc, -1));
  X509_EXTENSION_free(bc);
  if (spec.ca) {
    X509_EXTENSION* usage =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_key_usage, "critical,keyCertSign");
    check(usage && X509_add_ext(cert.get(), usage, -1));
    X509_EXTENSION_free(usage);
  }
  if (!spec.aaguid.empty()) {
    // The extension's value is the DER of an OCTET STRING holding the 16 bytes.
    ASN1_OCTET_STRING* inner = ASN1_OCTET_STRING_new();
    check(inner &&
          ASN1_OCTET_STRING_set(inner, reinterpret_cast<const unsigned char*>(spec.aaguid.data()),
                                static_cast<int>(spec.aaguid.size())));
    unsigned char* der = nullptr;
    const int der_size = i2d_ASN1_OCTET_STRING(inner, &der);
    ASN1_OCTET_STRING* outer = ASN1_OCTET_STRING_new();
    check(der_size > 0 && outer && ASN1_OCTET_STRING_set(outer, der, der_size));
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid, 0, outer);
    check(ext && X509_add_ext(cert.get(), ext, -1));
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(outer);
    ASN1_OCTET_STRING_free(inner);
    OPENSSL_free(der);
  }
  check(X509_sign(cert.get(), issuer_key ? issuer_key : subject_key, EVP_sha256()) > 0);
  return cert;
}

inline std::string der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  check(size > 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

inline std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(bio && PEM_write_bio_X509(bio.get(), cert));
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// --- CBOR, through libcbor

using Item = std::unique_ptr<cbor_item_t, void (*)(cbor_item_t*)>;
inline void item_free(cbor_item_t* item) { cbor_decref(&item); }

// In the shortest encoding, as CTAP2's canonical CBOR requires (libfido2 insists on it).
inline cbor_item_t* cbor_int(int64_t v) {
  const uint64_t n = v >= 0 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(-1 - v);
  if (n < 0x100) {
    return v >= 0 ? cbor_build_uint8(static_cast<uint8_t>(n))
                  : cbor_build_negint8(static_cast<uint8_t>(n));
  }
  return v >= 0 ? cbor_build_uint16(static_cast<uint16_t>(n))
                : cbor_build_negint16(static_cast<uint16_t>(n));
}
inline cbor_item_t* cbor_bytes(std::string_view b) {
  return cbor_build_bytestring(reinterpret_cast<cbor_data>(b.data()), b.size());
}

inline std::string serialize(cbor_item_t* item) {
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  const size_t size = cbor_serialize_alloc(item, &buffer, &capacity);
  check(size > 0);
  std::string out(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return out;
}

// The COSE_Key of a P-256 public key (kty EC2, alg `alg`, crv P-256, x, y).
inline std::string cose_es256(EVP_PKEY* key, int64_t alg = -7) {
  unsigned char point[65];
  size_t size = 0;
  check(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &size) ==
            1 &&
        size == 65);
  Item map(cbor_new_definite_map(5), item_free);
  const auto add = [&](int64_t k, cbor_item_t* v) {
    check(cbor_map_add(map.get(), {cbor_move(cbor_int(k)), cbor_move(v)}));
  };
  add(1, cbor_int(2));
  add(3, cbor_int(alg));
  add(-1, cbor_int(1));
  add(-2, cbor_bytes({reinterpret_cast<char*>(point + 1), 32}));
  add(-3, cbor_bytes({reinterpret_cast<char*>(point + 33), 32}));
  return serialize(map.get());
}

// Authenticator data with attested credential data.
inline std::string auth_data(std::string_view rp_id, uint8_t flags, uint32_t count,
                             std::string_view aaguid, std::string_view credential_id,
                             std::string_view cose_key) {
  std::string out = sha256(rp_id);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((count >> shift) & 0xff);
  out += aaguid;
  out += static_cast<char>((credential_id.size() >> 8) & 0xff);
  out += static_cast<char>(credential_id.size() & 0xff);
  out += credential_id;
  out += cose_key;
  return out;
}

// The CBOR map of authenticator extension outputs: {credProtect: prot, hmac-secret: true}.
inline std::string extension_outputs(int64_t cred_protect) {
  Item map(cbor_new_definite_map(2), item_free);
  check(cbor_map_add(
      map.get(), {cbor_move(cbor_build_string("credProtect")), cbor_move(cbor_int(cred_protect))}));
  check(cbor_map_add(
      map.get(), {cbor_move(cbor_build_string("hmac-secret")), cbor_move(cbor_build_bool(true))}));
  return serialize(map.get());
}

struct Statement {
  std::string fmt = "packed";
  bool with_alg = true;
  int64_t alg = -7;
  std::string sig;
  std::vector<std::string> x5c;  // DER, leaf first
  bool empty = false;            // an empty map (fmt "none")
};

inline std::string attestation_object(const Statement& s, std::string_view auth) {
  Item stmt(cbor_new_definite_map(s.empty ? 0 : 3), item_free);
  if (!s.empty) {
    if (s.with_alg) {
      check(cbor_map_add(stmt.get(),
                         {cbor_move(cbor_build_string("alg")), cbor_move(cbor_int(s.alg))}));
    }
    check(cbor_map_add(stmt.get(),
                       {cbor_move(cbor_build_string("sig")), cbor_move(cbor_bytes(s.sig))}));
    if (!s.x5c.empty()) {
      cbor_item_t* list = cbor_new_definite_array(s.x5c.size());
      for (const auto& der : s.x5c) check(cbor_array_push(list, cbor_move(cbor_bytes(der))));
      check(cbor_map_add(stmt.get(), {cbor_move(cbor_build_string("x5c")), cbor_move(list)}));
    }
  }
  Item object(cbor_new_definite_map(3), item_free);
  check(cbor_map_add(object.get(), {cbor_move(cbor_build_string("fmt")),
                                    cbor_move(cbor_build_string(s.fmt.c_str()))}));
  check(cbor_map_add(object.get(), {cbor_move(cbor_build_string("attStmt")), stmt.get()}));
  check(cbor_map_add(object.get(),
                     {cbor_move(cbor_build_string("authData")), cbor_move(cbor_bytes(auth))}));
  return serialize(object.get());
}

}  // namespace keystep::webauthn::testing
