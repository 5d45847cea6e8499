// TOTP verification: TotpProvider::verify beside liboath's own validation on the same input,
// to show what the provider adds (parameter parsing, the credential copy it returns).
// Run: build in Release, then ./keystep_bench_totp (see docs/performance.md).

#include <benchmark/benchmark.h>
#include <liboath/oath.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/crypto/hash.h"
#include "providers/totp/totp_provider.h"

namespace keystep {
namespace {

constexpr int64_t kNow = 1700000015;

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
  c.provider_id = "totp";
  c.secret = "12345678901234567890";
  c.params = {{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}};
  c.counter = -1;  // never a replay: every iteration verifies a fresh credential
  c.confirmed = true;
  return c;
}

std::string valid_code(const MfaCredential& c) {
  Result<std::string> code = totp_code(c.secret, "SHA1", 6, 30, kNow);
  if (!code) std::abort();
  return *code;
}

// A code that matches none of the three steps in the window: costs three HMACs.
std::string wrong_code(const MfaCredential& c) {
  for (int i = 0; i < 1000000; ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%06d", i);
    bool hit = false;
    for (int64_t t : {kNow - 30, kNow, kNow + 30})
      hit |= *totp_code(c.secret, "SHA1", 6, 30, t) == buf;
    if (!hit) return buf;
  }
  std::abort();
}

void BM_ProviderVerify(benchmark::State& state, bool valid) {
  NoRandom random;
  TotpProvider provider(random);
  const MfaCredential credential = bench_credential();
  const std::string code = valid ? valid_code(credential) : wrong_code(credential);
  const ChallengeContext context{kNow, "", "", nullptr};
  for (auto _ : state) {
    Result<MfaCredential> r = provider.verify(credential, Challenge{}, code, context);
    if (r.ok() != valid) state.SkipWithError("unexpected outcome");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// liboath's plain API (strcmp comparison, digit count from strlen).
void BM_RawOathTotpValidate4(benchmark::State& state, bool valid) {
  oath_init();
  const MfaCredential credential = bench_credential();
  const std::string code = valid ? valid_code(credential) : wrong_code(credential);
  for (auto _ : state) {
    uint64_t step = 0;
    int rc = oath_totp_validate4(credential.secret.data(), credential.secret.size(), kNow, 30,
                                 OATH_TOTP_DEFAULT_START_TIME, 1, nullptr, &step, 0, code.c_str());
    if ((rc >= 0) != valid) state.SkipWithError("unexpected outcome");
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(step);
  }
  state.SetItemsProcessed(state.iterations());
}

int compare(void* handle, const char* candidate) {
  const auto* code = static_cast<const std::string*>(handle);
  return constant_time_equal(*code, std::string_view(candidate, code->size())) ? 0 : 1;
}

// The function the provider calls, with the same constant-time comparison callback.
void BM_RawOathTotpValidate4Callback(benchmark::State& state, bool valid) {
  oath_init();
  const MfaCredential credential = bench_credential();
  const std::string code = valid ? valid_code(credential) : wrong_code(credential);
  for (auto _ : state) {
    uint64_t step = 0;
    int rc = oath_totp_validate4_callback(credential.secret.data(), credential.secret.size(), kNow,
                                          30, OATH_TOTP_DEFAULT_START_TIME, 6, 1, nullptr, &step, 0,
                                          compare, const_cast<std::string*>(&code));
    if ((rc >= 0) != valid) state.SkipWithError("unexpected outcome");
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(step);
  }
  state.SetItemsProcessed(state.iterations());
}

// What the interface itself costs: verify returns the updated credential by value, and the
// copy (secret, params JSON) and its destruction are part of every successful verification.
void BM_CredentialCopy(benchmark::State& state) {
  const MfaCredential credential = bench_credential();
  for (auto _ : state) {
    MfaCredential copy = credential;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_ProviderVerify, valid, true);
BENCHMARK_CAPTURE(BM_RawOathTotpValidate4, valid, true);
BENCHMARK_CAPTURE(BM_RawOathTotpValidate4Callback, valid, true);
BENCHMARK_CAPTURE(BM_ProviderVerify, wrong, false);
BENCHMARK_CAPTURE(BM_RawOathTotpValidate4, wrong, false);
BENCHMARK_CAPTURE(BM_RawOathTotpValidate4Callback, wrong, false);
BENCHMARK(BM_CredentialCopy);

}  // namespace
}  // namespace keystep

BENCHMARK_MAIN();
