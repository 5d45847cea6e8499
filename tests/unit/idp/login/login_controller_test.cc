// The second step's pages of LoginController over the real SQLite store and TwoFactor: the
// challenge a page shows is kept in the flow and given back to the provider on the POST, and
// a challenge past its expiry is refused with a fresh one on the page.
#include "idp/login/login_controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>

#include "providers/builtin.h"
#include "storage/sqlite/sqlite_store.h"

namespace keystep {
namespace {

class TestClock final : public Clock {
 public:
  int64_t now() const override { return now_.load(); }
  void advance(int64_t s) { now_ += s; }

 private:
  std::atomic<int64_t> now_{1'700'000'000};
};

// A browser ceremony like WebAuthn's, simplified: each challenge has a server state of its
// own and expires a minute after it began; the response "ok" is accepted. It records the
// server state verify() was given.
class CeremonyProvider final : public MfaProvider {
 public:
  const ProviderInfo& info() const override { return info_; }
  Result<Enrollment> begin_enrollment(const UserRef& user, const ProviderSettings&) override {
    Enrollment enrollment;
    enrollment.pending.user_id = user.user_id;
    enrollment.pending.provider_id = info_.id;
    enrollment.pending.secret = "key material";
    return enrollment;
  }
  Result<MfaCredential> finish_enrollment(const MfaCredential& pending, std::string_view response,
                                          const ChallengeContext&) override {
    if (response != "ok") return make_error(ErrorCode::kDenied, "wrong");
    MfaCredential confirmed = pending;
    confirmed.confirmed = true;
    return confirmed;
  }
  Result<Challenge> begin_challenge(std::span<const MfaCredential>,
                                    const ChallengeContext& context) override {
    Challenge challenge;
    challenge.server_state = "state " + std::to_string(++begun);
    challenge.client_options = {{"challenge", begun}, {"rpId", context.rp_id}};
    challenge.expires_at = context.now + 60;
    challenge.input.kind = InputKind::kBrowserCeremony;
    challenge.input.script = "/assets/ceremony.js";
    return challenge;
  }
  Result<MfaCredential> verify(const MfaCredential& credential, const Challenge& challenge,
                               std::string_view response, const ChallengeContext&) override {
    seen_states.push_back(challenge.server_state);
    if (response != "ok") return make_error(ErrorCode::kDenied, "wrong");
    return credential;
  }

  // Single-threaded tests only.
  int begun = 0;
  std::vector<std::string> seen_states;

