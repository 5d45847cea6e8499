#include "providers/totp/totp_provider.h"

#include <gtest/gtest.h>
#include <liboath/oath.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "providers/builtin.h"

namespace keystep {
namespace {

// Repeats a fixed byte pattern, so enrollment secrets are known in advance.
class PatternRandom final : public Random {
 public:
  explicit PatternRandom(std::string pattern) : pattern_(std::move(pattern)) {}
  Status fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<unsigned char>(pattern_[i % pattern_.size()]);
    return {};
  }

 private:
  std::string pattern_;
};

class FailingRandom final : public Random {
 public:
  Status fill(unsigned char*, size_t) override {
    return make_error(ErrorCode::kUnavailable, "no entropy");
  }
};

// RFC 6238 Appendix B seeds: the ASCII digits repeated to the hash's output length.
const std::string kSeed20 = "12345678901234567890";
const std::string kSeed32 = "12345678901234567890123456789012";
const std::string kSeed64 = "1234567890123456789012345678901234567890123456789012345678901234";

constexpr int64_t kNow = 1700000015;  // inside step 56666667

MfaCredential credential(std::string secret, const std::string& algorithm = "SHA1", int digits = 6,
                         int period = 30) {
  MfaCredential c;
  c.provider_id = "totp";
  c.secret = std::move(secret);
  c.params = {{"algorithm", algorithm}, {"digits", digits}, {"period", period}};
  c.counter = -1;
  c.confirmed = true;
  return c;
}

std::string code_at(const MfaCredential& c, int64_t t) {
  Result<std::string> code =
      totp_code(c.secret, c.params["algorithm"].get<std::string>(),
                c.params["digits"].get<unsigned>(), c.params["period"].get<unsigned>(), t);
  EXPECT_TRUE(code.ok());
  return code.ok() ? *code : std::string();
}

// What an enrollment shows, from its client options.
std::string qr_uri(const Enrollment& e) { return e.client_options.value(kOptionQrUri, ""); }
std::string manual_key(const Enrollment& e) { return e.client_options.value(kOptionManualKey, ""); }

// A challenge context at unix time `now`.
ChallengeContext at(int64_t now) { return ChallengeContext{now, "", "", nullptr}; }

ErrorCode code_of(const Result<MfaCredential>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? ErrorCode::kInternal : r.error().code;
}

struct Vector {
  int64_t time;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

// RFC 6238 Appendix B, 8 digits, 30-second steps.
const Vector kRfc6238[] = {
    {59, "94287082", "46119246", "90693936"},
    {1111111109, "07081804", "68084774", "25091201"},
    {1111111111, "14050471", "67062674", "99943326"},
    {1234567890, "89005924", "91819424", "93441116"},
    {2000000000, "69279037", "90698825", "38618901"},
    {20000000000, "65353130", "77737706", "47863826"},
};

void expect_accepts(const MfaCredential& c, const std::string& code, int64_t t) {
  PatternRandom random("x");
  TotpProvider provider(random);
  Result<MfaCredential> r = provider.verify(c, Challenge{}, code, at(t));
  ASSERT_TRUE(r.ok()) << c.params.dump() << " t=" << t << " code=" << code << ": "
                      << r.error().message;
  EXPECT_EQ(r->counter, t / 30);
  EXPECT_EQ(r->last_used_at, t);
}

TEST(TotpProvider, AcceptsRfc6238AppendixBVectorsAt8Digits) {
  for (const Vector& v : kRfc6238) {
    expect_accepts(credential(kSeed20, "SHA1", 8), v.sha1, v.time);
    expect_accepts(credential(kSeed32, "SHA256", 8), v.sha256, v.time);
    expect_accepts(credential(kSeed64, "SHA512", 8), v.sha512, v.time);
  }
}

TEST(TotpProvider, AcceptsRfc6238AppendixBVectorsAt6Digits) {
  for (const Vector& v : kRfc6238) {
    expect_accepts(credential(kSeed20, "SHA1", 6), std::string(v.sha1).substr(2), v.time);
    expect_accepts(credential(kSeed32, "SHA256", 6), std::string(v.sha256).substr(2), v.time);
    expect_accepts(credential(kSeed64, "SHA512", 6), std::string(v.sha512).substr(2), v.time);
  }
}

TEST(TotpCode, GeneratesRfc6238AppendixBVectors) {
  for (const Vector& v : kRfc6238) {
    EXPECT_EQ(*totp_code(kSeed20, "SHA1", 8, 30, v.time), v.sha1);
    EXPECT_EQ(*totp_code(kSeed32, "SHA256", 8, 30, v.time), v.sha256);
    EXPECT_EQ(*totp_code(kSeed64, "SHA512", 8, 30, v.time), v.sha512);
  }
}

TEST(TotpProvider, InfoDescribesAnAuthenticatorApp) {
  PatternRandom random("x");
  TotpProvider provider(random);
  EXPECT_EQ(provider.info().id, "totp");
  EXPECT_EQ(provider.info().display_name, "Authenticator app");
  EXPECT_EQ(provider.info().amr, std::vector<std::string>{"otp"});
  EXPECT_EQ(provider.info().kind, ProviderKind::kSoft);
  EXPECT_FALSE(provider.info().is_fallback);
}

TEST(TotpProvider, AcceptsCodesOfTheAdjacentSteps) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  const int64_t step = kNow / 30;
  for (int64_t delta : {-1, 0, 1}) {
    Result<MfaCredential> r = provider.verify(c, Challenge{}, code_at(c, kNow + 30 * delta), at(kNow));
    ASSERT_TRUE(r.ok()) << "delta " << delta;
    EXPECT_EQ(r->counter, step + delta);
  }
}

TEST(TotpProvider, RefusesCodesTwoStepsAway) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  for (int64_t delta : {-2, 2}) {
    EXPECT_EQ(code_of(provider.verify(c, Challenge{}, code_at(c, kNow + 30 * delta), at(kNow))),
              ErrorCode::kDenied)
        << "delta " << delta;
  }
}

