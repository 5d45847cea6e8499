// parse_json_object: the admin API's body parser refuses duplicate member names at any depth.

#include "base/json_body.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using testutil::Fails;
using testutil::Ok;

TEST(JsonBody, ParsesAnObject) {
  auto parsed = parse_json_object(R"({"totp":{"digits":8},"allowed_providers":["totp"]})");
  ASSERT_TRUE(Ok(parsed));
  EXPECT_EQ((*parsed)["totp"]["digits"], 8);
}

TEST(JsonBody, RefusesDuplicateMembersAtAnyDepth) {
  auto top = parse_json_object(R"({"confirm":false,"confirm":true})");
  ASSERT_TRUE(Fails(top, ErrorCode::kInvalidArgument));
  EXPECT_EQ(top.error().message, "duplicate member confirm");
  EXPECT_TRUE(
      Fails(parse_json_object(R"({"totp":{"digits":6,"digits":8}})"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      Fails(parse_json_object(R"({"a":[{"b":1},{"c":1,"c":2}]})"), ErrorCode::kInvalidArgument));
  // The same name in sibling or nested objects is no duplicate.
  EXPECT_TRUE(Ok(parse_json_object(R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})")));
}

TEST(JsonBody, RefusesWhatIsNotAnObject) {
  for (const char* bad :
       {"", "not json", "[]", "1", "\"x\"", "null", "{", R"({"a":1} x)", "{\"a\":\"\xff\"}"})
    EXPECT_TRUE(Fails(parse_json_object(bad), ErrorCode::kInvalidArgument)) << bad;
}

TEST(JsonBody, RefusesDeepNesting) {
  std::string deep = "{\"a\":";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}";
  EXPECT_TRUE(Fails(parse_json_object(deep), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Ok(parse_json_object(R"({"a":[[[1]]]})")));
}

}  // namespace
}  // namespace keystep
