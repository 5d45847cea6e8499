// Back-channel logout (issue 15, item 5; OpenID Connect Back-Channel Logout 1.0): a session
// that ends (logout, an administrator's 2FA reset) queues a notice for each client with a
// backchannel_logout_uri, delivered as a signed logout token with retries, once.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>

#include "base/crypto/encoding.h"
#include "idp/oidc/backchannel_logout.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

constexpr const char* kBackchannelUri = "http://127.0.0.1:9/backchannel";

// Answers each POST with the next status of `statuses` (200 when none is left) and keeps
// what was posted.
class RecordingTransport final : public LogoutTransport {
 public:
  Result<int> post(const std::string& uri, const std::string& form) override {
    posts.push_back({uri, form});
    if (statuses.empty()) return 200;
    const int status = statuses.front();
    statuses.erase(statuses.begin());
    if (status == 0) return make_error(ErrorCode::kUnavailable, "connection refused");
    return status;
  }
  std::vector<int> statuses;  // 0: unreachable
  std::vector<std::pair<std::string, std::string>> posts;
};

class BackchannelLogout : public AdminApiTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AdminApiTest::SetUp());
    auto spa = server_->store().client_by_id("spa");
    ASSERT_TRUE(spa);
    spa->backchannel_logout_uri = kBackchannelUri;
    spa->backchannel_logout_session_required = true;
    ASSERT_TRUE(server_->store().update_client(*spa));
    logouts_ = std::make_unique<BackchannelLogouts>(server_->store(), server_->signing_keys(),
                                                    transport_, server_->issuer(), clock());
  }
  std::vector<LogoutNotice> notices() {
    auto all = server_->store().logout_notices_of("spa");
    EXPECT_TRUE(all);
    return all ? *all : std::vector<LogoutNotice>{};
  }
  HttpResponse logout_with(const nlohmann::json& tokens) {
    return client_.get(url("/logout?" + encode_fields({{"id_token_hint",
                                                        tokens.value("id_token", "")}})),
                       &browser_);
  }

  RecordingTransport transport_;
  std::unique_ptr<BackchannelLogouts> logouts_;
};

TEST_F(BackchannelLogout, LogoutPostsASignedLogoutTokenForTheSessionOnce) {
  const nlohmann::json tokens = spa_tokens();
  const nlohmann::json id_token = verify_id_token(tokens.value("id_token", ""));
  ASSERT_EQ(logout_with(tokens).status, 200);
  ASSERT_EQ(notices().size(), 1u);
  clock().advance(3);
  auto delivered = logouts_->deliver_due();
  ASSERT_TRUE(delivered) << delivered.error().message;
  EXPECT_EQ(*delivered, 1);
  ASSERT_EQ(transport_.posts.size(), 1u);
  EXPECT_EQ(transport_.posts[0].first, kBackchannelUri);
  const Fields form = decode_fields(transport_.posts[0].second);
  ASSERT_EQ(form.size(), 1u);
  const std::string token = field(form, "logout_token").value_or("");
  // Signed by the server's key (the JWKS), with the logout token's own type.
  const nlohmann::json claims = verify_id_token(token);
  auto header = base64url_decode(token.substr(0, token.find('.')));
  ASSERT_TRUE(header);
  EXPECT_EQ(nlohmann::json::parse(*header).value("typ", ""), "logout+jwt");
  EXPECT_EQ(claims.value("iss", ""), server_->issuer());
  EXPECT_EQ(claims.value("aud", ""), "spa");
  EXPECT_EQ(claims.value("sub", ""), std::to_string(server_->alice_id()));
  EXPECT_EQ(claims.value("sid", ""), id_token.value("sid", "?"));
  EXPECT_EQ(claims.value("iat", 0), clock().now());
  EXPECT_GT(claims.value("exp", 0), clock().now());
  EXPECT_EQ(claims.value("jti", ""), notices()[0].jti);
  EXPECT_TRUE(claims["events"].contains(kBackchannelLogoutEvent));
  EXPECT_FALSE(claims.contains("nonce"));
  EXPECT_EQ(notices()[0].delivered_at, clock().now());
  // Delivered once: nothing is due any more.
  clock().advance(3600);
  EXPECT_EQ(*logouts_->deliver_due(), 0);
  EXPECT_EQ(transport_.posts.size(), 1u);
}

