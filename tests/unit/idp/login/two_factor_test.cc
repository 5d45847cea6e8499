// TwoFactor over the real SQLite store and the real built-in providers.
#include "idp/login/two_factor.h"

#include <gtest/gtest.h>
#include <liboath/oath.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "providers/builtin.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/support/account_mfa.h"

namespace keystep {
namespace {

class TestClock final : public Clock {
 public:
  int64_t now() const override { return now_.load(); }
  void set(int64_t t) { now_ = t; }
  void advance(int64_t s) { now_ += s; }

 private:
  std::atomic<int64_t> now_{1'700'000'000};
};

class TwoFactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("keystep-2fa-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    open_store();
    ASSERT_TRUE(register_builtin_providers(registry_, random_));
    auto key = random_bytes(random_, 32);
    ASSERT_TRUE(key);
    auto box = SecretBox::from_key(*key);
    ASSERT_TRUE(box);
    box_ = std::make_unique<SecretBox>(std::move(*box));
    auto account = store_->create_account(Account{0, "acme", "Harness-Inc", 1});
    ASSERT_TRUE(account);
    account_ = *account;
    auto user = store_->create_user(User{0, account_.id, "alice@example.com", "x", kRoleMember, 1});
    ASSERT_TRUE(user);
    user_ = *user;
    make_two_factor();
  }
  void TearDown() override {
    two_factor_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_store() {
    auto store = sqlite::SqliteStore::open((dir_ / "keystep.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  void make_two_factor() {
    two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_);
  }
  // The secret key as the page shows it, then a code for time t computed by liboath.
  std::string code_at(const TotpEnrollmentView& view, int64_t t) {
    std::string base32;
    for (char c : view.display_secret)
      if (c != ' ') base32 += c;
    char* secret = nullptr;
    size_t length = 0;
    EXPECT_EQ(oath_base32_decode(base32.data(), base32.size(), &secret, &length), OATH_OK);
    char otp[10] = {};
    EXPECT_EQ(oath_totp_generate(secret, length, t, 30, 0, 6, otp), OATH_OK);
    free(secret);
    return otp;
  }
  TotpEnrollmentView enable() {
    auto view = two_factor_->begin_totp_enrollment(user_);
    EXPECT_TRUE(view);
    auto codes = two_factor_->confirm_totp_enrollment(user_, code_at(*view, clock_.now()), "ip");
    EXPECT_TRUE(codes);
    if (codes) recovery_ = *codes;
    return *view;
  }
  bool flag() { return store_->user_by_id(user_.id)->two_factor_enabled; }

  std::filesystem::path dir_;
  OsRandom random_;
  TestClock clock_;
  ProviderRegistry registry_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<TwoFactor> two_factor_;
  Account account_;
  User user_;
  std::vector<std::string> recovery_;
};

TEST_F(TwoFactorTest, EnrollmentShowsIssuerLabelQrAndGroupedSecret) {
  auto view = two_factor_->begin_totp_enrollment(user_);
  ASSERT_TRUE(view) << view.error().message;
  EXPECT_EQ(view->otpauth_uri.rfind("otpauth://totp/Harness-Inc:alice%40example.com?", 0), 0u)
      << view->otpauth_uri;
  EXPECT_NE(view->otpauth_uri.find("issuer=Harness-Inc"), std::string::npos);
  EXPECT_EQ(view->qr_png_data_uri.rfind("data:image/png;base64,", 0), 0u);
  EXPECT_EQ(view->display_secret.size(), 32u + 7u);  // 160 bits = 32 base32 chars, 8 groups
  auto again = two_factor_->pending_totp_enrollment(user_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->otpauth_uri, view->otpauth_uri);
}

TEST_F(TwoFactorTest, SecretIsStoredSealed) {
  auto view = two_factor_->begin_totp_enrollment(user_);
  ASSERT_TRUE(view);
  auto stored = store_->credentials_of_user(user_.id);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].secret.size(), 1u + 12u + 20u + 16u);  // version, nonce, key, tag
  // Nothing stored in clear carries the secret: not the state, not the params.
  std::string base32;
  for (char c : view->display_secret)
    if (c != ' ') base32 += c;
  EXPECT_EQ((*stored)[0].state.dump().find(base32), std::string::npos);
  EXPECT_EQ((*stored)[0].params.dump().find(base32), std::string::npos);
}

TEST_F(TwoFactorTest, WrongCodeEnablesNothing) {
  auto view = two_factor_->begin_totp_enrollment(user_);
  ASSERT_TRUE(view);
  const std::string good = code_at(*view, clock_.now());
  const std::string wrong = good == "000000" ? "111111" : "000000";
  auto result = two_factor_->confirm_totp_enrollment(user_, wrong, "ip");
  EXPECT_EQ(result.error().code, ErrorCode::kDenied);
  EXPECT_FALSE(flag());
  EXPECT_FALSE(two_factor_->status(user_)->has_totp);
}

TEST_F(TwoFactorTest, ConfirmTurnsUserSettingOnAndIssuesTenRecoveryCodes) {
  enable();
  EXPECT_TRUE(flag());
  EXPECT_EQ(recovery_.size(), 10u);
  auto status = two_factor_->status(user_);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->has_totp);
  EXPECT_EQ(status->recovery_codes_left, 10);
  EXPECT_EQ(status->methods, std::vector<std::string>{kTotpProvider});
  EXPECT_TRUE(*two_factor_->second_factor_required(user_));
}

TEST_F(TwoFactorTest, AccountSettingChallengesWithoutFlippingUserSetting) {
  EXPECT_FALSE(*two_factor_->second_factor_required(user_));
  ASSERT_TRUE(testsupport::set_account_mfa(*store_, account_.id, true, "{}"));
  EXPECT_TRUE(*two_factor_->second_factor_required(user_));
  EXPECT_FALSE(flag());
  ASSERT_TRUE(testsupport::set_account_mfa(*store_, account_.id, false, "{}"));
  EXPECT_FALSE(*two_factor_->second_factor_required(user_));
  EXPECT_FALSE(flag());
}

TEST_F(TwoFactorTest, LoginAcceptsCurrentCodeOnceAndRefusesReplay) {
  auto view = enable();
  clock_.advance(30);
  const std::string code = code_at(view, clock_.now());
  StepRefusal refusal;
  auto amr = two_factor_->verify_login(user_, kTotpProvider, code, "ip", refusal);
  ASSERT_TRUE(amr) << amr.error().message;
  EXPECT_EQ(*amr, std::vector<std::string>{"otp"});
  auto again = two_factor_->verify_login(user_, kTotpProvider, code, "ip", refusal);
  EXPECT_EQ(again.error().code, ErrorCode::kReplayed);
  EXPECT_EQ(refusal.code, ErrorCode::kReplayed);
  // The code of the previous step is older than the one accepted: refused as well.
  auto older = two_factor_->verify_login(user_, kTotpProvider, code_at(view, clock_.now() - 30),
                                         "ip", refusal);
  EXPECT_FALSE(older);
}

TEST_F(TwoFactorTest, ConcurrentLoginsWithOneCodeLetExactlyOneThrough) {
  auto view = enable();
  clock_.advance(60);
  const std::string code = code_at(view, clock_.now());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      StepRefusal refusal;
      if (two_factor_->verify_login(user_, kTotpProvider, code, "ip" + std::to_string(i), refusal))
        ++accepted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
}

TEST_F(TwoFactorTest, LockoutGrowsPersistsAcrossRestartAndResetsOnSuccess) {
  auto view = enable();
  clock_.advance(30);
  const std::string good = code_at(view, clock_.now());
  const std::string wrong = good == "123456" ? "654321" : "123456";
  StepRefusal refusal;
  for (int i = 0; i < LockoutPolicy::kFreeFailures; ++i) {
    auto r = two_factor_->verify_login(user_, kTotpProvider, wrong, "10.0.0.1", refusal);
    EXPECT_EQ(r.error().code, ErrorCode::kDenied) << i;
  }
  // Past the threshold the next attempt must wait; the message says how long.
  auto locked = two_factor_->verify_login(user_, kTotpProvider, good, "10.0.0.1", refusal);
  EXPECT_EQ(locked.error().code, ErrorCode::kLocked);
  EXPECT_EQ(refusal.retry_after, 1);
  EXPECT_NE(refusal.message.find("Wait 1 second,"), std::string::npos) << refusal.message;

  // Restart: the count is persisted.
  two_factor_.reset();
  store_.reset();
  open_store();
  make_two_factor();
  locked = two_factor_->verify_login(user_, kTotpProvider, good, "10.0.0.1", refusal);
  EXPECT_EQ(locked.error().code, ErrorCode::kLocked);

  clock_.advance(1);
  auto sixth = two_factor_->verify_login(user_, kTotpProvider, wrong, "10.0.0.1", refusal);
  EXPECT_EQ(sixth.error().code, ErrorCode::kDenied);
  locked = two_factor_->verify_login(user_, kTotpProvider, good, "10.0.0.1", refusal);
  EXPECT_EQ(locked.error().code, ErrorCode::kLocked);
  EXPECT_EQ(refusal.retry_after, 2);

  clock_.advance(2);
  auto ok = two_factor_->verify_login(user_, kTotpProvider, good, "10.0.0.1", refusal);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(store_->attempts("user:" + std::to_string(user_.id))->failures, 0);
  EXPECT_EQ(store_->attempts("addr:10.0.0.1")->failures, 0);
}

TEST_F(TwoFactorTest, RecoveryCodeWorksOnceInPlaceOfTotp) {
  enable();
  StepRefusal refusal;
  auto first = two_factor_->verify_login(user_, kRecoveryProvider, recovery_[3], "ip", refusal);
  ASSERT_TRUE(first) << first.error().message;
  auto again = two_factor_->verify_login(user_, kRecoveryProvider, recovery_[3], "ip", refusal);
  EXPECT_EQ(again.error().code, ErrorCode::kReplayed);
  EXPECT_EQ(two_factor_->status(user_)->recovery_codes_left, 9);
  auto regenerated = two_factor_->regenerate_recovery_codes(user_, "ip");
  ASSERT_TRUE(regenerated);
  auto old = two_factor_->verify_login(user_, kRecoveryProvider, recovery_[4], "ip", refusal);
  EXPECT_FALSE(old);
  EXPECT_TRUE(two_factor_->verify_login(user_, kRecoveryProvider, (*regenerated)[0], "ip", refusal));
}

TEST_F(TwoFactorTest, DisableNeedsPasswordOrCodeAndRemovesCredentials) {
  auto view = enable();
  auto refused = two_factor_->disable(user_, false, "999999x", "ip");
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_TRUE(flag());
  clock_.advance(30);
  ASSERT_TRUE(two_factor_->disable(user_, false, code_at(view, clock_.now()), "ip"));
  EXPECT_FALSE(flag());
  EXPECT_TRUE(store_->credentials_of_user(user_.id)->empty());
  enable();
  ASSERT_TRUE(two_factor_->disable(user_, true, "", "ip"));
  EXPECT_FALSE(flag());
}

TEST_F(TwoFactorTest, CodesTypedWithASpaceAreAccepted) {
  auto view = enable();
  clock_.advance(30);
  std::string code = code_at(view, clock_.now());
  code.insert(3, " ");
  StepRefusal refusal;
  EXPECT_TRUE(two_factor_->verify_login(user_, kTotpProvider, code, "ip", refusal));
}

TEST_F(TwoFactorTest, MemberOfEnforcingAccountCannotRemoveTheirFactor) {
  enable();
  ASSERT_TRUE(testsupport::set_account_mfa(*store_, account_.id, true, "{}"));
  auto refused = two_factor_->disable(user_, true, "", "ip");
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(flag());
  EXPECT_TRUE(two_factor_->status(user_)->has_totp);
}

TEST_F(TwoFactorTest, ReusedRecoveryCodeSaysSo) {
  enable();
  StepRefusal refusal;
  ASSERT_TRUE(two_factor_->verify_login(user_, kRecoveryProvider, recovery_[0], "ip", refusal));
  EXPECT_FALSE(two_factor_->verify_login(user_, kRecoveryProvider, recovery_[0], "ip", refusal));
  EXPECT_EQ(refusal.message, "That recovery code was already used. Each code works once.");
}

TEST_F(TwoFactorTest, SecurityEventsAreAudited) {
  auto view = enable();
  StepRefusal refusal;
  (void)two_factor_->verify_login(user_, kTotpProvider, "000000x", "ip", refusal);
  ASSERT_TRUE(two_factor_->disable(user_, true, "", "203.0.113.9"));
  auto events = store_->audit_events(account_.id, 0, 50);
  ASSERT_TRUE(events);
  std::vector<std::string> names;
  for (const auto& e : *events) names.push_back(e.event);
  EXPECT_EQ(names, (std::vector<std::string>{"mfa.disabled", "mfa.code_refused", "mfa.enabled"}));
  EXPECT_EQ((*events)[0].address, "203.0.113.9");
  EXPECT_EQ((*events)[0].user_id, user_.id);
}

}  // namespace
}  // namespace keystep