TEST(TotpProvider, WindowFollowsThePeriod) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed32, "SHA256", 8, 60);
  ASSERT_TRUE(provider.verify(c, Challenge{}, code_at(c, kNow - 60), at(kNow)).ok());
  ASSERT_TRUE(provider.verify(c, Challenge{}, code_at(c, kNow + 60), at(kNow)).ok());
  EXPECT_EQ(code_of(provider.verify(c, Challenge{}, code_at(c, kNow + 120), at(kNow))),
            ErrorCode::kDenied);
  Result<MfaCredential> r = provider.verify(c, Challenge{}, code_at(c, kNow), at(kNow));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counter, kNow / 60);
}

TEST(TotpProvider, RefusesWrongCode) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  std::string wrong = code_at(c, kNow);
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  EXPECT_EQ(code_of(provider.verify(c, Challenge{}, wrong, at(kNow))), ErrorCode::kDenied);
}

TEST(TotpProvider, RejectsMalformedCodesAsInvalidArgument) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  const std::string good = code_at(c, kNow);
  const std::string bad_codes[] = {"",
                                   good.substr(0, 5),
                                   good + "0",
                                   "12345a",
                                   " " + good.substr(1),
                                   good.substr(0, 3) + " " + good.substr(3),
                                   std::string("12345\0", 6),
                                   "-12345",
                                   "\xef\xbc\x91\xef\xbc\x92"};  // "１２" in full-width digits
  for (const std::string& bad : bad_codes) {
    EXPECT_EQ(code_of(provider.verify(c, Challenge{}, bad, at(kNow))), ErrorCode::kInvalidArgument)
        << "'" << bad << "'";
  }
}

TEST(TotpProvider, RefusesAnEightDigitCodeForASixDigitCredential) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential six = credential(kSeed20, "SHA1", 6);
  const std::string eight = code_at(credential(kSeed20, "SHA1", 8), kNow);
  EXPECT_EQ(code_of(provider.verify(six, Challenge{}, eight, at(kNow))), ErrorCode::kInvalidArgument);
  // and a six-digit code for an eight-digit credential
  const MfaCredential eight_digit = credential(kSeed20, "SHA1", 8);
  EXPECT_EQ(code_of(provider.verify(eight_digit, Challenge{}, code_at(six, kNow), at(kNow))),
            ErrorCode::kInvalidArgument);
}