TEST_F(BackchannelLogout, FailedDeliveriesAreRetriedWithBackoffAndRefusalsGivenUp) {
  ASSERT_EQ(logout_with(spa_tokens()).status, 200);
  transport_.statuses = {503, 0};
  EXPECT_EQ(*logouts_->deliver_due(), 0);
  LogoutNotice n = notices()[0];
  EXPECT_EQ(n.attempts, 1);
  EXPECT_EQ(n.next_attempt_at, clock().now() + 30);
  EXPECT_NE(n.last_error.find("503"), std::string::npos);
  EXPECT_EQ(*logouts_->deliver_due(), 0);  // not due yet
  EXPECT_EQ(transport_.posts.size(), 1u);
  clock().advance(30);
  EXPECT_EQ(*logouts_->deliver_due(), 0);  // unreachable: the delay doubles
  EXPECT_EQ(notices()[0].next_attempt_at, clock().now() + 60);
  clock().advance(60);
  EXPECT_EQ(*logouts_->deliver_due(), 1);
  // The same jti at every attempt.
  ASSERT_EQ(transport_.posts.size(), 3u);
  // A client that reads the token and refuses it (400) is not asked again.
  new_browser();
  ASSERT_EQ(logout_with(spa_tokens()).status, 200);
  transport_.statuses = {400};
  EXPECT_EQ(*logouts_->deliver_due(), 0);
  const auto all = notices();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].next_attempt_at, kLogoutNever);
  EXPECT_NE(all[1].last_error.find("given up"), std::string::npos);
}

TEST_F(BackchannelLogout, AnAdministratorsResetTellsTheClientOfEverySessionOfTheMember) {
  const nlohmann::json first = spa_tokens();
  new_browser();
  const nlohmann::json second = spa_tokens();
  ASSERT_TRUE(notices().empty());
  const std::string alice = std::to_string(server_->alice_id());
  HttpResponse r = api("POST", url("/api/v1/accounts/acme/members/" + alice + "/two-factor/reset"),
                       boss_token_, "");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto all = notices();
  ASSERT_EQ(all.size(), 2u);
  std::set<std::string> sids = {all[0].sid, all[1].sid};
  EXPECT_EQ(sids, (std::set<std::string>{
                      verify_id_token(first.value("id_token", "")).value("sid", "?"),
                      verify_id_token(second.value("id_token", "")).value("sid", "?")}));
  EXPECT_EQ(*logouts_->deliver_due(), 2);
  // Signing out afterwards tells nobody again: those grants are gone.
  EXPECT_EQ(logout_with(second).status, 200);
  EXPECT_EQ(notices().size(), 2u);
}

// The server's own logout worker (wired as keystep serve wires it) posts through this, on its
// thread: each post records how long the notice's claim still runs at that moment.
class ClaimObservingTransport final : public LogoutTransport {
 public:
  void attach(LogoutStore* store, const Clock* clock) {
    std::lock_guard lock(mu_);
    store_ = store;
    clock_ = clock;
  }
  Result<int> post(const std::string&, const std::string&) override {
    std::lock_guard lock(mu_);
    auto notices = store_->logout_notices_of("spa");
    if (!notices || notices->empty()) return make_error(ErrorCode::kInternal, "no notice");
    claim_left_.push_back(notices->front().next_attempt_at - clock_->now());
    posted_.notify_all();
    return 200;
  }
  // What the first post saw, waiting for it up to 10 s (the worker is woken by the logout).
  std::optional<int64_t> first_claim_left() {
    std::unique_lock lock(mu_);
    if (!posted_.wait_for(lock, std::chrono::seconds(10), [&] { return !claim_left_.empty(); }))
      return std::nullopt;
    return claim_left_.front();
  }

 private:
  std::mutex mu_;
  std::condition_variable posted_;
  LogoutStore* store_ = nullptr;
  const Clock* clock_ = nullptr;
  std::vector<int64_t> claim_left_;
};

class BackchannelLogoutWorker : public BackchannelLogout {
 protected:
  static constexpr int64_t kLease = 45;
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.logout_transport = &worker_transport_;
    options.backchannel_logout.claim_lease_seconds = kLease;
    return options;
  }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(BackchannelLogout::SetUp());
    worker_transport_.attach(&server_->store(), &clock());
  }

  mutable ClaimObservingTransport worker_transport_;  // outlives server_ (reset in TearDown)
};

TEST_F(BackchannelLogoutWorker, TheServersWorkerClaimsNoticesForTheConfiguredLease) {
  ASSERT_EQ(logout_with(spa_tokens()).status, 200);
  const std::optional<int64_t> claim_left = worker_transport_.first_claim_left();
  ASSERT_TRUE(claim_left.has_value()) << "the logout worker posted nothing within 10 s";
  EXPECT_EQ(*claim_left, kLease) << "keystep.conf's backchannel_logout.claim_lease_seconds";
}

}  // namespace
}  // namespace keystep::httptest
