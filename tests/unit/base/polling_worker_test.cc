// PollingWorker (base/polling_worker.h): a pass at start, one per notify(), none after stop().

#include "base/polling_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace keystep {
namespace {

using namespace std::chrono_literals;

// Waits up to 5 s for `count` to reach `at_least`.
bool reaches(const std::atomic<int>& count, int at_least) {
  for (int i = 0; i < 500 && count.load() < at_least; ++i) std::this_thread::sleep_for(10ms);
  return count.load() >= at_least;
}

TEST(PollingWorker, RunsAPassAtStartAndOnEachNotify) {
  std::atomic<int> passes{0};
  PollingWorker worker;
  worker.start(1h, [&] { ++passes; });  // the poll never fires within the test
  ASSERT_TRUE(reaches(passes, 1));
  worker.notify();
  ASSERT_TRUE(reaches(passes, 2));
  worker.notify();
  ASSERT_TRUE(reaches(passes, 3));
  worker.stop();
  const int stopped_at = passes.load();
  worker.notify();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(passes.load(), stopped_at);
}

TEST(PollingWorker, PollsWithoutNotify) {
  std::atomic<int> passes{0};
  PollingWorker worker;
  worker.start(10ms, [&] { ++passes; });
  EXPECT_TRUE(reaches(passes, 3));
}

TEST(PollingWorker, StopWaitsForThePassThatSeesStopping) {
  std::atomic<bool> saw_stopping{false};
  std::atomic<bool> in_pass{false};
  PollingWorker worker;
  worker.start(1h, [&] {
    in_pass = true;
    while (!worker.stopping()) std::this_thread::sleep_for(1ms);
    saw_stopping = true;
  });
  for (int i = 0; i < 500 && !in_pass; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(in_pass);
  worker.stop();
  EXPECT_TRUE(saw_stopping);
  EXPECT_FALSE(worker.stopping());
}

TEST(PollingWorker, StartTwiceAndStopTwiceAreNoOps) {
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  PollingWorker worker;
  worker.stop();
  worker.start(1h, [&] { ++first; });
  worker.start(1h, [&] { ++second; });
  ASSERT_TRUE(reaches(first, 1));
  worker.stop();
  worker.stop();
  EXPECT_EQ(second.load(), 0);
}

}  // namespace
}  // namespace keystep