TEST(TotpProvider, RejectsReplayedCode) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  const std::string code = code_at(c, kNow);
  Result<MfaCredential> first = provider.verify(c, Challenge{}, code, at(kNow));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(code_of(provider.verify(*first, Challenge{}, code, at(kNow))), ErrorCode::kReplayed);
  EXPECT_EQ(code_of(provider.verify(*first, Challenge{}, code, at(kNow + 30))), ErrorCode::kReplayed);
}

TEST(TotpProvider, RejectsOlderStepAfterNewerOne) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  Result<MfaCredential> newer = provider.verify(c, Challenge{}, code_at(c, kNow + 30), at(kNow));
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(code_of(provider.verify(*newer, Challenge{}, code_at(c, kNow), at(kNow))),
            ErrorCode::kReplayed);
  EXPECT_EQ(code_of(provider.verify(*newer, Challenge{}, code_at(c, kNow - 30), at(kNow))),
            ErrorCode::kReplayed);
  Result<MfaCredential> next =
      provider.verify(*newer, Challenge{}, code_at(c, kNow + 60), at(kNow + 30));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->counter, kNow / 30 + 2);
}

TEST(TotpProvider, ExactlyOneOfConcurrentUsesOfACodeIsStored) {
  PatternRandom random("x");
  TotpProvider provider(random);
  MfaCredential stored = credential(kSeed20);
  stored.version = 7;
  const MfaCredential read = stored;  // what every racing request loaded
  const std::string code = code_at(read, kNow);

  std::mutex store_mutex;  // the store's compare-and-set on version
  std::atomic<int> verified{0};
  std::atomic<int> wins{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      Result<MfaCredential> r = provider.verify(read, Challenge{}, code, at(kNow));
      if (!r.ok()) return;
      ++verified;
      std::lock_guard<std::mutex> lock(store_mutex);
      if (stored.version != r->version) return;
      stored = *r;
      ++stored.version;
      ++wins;
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(verified.load(), 8);  // each saw the same unused credential
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(stored.version, 8);
  EXPECT_EQ(stored.counter, kNow / 30);
  EXPECT_EQ(code_of(provider.verify(stored, Challenge{}, code, at(kNow))), ErrorCode::kReplayed);
}

TEST(TotpProvider, TreatsMalformedCredentialAsInternalError) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential good = credential(kSeed20);
  const std::string code = code_at(good, kNow);
  MfaCredential other = good;
  other.provider_id = "recovery_code";
  MfaCredential no_secret = good;
  no_secret.secret.clear();
  MfaCredential missing = good;
  missing.params.erase("period");
  MfaCredential extra = good;
  extra.params["x"] = 1;
  MfaCredential wrong_type = good;
  wrong_type.params["digits"] = "6";
  MfaCredential not_object = good;
  not_object.params = nullptr;
  for (const MfaCredential& c : {other, no_secret, missing, extra, wrong_type, not_object}) {
    EXPECT_EQ(code_of(provider.verify(c, Challenge{}, code, at(kNow))), ErrorCode::kInternal)
        << c.params.dump();
  }
}

TEST(TotpProvider, AcceptsCodesInTheFirstStepAfterTheEpoch) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  Result<MfaCredential> r = provider.verify(c, Challenge{}, code_at(c, 10), at(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counter, 0);
}

TEST(TotpProvider, RefusesTheWrappedStepBeforeTheEpoch) {
  // In step 0 liboath also tries "step -1", i.e. counter 2^64-1.
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  char wrapped[7] = {};
  ASSERT_EQ(oath_hotp_generate(c.secret.data(), c.secret.size(), UINT64_MAX, 6, false,
                               OATH_HOTP_DYNAMIC_TRUNCATION, wrapped),
            OATH_OK);
  ASSERT_NE(wrapped, code_at(c, 0));
  ASSERT_NE(wrapped, code_at(c, 30));
  EXPECT_EQ(code_of(provider.verify(c, Challenge{}, wrapped, at(10))), ErrorCode::kDenied);
}

