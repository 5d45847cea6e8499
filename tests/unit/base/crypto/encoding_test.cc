#include "base/crypto/encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace keystep {
namespace {

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

TEST(Base64Url, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesUrlSafeAlphabet) { EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_"); }

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  const std::string bytes = all_bytes();
  for (size_t n = 0; n <= bytes.size(); ++n) {
    const std::string data = bytes.substr(bytes.size() - n);
    Result<std::string> decoded = base64url_decode(base64url_encode(data));
    ASSERT_TRUE(decoded.ok()) << n;
    EXPECT_EQ(*decoded, data) << n;
  }
}

TEST(Base64Url, RejectsPadding) {
  EXPECT_FALSE(base64url_decode("Zg==").ok());
  EXPECT_FALSE(base64url_decode("Zm8=").ok());
}

TEST(Base64Url, RejectsCharactersOutsideAlphabet) {
  const std::string_view cases[] = {"Zm9v+A", "Zm9v/A", "Zm 9v", "Zm9v\n",
                                    std::string_view("Zm\0v", 4)};
  for (std::string_view bad : cases) {
    Result<std::string> r = base64url_decode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Base64Url, RejectsImpossibleLength) {
  EXPECT_FALSE(base64url_decode("Z").ok());
  EXPECT_FALSE(base64url_decode("Zm9vY").ok());
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  EXPECT_TRUE(base64url_decode("Zg").ok());
  EXPECT_FALSE(base64url_decode("Zh").ok());
  EXPECT_TRUE(base64url_decode("Zm8").ok());
  EXPECT_FALSE(base64url_decode("Zm9").ok());
}

TEST(Base64, EncodesWithPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  const std::string bytes = all_bytes();
  for (size_t n = 0; n <= bytes.size(); ++n) {
    const std::string data = bytes.substr(0, n);
    Result<std::string> decoded = base64_decode(base64_encode(data));
    ASSERT_TRUE(decoded.ok()) << n;
    EXPECT_EQ(*decoded, data) << n;
  }
}

TEST(Base64, RejectsMalformedInput) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Zg===", "Z===", "====", "Zg=A", "Zm9v-A==", "Zm9v\n", " Zm9v", "Zh=="}) {
    Result<std::string> r = base64_decode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Hex, EncodesLowerCase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(Hex, DecodesEitherCaseAndRefusesTheRest) {
  EXPECT_EQ(*hex_decode(""), "");
  EXPECT_EQ(*hex_decode("0001aBfF"), std::string("\x00\x01\xab\xff", 4));
  for (std::string_view bad : {"0", "abc", "0g", "zz", " 00", "00 "}) {
    Result<std::string> r = hex_decode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace keystep
