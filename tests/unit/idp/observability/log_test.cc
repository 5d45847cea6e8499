#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "idp/observability/observability.h"
#include "tests/unit/test_util.h"

namespace keystep::obs {
namespace {

class LogLine : public ::testing::Test {
 protected:
  void TearDown() override { set_log_output({}); }

  std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  testutil::TempDir dir_;
};

TEST_F(LogLine, FixedFieldsComeFirstThenTheOthersInKeyOrder) {
  std::vector<std::string> lines;
  set_log_output([&](std::string_view line) { lines.emplace_back(line); });
  {
    RequestScope scope("R-1");
    log_line("info", {{"status", 200}, {"msg", "request"}, {"route", "/token"}, {"b", nullptr}});
  }
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  // {"time":"2026-11-30T21:28:46.905Z","level":"info","request_id":"R-1","msg":"request",...
  ASSERT_EQ(line.rfind(R"({"time":")", 0), 0u) << line;
  const std::string fixed = R"(","level":"info","request_id":"R-1","msg":"request",)";
  const size_t level = line.find(fixed);
  ASSERT_EQ(level, std::string(R"({"time":"2026-11-30T21:28:46.905Z)").size()) << line;
  EXPECT_EQ(line.substr(level + fixed.size()), R"("b":null,"route":"/token","status":200})")
      << line;
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST_F(LogLine, ARequestIdInTheFieldsIsKeptAndNotRepeated) {
  std::vector<std::string> lines;
  set_log_output([&](std::string_view line) { lines.emplace_back(line); });
  RequestScope scope("R-outer");
  log_line("warn", {{"request_id", "R-given"}, {"msg", "x"}});
  ASSERT_EQ(lines.size(), 1u);
  const auto parsed = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(parsed["request_id"], "R-given");
  EXPECT_EQ(lines[0].find("R-outer"), std::string::npos) << lines[0];
}

TEST_F(LogLine, ValuesAndKeysAreEscapedAndInvalidUtf8IsReplaced) {
  std::vector<std::string> lines;
  set_log_output([&](std::string_view line) { lines.emplace_back(line); });
  log_line("info", {{"msg", "a \"quoted\"\nline"}, {"we\"ird", "\xff"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  const auto parsed = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(parsed["msg"], "a \"quoted\"\nline");
  EXPECT_EQ(parsed["we\"ird"], "\xEF\xBF\xBD");  // U+FFFD
}

TEST_F(LogLine, ConcurrentLinesToAFileAreWholeLinesEachWithItsNewline) {
  const std::string path = dir_.file("keystep.log");
  ASSERT_TRUE(log_to_file(path));
  constexpr int kThreads = 4;
  constexpr int kLines = 200;
  const std::string filler(3000, 'z');  // lines longer than a pipe's atomic write
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) log_line("info", {{"msg", "n"}, {"t", t}, {"f", filler}});
    });
  for (auto& thread : threads) thread.join();
  set_log_output({});
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> per_thread(kThreads, 0);
  for (const auto& line : lines) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line.substr(0, 120);
    ++per_thread.at(nlohmann::json::parse(line)["t"].get<int>());
  }
  for (int count : per_thread) EXPECT_EQ(count, kLines);
}

}  // namespace
}  // namespace keystep::obs