namespace keystep {
namespace {

class CheckSessionTest : public TwoFactorTest {
 protected:
  static constexpr int64_t kMaxAge = 900;
  Session session(int64_t password_time, int64_t mfa_time) const {
    Session s;
    s.user_id = user_.id;
    s.password_time = password_time;
    s.mfa_time = mfa_time;
    s.auth_time = std::max(password_time, mfa_time);
    return s;
  }
};

TEST_F(CheckSessionTest, PasswordSessionIsEnoughWhenNoSecondFactorIsRequired) {
  const int64_t now = clock_.now();
  EXPECT_TRUE(two_factor_->check_session(session(now, 0), user_, true, kMaxAge));
}

TEST_F(CheckSessionTest, PasswordOnlySessionIsRefusedOnceTheUserTurnedTwoFactorOn) {
  const int64_t before = clock_.now();
  const Session old = session(before, 0);
  enable();
  auto refused = two_factor_->check_session(old, user_, false, kMaxAge);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  EXPECT_TRUE(two_factor_->check_session(session(before, clock_.now()), user_, true, kMaxAge));
}

TEST_F(CheckSessionTest, PasswordOnlySessionIsRefusedOnceTheAccountEnforces) {
  const Session old = session(clock_.now(), 0);
  ASSERT_TRUE(testsupport::set_account_mfa(*store_, account_.id, true, "{}"));
  auto refused = two_factor_->check_session(old, user_, false, kMaxAge);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
}

TEST_F(CheckSessionTest, RecentActionsNeedTheDemandedFactorWithinMaxAge) {
  enable();
  const int64_t now = clock_.now();
  // The second factor is the one that must be fresh at the 2FA level.
  const Session s = session(now, now - kMaxAge - 1);
  EXPECT_FALSE(two_factor_->check_session(s, user_, true, kMaxAge));
  EXPECT_TRUE(two_factor_->check_session(s, user_, false, kMaxAge));
  EXPECT_TRUE(two_factor_->check_session(session(now - 10, now - kMaxAge), user_, true, kMaxAge));
}

TEST_F(CheckSessionTest, RecentActionsAtThePasswordLevelNeedARecentSignIn) {
  const int64_t now = clock_.now();
  EXPECT_FALSE(two_factor_->check_session(session(now - kMaxAge - 1, 0), user_, true, kMaxAge));
  EXPECT_TRUE(two_factor_->check_session(session(now - kMaxAge - 1, 0), user_, false, kMaxAge));
}

// A provider whose responses name their credential, like a YubiKey's token ID: "KEY-WORD",
// where KEY is the lookup key. WORD "ok" is accepted, "clone" reports a copied authenticator,
// "late" an expired challenge, anything else is wrong. It records which credentials verify()
// was asked about.
class KeyedProvider final : public MfaProvider {
 public:
  const ProviderInfo& info() const override { return info_; }
  Result<Enrollment> begin_enrollment(const UserRef& user, const ProviderSettings&) override {
    Enrollment enrollment;
    enrollment.pending.user_id = user.user_id;
    enrollment.pending.provider_id = info_.id;
    enrollment.pending.secret = "key material";
    enrollment.client_options = {{kOptionManualKey, "program this"}};
    return enrollment;
  }
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext& context) override {
    auto checked = verify(pending, {}, response, context);
    if (!checked) return checked;
    checked->confirmed = true;
    checked->lookup_key = std::string(response.substr(0, 4));
    checked->label = "Key " + checked->lookup_key;
    return checked;
  }
  // With `timed`, a challenge like WebAuthn's: a server state of its own, expiring a minute
  // after it began.
  Result<Challenge> begin_challenge(std::span<const MfaCredential> credentials,
                                    const ChallengeContext& context) override {
    challenged = credentials.size();
    Challenge challenge;
    if (timed) {
      challenge.server_state = "state " + std::to_string(++challenges_begun);
      challenge.expires_at = context.now + 60;
    }
    return challenge;
  }
  std::optional<std::string> lookup_key(std::string_view response) const override {
    if (response.size() < 5 || response[4] != '-') return std::nullopt;
    return std::string(response.substr(0, 4));
  }
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response, const ChallengeContext& context) override {
    verified.push_back(credential.lookup_key);
    seen_state = challenge.server_state;
    seen_context = context;
    const std::string_view word = response.size() > 5 ? response.substr(5) : "";
    if (word == "clone") return make_error(ErrorCode::kCloned, "signature counter went back");
    if (word == "late") return make_error(ErrorCode::kExpired, "the provider's own clock");
    if (word != "ok") return make_error(ErrorCode::kDenied, "wrong");
    MfaCredential updated = credential;
    updated.last_used_at = context.now;
    return updated;
  }

