#include "providers/webauthn/attestation.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "base/crypto/hash.h"
#include "tests/unit/providers/webauthn/test_authenticator.h"

namespace keystep::webauthn {
namespace {

using namespace keystep::webauthn::testing;

constexpr const char* kRpId = "id.example.com";
constexpr const char* kClientData =
    R"({"type":"webauthn.create","challenge":"AAAA","origin":"https://id.example.com"})";
const std::string kAaguid = "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef";
const std::string kCredentialId = "credential-id-0001";

// A key maker with a root CA and an attestation certificate it issued, and a credential key.
struct Maker {
  Key root_key = p256_key();
  Cert root = make_cert(root_key.get(), {"Test Root", true, "", -3600, 86400}, nullptr, nullptr);
  Key attestation_key = p256_key();
  Key credential_key = p256_key();

  Cert attestation_cert(CertSpec spec = {}) const {
    if (spec.aaguid.empty()) spec.aaguid = kAaguid;
    return make_cert(attestation_key.get(), spec, root.get(), root_key.get());
  }

  std::string auth(uint8_t flags = 0x41) const {
    return auth_data(kRpId, flags, 5, kAaguid, kCredentialId, cose_es256(credential_key.get()));
  }

  // A packed statement over `auth`, signed by `signer` with the given x5c.
  std::string packed(const std::string& auth, EVP_PKEY* signer,
                     std::vector<std::string> x5c) const {
    Statement s;
    s.sig = es256_sign(signer, auth + sha256(kClientData));
    s.x5c = std::move(x5c);
    return attestation_object(s, auth);
  }

  std::string full(const CertSpec& spec = {}) const {
    return packed(auth(), attestation_key.get(), {der_of(attestation_cert(spec).get())});
  }

  AttestationRoots roots() const {
    auto roots = AttestationRoots::from_pem({pem_of(root.get())});
    EXPECT_TRUE(roots);
    return *roots;
  }
};

ExpectedRegistration expected(const AttestationRoots* roots = nullptr) {
  return {kRpId, kClientData, false, roots, static_cast<int64_t>(std::time(nullptr))};
}

TEST(Attestation, PackedFullChainingToARootIsTrusted) {
  Maker maker;
  const AttestationRoots roots = maker.roots();
  auto attested = verify_attestation(maker.full(), expected(&roots));
  ASSERT_TRUE(attested) << attested.error().message;
  EXPECT_EQ(attested->attestation, AttestationType::kTrusted);
  EXPECT_EQ(attested->fmt, "packed");
  EXPECT_EQ(attested->alg, kAlgEs256);
  EXPECT_EQ(attested->aaguid, kAaguid);
  EXPECT_EQ(attested->id, kCredentialId);
  EXPECT_EQ(attested->sign_count, 5u);
  EXPECT_EQ(attested->public_key.size(), 64u);
}

TEST(Attestation, ChainToAnotherRootOrAnExpiredCertificateIsOnlyBasic) {
  Maker maker;
  Maker stranger;
  const AttestationRoots other = stranger.roots();
  auto elsewhere = verify_attestation(maker.full(), expected(&other));
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  EXPECT_EQ(elsewhere->attestation, AttestationType::kBasic);

  const AttestationRoots roots = maker.roots();
  CertSpec expired;
  expired.valid_from = -86400 * 10;
  expired.valid_until = -86400;
  auto old = verify_attestation(maker.full(expired), expected(&roots));
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->attestation, AttestationType::kBasic);

