#include "providers/yubikey_hotp/key_output.h"

#include <gtest/gtest.h>

namespace keystep {
namespace {

constexpr unsigned kBoth[] = {6, 8};
constexpr unsigned kSix[] = {6};

TEST(KeyOutput, ReadsIdentifierAndSixDigits) {
  auto out = read_key_output("ubhe12345678287082", kBoth);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->token_id, "ubhe12345678");
  EXPECT_EQ(out->code, "287082");
}

TEST(KeyOutput, ReadsIdentifierAndEightDigits) {
  auto out = read_key_output("ubhe1234567894287082", kBoth);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->token_id, "ubhe12345678");
  EXPECT_EQ(out->code, "94287082");
}

TEST(KeyOutput, ReadsAllModhexIdentifier) {
  auto out = read_key_output("cbdefghijklv755224", kSix);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->token_id, "cbdefghijklv");
}

TEST(KeyOutput, ReadsCodeWithoutIdentifier) {
  auto out = read_key_output("755224", kBoth);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->token_id, "");
  EXPECT_EQ(out->code, "755224");
}

TEST(KeyOutput, DropsSpacesTabsAndLineEnds) {
  auto out = read_key_output(" ubhe 1234 5678\t287 082\r\n", kBoth);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->token_id, "ubhe12345678");
  EXPECT_EQ(out->code, "287082");
}

TEST(KeyOutput, ReadsAzertyDigitRowAsDigits) {
  // "ubhe12345678" then "287082" typed by a key on an AZERTY layout.
  auto out = read_key_output("ubhe&\xC3\xA9\"'(-\xC3\xA8_\xC3\xA9_\xC3\xA8\xC3\xA0_\xC3\xA9",
                             kBoth);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->token_id, "ubhe12345678");
  EXPECT_EQ(out->code, "287082");
  EXPECT_EQ(key_typing("\xC3\xA7\xC3\xA0"), "90");
}

TEST(KeyOutput, ReadsCapsLockAsLowerCase) {
  auto out = read_key_output("UBHE12345678287082", kBoth);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->token_id, "ubhe12345678");
}

TEST(KeyOutput, RefusesMalformedOutputs) {
  for (const char* bad : {"", "12345", "1234567", "abcd12345678287082", "ubhe1234567287082",
                          "ubhe12345678x87082", "ubhe123456782870821", "7552240"}) {
    auto out = read_key_output(bad, kBoth);
    EXPECT_FALSE(out) << bad;
    if (!out) {
      EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(read_key_output("12345678", kSix));
}

TEST(KeyOutput, ValidTokenIdIsTwelveModhexOrDigits) {
  EXPECT_TRUE(valid_token_id("ubhe12345678"));
  EXPECT_TRUE(valid_token_id("cccccccccccc"));
  EXPECT_FALSE(valid_token_id("ubhe1234567"));
  EXPECT_FALSE(valid_token_id("UBHE12345678"));
  EXPECT_FALSE(valid_token_id("abhe12345678"));  // 'a' is no modhex letter
}

TEST(KeyOutput, SplitsTwoOutputsOfOneKey) {
  auto two = read_key_outputs("ubhe12345678287082\nubhe12345678359152\n", 6, 2);
  ASSERT_TRUE(two) << two.error().message;
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].code, "287082");
  EXPECT_EQ((*two)[1].code, "359152");
  auto bare = read_key_outputs("287082359152", 6, 2);
  ASSERT_TRUE(bare);
  EXPECT_EQ((*bare)[1].code, "359152");
}

TEST(KeyOutput, RefusesTwoOutputsOfDifferentKeys) {
  auto two = read_key_outputs("ubhe12345678287082ubhe87654321359152", 6, 2);
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(read_key_outputs("287082", 6, 2));
}

}  // namespace
}  // namespace keystep