TEST(TotpProvider, RejectsTimeBeforeTheEpoch) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  EXPECT_EQ(code_of(provider.verify(c, Challenge{}, code_at(c, 10), at(-1))),
            ErrorCode::kInvalidArgument);
}

TEST(TotpProvider, BeginEnrollmentBuildsOtpauthUri) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  UserRef user{1, 2, "alice@example.com", "Harness-Inc"};
  Result<Enrollment> e = provider.begin_enrollment(user, nullptr);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(qr_uri(*e),
            "otpauth://totp/Harness-Inc:alice%40example.com?"
            "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Harness-Inc"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(manual_key(*e), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
  EXPECT_EQ(e->client_options.size(), 2u);  // qr_uri and manual_key, no codes
  EXPECT_TRUE(e->holds_secret);
  EXPECT_EQ(e->input.kind, InputKind::kTypedCode);
  EXPECT_EQ(e->input.min_length, 6);
  EXPECT_EQ(e->input.max_length, 6);
  EXPECT_EQ(e->input.inputmode, "numeric");
  const MfaCredential& p = e->pending;
  EXPECT_EQ(p.provider_id, "totp");
  EXPECT_EQ(p.user_id, 1);
  EXPECT_EQ(p.secret, kSeed20);
  EXPECT_EQ(p.params, (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}}));
  EXPECT_EQ(p.counter, -1);
  EXPECT_FALSE(p.confirmed);
}

TEST(TotpProvider, PercentEncodesIssuerAndEmailInUri) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  UserRef user{1, 2, "bob+mfa@example.com", "Acme Inc"};
  Result<Enrollment> e = provider.begin_enrollment(user, nlohmann::json::object());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(qr_uri(*e),
            "otpauth://totp/Acme%20Inc:bob%2Bmfa%40example.com?"
            "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Inc"
            "&algorithm=SHA1&digits=6&period=30");

  UserRef odd{1, 2, "x&y=z?@example.com", "A:B/C#D%"};
  e = provider.begin_enrollment(odd, nullptr);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(qr_uri(*e),
            "otpauth://totp/A%3AB%2FC%23D%25:x%26y%3Dz%3F%40example.com?"
            "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%3AB%2FC%23D%25"
            "&algorithm=SHA1&digits=6&period=30");
}

TEST(TotpProvider, SettingsChooseAlgorithmDigitsAndPeriod) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  UserRef user{1, 2, "alice@example.com", "Harness-Inc"};
  Result<Enrollment> e =
      provider.begin_enrollment(user, {{"algorithm", "SHA512"}, {"digits", 8}, {"period", 60}});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->pending.params,
            (nlohmann::json{{"algorithm", "SHA512"}, {"digits", 8}, {"period", 60}}));
  EXPECT_NE(qr_uri(*e).find("&algorithm=SHA512&digits=8&period=60"), std::string::npos);
  e = provider.begin_enrollment(user, {{"algorithm", "SHA256"}});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->pending.params,
            (nlohmann::json{{"algorithm", "SHA256"}, {"digits", 6}, {"period", 30}}));
}

TEST(TotpProvider, RejectsInvalidSettings) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  UserRef user{1, 2, "alice@example.com", "Harness-Inc"};
  const nlohmann::json bad[] = {
      {{"algorithm", "MD5"}},
      {{"algorithm", "sha1"}},
      {{"algorithm", 1}},
      {{"digits", 7}},
      {{"digits", "6"}},
      {{"digits", 6.0}},
      {{"digits", true}},
      {{"period", 45}},
      {{"period", -30}},
      {{"period", "30"}},
      {{"issuer", "x"}},
      {{"digits", 6}, {"window", 2}},
      nlohmann::json::array(),
      "SHA1",
      42,
  };
  for (const nlohmann::json& settings : bad) {
    Result<Enrollment> e = provider.begin_enrollment(user, settings);
    ASSERT_FALSE(e.ok()) << settings.dump();
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument) << settings.dump();
  }
}

