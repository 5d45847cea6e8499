#include "base/crypto/jws.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>
#include <thread>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"

namespace keystep {
namespace {

using nlohmann::json;

// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): public keys, signing input and signatures.
constexpr const char* kRfcSigningInput =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
    "VlfQ";
constexpr const char* kA2Header = "eyJhbGciOiJSUzI1NiJ9";
constexpr const char* kA2N =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4"
    "d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5re"
    "xMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxX"
    "FvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr const char* kA2Signature =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
    "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO"
    "YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
constexpr const char* kA3Header = "eyJhbGciOiJFUzI1NiJ9";
constexpr const char* kA3X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr const char* kA3Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr const char* kA3Signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 7638 §3.1.
constexpr const char* kRfc7638N =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

struct Fixture {
  KeyPair pair;
  JwsSigner signer;
  JwsVerifier verifier;
};

Fixture make_fixture(std::string_view alg) {
  Result<KeyPair> pair = generate_signing_key(alg);
  EXPECT_TRUE(pair.ok());
  Result<JwsSigner> signer = JwsSigner::from_private_pem(pair->kid, pair->alg, pair->private_pem);
  EXPECT_TRUE(signer.ok()) << signer.error().message;
  Result<JwsVerifier> verifier =
      JwsVerifier::from_jwks({{"keys", {json::parse(pair->public_jwk)}}});
  EXPECT_TRUE(verifier.ok()) << verifier.error().message;
  return Fixture{std::move(*pair), std::move(*signer), std::move(*verifier)};
}

const json kClaims = {{"iss", "https://idp.example"},
                      {"sub", "42"},
                      {"aud", "client"},
                      {"exp", 1700000000},
                      {"name", "Zoë"}};

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(token.substr(start, dot - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

json decode_part(const std::string& part) { return json::parse(*base64url_decode(part)); }

void expect_code(const Result<json>& r, ErrorCode code) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

class JwsAlgTest : public ::testing::TestWithParam<const char*> {};

TEST_P(JwsAlgTest, SignedTokenVerifiesAndReturnsClaims) {
  Fixture f = make_fixture(GetParam());
  Result<std::string> token = f.signer.sign(kClaims);
  ASSERT_TRUE(token.ok()) << token.error().message;
  Result<json> payload = f.verifier.verify(*token);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, kClaims);
  EXPECT_EQ(decode_part(split(*token)[0]),
            json({{"alg", GetParam()}, {"kid", f.pair.kid}, {"typ", "JWT"}}));
}

TEST_P(JwsAlgTest, JwkHasRequiredMembersAndThumbprintKid) {
  Result<KeyPair> pair = generate_signing_key(GetParam());
  ASSERT_TRUE(pair.ok());
  const json jwk = json::parse(pair->public_jwk);
  EXPECT_EQ(jwk["kid"], pair->kid);
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_EQ(jwk["alg"], GetParam());
  EXPECT_EQ(pair->alg, GetParam());
  EXPECT_FALSE(jwk.contains("d"));
  Result<std::string> thumbprint = jwk_thumbprint(jwk);
  ASSERT_TRUE(thumbprint.ok());
  EXPECT_EQ(pair->kid, *thumbprint);
  if (pair->alg == "RS256") {
    EXPECT_EQ(jwk["kty"], "RSA");
    EXPECT_EQ(jwk["e"], "AQAB");
    EXPECT_EQ(base64url_decode(jwk["n"].get<std::string>())->size(), 256u);
  } else {
    EXPECT_EQ(jwk["kty"], "EC");
    EXPECT_EQ(jwk["crv"], "P-256");
    EXPECT_EQ(base64url_decode(jwk["x"].get<std::string>())->size(), 32u);
    EXPECT_EQ(base64url_decode(jwk["y"].get<std::string>())->size(), 32u);
  }
  EXPECT_NE(pair->private_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
}

TEST_P(JwsAlgTest, RejectsTamperedPayload) {
  Fixture f = make_fixture(GetParam());
  Result<std::string> token = f.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = split(*token);
  json forged = kClaims;
  forged["sub"] = "1";
  const std::string tampered = parts[0] + "." + base64url_encode(forged.dump()) + "." + parts[2];
  expect_code(f.verifier.verify(tampered), ErrorCode::kDenied);
}

TEST_P(JwsAlgTest, RejectsTamperedSignatureAndHeader) {
  Fixture f = make_fixture(GetParam());
  Result<std::string> token = f.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = split(*token);

  std::string sig = *base64url_decode(parts[2]);
  sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 1);
  expect_code(f.verifier.verify(parts[0] + "." + parts[1] + "." + base64url_encode(sig)),
              ErrorCode::kDenied);
  expect_code(f.verifier.verify(parts[0] + "." + parts[1] + "." + base64url_encode(sig.substr(1))),
              ErrorCode::kDenied);

  json header = decode_part(parts[0]);
  header["typ"] = "at+jwt";
  expect_code(f.verifier.verify(base64url_encode(header.dump()) + "." + parts[1] + "." + parts[2]),
              ErrorCode::kDenied);
}

TEST_P(JwsAlgTest, RefusesTokenFromAnotherKey) {
  Fixture f = make_fixture(GetParam());
  Fixture other = make_fixture(GetParam());
  Result<std::string> token = other.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  expect_code(f.verifier.verify(*token), ErrorCode::kDenied);  // unknown kid
}

TEST_P(JwsAlgTest, SignerIsUsableFromManyThreads) {
  const Fixture f = make_fixture(GetParam());
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (size_t t = 0; t < ok.size(); ++t) {
    threads.emplace_back([&, t] {
      const JwsSigner copy = f.signer;
      for (int i = 0; i < 10; ++i) {
        Result<std::string> token = copy.sign(kClaims);
        if (token.ok() && f.verifier.verify(*token).ok()) ++ok[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int n : ok) EXPECT_EQ(n, 10);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, JwsAlgTest, ::testing::Values("RS256", "ES256"));

TEST(Jws, Es256SignatureIsRaw64Bytes) {
  Fixture f = make_fixture("ES256");
  for (int i = 0; i < 20; ++i) {
    Result<std::string> token = f.signer.sign(kClaims);
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(base64url_decode(split(*token)[2])->size(), 64u);
  }
}

TEST(Jws, Rs256SignatureIsModulusSized) {
  Fixture f = make_fixture("RS256");
  Result<std::string> token = f.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(base64url_decode(split(*token)[2])->size(), 256u);
}

TEST(Jws, VerifiesRfc7515AppendixA2Rs256Example) {
  Result<JwsVerifier> verifier =
      JwsVerifier::from_jwks({{"keys", {{{"kty", "RSA"}, {"n", kA2N}, {"e", "AQAB"}}}}});
  ASSERT_TRUE(verifier.ok()) << verifier.error().message;
  const std::string token = std::string(kA2Header) + "." + kRfcSigningInput + "." + kA2Signature;
  Result<json> payload = verifier->verify(token);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ((*payload)["iss"], "joe");
  EXPECT_EQ((*payload)["exp"], 1300819380);
  EXPECT_EQ((*payload)["http://example.com/is_root"], true);
}

TEST(Jws, VerifiesRfc7515AppendixA3Es256Example) {
  Result<JwsVerifier> verifier = JwsVerifier::from_jwks(
      {{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", kA3X}, {"y", kA3Y}}}}});
  ASSERT_TRUE(verifier.ok()) << verifier.error().message;
  const std::string token = std::string(kA3Header) + "." + kRfcSigningInput + "." + kA3Signature;
  Result<json> payload = verifier->verify(token);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ((*payload)["iss"], "joe");

  std::string sig = *base64url_decode(kA3Signature);
  sig[10] = static_cast<char>(sig[10] ^ 1);
  expect_code(verifier->verify(std::string(kA3Header) + "." + kRfcSigningInput + "." +
                               base64url_encode(sig)),
              ErrorCode::kDenied);
}

TEST(Jws, ThumbprintMatchesRfc7638Example) {
  const json jwk = {
      {"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}};
  Result<std::string> thumbprint = jwk_thumbprint(jwk);
  ASSERT_TRUE(thumbprint.ok());
  EXPECT_EQ(*thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jws, ThumbprintRejectsIncompleteOrUnsupportedJwk) {
  EXPECT_FALSE(jwk_thumbprint({{"kty", "RSA"}, {"n", kRfc7638N}}).ok());
  EXPECT_FALSE(jwk_thumbprint({{"kty", "EC"}, {"crv", "P-256"}, {"x", kA3X}}).ok());
  EXPECT_FALSE(jwk_thumbprint({{"kty", "oct"}, {"k", "AAAA"}}).ok());
  EXPECT_FALSE(jwk_thumbprint(json::array()).ok());
}

TEST(Jws, RefusesAlgNone) {
  Fixture f = make_fixture("RS256");
  const std::string header = base64url_encode(R"({"alg":"none"})");
  const std::string payload = base64url_encode(kClaims.dump());
  expect_code(f.verifier.verify(header + "." + payload + "."), ErrorCode::kDenied);
  const std::string with_kid =
      base64url_encode(json({{"alg", "none"}, {"kid", f.pair.kid}}).dump());
  expect_code(f.verifier.verify(with_kid + "." + payload + "."), ErrorCode::kDenied);
}

TEST(Jws, RefusesHs256SignedWithPublicKeyAsSecret) {
  Fixture f = make_fixture("RS256");
  const std::string input = base64url_encode(json({{"alg", "HS256"}, {"kid", f.pair.kid}}).dump()) +
                            "." + base64url_encode(kClaims.dump());
  const std::string token = input + "." + base64url_encode(hmac_sha256(f.pair.public_jwk, input));
  expect_code(f.verifier.verify(token), ErrorCode::kDenied);
}

TEST(Jws, RefusesAlgThatDiffersFromKey) {
  Fixture f = make_fixture("RS256");
  Fixture ec = make_fixture("ES256");
  Result<std::string> token = ec.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = split(*token);
  const std::string header =
      base64url_encode(json({{"alg", "ES256"}, {"kid", f.pair.kid}, {"typ", "JWT"}}).dump());
  expect_code(f.verifier.verify(header + "." + parts[1] + "." + parts[2]), ErrorCode::kDenied);
}

TEST(Jws, RefusesCritHeader) {
  Fixture f = make_fixture("ES256");
  const std::string header = base64url_encode(
      json({{"alg", "ES256"}, {"kid", f.pair.kid}, {"crit", {"exp"}}, {"exp", 1}}).dump());
  const std::string token =
      header + "." + base64url_encode(kClaims.dump()) + "." + base64url_encode(std::string(64, 1));
  expect_code(f.verifier.verify(token), ErrorCode::kDenied);
}

TEST(Jws, TokenWithoutKidVerifiesOnlyAgainstASingleKey) {
  Fixture a = make_fixture("ES256");
  Fixture b = make_fixture("ES256");
  Result<JwsSigner> anonymous = JwsSigner::from_private_pem("", "ES256", a.pair.private_pem);
  ASSERT_TRUE(anonymous.ok());
  Result<std::string> token = anonymous->sign(kClaims);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(decode_part(split(*token)[0]).contains("kid"));
  Result<JwsVerifier> single =
      JwsVerifier::from_jwks({{"keys",
                               {{{"kty", "EC"},
                                 {"crv", "P-256"},
                                 {"x", json::parse(a.pair.public_jwk)["x"]},
                                 {"y", json::parse(a.pair.public_jwk)["y"]}}}}});
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->verify(*token).ok());
  EXPECT_TRUE(a.verifier.verify(*token).ok());
  Result<JwsVerifier> both = JwsVerifier::from_jwks(
      {{"keys", {json::parse(a.pair.public_jwk), json::parse(b.pair.public_jwk)}}});
  ASSERT_TRUE(both.ok());
  expect_code(both->verify(*token), ErrorCode::kDenied);
}

TEST(Jws, VerifierWithSeveralKeysPicksByKid) {
  Fixture rsa = make_fixture("RS256");
  Fixture ec = make_fixture("ES256");
  Result<JwsVerifier> both = JwsVerifier::from_jwks(
      {{"keys", {json::parse(rsa.pair.public_jwk), json::parse(ec.pair.public_jwk)}}});
  ASSERT_TRUE(both.ok());
  for (const Fixture* f : {&rsa, &ec}) {
    Result<std::string> token = f->signer.sign(kClaims);
    ASSERT_TRUE(token.ok());
    EXPECT_TRUE(both->verify(*token).ok());
  }
}

TEST(Jws, MalformedTokensAreInvalidArgument) {
  Fixture f = make_fixture("ES256");
  Result<std::string> token = f.signer.sign(kClaims);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> p = split(*token);
  const std::string not_object = base64url_encode("[1]");
  for (const std::string& bad :
       {std::string(), std::string("abc"), p[0] + "." + p[1], *token + ".x",
        "!!." + p[1] + "." + p[2], not_object + "." + p[1] + "." + p[2],
        base64url_encode("{") + "." + p[1] + "." + p[2],
        base64url_encode(R"({"typ":"JWT"})") + "." + p[1] + "." + p[2],
        p[0] + "." + p[1] + ".!!"}) {
    expect_code(f.verifier.verify(bad), ErrorCode::kInvalidArgument);
  }
}

TEST(Jws, GenerateRefusesUnsupportedAlgorithms) {
  for (const char* alg : {"none", "HS256", "RS512", "ES384", "PS256", ""}) {
    Result<KeyPair> pair = generate_signing_key(alg);
    ASSERT_FALSE(pair.ok()) << alg;
    EXPECT_EQ(pair.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Jws, SignerRefusesPemThatDoesNotFitAlg) {
  Result<KeyPair> rsa = generate_signing_key("RS256");
  Result<KeyPair> ec = generate_signing_key("ES256");
  ASSERT_TRUE(rsa.ok() && ec.ok());
  EXPECT_FALSE(JwsSigner::from_private_pem("k", "ES256", rsa->private_pem).ok());
  EXPECT_FALSE(JwsSigner::from_private_pem("k", "RS256", ec->private_pem).ok());
  EXPECT_FALSE(JwsSigner::from_private_pem("k", "HS256", rsa->private_pem).ok());
  EXPECT_FALSE(JwsSigner::from_private_pem("k", "RS256", "not a pem").ok());
  EXPECT_FALSE(JwsSigner::from_private_pem("k", "RS256", "").ok());
}

TEST(Jws, SignerRefusesSmallRsaKey) {
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  ASSERT_NE(small, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, small, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const std::string pem(data, static_cast<size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  EVP_PKEY_free(small);
  Result<JwsSigner> signer = JwsSigner::from_private_pem("k", "RS256", pem);
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.error().code, ErrorCode::kInvalidArgument);
}

TEST(Jws, SignRefusesNonObjectClaimsAndInvalidUtf8) {
  Fixture f = make_fixture("ES256");
  Result<std::string> array = f.signer.sign(json::array({1, 2}));
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.error().code, ErrorCode::kInvalidArgument);
  Result<std::string> bad_utf8 = f.signer.sign({{"name", "\xff\xfe"}});
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_EQ(bad_utf8.error().code, ErrorCode::kInvalidArgument);
}

TEST(JwsVerifier, RejectsMalformedJwks) {
  const json bad_sets[] = {
      json::array(),
      json::object(),
      {{"keys", json::object()}},
      {{"keys", json::array()}},
      {{"keys", {1}}},
      {{"keys", {{{"kty", "RSA"}, {"e", "AQAB"}}}}},
      {{"keys", {{{"kty", "RSA"}, {"n", "!!"}, {"e", "AQAB"}}}}},
      {{"keys", {{{"kty", "RSA"}, {"n", std::string(kA2N).substr(0, 172)}, {"e", "AQAB"}}}}},
      {{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", kA3X}, {"y", kA3X}}}}},
      {{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", "AAAA"}, {"y", kA3Y}}}}},
      {{"keys", {{{"kty", "EC"}, {"alg", "ES256"}, {"crv", "P-384"}, {"x", kA3X}, {"y", kA3Y}}}}},
      {{"keys", {{{"kty", "EC"}, {"alg", "RS256"}, {"crv", "P-256"}, {"x", kA3X}, {"y", kA3Y}}}}},
      {{"keys",
        {{{"kty", "RSA"}, {"kid", "a"}, {"n", kA2N}, {"e", "AQAB"}},
         {{"kty", "EC"}, {"kid", "a"}, {"crv", "P-256"}, {"x", kA3X}, {"y", kA3Y}}}}},
  };
  for (const json& jwks : bad_sets) {
    Result<JwsVerifier> v = JwsVerifier::from_jwks(jwks);
    ASSERT_FALSE(v.ok()) << jwks.dump();
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument) << jwks.dump();
  }
}

TEST(JwsVerifier, SkipsKeysForOtherUsesAndAlgorithms) {
  const json jwks = {
      {"keys",
       {{{"kty", "RSA"}, {"use", "enc"}, {"kid", "enc"}, {"n", "!!"}, {"e", "AQAB"}},
        {{"kty", "oct"}, {"kid", "hmac"}, {"k", "AAAA"}},
        {{"kty", "RSA"}, {"alg", "PS256"}, {"kid", "pss"}, {"n", kA2N}, {"e", "AQAB"}},
        {{"kty", "EC"}, {"crv", "P-256"}, {"x", kA3X}, {"y", kA3Y}}}}};
  Result<JwsVerifier> verifier = JwsVerifier::from_jwks(jwks);
  ASSERT_TRUE(verifier.ok()) << verifier.error().message;
  EXPECT_TRUE(
      verifier->verify(std::string(kA3Header) + "." + kRfcSigningInput + "." + kA3Signature).ok());
}

}  // namespace
}  // namespace keystep
