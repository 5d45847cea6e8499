#include "idp/login/throttle.h"

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

Result<Throttle::Reservation> Throttle::reserve(const std::string& key) {
  // Every failed compare-and-set means another attempt was counted meanwhile; after
  // kFreeFailures of them a wait is in force and the loop ends with it. The bound only guards
  // against a store that never lets the swap succeed.
  for (int round = 0; round < 64; ++round) {
    auto state = store_.attempts(key);
    if (!state) return state.error();
    const int64_t now = clock_.now();
    const int64_t delay = LockoutPolicy::delay_after(state->failures);
    if (delay > 0 && now < state->last_failure_at + delay)
      return Reservation{state->last_failure_at + delay - now, 0};
    auto counted = store_.record_failure_if(key, *state, now);
    if (!counted) return counted.error();
    if (*counted) return Reservation{0, LockoutPolicy::delay_after(state->failures + 1)};
  }
  return make_error(ErrorCode::kUnavailable, "the attempt counter of " + key + " stays contended");
}

Result<int64_t> Throttle::take(const std::string& key, int64_t limit, int64_t window) {
  // As in reserve: a lost compare-and-set means another request was counted meanwhile.
  for (int round = 0; round < 64; ++round) {
    auto state = store_.attempts(key);
    if (!state) return state.error();
    const int64_t now = clock_.now();
    const bool quiet = state->failures > 0 && now >= state->last_failure_at + window;
    if (!quiet && state->failures >= limit) return state->last_failure_at + window - now;
    if (quiet) {
      if (Status s = store_.reset_attempts(key); !s) return s.error();
      continue;
    }
    auto counted = store_.record_failure_if(key, *state, now);
    if (!counted) return counted.error();
    if (*counted) return 0;
  }
  return make_error(ErrorCode::kUnavailable, "the request counter of " + key + " stays contended");
}

void Throttle::succeeded(const std::vector<std::string>& keys) {
  for (const auto& key : keys) (void)store_.reset_attempts(key);
}

}  // namespace keystep