 private:
  ProviderInfo info_{"ceremony", "Security key", {"hwk"}, ProviderKind::kHardware, false};
};

class NoCompletion final : public FlowCompletion {
 public:
  WebOutcome flow_completed(const AuthRequest&, const Session&, FlowStep&) override {
    return redirect_to("client");
  }
  WebOutcome flow_refused(const AuthRequest&, const std::string& error,
                          const std::string&) override {
    return redirect_to("client?error=" + error);
  }
};

class LoginControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("keystep-login-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = sqlite::SqliteStore::open((dir_ / "keystep.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(register_builtin_providers(registry_, random_));
    ceremony_ = std::make_shared<CeremonyProvider>();
    ASSERT_TRUE(registry_.add(ceremony_));
    auto key = random_bytes(random_, 32);
    ASSERT_TRUE(key);
    auto box = SecretBox::from_key(*key);
    ASSERT_TRUE(box);
    box_ = std::make_unique<SecretBox>(std::move(*box));
    auto account = store_->create_account(Account{0, "acme", "Harness-Inc", 1});
    ASSERT_TRUE(account);
    auto user = store_->create_user(User{0, account->id, "alice@example.com", "x", kRoleMember, 1});
    ASSERT_TRUE(user);
    user_ = *user;
    config_.issuer = "https://id.example.com";
    two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_,
                                              config_.issuer);
    hasher_ = std::make_unique<PasswordHasher>(Argon2Params{1, 1024, 1}, random_);
    notices_ = std::make_unique<FactorNotifier>(*store_, config_.mail, config_.issuer, random_,
                                                clock_);
    controller_ = std::make_unique<LoginController>(config_, *store_, *hasher_, *two_factor_,
                                                    *notices_, completion_, random_, clock_);
    ASSERT_TRUE(two_factor_->begin_enrollment(user_, "ceremony"));
    ASSERT_TRUE(two_factor_->confirm_enrollment(user_, "ceremony", "ok", "ip"));
  }
  void TearDown() override {
    controller_.reset();
    two_factor_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A flow past the password, at the second step, bound to browser_.
  void start_second_step() {
    FlowProgress progress;
    progress.stage = LoginStage::kSecondFactor;
    progress.user_id = user_.id;
    progress.password_time = clock_.now();
    progress.amr = {"pwd"};
    AuthRequest request;
    request.redirect_uri = "/profile";
    WebOutcome started = controller_->start_flow(request, progress, browser_);
    ASSERT_EQ(started.kind, WebOutcome::Kind::kRedirect);
    ASSERT_EQ(started.cookies.size(), 1u);
    browser_.flow_cookie = started.cookies[0].value;
    const auto query = parse_form(started.location.substr(started.location.find('?') + 1));
    ASSERT_TRUE(query);
    flow_ = param(*query, "flow");
  }
  WebOutcome open_page() { return controller_->second_factor_page({{"flow", flow_}}, browser_); }
  WebOutcome post(const WebOutcome& page, const std::string& code) {
    return controller_->second_factor_submit({{"flow", flow_},
                                              {"csrf_token", page.second.csrf_token},
                                              {"method", page.second.method},
                                              {"code", code}},
                                             browser_);
  }
  std::optional<KeptChallenge> kept() {
    auto flow = store_->flow_by_id(flow_, clock_.now());
    EXPECT_TRUE(flow);
    if (!flow) return std::nullopt;
    auto progress = flow_progress_from_json(flow->progress_json);
    EXPECT_TRUE(progress);
    return progress ? progress->challenge : std::nullopt;
  }

  std::filesystem::path dir_;
  OsRandom random_;
  TestClock clock_;
  ProviderRegistry registry_;
  std::shared_ptr<CeremonyProvider> ceremony_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  IdpConfig config_;
  std::unique_ptr<TwoFactor> two_factor_;
  std::unique_ptr<PasswordHasher> hasher_;
  NoCompletion completion_;
  std::unique_ptr<FactorNotifier> notices_;
  std::unique_ptr<LoginController> controller_;
  User user_;
  BrowserContext browser_{std::nullopt, std::nullopt, "198.51.100.7", std::nullopt};
  std::string flow_;
};

TEST_F(LoginControllerTest, ThePageKeepsItsChallengeAndThePostGivesItToVerify) {
  start_second_step();
  WebOutcome page = open_page();
  ASSERT_EQ(page.kind, WebOutcome::Kind::kSecondFactorPage);
  EXPECT_EQ(page.second.method, "ceremony");
  EXPECT_EQ(page.second.method_name, "Security key");
  EXPECT_TRUE(page.second.input.ceremony);
  EXPECT_EQ(page.second.input.script, "/assets/ceremony.js");
  EXPECT_EQ(nlohmann::json::parse(page.second.input.client_options),
            nlohmann::json({{"challenge", 1}, {"rpId", "id.example.com"}}));
  auto challenge = kept();
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->provider_id, "ceremony");
  EXPECT_EQ(challenge->server_state, "state 1");
  EXPECT_EQ(challenge->expires_at, clock_.now() + 60);

