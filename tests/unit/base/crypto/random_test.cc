#include "base/crypto/random.h"

#include <gtest/gtest.h>

#include <string>

#include "base/crypto/encoding.h"

namespace keystep {
namespace {

class FailingRandom final : public Random {
 public:
  Status fill(unsigned char*, size_t) override {
    return make_error(ErrorCode::kUnavailable, "no entropy");
  }
};

TEST(OsRandom, ReturnsRequestedNumberOfDistinctBytes) {
  OsRandom random;
  Result<std::string> a = random_bytes(random, 32);
  Result<std::string> b = random_bytes(random, 32);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(OsRandom, ZeroBytesIsEmpty) {
  OsRandom random;
  Result<std::string> r = random_bytes(random, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(RandomToken, IsUnpaddedBase64UrlOfRequestedBytes) {
  OsRandom random;
  Result<std::string> token = random_token(random);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 43u);
  Result<std::string> decoded = base64url_decode(*token);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), 32u);

  Result<std::string> short_token = random_token(random, 16);
  ASSERT_TRUE(short_token.ok());
  EXPECT_EQ(short_token->size(), 22u);
}

TEST(RandomToken, PropagatesRandomFailure) {
  FailingRandom random;
  Result<std::string> token = random_token(random);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(random_bytes(random, 4).ok());
}

}  // namespace
}  // namespace keystep