TEST(TotpProvider, RejectsEnrollmentWithoutEmailOrIssuer) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  EXPECT_FALSE(provider.begin_enrollment(UserRef{1, 2, "", "Acme"}, nullptr).ok());
  EXPECT_FALSE(provider.begin_enrollment(UserRef{1, 2, "a@example.com", ""}, nullptr).ok());
}

TEST(TotpProvider, ReturnsTheRandomsFailure) {
  FailingRandom random;
  TotpProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 2, "a@example.com", "Acme"}, nullptr);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
}

TEST(TotpProvider, GeneratesA160BitSecretWithUnpaddedBase32) {
  OsRandom random;
  TotpProvider provider(random);
  UserRef user{1, 2, "alice@example.com", "Harness-Inc"};
  Result<Enrollment> a = provider.begin_enrollment(user, nullptr);
  Result<Enrollment> b = provider.begin_enrollment(user, nullptr);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->pending.secret.size(), 20u);
  EXPECT_NE(a->pending.secret, b->pending.secret);
  const std::string base32 = totp_base32(a->pending.secret);
  EXPECT_EQ(base32.size(), 32u);
  EXPECT_EQ(base32.find('='), std::string::npos);
  EXPECT_EQ(qr_uri(*a).find('='), qr_uri(*a).find("secret=") + 6);
  EXPECT_NE(qr_uri(*a).find("secret=" + base32 + "&"), std::string::npos);
  EXPECT_EQ(manual_key(*a).size(), 39u);
}

TEST(TotpBase32, IsRfc4648WithoutPadding) {
  EXPECT_EQ(totp_base32(""), "");
  EXPECT_EQ(totp_base32("f"), "MY");
  EXPECT_EQ(totp_base32("fo"), "MZXQ");
  EXPECT_EQ(totp_base32("foo"), "MZXW6");
  EXPECT_EQ(totp_base32("foob"), "MZXW6YQ");
  EXPECT_EQ(totp_base32("fooba"), "MZXW6YTB");
  EXPECT_EQ(totp_base32("foobar"), "MZXW6YTBOI");
}

TEST(TotpProvider, FinishEnrollmentConfirmsWithTheAcceptedStep) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 2, "a@example.com", "Acme"}, nullptr);
  ASSERT_TRUE(e.ok());
  const MfaCredential& pending = e->pending;
  EXPECT_EQ(code_of(provider.finish_enrollment(pending, "000000", at(kNow))), ErrorCode::kDenied);
  EXPECT_EQ(code_of(provider.finish_enrollment(pending, "12", at(kNow))), ErrorCode::kInvalidArgument);
  Result<MfaCredential> done =
      provider.finish_enrollment(pending, code_at(pending, kNow - 30), at(kNow));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_TRUE(done->confirmed);
  EXPECT_EQ(done->counter, kNow / 30 - 1);
  EXPECT_EQ(done->secret, pending.secret);
  EXPECT_EQ(code_of(provider.finish_enrollment(*done, code_at(pending, kNow), at(kNow))),
            ErrorCode::kConflict);
  EXPECT_EQ(code_of(provider.verify(*done, Challenge{}, code_at(pending, kNow - 30), at(kNow))),
            ErrorCode::kReplayed);
  EXPECT_TRUE(provider.verify(*done, Challenge{}, code_at(pending, kNow), at(kNow)).ok());
}

TEST(TotpProvider, ChallengeIsATypedCodeSpanningTheCredentialsDigits) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const std::vector<MfaCredential> six = {credential(kSeed20)};
  Result<Challenge> ch = provider.begin_challenge(six, at(kNow));
  ASSERT_TRUE(ch.ok());
  EXPECT_TRUE(ch->server_state.empty());
  EXPECT_TRUE(ch->client_options.is_null());
  EXPECT_EQ(ch->expires_at, 0);
  EXPECT_EQ(ch->input.kind, InputKind::kTypedCode);
  EXPECT_EQ(ch->input.min_length, 6);
  EXPECT_EQ(ch->input.max_length, 6);
  EXPECT_EQ(ch->input.characters, "0123456789");
  EXPECT_EQ(ch->input.inputmode, "numeric");

  const std::vector<MfaCredential> both = {credential(kSeed20, "SHA1", 8), credential(kSeed20)};
  ch = provider.begin_challenge(both, at(kNow));
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->input.min_length, 6);
  EXPECT_EQ(ch->input.max_length, 8);

  ch = provider.begin_challenge({}, at(kNow));
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->input.min_length, 6);
  EXPECT_EQ(ch->input.max_length, 8);

  MfaCredential broken = credential(kSeed20);
  broken.params = nlohmann::json::object();
  EXPECT_EQ(provider.begin_challenge({&broken, 1}, at(kNow)).error().code, ErrorCode::kInternal);
}

