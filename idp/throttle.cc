#include "idp/throttle.h"

#include <algorithm>

namespace keystep {

int64_t LockoutPolicy::delay_after(int64_t failures) {
  if (failures < kFreeFailures) return 0;
  const int64_t exponent = failures - kFreeFailures;
  if (exponent >= 20) return kMaxDelaySeconds;
  return std::min<int64_t>(int64_t{1} << exponent, kMaxDelaySeconds);
}

std::string seconds_text(int64_t n) {
  return std::to_string(n) + (n == 1 ? " second" : " seconds");
}

Result<int64_t> Throttle::wait(const std::vector<std::string>& keys) {
  const int64_t now = clock_.now();
  int64_t longest = 0;
  for (const auto& key : keys) {
    auto state = store_.attempts(key);
    if (!state) return state.error();
    const int64_t delay = LockoutPolicy::delay_after(state->failures);
    if (delay > 0 && now < state->last_failure_at + delay)
      longest = std::max(longest, state->last_failure_at + delay - now);
  }
  return longest;
}

Result<int64_t> Throttle::failed(const std::vector<std::string>& keys) {
  int64_t longest = 0;
  for (const auto& key : keys) {
    auto state = store_.record_failure(key, clock_.now());
    if (!state) return state.error();
    longest = std::max(longest, LockoutPolicy::delay_after(state->failures));
  }
  return longest;
}

void Throttle::succeeded(const std::vector<std::string>& keys) {
  for (const auto& key : keys) (void)store_.reset_attempts(key);
}

}  // namespace keystep
