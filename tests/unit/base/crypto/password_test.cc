#include "base/crypto/password.h"

#include <argon2.h>
#include <gtest/gtest.h>

#include <string>

namespace keystep {
namespace {

// Small costs keep the suite fast; production defaults are exercised by validation only.
constexpr Argon2Params kFast{.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};

TEST(PasswordHasher, VerifiesRightPasswordAndRejectsWrongOne) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  Result<std::string> encoded = hasher.hash("correct horse battery staple");
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_TRUE(hasher.verify(*encoded, "correct horse battery staple"));
  EXPECT_FALSE(hasher.verify(*encoded, "correct horse battery stapl"));
  EXPECT_FALSE(hasher.verify(*encoded, "Correct horse battery staple"));
  EXPECT_FALSE(hasher.verify(*encoded, ""));
}

TEST(PasswordHasher, EncodesArgon2idWithParameters) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  Result<std::string> encoded = hasher.hash("pw");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u) << *encoded;
}

TEST(PasswordHasher, SaltsEachHash) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  Result<std::string> a = hasher.hash("pw");
  Result<std::string> b = hasher.hash("pw");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(PasswordHasher, VerifiesHashMadeWithOtherParameters) {
  OsRandom random;
  Result<std::string> old_hash =
      PasswordHasher({.t_cost = 2, .m_cost_kib = 2048, .parallelism = 2}, random).hash("pw");
  ASSERT_TRUE(old_hash.ok());
  EXPECT_TRUE(PasswordHasher(kFast, random).verify(*old_hash, "pw"));
}

TEST(PasswordHasher, AcceptsEmptyAndMaximumLengthPasswords) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  const std::string longest(kMaxPasswordBytes, 'p');
  for (const std::string& pw : {std::string(), longest}) {
    Result<std::string> encoded = hasher.hash(pw);
    ASSERT_TRUE(encoded.ok());
    EXPECT_TRUE(hasher.verify(*encoded, pw));
  }
}

TEST(PasswordHasher, RejectsOverlongPassword) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  const std::string overlong(kMaxPasswordBytes + 1, 'p');
  Result<std::string> encoded = hasher.hash(overlong);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.error().code, ErrorCode::kInvalidArgument);
  Result<std::string> valid = hasher.hash("p");
  ASSERT_TRUE(valid.ok());
  EXPECT_FALSE(hasher.verify(*valid, overlong));
}

TEST(PasswordHasher, MalformedEncodedHashDoesNotVerify) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  Result<std::string> encoded = hasher.hash("pw");
  ASSERT_TRUE(encoded.ok());
  const std::string truncated = encoded->substr(0, encoded->size() - 5);
  std::string embedded_nul = *encoded;
  embedded_nul += '\0';
  for (const std::string& bad :
       {std::string(), std::string("pw"), std::string("$argon2id$"), truncated, embedded_nul,
        std::string("$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!")}) {
    EXPECT_FALSE(hasher.verify(bad, "pw")) << bad;
  }
}

TEST(PasswordHasher, RejectsOtherArgon2Variants) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  char encoded[128];
  const std::string salt = "0123456789abcdef";
  ASSERT_EQ(argon2i_hash_encoded(1, 1024, 1, "pw", 2, salt.data(), salt.size(), 32, encoded,
                                 sizeof encoded),
            ARGON2_OK);
  EXPECT_FALSE(hasher.verify(encoded, "pw"));
}

TEST(PasswordHasher, HashFailsWithInvalidParameters) {
  OsRandom random;
  Result<std::string> encoded =
      PasswordHasher({.t_cost = 0, .m_cost_kib = 1024, .parallelism = 1}, random).hash("pw");
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.error().code, ErrorCode::kInvalidArgument);
}

TEST(PasswordHasher, BurnAcceptsAnyPassword) {
  OsRandom random;
  const PasswordHasher hasher(kFast, random);
  hasher.burn("");
  hasher.burn("some password");
  hasher.burn(std::string(kMaxPasswordBytes + 1, 'p'));
}

TEST(Argon2Params, DefaultsAreValid) { EXPECT_TRUE(validate_argon2_params({}).ok()); }

// OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 passes, 1 lane (docs/security.md).
TEST(Argon2Params, DefaultsAreOwaspsRecommendation) {
  const Argon2Params defaults;
  EXPECT_EQ(defaults.m_cost_kib, 19u * 1024);
  EXPECT_EQ(defaults.t_cost, 2u);
  EXPECT_EQ(defaults.parallelism, 1u);
}

TEST(Argon2Params, RejectsOutOfRangeValues) {
  const Argon2Params bad[] = {
      {.t_cost = 0, .m_cost_kib = 1024, .parallelism = 1},
      {.t_cost = kArgon2MaxTCost + 1, .m_cost_kib = 1024, .parallelism = 1},
      {.t_cost = 1, .m_cost_kib = 7, .parallelism = 1},
      {.t_cost = 1, .m_cost_kib = 31, .parallelism = 4},
      {.t_cost = 1, .m_cost_kib = kArgon2MaxMemoryKib + 1, .parallelism = 1},
      {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 0},
      {.t_cost = 1, .m_cost_kib = 1024, .parallelism = kArgon2MaxParallelism + 1},
  };
  for (const Argon2Params& p : bad) {
    Status s = validate_argon2_params(p);
    ASSERT_FALSE(s.ok()) << p.t_cost << " " << p.m_cost_kib << " " << p.parallelism;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(validate_argon2_params({.t_cost = 1, .m_cost_kib = 32, .parallelism = 4}).ok());
}

}  // namespace
}  // namespace keystep
