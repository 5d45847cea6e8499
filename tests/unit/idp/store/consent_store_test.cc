// Store conformance for issue 15 items 3 and 4, on every backend: a client's grant policy,
// token revocation (GrantStore::revoke_token), and the ConsentStore (consents and the
// requests waiting on the consent page).

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int64_t kNow = 1'700'000'000;

// One account, one user, two clients ("app" and "other") and one grant of each to the user.
class ConsentStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    auto account =
        store_->create_account({.name = "acme", .issuer_label = "Acme", .created_at = kNow});
    ASSERT_TRUE(Ok(account));
    auto user = store_->create_user({.account_id = account->id,
                                     .email = "alice@example.com",
                                     .password_hash = "$argon2id$alice",
                                     .role = kRoleMember,
                                     .created_at = kNow});
    ASSERT_TRUE(Ok(user));
    user_id_ = user->id;
    for (const char* id : {"app", "other"}) {
      ASSERT_TRUE(Ok(store_->create_client({.client_id = id,
                                            .is_public = true,
                                            .secret_hash = "",
                                            .redirect_uris = {"https://app.example/cb"},
                                            .post_logout_redirect_uris = {},
                                            .created_at = kNow})));
      ASSERT_TRUE(Ok(store_->create_grant_with_code(grant(std::string("g-") + id, id),
                                                    code(std::string("c-") + id))));
    }
  }

  Grant grant(const std::string& id, const std::string& client_id) const {
    return Grant{.id = id,
                 .client_id = client_id,
                 .user_id = user_id_,
                 .sid = "sid-1",
                 .scope = "openid",
                 .nonce = "",
                 .auth_time = kNow,
                 .acr = "1",
                 .amr = "pwd",
                 .created_at = kNow};
  }

  static AuthCode code(const std::string& hash) {
    return AuthCode{.code_hash = hash,
                    .grant_id = "",
                    .redirect_uri = "https://app.example/cb",
                    .code_challenge = "",
                    .expires_at = kNow + 60};
  }

  static Token token(const std::string& hash, const std::string& grant_id, TokenKind kind) {
    return Token{.token_hash = hash,
                 .grant_id = grant_id,
                 .kind = kind,
                 .created_at = kNow,
                 .expires_at = kNow + 3600,
                 .scope = ""};
  }

  ConsentRequest request(const std::string& id, int64_t expires_at = kNow + 60) const {
    return ConsentRequest{.id = id, .sid = "sid-1", .user_id = user_id_,
                          .request_json = R"({"client_id":"app"})", .expires_at = expires_at};
  }

  int64_t user_id_ = 0;
};

TEST_P(ConsentStoreTest, AClientsGrantPolicyRoundTripsAndDefaultsToOfflineAccessFirstParty) {
  ASSERT_TRUE(Ok(store_->create_client(
      {.client_id = "partner",
       .is_public = true,
       .secret_hash = "",
       .redirect_uris = {"https://partner.example/cb"},
       .post_logout_redirect_uris = {},
       .created_at = kNow,
       .allowed_origins = {},
       .grants = {RefreshTokens::kAlways, 3600, 86400, /*first_party=*/false}})));
  auto partner = store_->client_by_id("partner");
  ASSERT_TRUE(Ok(partner));
  EXPECT_EQ(partner->grants.refresh_tokens, RefreshTokens::kAlways);
  EXPECT_EQ(partner->grants.refresh_idle_ttl, 3600);
  EXPECT_EQ(partner->grants.refresh_absolute_ttl, 86400);
  EXPECT_FALSE(partner->grants.first_party);
  auto app = store_->client_by_id("app");
  ASSERT_TRUE(Ok(app));
  EXPECT_EQ(app->grants.refresh_tokens, RefreshTokens::kOfflineAccess);
  EXPECT_EQ(app->grants.refresh_idle_ttl, 0);
  EXPECT_TRUE(app->grants.first_party);
}

