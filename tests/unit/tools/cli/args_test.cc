#include "tools/cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/test_util.h"

namespace keystep::cli {
namespace {

using testutil::Fails;
using testutil::Ok;

const FlagSpec kSpec{{"--data-dir", "--name", "--redirect-uri"},
                     {"--demo", "--force"},
                     {"--redirect-uri", "--force"}};

std::string message_of(const std::vector<std::string>& argv, const FlagSpec& spec = kSpec) {
  auto args = Args::parse(argv, spec);
  EXPECT_TRUE(Fails(args, ErrorCode::kInvalidArgument));
  return args ? "" : args.error().message;
}

TEST(Args, ReadsValuesInBothSpellingsAndSwitches) {
  auto args = Args::parse({"--data-dir", "/tmp/x", "--name=acme", "--demo"}, kSpec);
  ASSERT_TRUE(Ok(args));
  EXPECT_EQ(args->get("--data-dir"), "/tmp/x");
  EXPECT_EQ(args->get("--name"), "acme");
  EXPECT_TRUE(args->has("--demo"));
  EXPECT_FALSE(args->has("--force"));
  EXPECT_EQ(args->get("--force"), std::nullopt);
}

TEST(Args, KeepsRepeatedValuesInOrder) {
  auto args =
      Args::parse({"--redirect-uri", "https://a/cb", "--redirect-uri=https://b/cb?x=1"}, kSpec);
  ASSERT_TRUE(Ok(args));
  EXPECT_EQ(args->all("--redirect-uri"),
            (std::vector<std::string>{"https://a/cb", "https://b/cb?x=1"}));
  EXPECT_TRUE(args->all("--name").empty());
}

TEST(Args, CountsARepeatableSwitch) {
  auto args = Args::parse({"--force", "--force"}, kSpec);
  ASSERT_TRUE(Ok(args));
  EXPECT_EQ(args->count("--force"), 2u);
  EXPECT_EQ(args->count("--demo"), 0u);
}

TEST(Args, TakesAnEmptyValueInEitherSpelling) {
  for (const auto& argv : {std::vector<std::string>{"--name=", "--demo"},
                           std::vector<std::string>{"--name", "", "--demo"}}) {
    auto args = Args::parse(argv, kSpec);
    ASSERT_TRUE(Ok(args));
    EXPECT_EQ(args->get("--name"), "");
    EXPECT_TRUE(args->has("--demo"));
  }
}

TEST(Args, TakesTheNextWordAsTheValueEvenWhenItStartsWithADash) {
  auto args = Args::parse({"--name", "-x", "--data-dir", "--demo"}, kSpec);
  ASSERT_TRUE(Ok(args));
  EXPECT_EQ(args->get("--name"), "-x");
  EXPECT_EQ(args->get("--data-dir"), "--demo");
  EXPECT_FALSE(args->has("--demo"));
}

TEST(Args, RefusesUnknownOptionsAndStrayWords) {
  EXPECT_EQ(message_of({"--data-dir", "d", "--nope"}), "unknown option --nope");
  EXPECT_EQ(message_of({"--nope=1"}), "unknown option --nope");
  EXPECT_EQ(message_of({"-x"}), "unknown option -x");
  EXPECT_EQ(message_of({"--data-dir", "d", "stray"}), "unexpected argument stray");
}

TEST(Args, RefusesAMissingValue) {
  EXPECT_EQ(message_of({"--demo", "--name"}), "--name needs a value");
}

TEST(Args, RefusesAValueOnASwitch) {
  EXPECT_EQ(message_of({"--demo=yes"}), "--demo takes no value");
  EXPECT_EQ(message_of({"--demo="}), "--demo takes no value");
}

TEST(Args, RefusesANonRepeatableFlagGivenTwice) {
  EXPECT_EQ(message_of({"--name", "a", "--name", "b"}), "--name may be given only once");
  EXPECT_EQ(message_of({"--demo", "--demo"}), "--demo may be given only once");
}

TEST(Args, ReadsPositionalsByName) {
  const FlagSpec spec{{"--format"}, {}, {}, {"FILE"}};
  auto args = Args::parse({"--format", "csv", "keys.csv"}, spec);
  ASSERT_TRUE(Ok(args));
  EXPECT_EQ(args->get("FILE"), "keys.csv");
  EXPECT_EQ(args->get("--format"), "csv");
  EXPECT_EQ(message_of({"--format", "csv"}, spec), "FILE is required");
  EXPECT_EQ(message_of({"a.csv", "b.csv"}, spec), "unexpected argument b.csv");
}

TEST(Args, RequiredNamesTheMissingOrEmptyFlag) {
  auto args = Args::parse({"--name="}, kSpec);
  ASSERT_TRUE(Ok(args));
  auto name = args->required("--name");
  ASSERT_TRUE(Fails(name, ErrorCode::kInvalidArgument));
  EXPECT_EQ(name.error().message, "--name is required");
  auto dir = args->required("--data-dir");
  ASSERT_TRUE(Fails(dir, ErrorCode::kInvalidArgument));
  EXPECT_EQ(dir.error().message, "--data-dir is required");
}

}  // namespace
}  // namespace keystep::cli