TEST(TotpProvider, NamesNoCredentialAndHasNoResync) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const MfaCredential c = credential(kSeed20);
  EXPECT_EQ(provider.lookup_key(code_at(c, kNow)), std::nullopt);
  EXPECT_EQ(provider.resync(c, code_at(c, kNow), code_at(c, kNow + 30), at(kNow)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(TotpProvider, FinishEnrollmentLabelsTheCredential) {
  PatternRandom random(kSeed20);
  TotpProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 2, "a@example.com", "Acme"}, nullptr);
  ASSERT_TRUE(e.ok());
  Result<MfaCredential> done = provider.finish_enrollment(e->pending, code_at(e->pending, kNow), at(kNow));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->label, "Authenticator app");
  EXPECT_EQ(done->lookup_key, "");
}

TEST(TotpProvider, DefaultSettingsAreSha1SixDigitsThirtySeconds) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const nlohmann::json defaults = {{"algorithm", "SHA1"}, {"digits", 6}, {"period", 30}};
  EXPECT_EQ(provider.default_settings(), defaults);
  Result<ProviderSettings> normalized = provider.validate_settings(nlohmann::json::object());
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(*normalized, defaults);
  normalized = provider.validate_settings(nullptr);
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(*normalized, defaults);
}

TEST(TotpProvider, ValidateSettingsFillsDefaultsAndKeepsChoices) {
  PatternRandom random("x");
  TotpProvider provider(random);
  Result<ProviderSettings> normalized = provider.validate_settings({{"digits", 8}});
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(*normalized, (nlohmann::json{{"algorithm", "SHA1"}, {"digits", 8}, {"period", 30}}));
  normalized =
      provider.validate_settings({{"algorithm", "SHA512"}, {"digits", 8}, {"period", 60}});
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(*normalized, (nlohmann::json{{"algorithm", "SHA512"}, {"digits", 8}, {"period", 60}}));
}

// The messages are the admin API's (400 invalid_request with this description).
TEST(TotpProvider, ValidateSettingsNamesTheBadMember) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const std::pair<nlohmann::json, std::string> cases[] = {
      {{{"algorithm", "MD5"}}, "totp.algorithm must be SHA1, SHA256 or SHA512"},
      {{{"algorithm", "sha1"}}, "totp.algorithm must be SHA1, SHA256 or SHA512"},
      {{{"digits", 7}}, "totp.digits must be 6 or 8"},
      {{{"digits", "6"}}, "totp.digits must be 6 or 8"},
      {{{"digits", 6.0}}, "totp.digits must be 6 or 8"},
      {{{"period", 45}}, "totp.period must be 30 or 60"},
      {{{"window", 2}}, "unknown member totp.window"},
      {nlohmann::json::array(), "totp must be an object"},
      {"SHA1", "totp must be an object"},
  };
  for (const auto& [settings, message] : cases) {
    Result<ProviderSettings> r = provider.validate_settings(settings);
    ASSERT_FALSE(r.ok()) << settings.dump();
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << settings.dump();
    EXPECT_EQ(r.error().message, message) << settings.dump();
  }
}

