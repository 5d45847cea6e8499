// Throttle (idp/login/throttle.h) over the real SQLite store: the lockout policy's delays, the
// wait before a check and the failures after it, and reserving attempts before a slow check.

#include "idp/login/throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite/sqlite_store.h"
#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using sqlite::SqliteStore;
using testutil::Ok;
using testutil::TempDir;

class TestClock final : public Clock {
 public:
  int64_t now() const override { return now_.load(); }
  void advance(int64_t s) { now_ += s; }

 private:
  std::atomic<int64_t> now_{1'700'000'000};
};

class ThrottleTest : public testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::open(dir_.path() + "/keystep.db");
    ASSERT_TRUE(Ok(opened));
    store_ = std::move(opened).value();
  }

  TempDir dir_;
  TestClock clock_;
  std::unique_ptr<SqliteStore> store_;
};

TEST(LockoutPolicy, FreeFailuresCostNothingThenTheDelayDoublesUpToTheCap) {
  for (int64_t failures = 0; failures < LockoutPolicy::kFreeFailures; ++failures)
    EXPECT_EQ(LockoutPolicy::delay_after(failures), 0) << failures;
  EXPECT_EQ(LockoutPolicy::delay_after(LockoutPolicy::kFreeFailures), 1);
  EXPECT_EQ(LockoutPolicy::delay_after(LockoutPolicy::kFreeFailures + 1), 2);
  EXPECT_EQ(LockoutPolicy::delay_after(LockoutPolicy::kFreeFailures + 9), 512);
  EXPECT_EQ(LockoutPolicy::delay_after(LockoutPolicy::kFreeFailures + 10),
            LockoutPolicy::kMaxDelaySeconds);  // 1024 capped at 900
  EXPECT_EQ(LockoutPolicy::delay_after(LockoutPolicy::kFreeFailures + 63),
            LockoutPolicy::kMaxDelaySeconds);  // no shift past the width
  EXPECT_EQ(LockoutPolicy::delay_after(INT64_MAX), LockoutPolicy::kMaxDelaySeconds);
}

TEST(SecondsText, IsSingularForOneSecondOnly) {
  EXPECT_EQ(seconds_text(1), "1 second");
  EXPECT_EQ(seconds_text(2), "2 seconds");
  EXPECT_EQ(seconds_text(0), "0 seconds");
  EXPECT_EQ(seconds_text(900), "900 seconds");
}

TEST_F(ThrottleTest, WaitIsZeroUntilTheFreeFailuresAreSpentThenCountsFromTheLastFailure) {
  Throttle throttle(*store_, clock_);
  const std::vector<std::string> keys = {"totp:7"};
  for (int64_t i = 1; i < LockoutPolicy::kFreeFailures; ++i) {
    auto delay = throttle.failed(keys);
    ASSERT_TRUE(Ok(delay));
    EXPECT_EQ(*delay, 0);
    EXPECT_EQ(throttle.wait(keys).value(), 0);
  }
  EXPECT_EQ(throttle.failed(keys).value(), 1);
  EXPECT_EQ(throttle.wait(keys).value(), 1);
  clock_.advance(1);
  EXPECT_EQ(throttle.wait(keys).value(), 0);
  EXPECT_EQ(throttle.failed(keys).value(), 2);
  EXPECT_EQ(throttle.wait(keys).value(), 2);
  clock_.advance(1);
  EXPECT_EQ(throttle.wait(keys).value(), 1);
  // wait() itself counts nothing.
  EXPECT_EQ(store_->attempts("totp:7")->failures, LockoutPolicy::kFreeFailures + 1);
}

TEST_F(ThrottleTest, WaitAndFailedAnswerForTheMostThrottledKey) {
  Throttle throttle(*store_, clock_);
  for (int64_t i = 0; i < LockoutPolicy::kFreeFailures; ++i)
    ASSERT_TRUE(Ok(throttle.failed({"user:1"})));
  // user:1 reaches 6 failures (2 s), addr:10.0.0.1 only 1 (none).
  auto delay = throttle.failed({"addr:10.0.0.1", "user:1"});
  ASSERT_TRUE(Ok(delay));
  EXPECT_EQ(*delay, 2);
  EXPECT_EQ(throttle.wait({"addr:10.0.0.1", "user:1"}).value(), 2);
  EXPECT_EQ(throttle.wait({"addr:10.0.0.1"}).value(), 0);
  EXPECT_EQ(throttle.wait({}).value(), 0);
}