  // Single-threaded tests only.
  bool timed = false;
  std::vector<std::string> verified;
  size_t challenged = 0;
  int challenges_begun = 0;
  std::string seen_state;
  ChallengeContext seen_context;

 private:
  ProviderInfo info_{"keyed", "Keyed token", {"hwk"}, ProviderKind::kHardware, false};
};

class TwoFactorLookupKeyTest : public TwoFactorTest {
 protected:
  void SetUp() override {
    TwoFactorTest::SetUp();
    keyed_ = std::make_shared<KeyedProvider>();
    ASSERT_TRUE(registry_.add(keyed_));
    // Two keys, enrolled as the profile does.
    for (const char* response : {"aaaa-ok", "bbbb-ok"}) {
      ASSERT_TRUE(two_factor_->begin_enrollment(user_, "keyed"));
      auto codes = two_factor_->confirm_enrollment(user_, "keyed", response, "ip");
      ASSERT_TRUE(codes) << codes.error().message;
    }
    auto stored = store_->credentials_of_user(user_.id);
    ASSERT_TRUE(stored);
    std::vector<std::string> keys;
    for (const auto& c : *stored)
      if (c.provider_id == "keyed" && c.confirmed) keys.push_back(c.label);
    ASSERT_EQ(keys, (std::vector<std::string>{"Key aaaa", "Key bbbb"}));
    keyed_->verified.clear();
  }

