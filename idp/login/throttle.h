#pragma once
// Brute-force throttling over persisted failure counters (MfaStore::attempts), shared by the
// password step and the second step. Failures are counted per key (e.g. per user and per
// client address); the first LockoutPolicy::kFreeFailures cost nothing, after that each
// further attempt must wait 2^(failures - kFreeFailures) seconds after the last failure,
// capped at kMaxDelaySeconds. A success resets the keys. Counters survive restarts.
//
// Two ways to use it. wait() before the check and failed() after it suit a check that is fast
// and single-use by itself (a TOTP code is stored with compare-and-set). For a slow check that
// can be repeated (a password: Argon2id takes tens of milliseconds), concurrent attempts would
// all read the same old count during that time; reserve() instead counts the attempt before
// the check, atomically with the test of the wait, so at most the allowed number of attempts
// is ever checked, however many arrive at once.
//
// Thread-safety: every method may be called concurrently (the store increments atomically).

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "idp/store/mfa_store.h"
#include "base/result.h"

namespace keystep {

struct LockoutPolicy {
  static constexpr int64_t kFreeFailures = 5;
  static constexpr int64_t kMaxDelaySeconds = 15 * 60;
  // Seconds to wait after the last failure before another attempt, given the failure count.
  static int64_t delay_after(int64_t failures);
};

// "1 second", "2 seconds": for messages that tell the user how long to wait.
std::string seconds_text(int64_t seconds);

class Throttle {
 public:
  Throttle(MfaStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Seconds to wait before the next attempt on any of `keys`; 0 when one may try now.
  Result<int64_t> wait(const std::vector<std::string>& keys);
  // Counts a failure on every key; returns the wait now in force after it.
  Result<int64_t> failed(const std::vector<std::string>& keys);
  // Reserves one attempt on `key` before it is checked: if no wait is in force, counts it as a
  // failure at once (compare-and-set on the key's state, retried while concurrent
  // reservations win) and returns wait 0 with `delay`, the wait that is in force after it
  // should it fail. Otherwise returns the seconds to wait and counts nothing. A caller whose
  // attempt then succeeds calls succeeded({key}); a failed one needs nothing more. An error
  // (kUnavailable from the store, or when the key stays contended) means: do not check.
  struct Reservation {
    int64_t wait = 0;
    int64_t delay = 0;
  };
  Result<Reservation> reserve(const std::string& key);
  // A rate limit over the same counters, for requests that are not failures (e.g. password
  // reset emails): counts one request on `key` and returns 0, unless `limit` requests were
  // counted with less than `window` seconds between each and the next, the last one less
  // than `window` seconds ago: then returns the seconds until `window` has passed since it,
  // and counts nothing. A key left alone for `window` seconds starts over. Same errors as
  // reserve().
  Result<int64_t> take(const std::string& key, int64_t limit, int64_t window);
  // Clears the keys' counters (best effort: a failure here only keeps a stricter count).
  void succeeded(const std::vector<std::string>& keys);

 private:
  MfaStore& store_;
  const Clock& clock_;
};

}  // namespace keystep