TEST_F(ThrottleTest, SucceededClearsEveryKeyItNames) {
  Throttle throttle(*store_, clock_);
  for (int64_t i = 0; i <= LockoutPolicy::kFreeFailures; ++i)
    ASSERT_TRUE(Ok(throttle.failed({"user:1", "addr:10.0.0.1", "user:2"})));
  throttle.succeeded({"user:1", "addr:10.0.0.1", "never-failed"});
  EXPECT_EQ(throttle.wait({"user:1", "addr:10.0.0.1"}).value(), 0);
  EXPECT_EQ(store_->attempts("user:1")->failures, 0);
  EXPECT_EQ(store_->attempts("user:2")->failures, LockoutPolicy::kFreeFailures + 1);
  EXPECT_GT(throttle.wait({"user:2"}).value(), 0);
}

TEST_F(ThrottleTest, ReserveCountsTheFreeAttemptsThenMakesTheNextOneWait) {
  Throttle throttle(*store_, clock_);
  for (int64_t i = 1; i <= LockoutPolicy::kFreeFailures; ++i) {
    auto reserved = throttle.reserve("pwd:a@example.com");
    ASSERT_TRUE(Ok(reserved));
    EXPECT_EQ(reserved->wait, 0);
    EXPECT_EQ(reserved->delay, LockoutPolicy::delay_after(i));
  }
  EXPECT_EQ(store_->attempts("pwd:a@example.com")->failures, LockoutPolicy::kFreeFailures);
  auto refused = throttle.reserve("pwd:a@example.com");
  ASSERT_TRUE(Ok(refused));
  EXPECT_EQ(refused->wait, 1);
  // A refused attempt is not counted.
  EXPECT_EQ(store_->attempts("pwd:a@example.com")->failures, LockoutPolicy::kFreeFailures);
  clock_.advance(1);
  auto later = throttle.reserve("pwd:a@example.com");
  ASSERT_TRUE(Ok(later));
  EXPECT_EQ(later->wait, 0);
  EXPECT_EQ(later->delay, 2);
}

TEST_F(ThrottleTest, SucceededReleasesTheReservation) {
  Throttle throttle(*store_, clock_);
  ASSERT_TRUE(Ok(throttle.reserve("pwd:a@example.com")));
  throttle.succeeded({"pwd:a@example.com"});
  EXPECT_EQ(store_->attempts("pwd:a@example.com")->failures, 0);
}

// Many concurrent attempts, on two connections to the same database (as two server processes
// would have), with the clock standing still: exactly the free attempts are granted.
TEST_F(ThrottleTest, ConcurrentReservationsGrantNoMoreThanTheFreeAttempts) {
  auto second = SqliteStore::open(dir_.path() + "/keystep.db");
  ASSERT_TRUE(Ok(second));
  Throttle first_throttle(*store_, clock_);
  Throttle second_throttle(**second, clock_);
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] {
      auto reserved = (i % 2 ? first_throttle : second_throttle).reserve("pwd:a@example.com");
      if (!reserved)
        ++failed;
      else if (reserved->wait == 0)
        ++granted;
      else
        ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(granted.load(), LockoutPolicy::kFreeFailures);
  EXPECT_EQ(refused.load(), 32 - LockoutPolicy::kFreeFailures);
  EXPECT_EQ(store_->attempts("pwd:a@example.com")->failures, LockoutPolicy::kFreeFailures);
}

}  // namespace
}  // namespace keystep

namespace keystep {
namespace {

TEST_F(ThrottleTest, TakeCountsUpToTheLimitThenWaitsForAQuietWindow) {
  Throttle throttle(*store_, clock_);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*throttle.take("reset:a", 3, 900), 0) << i;
    clock_.advance(100);
  }
  // The third was 100 s ago: the window runs from it.
  EXPECT_EQ(*throttle.take("reset:a", 3, 900), 800);
  clock_.advance(799);
  EXPECT_EQ(*throttle.take("reset:a", 3, 900), 1);
  // A refused request counts nothing, so the window ends on time; then the key starts over.
  clock_.advance(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*throttle.take("reset:a", 3, 900), 0) << i;
  EXPECT_GT(*throttle.take("reset:a", 3, 900), 0);
  // Other keys are counted apart.
  EXPECT_EQ(*throttle.take("reset:b", 3, 900), 0);
}

TEST_F(ThrottleTest, ConcurrentTakesGrantNoMoreThanTheLimit) {
  Throttle throttle(*store_, clock_);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto wait = throttle.take("reset:c", 3, 900);
      if (wait && *wait == 0) ++granted;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 3);
}

}  // namespace
}  // namespace keystep