TEST(TotpProvider, DescribesItsSettingsAsTheChoicesItAccepts) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const SettingsDescription d = provider.describe_settings();
  ASSERT_EQ(d.fields.size(), 3u);
  EXPECT_FALSE(d.help.empty());
  // Every choice offered is accepted, and each field's first choice is the default.
  for (const SettingField& field : d.fields) {
    ASSERT_FALSE(field.choices.empty()) << field.key;
    EXPECT_FALSE(field.label.empty()) << field.key;
    EXPECT_EQ(field.choices.front().value, provider.default_settings()[field.key]) << field.key;
    for (const SettingChoice& choice : field.choices) {
      Result<ProviderSettings> r = provider.validate_settings({{field.key, choice.value}});
      EXPECT_TRUE(r.ok()) << field.key << "=" << choice.value.dump();
    }
  }
  EXPECT_EQ(d.fields[0].key, "algorithm");
  EXPECT_EQ(d.fields[1].key, "digits");
  EXPECT_EQ(d.fields[2].key, "period");
  EXPECT_EQ(d.fields[2].choices.size(), 2u);
  EXPECT_EQ(d.fields[2].choices[1].label, "60 seconds");
}

// kSeed20 in base32, as another server shows it.
constexpr const char* kSeed20Base32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

TEST(TotpProvider, RegisterForImportsABase32SecretAsAConfirmedCredential) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const UserRef user{7, 2, "alice@example.com", "Harness-Inc"};
  const nlohmann::json settings = {{"algorithm", "SHA256"}, {"digits", 8}};
  for (const char* text : {kSeed20Base32, "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
                           "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ======"}) {
    Result<MfaCredential> c = provider.register_for(user, {{"secret", text}}, settings, at(kNow));
    ASSERT_TRUE(c.ok()) << text << ": " << c.error().message;
    EXPECT_EQ(c->secret, kSeed20) << text;
    EXPECT_EQ(c->user_id, 7);
    EXPECT_EQ(c->provider_id, "totp");
    EXPECT_TRUE(c->confirmed);
    EXPECT_EQ(c->counter, -1);
    EXPECT_EQ(c->created_at, kNow);
    EXPECT_EQ(c->label, "Authenticator app");
    EXPECT_EQ(c->lookup_key, "");
    EXPECT_EQ(c->params, (nlohmann::json{{"algorithm", "SHA256"}, {"digits", 8}, {"period", 30}}));
  }
  // The imported key signs in with the codes the app already shows (RFC 6238 Appendix B).
  Result<MfaCredential> c =
      provider.register_for(user, {{"secret", kSeed20Base32}}, {{"digits", 8}}, at(kNow));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(provider.verify(*c, Challenge{}, "07081804", at(1111111109)).ok());
}

TEST(TotpProvider, RegisterForRefusesBadBodiesWithoutRepeatingTheSecret) {
  PatternRandom random("x");
  TotpProvider provider(random);
  const UserRef user{7, 2, "alice@example.com", "Harness-Inc"};
  const std::string base32 = "must be base32 (RFC 4648: letters A-Z and digits 2-7)";
  const std::string size = "must hold 16 to 64 bytes (26 to 103 base32 characters)";
  const std::pair<nlohmann::json, std::string> cases[] = {
      {nlohmann::json::object(), "totp.secret is required"},
      {{{"secret", 12}}, "totp.secret is required"},
      {{{"secret", kSeed20Base32}, {"digits", 8}}, "unknown member totp.digits"},
      {{{"secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1"}}, base32},
      {{{"secret", "GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ"}}, base32},
      {{{"secret", "GEZDGNBV-GY3TQOJQ-GEZDGNBV-GY3TQOJQ"}}, base32},
      {{{"secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG"}}, base32},  // 33 characters
      {{{"secret", "GEZDGNBVGY3TQOJQ"}}, size},                     // 80 bits
      {{{"secret", std::string(104, 'A')}}, size},
      {{{"secret", ""}}, size},
  };
  for (const auto& [body, message] : cases) {
    Result<MfaCredential> r = provider.register_for(user, body, nullptr, at(kNow));
    ASSERT_FALSE(r.ok()) << body.dump();
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << body.dump();
    EXPECT_NE(r.error().message.find(message), std::string::npos)
        << body.dump() << ": " << r.error().message;
    EXPECT_EQ(r.error().message.find("GEZD"), std::string::npos) << r.error().message;
  }
  Result<MfaCredential> bad_settings =
      provider.register_for(user, {{"secret", kSeed20Base32}}, {{"digits", 7}}, at(kNow));
  ASSERT_FALSE(bad_settings.ok());
  EXPECT_EQ(bad_settings.error().message, "totp.digits must be 6 or 8");
}