  // As the sign-in page does: the challenge begun when the page is shown, then the response.
  Result<std::vector<std::string>> sign_in(const std::string& response, StepRefusal& refusal) {
    auto challenge = two_factor_->begin_login_challenge(user_, "keyed");
    if (!challenge) return challenge.error();
    return two_factor_->verify_login(user_, "keyed", response, "ip", refusal, *challenge);
  }
  int64_t failures(const std::string& key) { return store_->attempts(key)->failures; }
  std::string user_key() const { return "user:" + std::to_string(user_.id); }

  std::shared_ptr<KeyedProvider> keyed_;
};

TEST_F(TwoFactorLookupKeyTest, OnlyTheCredentialTheResponseNamesIsChecked) {
  StepRefusal refusal;
  auto amr = sign_in("bbbb-ok", refusal);
  ASSERT_TRUE(amr) << amr.error().message;
  EXPECT_EQ(*amr, std::vector<std::string>{"hwk"});
  EXPECT_EQ(keyed_->verified, std::vector<std::string>{"bbbb"});
  EXPECT_EQ(keyed_->challenged, 2u);  // the challenge covers every key, as allowCredentials

  keyed_->verified.clear();
  EXPECT_FALSE(sign_in("aaaa-wrong", refusal));
  EXPECT_EQ(keyed_->verified, std::vector<std::string>{"aaaa"});
}