  auto no_roots = verify_attestation(maker.full(), expected());
  ASSERT_TRUE(no_roots);
  EXPECT_EQ(no_roots->attestation, AttestationType::kBasic);
}

// A maker's self-signed batch certificate, issued again with the same name and key (a later
// expiry; Chromium's virtual authenticators mint one per registration), is vouched for by
// the root that holds that name and key. Another key, another name or an expired
// certificate under the root's name is not.
TEST(Attestation, SelfSignedCertificateReissuedUnderARootsNameAndKeyIsTrusted) {
  Maker maker;
  CertSpec batch;
  batch.common_name = "Batch Certificate";
  batch.aaguid = kAaguid;
  const Cert first = make_cert(maker.attestation_key.get(), batch, nullptr, nullptr);
  auto roots = AttestationRoots::from_pem({pem_of(first.get())});
  ASSERT_TRUE(roots) << roots.error().message;
  const auto attest = [&](EVP_PKEY* key, const CertSpec& spec) {
    const Cert cert = make_cert(key, spec, nullptr, nullptr);
    auto attested = verify_attestation(maker.packed(maker.auth(), key, {der_of(cert.get())}),
                                       expected(&*roots));
    EXPECT_TRUE(attested) << attested.error().message;
    return attested ? attested->attestation : AttestationType::kNone;
  };

  EXPECT_EQ(attest(maker.attestation_key.get(), batch), AttestationType::kTrusted)
      << "the same certificate signed again";
  CertSpec later = batch;
  later.valid_until = 86400 * 730;
  EXPECT_EQ(attest(maker.attestation_key.get(), later), AttestationType::kTrusted);

  const Key other_key = p256_key();
  EXPECT_EQ(attest(other_key.get(), batch), AttestationType::kBasic) << "another key";
  CertSpec renamed = batch;
  renamed.common_name = "Another Batch";
  EXPECT_EQ(attest(maker.attestation_key.get(), renamed), AttestationType::kBasic);
  CertSpec expired = batch;
  expired.valid_from = -86400 * 10;
  expired.valid_until = -86400;
  EXPECT_EQ(attest(maker.attestation_key.get(), expired), AttestationType::kBasic);
}

TEST(Attestation, CertificateVouchingForAnotherAaguidIsRefused) {
  Maker maker;
  CertSpec spec;
  spec.aaguid = std::string(16, '\x7f');
  auto refused = verify_attestation(maker.full(spec), expected());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_EQ(refused.error().message,
            "the attestation certificate vouches for another authenticator model");
}

TEST(Attestation, CaCertificateAsAttestationIsRefused) {
  Maker maker;
  CertSpec spec;
  spec.ca = true;
  auto refused = verify_attestation(maker.full(spec), expected());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
}

TEST(Attestation, SignatureByAnotherKeyThanTheCertificatesIsRefused) {
  Maker maker;
  const std::string object = maker.packed(maker.auth(), maker.credential_key.get(),
                                          {der_of(maker.attestation_cert().get())});
  auto refused = verify_attestation(object, expected());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_EQ(refused.error().message, "the attestation signature does not verify");
}

TEST(Attestation, SelfAttestationIsSignedByTheCredentialKey) {
  Maker maker;
  auto self =
      verify_attestation(maker.packed(maker.auth(), maker.credential_key.get(), {}), expected());
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_EQ(self->attestation, AttestationType::kSelf);

  auto forged =
      verify_attestation(maker.packed(maker.auth(), maker.attestation_key.get(), {}), expected());
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().code, ErrorCode::kDenied);

  Statement other_alg;
  other_alg.alg = kAlgRs256;
  other_alg.sig = es256_sign(maker.credential_key.get(), maker.auth() + sha256(kClientData));
  auto mismatch = verify_attestation(attestation_object(other_alg, maker.auth()), expected());
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().message, "a self attestation's alg is not the key's algorithm");
}

