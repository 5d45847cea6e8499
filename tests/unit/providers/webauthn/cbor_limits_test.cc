#include "providers/webauthn/cbor_limits.h"

#include <gtest/gtest.h>

#include <string>

#include "providers/webauthn/attestation.h"

namespace keystep::webauthn {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

TEST(CborLimits, GivesTheSizeOfTheFirstItem) {
  EXPECT_EQ(safe_cbor_item_size(bytes({0x01})), 1u);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x01, 0x02})), 1u) << "what follows is not the item's";
  // {1: 2, 3: -7, "x": h'0102'}, the shape of a COSE key
  EXPECT_EQ(safe_cbor_item_size(bytes({0xa3, 0x01, 0x02, 0x03, 0x26, 0x61, 'x', 0x42, 1, 2})), 10u);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x82, 0x80, 0xa0})), 3u);        // [[], {}]
  EXPECT_EQ(safe_cbor_item_size(bytes({0xd8, 0x40, 0x41, 0x00})), 4u);  // a tag and its item
  EXPECT_EQ(safe_cbor_item_size(bytes({0xf5})), 1u);                    // true
}

TEST(CborLimits, RefusesDeclaredSizesTheInputCannotHold) {
  // A map of 2^31 pairs in five bytes: libcbor 0.8 would allocate 32 GiB before reading.
  EXPECT_EQ(safe_cbor_item_size(bytes({0xba, 0x80, 0x00, 0x00, 0x00})), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0xa2, 0x01, 0x02, 0x03})), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x5a, 0x7f, 0xff, 0xff, 0xff})), std::nullopt);
}

TEST(CborLimits, RefusesIndefiniteLengthsDeepNestingAndTruncation) {
  EXPECT_EQ(safe_cbor_item_size(bytes({0x9f, 0x01, 0xff})), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0xbf, 0x01, 0x02, 0xff})), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x5f, 0x41, 0x00, 0xff})), std::nullopt);
  std::string deep(kMaxCborDepth, '\x81');
  EXPECT_EQ(safe_cbor_item_size(deep + '\x00'), kMaxCborDepth + 1);
  EXPECT_EQ(safe_cbor_item_size('\x81' + deep + '\x00'), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(""), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x82, 0x01})), std::nullopt);
  EXPECT_EQ(safe_cbor_item_size(bytes({0x1c})), std::nullopt);  // a reserved additional info
}

TEST(CborLimits, AnAttestationObjectDeclaringAHugeMapIsRefusedNotAllocated) {
  auto r = verify_attestation(bytes({0xba, 0x80, 0x00, 0x00, 0x00, 0x63, 'f', 'm', 't'}),
                              {"id.example.com", "{}", false, nullptr, 0});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace keystep::webauthn