TEST_F(TwoFactorLookupKeyTest, AResponseNamingNoCredentialOfTheUserIsRefusedUnchecked) {
  StepRefusal refusal;
  auto refused = sign_in("cccc-ok", refusal);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refusal.code, ErrorCode::kDenied);
  EXPECT_TRUE(keyed_->verified.empty());
}

TEST_F(TwoFactorLookupKeyTest, ResponseWithoutAKeyIsCheckedAgainstEachCredential) {
  StepRefusal refusal;
  EXPECT_FALSE(sign_in("no key", refusal));
  EXPECT_EQ(keyed_->verified, (std::vector<std::string>{"aaaa", "bbbb"}));
}

TEST_F(TwoFactorLookupKeyTest, AWrongResponseCountsOnceWhateverTheNumberOfCredentials) {
  StepRefusal refusal;
  EXPECT_FALSE(sign_in("no key", refusal));
  ASSERT_EQ(keyed_->verified.size(), 2u);
  EXPECT_EQ(failures(user_key()), 1);
  EXPECT_EQ(failures("addr:ip"), 1);
  EXPECT_FALSE(sign_in("aaaa-wrong", refusal));
  EXPECT_EQ(failures(user_key()), 2);
  // A code checked without a page's challenge (turning 2FA off with a code) counts once too.
  EXPECT_FALSE(two_factor_->verify_login(user_, "keyed", "no key", "ip", refusal));
  EXPECT_EQ(failures(user_key()), 3);
}