TEST(Attestation, UnsupportedFormatsAlgorithmsAndShapesAreInvalid) {
  Maker maker;
  const auto invalid = [](const std::string& object, const std::string& message) {
    auto r = verify_attestation(object, expected());
    ASSERT_FALSE(r) << message;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
    EXPECT_EQ(r.error().message, message);
  };
  Statement tpm;
  tpm.fmt = "tpm";
  tpm.sig = "x";
  invalid(attestation_object(tpm, maker.auth()),
          "the attestation format is not supported (packed, fido-u2f or none)");

  const std::string es384 = auth_data(kRpId, 0x41, 0, kAaguid, kCredentialId,
                                      cose_es256(maker.credential_key.get(), -35));
  invalid(maker.packed(es384, maker.credential_key.get(), {}),
          "the key's algorithm is not accepted (ES256, EdDSA or RS256)");

  Statement none;
  none.fmt = "none";
  none.sig = "unexpected";
  invalid(attestation_object(none, maker.auth()), "a \"none\" attestation has a statement");

  Statement u2f;
  u2f.fmt = "fido-u2f";
  u2f.with_alg = false;
  u2f.sig = es256_sign(maker.credential_key.get(), "x");
  invalid(attestation_object(u2f, maker.auth()), "a fido-u2f statement needs x5c");

  const std::string good = maker.full();
  const std::string malformed = "the attestationObject is not a map of fmt, attStmt, authData";
  invalid("", malformed);
  invalid("\xa0", malformed);                         // an empty map
  invalid(good + std::string("\x00", 1), malformed);  // trailing bytes
  invalid(good.substr(0, good.size() - 1), malformed);

  Statement bad_x5c;
  bad_x5c.sig = "x";
  bad_x5c.x5c = {"not DER"};
  invalid(attestation_object(bad_x5c, maker.auth()), "attStmt.x5c holds a malformed certificate");

  invalid(maker.packed(maker.auth(0x01), maker.credential_key.get(), {}),
          "the authenticator data carries no credential");
  invalid(maker.packed(maker.auth(0x51), maker.credential_key.get(), {}),
          "the authenticator data says backed up but not backup eligible");
}

TEST(Attestation, RpIdHashAndUserFlagsAreChecked) {
  Maker maker;
  ExpectedRegistration other_site = expected();
  other_site.rp_id = "example.com";
  auto site = verify_attestation(maker.full(), other_site);
  ASSERT_FALSE(site);
  EXPECT_EQ(site.error().code, ErrorCode::kDenied);

  const std::string no_up = maker.auth(0x40);
  auto absent = verify_attestation(maker.packed(no_up, maker.credential_key.get(), {}), expected());
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().message, "the key did not see a touch (user presence)");

  ExpectedRegistration uv = expected();
  uv.user_verification_required = true;
  auto unverified = verify_attestation(maker.full(), uv);
  ASSERT_FALSE(unverified);
  EXPECT_EQ(unverified.error().code, ErrorCode::kDenied);
  const std::string with_uv = maker.auth(0x45);
  auto verified = verify_attestation(
      maker.packed(with_uv, maker.attestation_key.get(), {der_of(maker.attestation_cert().get())}),
      uv);
  ASSERT_TRUE(verified) << verified.error().message;
}

TEST(Attestation, ExtensionOutputsTheKeyAddedByItselfAreAccepted) {
  Maker maker;
  // ED flag, and credProtect (UV optional with credential id list) + hmac-secret after the key.
  const std::string with_outputs = maker.auth(0xc1) + extension_outputs(2);
  auto self =
      verify_attestation(maker.packed(with_outputs, maker.credential_key.get(), {}), expected());
  ASSERT_TRUE(self) << self.error().message;
  auto full = verify_attestation(maker.packed(with_outputs, maker.attestation_key.get(),
                                              {der_of(maker.attestation_cert().get())}),
                                 expected());
  ASSERT_TRUE(full) << full.error().message;

  const std::string bad_level = maker.auth(0xc1) + extension_outputs(9);
  auto refused =
      verify_attestation(maker.packed(bad_level, maker.credential_key.get(), {}), expected());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "the authenticator data's extension outputs are malformed");
  auto missing = verify_attestation(maker.packed(maker.auth(0xc1), maker.credential_key.get(), {}),
                                    expected());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
}

TEST(Attestation, SignatureCoversTheClientData) {
  Maker maker;
  ExpectedRegistration other = expected();
  other.client_data_json = R"({"type":"webauthn.create","challenge":"BBBB"})";
  auto refused = verify_attestation(maker.full(), other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
}

}  // namespace
}  // namespace keystep::webauthn