TEST_P(ConsentStoreTest, RevokingARefreshTokenRevokesItsGrantAndAnAccessTokenOnlyItself) {
  ASSERT_TRUE(Ok(store_->add_token(token("a1", "g-app", TokenKind::kAccess))));
  ASSERT_TRUE(Ok(store_->add_token(token("a2", "g-app", TokenKind::kAccess))));
  ASSERT_TRUE(Ok(store_->add_token(token("r1", "g-app", TokenKind::kRefresh))));
  ASSERT_TRUE(Ok(store_->revoke_token("a1", "app")));
  EXPECT_TRUE(Fails(store_->active_token("a1", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Ok(store_->active_token("a2", TokenKind::kAccess, kNow)));
  EXPECT_TRUE(Ok(store_->active_token("r1", TokenKind::kRefresh, kNow)));
  ASSERT_TRUE(Ok(store_->revoke_token("r1", "app")));
  EXPECT_TRUE(store_->grant_by_id("g-app")->revoked);
  EXPECT_TRUE(Fails(store_->active_token("a2", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  // Again: already revoked is a success.
  EXPECT_TRUE(Ok(store_->revoke_token("r1", "app")));
}

TEST_P(ConsentStoreTest, RevokingAnotherClientsOrAnUnknownTokenChangesNothing) {
  ASSERT_TRUE(Ok(store_->add_token(token("r1", "g-app", TokenKind::kRefresh))));
  EXPECT_TRUE(Fails(store_->revoke_token("r1", "other"), ErrorCode::kDenied));
  EXPECT_TRUE(Ok(store_->active_token("r1", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Fails(store_->revoke_token("nope", "app"), ErrorCode::kNotFound));
}

TEST_P(ConsentStoreTest, AConsentIsStoredReplacedAndListedByClient) {
  EXPECT_TRUE(Fails(store_->consent(user_id_, "app"), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->put_consent({user_id_, "other", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->put_consent({user_id_, "app", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->put_consent({user_id_, "app", "openid email", kNow + 5})));
  auto consent = store_->consent(user_id_, "app");
  ASSERT_TRUE(Ok(consent));
  EXPECT_EQ(consent->scope, "openid email");
  EXPECT_EQ(consent->granted_at, kNow + 5);
  auto all = store_->consents_of_user(user_id_);
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "app");
  EXPECT_EQ((*all)[1].client_id, "other");
  EXPECT_TRUE(Fails(store_->put_consent({user_id_, "nobody", "openid", kNow}),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->put_consent({user_id_ + 100, "app", "openid", kNow}),
                    ErrorCode::kNotFound));
}

TEST_P(ConsentStoreTest, RevokingAConsentRevokesTheUsersGrantsToThatClientOnly) {
  ASSERT_TRUE(Ok(store_->add_token(token("r-app", "g-app", TokenKind::kRefresh))));
  ASSERT_TRUE(Ok(store_->add_token(token("r-other", "g-other", TokenKind::kRefresh))));
  ASSERT_TRUE(Ok(store_->put_consent({user_id_, "app", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->revoke_consent(user_id_, "app")));
  EXPECT_TRUE(Fails(store_->consent(user_id_, "app"), ErrorCode::kNotFound));
  EXPECT_TRUE(store_->grant_by_id("g-app")->revoked);
  EXPECT_TRUE(Fails(store_->active_token("r-app", TokenKind::kRefresh, kNow), ErrorCode::kDenied));
  EXPECT_FALSE(store_->grant_by_id("g-other")->revoked);
  EXPECT_TRUE(Ok(store_->active_token("r-other", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Fails(store_->revoke_consent(user_id_, "app"), ErrorCode::kNotFound));
}

TEST_P(ConsentStoreTest, AConsentRequestIsTakenOnceAndExpires) {
  ASSERT_TRUE(Ok(store_->create_consent_request(request("q1"))));
  EXPECT_TRUE(Fails(store_->create_consent_request(request("q1")), ErrorCode::kAlreadyExists));
  auto read = store_->consent_request("q1", kNow);
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->sid, "sid-1");
  EXPECT_EQ(read->user_id, user_id_);
  EXPECT_EQ(read->request_json, R"({"client_id":"app"})");
  EXPECT_TRUE(Ok(store_->take_consent_request("q1", kNow)));
  EXPECT_TRUE(Fails(store_->take_consent_request("q1", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->consent_request("q1", kNow), ErrorCode::kNotFound));

  ASSERT_TRUE(Ok(store_->create_consent_request(request("q2", kNow + 10))));
  EXPECT_TRUE(Fails(store_->consent_request("q2", kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->take_consent_request("q2", kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->take_consent_request("q2", kNow), ErrorCode::kNotFound));
  ConsentRequest stranger = request("q3");
  stranger.user_id = user_id_ + 100;
  EXPECT_TRUE(Fails(store_->create_consent_request(stranger), ErrorCode::kNotFound));
}

TEST_P(ConsentStoreTest, PurgeDeletesExpiredConsentRequests) {
  ASSERT_TRUE(Ok(store_->create_consent_request(request("old", kNow))));
  ASSERT_TRUE(Ok(store_->create_consent_request(request("new", kNow + 1))));
  auto purged = store_->purge_expired(kNow);
  ASSERT_TRUE(Ok(purged));
  EXPECT_EQ(*purged, 1);
  EXPECT_TRUE(Fails(store_->consent_request("old", kNow - 1), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->consent_request("new", kNow)));
}

STORE_CONFORMANCE_SUITE(ConsentStoreTest);

}  // namespace
}  // namespace keystep::storetest