TEST_F(TwoFactorLookupKeyTest, TheKeptChallengesServerStateIsGivenToVerify) {
  keyed_->timed = true;
  auto shown = two_factor_->begin_login_challenge(user_, "keyed");
  ASSERT_TRUE(shown);
  auto later = two_factor_->begin_login_challenge(user_, "keyed");  // another page, unanswered
  ASSERT_TRUE(later);
  ASSERT_NE(shown->server_state, later->server_state);
  clock_.advance(30);
  StepRefusal refusal;
  auto amr = two_factor_->verify_login(user_, "keyed", "aaaa-ok", "ip", refusal, *shown);
  ASSERT_TRUE(amr) << amr.error().message;
  EXPECT_EQ(keyed_->seen_state, shown->server_state);
}

TEST_F(TwoFactorLookupKeyTest, AChallengePastItsExpiryChecksAndCountsNothing) {
  keyed_->timed = true;
  auto challenge = two_factor_->begin_login_challenge(user_, "keyed");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->expires_at, clock_.now() + 60);
  clock_.advance(61);
  StepRefusal refusal;
  auto late = two_factor_->verify_login(user_, "keyed", "aaaa-ok", "ip", refusal, *challenge);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kExpired);
  EXPECT_EQ(refusal.code, ErrorCode::kExpired);
  EXPECT_TRUE(keyed_->verified.empty());
  EXPECT_EQ(failures(user_key()), 0);
  // At its expiry it is still good.
  auto fresh = two_factor_->begin_login_challenge(user_, "keyed");
  ASSERT_TRUE(fresh);
  clock_.advance(60);
  EXPECT_TRUE(two_factor_->verify_login(user_, "keyed", "aaaa-ok", "ip", refusal, *fresh));
}

