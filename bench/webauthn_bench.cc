// WebAuthn sign-in: WebAuthnProvider::verify beside libfido2's fido_assert_verify on the same
// recorded ES256 assertion (tests/fixtures/webauthn/fixtures.json, "packed_ok"), to show what
// the provider adds to the library's signature check (JSON and base64url decoding, the
// clientDataJSON checks, the key loaded from the stored credential, the returned copy).
// Run: build in Release, then ./keystep_bench_webauthn (see docs/performance.md).

#include <benchmark/benchmark.h>
#include <fido.h>
#include <fido/es256.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/crypto/encoding.h"
#include "providers/webauthn/webauthn_provider.h"

namespace keystep {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class CountingRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i);
    return {};
  }
};

const nlohmann::json& fixtures() {
  static const nlohmann::json all = [] {
    std::ifstream in(KEYSTEP_WEBAUTHN_FIXTURES);
    return nlohmann::json::parse(in, nullptr, false);
  }();
  return all;
}

const nlohmann::json& fixture(const char* list, std::string_view name) {
  for (const auto& c : fixtures()[list]) {
    if (c["name"] == name) return c;
  }
  std::abort();
}

std::string bytes(const nlohmann::json& text) {
  Result<std::string> out = base64url_decode(text.get<std::string>());
  if (!out) std::abort();
  return *out;
}

// What the bench verifies: the credential as registration stored it, and the sign-in.
struct Setup {
  CountingRandom random;
  WebAuthnProvider provider{random, webauthn::AttestationRoots()};
  MfaCredential credential;
  Challenge challenge;
  std::string response;
  ChallengeContext context;

  Setup() {
    const nlohmann::json& registration = fixture("registrations", "packed_full");
    const nlohmann::json& assertion = fixture("assertions", "packed_ok");
    context.now = kNow;
    context.rp_id = fixtures()["rp_id"];
    context.origin = fixtures()["origin"];
    MfaCredential pending;
    pending.user_id = 42;
    pending.provider_id = "webauthn";
    pending.state = {{"challenge", registration["challenge"]}};
    Result<MfaCredential> confirmed =
        provider.finish_enrollment(pending, registration["response"].dump(), context);
    if (!confirmed) std::abort();
    credential = *confirmed;
    credential.counter = 0;  // never a regression: every iteration verifies a fresh credential
    challenge.server_state = assertion["challenge"];
    challenge.expires_at = kNow + 60;
    response = assertion["response"].dump();
  }
};

void BM_ProviderVerify(benchmark::State& state) {
  Setup s;
  for (auto _ : state) {
    Result<MfaCredential> r = s.provider.verify(s.credential, s.challenge, s.response, s.context);
    if (!r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

struct RawParts {
  std::string client_data, auth_data, signature, public_key, rp_id;
};

RawParts raw_parts(const Setup& s) {
  const nlohmann::json& a = fixture("assertions", "packed_ok")["response"]["response"];
  return {bytes(a["clientDataJSON"]), bytes(a["authenticatorData"]), bytes(a["signature"]),
          bytes(s.credential.params["public_key"]), s.context.rp_id};
}

const unsigned char* u(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

fido_assert_t* raw_assert(const RawParts& p) {
  fido_assert_t* a = fido_assert_new();
  if (!a || fido_assert_set_count(a, 1) != FIDO_OK ||
      fido_assert_set_rp(a, p.rp_id.c_str()) != FIDO_OK ||
      fido_assert_set_clientdata(a, u(p.client_data), p.client_data.size()) != FIDO_OK ||
      fido_assert_set_authdata_raw(a, 0, u(p.auth_data), p.auth_data.size()) != FIDO_OK ||
      fido_assert_set_sig(a, 0, u(p.signature), p.signature.size()) != FIDO_OK ||
      fido_assert_set_up(a, FIDO_OPT_TRUE) != FIDO_OK) {
    std::abort();
  }
  return a;
}

es256_pk_t* raw_key(const RawParts& p) {
  es256_pk_t* pk = es256_pk_new();
  if (!pk || es256_pk_from_ptr(pk, p.public_key.data(), p.public_key.size()) != FIDO_OK) {
    std::abort();
  }
  return pk;
}

void verify(benchmark::State& state, const fido_assert_t* a, const es256_pk_t* pk) {
  int rc = fido_assert_verify(a, 0, COSE_ES256, pk);
  if (rc != FIDO_OK) state.SkipWithError(fido_strerr(rc));
  benchmark::DoNotOptimize(rc);
}

// The signature check alone: the assertion and the key built once, outside the loop.
void BM_RawFidoAssertVerify(benchmark::State& state) {
  Setup s;
  const RawParts p = raw_parts(s);
  fido_assert_t* a = raw_assert(p);
  es256_pk_t* pk = raw_key(p);
  for (auto _ : state) verify(state, a, pk);
  es256_pk_free(&pk);
  fido_assert_free(&a);
  state.SetItemsProcessed(state.iterations());
}

// What any server using libfido2 does per sign-in from the bytes it holds: build the
// assertion and load the stored key, then verify (no JSON, no base64url, no policy).
void BM_RawFidoFromBytes(benchmark::State& state) {
  Setup s;
  const RawParts p = raw_parts(s);
  for (auto _ : state) {
    fido_assert_t* a = raw_assert(p);
    es256_pk_t* pk = raw_key(p);
    verify(state, a, pk);
    es256_pk_free(&pk);
    fido_assert_free(&a);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_ProviderVerify);
BENCHMARK(BM_RawFidoAssertVerify);
BENCHMARK(BM_RawFidoFromBytes);

}  // namespace
}  // namespace keystep

BENCHMARK_MAIN();
