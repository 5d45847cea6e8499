// The seed's challenge rule and the lockout schedule, as tables.
#include <gtest/gtest.h>

#include "idp/login/two_factor.h"

namespace keystep {
namespace {

TEST(TwoFactorPolicy, ChallengesWhenEitherSettingIsOnAndNotWhenBothAreOff) {
  struct Row {
    bool user;
    bool account;
    bool challenged;
  };
  const Row table[] = {
      {false, false, false},
      {true, false, true},
      {false, true, true},
      {true, true, true},
  };
  for (const auto& row : table) {
    EXPECT_EQ(two_factor_challenge_required(row.user, row.account), row.challenged)
        << "user=" << row.user << " account=" << row.account;
  }
}

TEST(LockoutPolicy, FirstFailuresAreFree) {
  for (int64_t failures = 0; failures < LockoutPolicy::kFreeFailures; ++failures)
    EXPECT_EQ(LockoutPolicy::delay_after(failures), 0) << failures;
}

TEST(LockoutPolicy, DelayDoublesAfterTheThresholdAndIsCapped) {
  const int64_t free = LockoutPolicy::kFreeFailures;
  EXPECT_EQ(LockoutPolicy::delay_after(free), 1);
  EXPECT_EQ(LockoutPolicy::delay_after(free + 1), 2);
  EXPECT_EQ(LockoutPolicy::delay_after(free + 2), 4);
  EXPECT_EQ(LockoutPolicy::delay_after(free + 5), 32);
  int64_t previous = 0;
  for (int64_t failures = free; failures < free + 40; ++failures) {
    const int64_t delay = LockoutPolicy::delay_after(failures);
    EXPECT_GE(delay, previous);
    EXPECT_LE(delay, LockoutPolicy::kMaxDelaySeconds);
    previous = delay;
  }
  EXPECT_EQ(LockoutPolicy::delay_after(free + 1000), LockoutPolicy::kMaxDelaySeconds);
}

}  // namespace
}  // namespace keystep