TEST_F(TwoFactorLookupKeyTest, AProviderFindingTheChallengeExpiredCountsAsARefusal) {
  StepRefusal refusal;
  EXPECT_FALSE(sign_in("aaaa-late", refusal));
  EXPECT_EQ(refusal.code, ErrorCode::kDenied);
  EXPECT_EQ(failures(user_key()), 1);
}

TEST_F(TwoFactorLookupKeyTest, AChallengeTheClientMustSeeCannotBeAnsweredWithoutIt) {
  keyed_->timed = true;
  StepRefusal refusal;
  auto refused = two_factor_->verify_login(user_, "keyed", "aaaa-ok", "ip", refusal);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kExpired);
  EXPECT_TRUE(keyed_->verified.empty());
}

TEST_F(TwoFactorLookupKeyTest, ProvidersAreToldTheRelyingPartyOfTheIssuer) {
  two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_,
                                            "https://id.example.com:8443/tenant");
  StepRefusal refusal;
  ASSERT_TRUE(sign_in("aaaa-ok", refusal));
  EXPECT_EQ(keyed_->seen_context.rp_id, "id.example.com");
  EXPECT_EQ(keyed_->seen_context.origin, "https://id.example.com:8443");
  EXPECT_EQ(keyed_->seen_context.now, clock_.now());
  two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_,
                                            "https://id.example.com:443");
  clock_.advance(1);
  ASSERT_TRUE(sign_in("bbbb-ok", refusal));
  EXPECT_EQ(keyed_->seen_context.origin, "https://id.example.com");
}

TEST_F(TwoFactorLookupKeyTest, TheDefaultMethodIsTheTypeUsedLast) {
  // Confirming the keys was their first use. Alice also has an authenticator app, added after
  // them and confirmed in place, never used.
  auto view = two_factor_->begin_totp_enrollment(user_);
  ASSERT_TRUE(view);
  auto stored = store_->credentials_of_user(user_.id);
  ASSERT_TRUE(stored);
  auto pending = std::find_if(stored->begin(), stored->end(), [](const MfaCredential& c) {
    return c.provider_id == kTotpProvider && !c.confirmed;
  });
  ASSERT_NE(pending, stored->end());
  MfaCredential app = *pending;
  app.confirmed = true;
  ASSERT_TRUE(store_->update_credential(app, app.version));

  auto never_used = two_factor_->second_step_choices(user_);
  ASSERT_TRUE(never_used);
  EXPECT_EQ(never_used->methods, (std::vector<std::string>{"keyed", kTotpProvider}));
  EXPECT_TRUE(never_used->recovery_available);

  clock_.advance(30);
  StepRefusal refusal;
  auto challenge = two_factor_->begin_login_challenge(user_, kTotpProvider);
  ASSERT_TRUE(challenge);
  ASSERT_TRUE(two_factor_->verify_login(user_, kTotpProvider, code_at(*view, clock_.now()), "ip",
                                        refusal, *challenge));
  EXPECT_EQ(two_factor_->second_step_choices(user_)->methods,
            (std::vector<std::string>{kTotpProvider, "keyed"}));

  clock_.advance(30);
  ASSERT_TRUE(sign_in("bbbb-ok", refusal));
  EXPECT_EQ(two_factor_->second_step_choices(user_)->methods,
            (std::vector<std::string>{"keyed", kTotpProvider}));
}