// Runs oathtool (OATH Toolkit's command-line program, which CI installs) and returns its
// output line, or "" when it fails.
std::string oathtool(const std::string& args) {
  const std::string command = "oathtool " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int status = pclose(pipe);
  if (status != 0) {
    ADD_FAILURE() << "'" << command << "' failed (is oathtool installed?): " << out;
    return {};
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(TotpProvider, AgreesWithOathtool) {
  OsRandom random;
  TotpProvider provider(random);
  UserRef user{1, 2, "alice@example.com", "Harness-Inc"};
  struct Case {
    nlohmann::json settings;
    std::string flags;
  };
  const Case cases[] = {
      {nullptr, "--totp"},
      {{{"algorithm", "SHA256"}, {"digits", 8}, {"period", 60}}, "--totp=sha256 -d 8 -s 60"},
      {{{"algorithm", "SHA512"}, {"digits", 8}}, "--totp=sha512 -d 8"},
  };
  for (const Case& c : cases) {
    Result<Enrollment> e = provider.begin_enrollment(user, c.settings);
    ASSERT_TRUE(e.ok());
    const std::string base32 = totp_base32(e->pending.secret);
    for (int64_t t : {int64_t{59}, int64_t{1111111109}, kNow, int64_t{2000000000}}) {
      const std::string theirs = oathtool(c.flags + " -b " + base32 + " -N @" + std::to_string(t));
      ASSERT_FALSE(theirs.empty());
      EXPECT_EQ(code_at(e->pending, t), theirs) << c.flags << " t=" << t;
      Result<MfaCredential> r = provider.verify(e->pending, Challenge{}, theirs, at(t));
      EXPECT_TRUE(r.ok()) << c.flags << " t=" << t;
    }
  }
}

// register_builtin_providers lives in providers/builtin.cc beside the providers.
TEST(BuiltinProviders, RegistersTotpYubikeySecurityKeysAndRecoveryCodesOnce) {
  OsRandom random;
  ProviderRegistry registry;
  ASSERT_TRUE(register_builtin_providers(registry, random).ok());
  ASSERT_NE(registry.find("totp"), nullptr);
  ASSERT_NE(registry.find("yubikey_hotp"), nullptr);
  EXPECT_EQ(registry.find("yubikey_hotp")->info().kind, ProviderKind::kHardware);
  ASSERT_NE(registry.find("webauthn"), nullptr);
  EXPECT_EQ(registry.find("webauthn")->info().amr, std::vector<std::string>{"hwk"});
  ASSERT_NE(registry.find("recovery_code"), nullptr);
  EXPECT_TRUE(registry.find("recovery_code")->info().is_fallback);
  EXPECT_EQ(registry.all().size(), 4u);
  Status again = register_builtin_providers(registry, random);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find("'totp'"), std::string::npos) << again.error().message;
}

TEST(TotpProvider, PublicDetailsAreTheAppsParametersNeverTheSecret) {
  PatternRandom random("x");
  TotpProvider provider(random);
  MfaCredential c = credential("12345678901234567890", "SHA256", 8, 60);
  c.counter = 56666667;
  const nlohmann::json details = provider.public_details(c);
  EXPECT_EQ(details, (nlohmann::json{{"algorithm", "SHA256"}, {"digits", 8}, {"period", 60}}));
  EXPECT_EQ(details.dump().find("1234567890"), std::string::npos);
  EXPECT_EQ(details.dump().find("56666667"), std::string::npos);
  c.params = {{"digits", "eight"}};
  EXPECT_EQ(provider.public_details(c), nlohmann::json::object());
  c.params = nullptr;
  EXPECT_EQ(provider.public_details(c), nlohmann::json::object());
  std::vector<std::string> keys;
  for (const DetailField& field : provider.describe_details()) keys.push_back(field.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"algorithm", "digits", "period"}));
}

}  // namespace
}  // namespace keystep
