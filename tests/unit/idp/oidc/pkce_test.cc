#include "idp/oidc/pkce.h"

#include <gtest/gtest.h>

#include <string>

#include "base/crypto/hash.h"

namespace keystep {
namespace {

// RFC 7636 Appendix B.
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(Pkce, MatchesRfc7636AppendixBVector) {
  EXPECT_TRUE(is_valid_code_verifier(kVerifier));
  EXPECT_TRUE(is_valid_code_challenge(kChallenge));
  EXPECT_TRUE(pkce_s256_matches(kVerifier, kChallenge));
}

TEST(Pkce, RejectsWrongVerifierOrChallenge) {
  std::string verifier = kVerifier;
  verifier.back() = 'j';
  EXPECT_FALSE(pkce_s256_matches(verifier, kChallenge));
  std::string challenge = kChallenge;
  challenge[0] = 'F';
  EXPECT_FALSE(pkce_s256_matches(kVerifier, challenge));
  EXPECT_FALSE(pkce_s256_matches(kVerifier, std::string(kChallenge) + "A"));
  EXPECT_FALSE(pkce_s256_matches(kVerifier, ""));
}

TEST(Pkce, PlainMethodDoesNotMatch) {
  // A client that sent the verifier itself as challenge ("plain") must not pass.
  EXPECT_FALSE(pkce_s256_matches(kVerifier, kVerifier));
}

TEST(Pkce, VerifierLengthAndAlphabet) {
  EXPECT_FALSE(is_valid_code_verifier(std::string(42, 'a')));
  EXPECT_TRUE(is_valid_code_verifier(std::string(43, 'a')));
  EXPECT_TRUE(is_valid_code_verifier(std::string(128, '~')));
  EXPECT_FALSE(is_valid_code_verifier(std::string(129, 'a')));
  EXPECT_TRUE(is_valid_code_verifier(std::string(40, 'a') + "-._~"));
  for (char bad : {'+', '/', '=', ' ', '%', '\0', '\xc3'}) {
    EXPECT_FALSE(is_valid_code_verifier(std::string(43, 'a') + bad)) << int(bad);
  }
}

TEST(Pkce, InvalidVerifierNeverMatchesEvenIfHashEquals) {
  // 42 characters: too short, even though the challenge is its correct S256 hash.
  const std::string short_verifier(42, 'a');
  EXPECT_FALSE(pkce_s256_matches(short_verifier, sha256_b64url(short_verifier)));
}

TEST(Pkce, ChallengeMustBe43Base64UrlChars) {
  EXPECT_FALSE(is_valid_code_challenge(std::string(kChallenge).substr(0, 42)));
  EXPECT_FALSE(is_valid_code_challenge(std::string(kChallenge) + "="));
  EXPECT_FALSE(is_valid_code_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
  EXPECT_FALSE(is_valid_code_challenge(""));
  // The last character carries 2 unused bits, which must be zero.
  EXPECT_FALSE(is_valid_code_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
}

}  // namespace
}  // namespace keystep
