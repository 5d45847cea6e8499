#include "tools/cli/command.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace keystep::cli {
namespace {

struct Outcome {
  int status;
  std::string out;
  std::string err;
};

class CommandLine : public testing::Test {
 protected:
  Outcome run(const std::vector<std::string>& words) {
    std::ostringstream out, err;
    const int status = run_command_line("tool", table_, words, out, err);
    return {status, out.str(), err.str()};
  }

  std::vector<std::string> ran_;
  CommandTable table_{
      {"init",
       {"tool init --dir DIR", "Create things.", FlagSpec{{"--dir"}, {}, {}},
        [this](const Args& args) {
          ran_.push_back("init " + args.get("--dir").value_or("-"));
          return 0;
        }}},
      {"key list",
       {"tool key list", "List keys.", FlagSpec{},
        [this](const Args&) {
          ran_.push_back("key list");
          return 7;
        }}},
  };
};

TEST_F(CommandLine, RunsOneAndTwoWordCommandsWithTheirExitStatus) {
  EXPECT_EQ(run({"init", "--dir", "d"}).status, 0);
  EXPECT_EQ(run({"key", "list"}).status, 7);
  EXPECT_EQ(ran_, (std::vector<std::string>{"init d", "key list"}));
}

TEST_F(CommandLine, NoWordsPrintsTheOverviewAsAUsageError) {
  auto r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("Usage: tool COMMAND"), std::string::npos);
  EXPECT_NE(r.err.find("  key list        List keys."), std::string::npos);
}

TEST_F(CommandLine, HelpPrintsTheOverviewOrTheCommandsUsage) {
  for (const char* help : {"--help", "-h", "help"}) {
    auto r = run({help});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("  init            Create things."), std::string::npos);
  }
  auto r = run({"init", "--bogus", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Usage: tool init --dir DIR\n\nCreate things.\n");
  EXPECT_TRUE(ran_.empty());
}

TEST_F(CommandLine, UnknownCommandIsAUsageError) {
  auto r = run({"key", "burn"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("tool: unknown command 'key'\n", 0), 0u);
  EXPECT_TRUE(ran_.empty());
}

TEST_F(CommandLine, RefusedFlagsPrintTheMessageAndUsageWithoutRunning) {
  auto r = run({"init", "--dir"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "tool: --dir needs a value\nUsage: tool init --dir DIR\n");
  EXPECT_TRUE(ran_.empty());
}

}  // namespace
}  // namespace keystep::cli
