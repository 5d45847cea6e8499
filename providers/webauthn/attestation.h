#pragma once
// Registration (WebAuthn Level 3 §7.1 steps 19 onwards): the attestationObject decoded by
// libcbor, the authenticator data and the attestation signature checked by libfido2
// (fido_cred_verify for a certificate-signed statement, fido_cred_verify_self for self
// attestation), the certificate chain by OpenSSL against configured trust anchors.
// Formats: "packed" (full and self), "fido-u2f", "none". Algorithms: ES256, EdDSA, RS256.
// Stateless and thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "providers/webauthn/authenticator_data.h"

typedef struct x509_store_st X509_STORE;

namespace keystep::webauthn {

// COSE algorithms accepted for credentials.
inline constexpr int kAlgEs256 = -7;
inline constexpr int kAlgEdDsa = -8;
inline constexpr int kAlgRs256 = -257;

// How far the attestation vouches for the key (§6.5.3), weakest first.
enum class AttestationType {
  kNone,     // "none": nothing is vouched for
  kSelf,     // the credential key signed its own registration: proves possession only
  kBasic,    // signed by a certificate the key carried, not chained to a configured root
  kTrusted,  // signed by a certificate that chains to a configured root
};
std::string_view attestation_type_name(AttestationType type);  // "none", "self", ...

// Trust anchors for attestation certificates (FIDO metadata roots, a vendor's CA). Immutable
// once made; copies share one store; safe to use from many threads.
class AttestationRoots {
 public:
  AttestationRoots();  // no anchors: no attestation is kTrusted
  // On success returns the anchors of the PEM certificates in `pems` (each text may hold
  // several). kInvalidArgument naming the index of a text holding no certificate or a bad one.
  static Result<AttestationRoots> from_pem(const std::vector<std::string>& pems);
  bool empty() const { return count_ == 0; }
  X509_STORE* store() const { return store_.get(); }

 private:
  std::shared_ptr<X509_STORE> store_;
  size_t count_ = 0;
};

struct ExpectedRegistration {
  std::string_view rp_id;             // its SHA-256 must be the authenticator data's rpIdHash
  std::string_view client_data_json;  // the checked clientDataJSON: its hash was signed
  bool user_verification_required = false;
  const AttestationRoots* roots = nullptr;  // null: no attestation is kTrusted
  int64_t now = 0;                          // unix seconds, for certificate validity
};

// A credential as its registration proved it.
struct AttestedCredential {
  std::string id;          // the raw credential id
  int alg = 0;             // kAlgEs256, kAlgEdDsa or kAlgRs256
  std::string public_key;  // libfido2's form: es256 x||y, eddsa 32 bytes, rs256 n||e
  std::string aaguid;      // 16 bytes (zeros for fido-u2f and most "none")
  uint32_t sign_count = 0;
  uint8_t flags = 0;  // the authenticator data flags
  std::string fmt;    // "packed", "fido-u2f" or "none"
  AttestationType attestation = AttestationType::kNone;
};

// Decodes and checks `attestation_object` (the raw bytes of the response's
// attestationObject). On success returns the credential, with `attestation` telling how far
// it is vouched for (a chain that does not reach a root is kBasic, not an error: refusing
// it is the caller's policy). kInvalidArgument when the object is malformed, carries no
// credential, uses another format or algorithm; kDenied when its rpIdHash is not rp_id's,
// user presence (or verification, when required) is not flagged, or a signature or the
// certificate's AAGUID does not match. Messages are safe to show the user.
Result<AttestedCredential> verify_attestation(std::string_view attestation_object,
                                              const ExpectedRegistration& expected);

}  // namespace keystep::webauthn
