// YubiKey OATH-HOTP verification: YubikeyHotpProvider::verify beside liboath's own validation
// of the same code over the same window, to show what the provider adds (reading the key's
// output, the identifier check, the credential copy it returns, the replay check of a miss).
// Run: build in Release, then ./keystep_bench_hotp (see docs/performance.md).

#include <benchmark/benchmark.h>
#include <liboath/oath.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "providers/yubikey_hotp/yubikey_hotp_provider.h"

namespace keystep {
namespace {

constexpr int64_t kCounter = 100;  // a key in use: the last accepted moving factor
constexpr uint64_t kWindow = 10;   // the default look-ahead: 11 codes, kCounter+1 .. +11
const std::string kId = "ubhe12345678";

class NoRandom final : public Random {
 public:
  Status fill(unsigned char*, size_t) override {
    return make_error(ErrorCode::kUnavailable, "not used");
  }
};

MfaCredential bench_credential() {
  MfaCredential c;
  c.id = 1;
  c.user_id = 1;
  c.provider_id = "yubikey_hotp";
  c.secret = "12345678901234567890";
  c.params = {{"digits", 6}};
  c.counter = kCounter;
  c.confirmed = true;
  c.lookup_key = kId;
  return c;
}

std::string code_at(uint64_t moving_factor) {
  Result<std::string> code = hotp_code(bench_credential().secret, moving_factor, 6);
  if (!code) std::abort();
  return *code;
}

// A code none of the moving factors up to kCounter + 1 + 1000 gives: a miss of the whole
// look-ahead window (and of the sync window, for the default-settings case).
std::string wrong_code() {
  for (int i = 0; i < 1000000; ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%06d", i);
    bool hit = false;
    for (uint64_t m = kCounter; m <= kCounter + 1 + 1000 && !hit; ++m) hit = code_at(m) == buf;
    if (!hit) return buf;
  }
  std::abort();
}

enum class Case { kFirst, kLast, kMiss };

std::string code_for(Case c) {
  switch (c) {
    case Case::kFirst: return code_at(kCounter + 1);
    case Case::kLast: return code_at(kCounter + 1 + kWindow);
    case Case::kMiss: break;
  }
  return wrong_code();
}

void BM_ProviderVerify(benchmark::State& state, Case which, int64_t sync_window) {
  NoRandom random;
  YubikeyHotpProvider provider(random);
  const MfaCredential credential = bench_credential();
  const std::string typed = kId + code_for(which);
  const ChallengeContext context{1700000000, "", "",
                                 {{"look_ahead", kWindow}, {"sync_window", sync_window}}};
  for (auto _ : state) {
    Result<MfaCredential> r = provider.verify(credential, Challenge{}, typed, context);
    if (r.ok() != (which != Case::kMiss)) state.SkipWithError("unexpected outcome");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// liboath's plain API on the code alone (strcmp comparison, digit count from strlen).
void BM_RawOathHotpValidate(benchmark::State& state, Case which) {
  oath_init();
  const MfaCredential credential = bench_credential();
  const std::string code = code_for(which);
  for (auto _ : state) {
    int rc = oath_hotp_validate(credential.secret.data(), credential.secret.size(),
                                static_cast<uint64_t>(kCounter + 1), kWindow, code.c_str());
    if ((rc >= 0) != (which != Case::kMiss)) state.SkipWithError("unexpected outcome");
    benchmark::DoNotOptimize(rc);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_ProviderVerify, hit_first, Case::kFirst, 0);
BENCHMARK_CAPTURE(BM_RawOathHotpValidate, hit_first, Case::kFirst);
BENCHMARK_CAPTURE(BM_ProviderVerify, hit_last, Case::kLast, 0);
BENCHMARK_CAPTURE(BM_RawOathHotpValidate, hit_last, Case::kLast);
BENCHMARK_CAPTURE(BM_ProviderVerify, miss, Case::kMiss, 0);
BENCHMARK_CAPTURE(BM_RawOathHotpValidate, miss, Case::kMiss);
BENCHMARK_CAPTURE(BM_ProviderVerify, miss_sync_window_1000, Case::kMiss, 1000);

}  // namespace
}  // namespace keystep

BENCHMARK_MAIN();