  clock_.advance(59);
  WebOutcome done = post(page, "ok");
  ASSERT_EQ(done.kind, WebOutcome::Kind::kRedirect) << done.error.description;
  EXPECT_EQ(done.location, "https://id.example.com/profile");
  EXPECT_EQ(ceremony_->seen_states, std::vector<std::string>{"state 1"});
}

TEST_F(LoginControllerTest, TheLatestPageShownIsTheOneAnswered) {
  start_second_step();
  WebOutcome first = open_page();
  WebOutcome second = open_page();  // reloaded: a new challenge replaces the first
  ASSERT_EQ(second.kind, WebOutcome::Kind::kSecondFactorPage);
  ASSERT_TRUE(post(first, "ok").kind == WebOutcome::Kind::kRedirect);
  EXPECT_EQ(ceremony_->seen_states, std::vector<std::string>{"state 2"});
}

TEST_F(LoginControllerTest, AChallengePastItsExpiryIsRefusedAndThePageGivesAFreshOne) {
  start_second_step();
  WebOutcome page = open_page();
  clock_.advance(61);
  WebOutcome late = post(page, "ok");
  ASSERT_EQ(late.kind, WebOutcome::Kind::kSecondFactorPage);
  EXPECT_EQ(late.fault, Fault::kWrongCredentials);
  EXPECT_NE(late.second.error_message.find("timed out"), std::string::npos)
      << late.second.error_message;
  EXPECT_TRUE(ceremony_->seen_states.empty());
  EXPECT_EQ(nlohmann::json::parse(late.second.input.client_options)["challenge"], 2);
  auto fresh = kept();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->server_state, "state 2");
  EXPECT_EQ(fresh->expires_at, clock_.now() + 60);
  // Nothing was checked, so nothing counts against the throttle.
  EXPECT_EQ(store_->attempts("user:" + std::to_string(user_.id))->failures, 0);

  WebOutcome done = post(late, "ok");
  ASSERT_EQ(done.kind, WebOutcome::Kind::kRedirect) << done.second.error_message;
  EXPECT_EQ(ceremony_->seen_states, std::vector<std::string>{"state 2"});
}

TEST_F(LoginControllerTest, ACeremonyAnsweredWithoutItsPageIsRefusedWithAFreshOne) {
  start_second_step();
  // The last page shown was the recovery code's: a typed code's page keeps no challenge (and
  // so writes nothing).
  WebOutcome recovery =
      controller_->second_factor_page({{"flow", flow_}, {"method", "recovery_code"}}, browser_);
  ASSERT_EQ(recovery.second.method, "recovery_code");
  ASSERT_FALSE(kept());
  WebOutcome stale = controller_->second_factor_submit({{"flow", flow_},
                                                        {"csrf_token", recovery.second.csrf_token},
                                                        {"method", "ceremony"},
                                                        {"code", "ok"}},
                                                       browser_);
  ASSERT_EQ(stale.kind, WebOutcome::Kind::kSecondFactorPage);
  EXPECT_EQ(stale.second.method, "ceremony");
  EXPECT_TRUE(ceremony_->seen_states.empty());
  EXPECT_EQ(kept()->provider_id, "ceremony");
  ASSERT_EQ(post(stale, "ok").kind, WebOutcome::Kind::kRedirect);
  EXPECT_EQ(ceremony_->seen_states.size(), 1u);
}

TEST_F(LoginControllerTest, ATypedCodePageShownAfterACeremonyPageEndsTheCeremonysChallenge) {
  start_second_step();
  WebOutcome ceremony =
      controller_->second_factor_page({{"flow", flow_}, {"method", "ceremony"}}, browser_);
  ASSERT_EQ(ceremony.second.method, "ceremony");
  ASSERT_TRUE(kept());
  WebOutcome recovery =
      controller_->second_factor_page({{"flow", flow_}, {"method", "recovery_code"}}, browser_);
  ASSERT_EQ(recovery.second.method, "recovery_code");
  ASSERT_TRUE(kept());
  EXPECT_EQ(kept()->provider_id, "recovery_code");
  // The ceremony's page is no longer the last one shown: its response is refused.
  WebOutcome stale = post(ceremony, "ok");
  ASSERT_EQ(stale.kind, WebOutcome::Kind::kSecondFactorPage);
  EXPECT_TRUE(ceremony_->seen_states.empty());
}

}  // namespace
}  // namespace keystep