TEST_F(TwoFactorLookupKeyTest, ACopiedAuthenticatorIsRefusedAndAudited) {
  StepRefusal refusal;
  auto refused = sign_in("aaaa-clone", refusal);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refusal.code, ErrorCode::kDenied);
  EXPECT_NE(refusal.message.find("copied"), std::string::npos) << refusal.message;
  auto events = store_->audit_events(account_.id, 0, 5);
  ASSERT_TRUE(events);
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->front().event, "mfa.clone_refused");
}

TEST_F(TwoFactorLookupKeyTest, ACopiedAuthenticatorIsMarkedAndNamedForTheMembersNotice) {
  StepRefusal refusal;
  ASSERT_FALSE(sign_in("aaaa-clone", refusal));
  EXPECT_EQ(refusal.cloned.label, "Key aaaa");
  EXPECT_EQ(refusal.cloned.type, "Keyed token");
  EXPECT_TRUE(refusal.cloned.possibly_cloned);
  auto stored = store_->credentials_of_user(user_.id);
  ASSERT_TRUE(stored);
  for (const auto& c : *stored) {
    if (c.provider_id != "keyed") continue;
    EXPECT_EQ(c.state.value(kPossiblyCloned, false), c.lookup_key == "aaaa") << c.lookup_key;
    if (c.lookup_key == "aaaa") {
      EXPECT_EQ(refusal.cloned.id, c.id);
    }
  }
  auto status = two_factor_->status(user_);
  ASSERT_TRUE(status);
  for (const auto& f : status->factors)
    EXPECT_EQ(f.possibly_cloned, f.label == "Key aaaa") << f.label;
  StepRefusal wrong;
  ASSERT_FALSE(sign_in("bbbb-nope", wrong));
  EXPECT_EQ(wrong.cloned.id, 0);
}

TEST_F(TwoFactorLookupKeyTest, ACeremonysAnswerReachesTheProviderAsItCame) {
  StepRefusal refusal;
  auto challenge = two_factor_->begin_login_challenge(user_, "keyed");
  ASSERT_TRUE(challenge);
  challenge->input.kind = InputKind::kBrowserCeremony;
  ASSERT_FALSE(two_factor_->verify_login(user_, "keyed", "aaaa-o k", "ip", refusal, *challenge));
  challenge->input.kind = InputKind::kTypedCode;
  clock_.advance(31);  // past the throttle's delay
  ASSERT_TRUE(two_factor_->verify_login(user_, "keyed", "aaaa-o k", "ip", refusal, *challenge))
      << refusal.message;
}

TEST_F(TwoFactorLookupKeyTest, AConfiguredRelyingPartyIdReplacesTheIssuersHost) {
  two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_,
                                            "https://id.example.com", CredentialCaps{},
                                            "example.com");
  StepRefusal refusal;
  ASSERT_TRUE(sign_in("aaaa-ok", refusal));
  EXPECT_EQ(keyed_->seen_context.rp_id, "example.com");
  EXPECT_EQ(keyed_->seen_context.origin, "https://id.example.com");
}

TEST_F(TwoFactorLookupKeyTest, EnrollmentViewWithoutASecretIsKeptUnsealed) {
  ASSERT_TRUE(two_factor_->begin_enrollment(user_, "keyed"));
  auto stored = store_->credentials_of_user(user_.id);
  ASSERT_TRUE(stored);
  auto pending = std::find_if(stored->begin(), stored->end(),
                              [](const MfaCredential& c) { return !c.confirmed; });
  ASSERT_NE(pending, stored->end());
  EXPECT_FALSE(pending->state.contains("sealed_view"));
  EXPECT_EQ(pending->state["view"]["client_options"][kOptionManualKey], "program this");
}

}  // namespace
}  // namespace keystep
