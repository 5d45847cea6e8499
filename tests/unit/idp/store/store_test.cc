// Store conformance (idp/store/store.h, admin_store.h), on every backend: accounts, users,
// clients, signing keys, login flows, sessions, codes, grants and tokens (and their
// revocation), consents, purging, the admin store's lists and resets, and their atomicity
// under concurrent callers.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int64_t kNow = 1'700'000'000;

// A store holding one account, one member user and one client, with helpers for the
// records that hang off them.
class StoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    auto account =
        store_->create_account({.name = "acme", .issuer_label = "Acme", .created_at = kNow});
    ASSERT_TRUE(Ok(account));
    account_ = *account;
    auto user = store_->create_user({.account_id = account_.id,
                                     .email = "alice@example.com",
                                     .password_hash = "$argon2id$alice",
                                     .role = kRoleMember,
                                     .created_at = kNow});
    ASSERT_TRUE(Ok(user));
    user_ = *user;
    ASSERT_TRUE(Ok(store_->create_client({.client_id = "app",
                                          .is_public = true,
                                          .secret_hash = "",
                                          .redirect_uris = {"https://app.example/cb"},
                                          .post_logout_redirect_uris = {},
                                          .created_at = kNow})));
  }

  Grant grant(const std::string& id, const std::string& sid = "sid-1") const {
    return Grant{.id = id,
                 .client_id = "app",
                 .user_id = user_.id,
                 .sid = sid,
                 .scope = "openid email",
                 .nonce = "n-0",
                 .auth_time = kNow,
                 .acr = "1",
                 .amr = "pwd",
                 .created_at = kNow};
  }

  static AuthCode code(const std::string& hash, const std::string& grant_id,
                       int64_t expires_at = kNow + 60) {
    return AuthCode{.code_hash = hash,
                    .grant_id = grant_id,
                    .redirect_uri = "https://app.example/cb",
                    .code_challenge = "challenge",
                    .expires_at = expires_at};
  }

  static Token token(const std::string& hash, const std::string& grant_id, TokenKind kind,
                     int64_t expires_at = kNow + 3600) {
    return Token{.token_hash = hash,
                 .grant_id = grant_id,
                 .kind = kind,
                 .created_at = kNow,
                 .expires_at = expires_at,
                 .scope = ""};
  }

  ConsentRequest consent_request(const std::string& id, int64_t expires_at = kNow + 60) const {
    return ConsentRequest{.id = id,
                          .sid = "sid-1",
                          .user_id = user_.id,
                          .request_json = R"({"client_id":"app"})",
                          .expires_at = expires_at};
  }

  // A second public client, "other".
  void add_other_client() {
    ASSERT_TRUE(Ok(store_->create_client({.client_id = "other",
                                          .is_public = true,
                                          .secret_hash = "",
                                          .redirect_uris = {"https://other.example/cb"},
                                          .post_logout_redirect_uris = {},
                                          .created_at = kNow})));
  }

  Account account_;
  User user_;
};

// ---- Accounts and users

TEST_P(StoreTest, AccountRoundTripsByNameAndId) {
  auto by_name = store_->account_by_name("acme");
  ASSERT_TRUE(Ok(by_name));
  EXPECT_EQ(by_name->id, account_.id);
  EXPECT_EQ(by_name->issuer_label, "Acme");
  EXPECT_EQ(by_name->created_at, kNow);
  EXPECT_FALSE(by_name->enforce_two_factor);
  EXPECT_EQ(by_name->mfa_settings_json, "{}");
  auto by_id = store_->account_by_id(account_.id);
  ASSERT_TRUE(Ok(by_id));
  EXPECT_EQ(by_id->name, "acme");
  EXPECT_TRUE(Fails(store_->account_by_name("nope"), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->account_by_id(account_.id + 100), ErrorCode::kNotFound));
}

TEST_P(StoreTest, AccountTwoFactorSettingsRoundTrip) {
  const std::string settings = R"({"totp":{"digits":8,"period":60}})";
  auto created = store_->create_account({.name = "globex",
                                         .issuer_label = "Globex",
                                         .created_at = kNow,
                                         .enforce_two_factor = true,
                                         .mfa_settings_json = settings});
  ASSERT_TRUE(Ok(created));
  for (auto loaded : {store_->account_by_name("globex"), store_->account_by_id(created->id)}) {
    ASSERT_TRUE(Ok(loaded));
    EXPECT_TRUE(loaded->enforce_two_factor);
    EXPECT_EQ(loaded->mfa_settings_json, settings);
  }
}

TEST_P(StoreTest, AccountSettingsThatAreNotJsonAreInvalidArgument) {
  EXPECT_TRUE(Fails(store_->create_account(
                        {.name = "globex", .issuer_label = "Globex", .mfa_settings_json = "{"}),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->account_by_name("globex"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, DuplicateAccountNameIsAlreadyExists) {
  EXPECT_TRUE(Fails(store_->create_account({.name = "acme", .issuer_label = "Other"}),
                    ErrorCode::kAlreadyExists));
}

TEST_P(StoreTest, ValuesAreBoundNotSpliced) {
  const std::string name = "x'); DROP TABLE accounts; --";
  auto created = store_->create_account({.name = name, .issuer_label = "\"quoted\" ?1"});
  ASSERT_TRUE(Ok(created));
  auto loaded = store_->account_by_name(name);
  ASSERT_TRUE(Ok(loaded));
  EXPECT_EQ(loaded->issuer_label, "\"quoted\" ?1");
  EXPECT_TRUE(Ok(store_->account_by_name("acme")));
}

TEST_P(StoreTest, EmailIsUniquePerAccountButNotAcrossAccounts) {
  User dup = user_;
  dup.id = 0;
  EXPECT_TRUE(Fails(store_->create_user(dup), ErrorCode::kAlreadyExists));

  auto other = store_->create_account({.name = "globex", .issuer_label = "Globex"});
  ASSERT_TRUE(Ok(other));
  dup.account_id = other->id;
  auto second = store_->create_user(dup);
  ASSERT_TRUE(Ok(second));

  auto all = store_->users_by_email("alice@example.com");
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, user_.id);
  EXPECT_EQ((*all)[1].id, second->id);
  EXPECT_EQ((*all)[1].account_id, other->id);
}

TEST_P(StoreTest, UserRoundTripsByIdAndEmail) {
  auto by_id = store_->user_by_id(user_.id);
  ASSERT_TRUE(Ok(by_id));
  EXPECT_EQ(by_id->email, "alice@example.com");
  EXPECT_EQ(by_id->password_hash, "$argon2id$alice");
  EXPECT_EQ(by_id->role, kRoleMember);
  EXPECT_FALSE(by_id->two_factor_enabled);
  auto by_email = store_->user_by_email(account_.id, "alice@example.com");
  ASSERT_TRUE(Ok(by_email));
  EXPECT_EQ(by_email->id, user_.id);
  EXPECT_TRUE(Fails(store_->user_by_email(account_.id, "bob@example.com"), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->user_by_id(user_.id + 100), ErrorCode::kNotFound));
  auto none = store_->users_by_email("bob@example.com");
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreTest, UserTwoFactorFlagRoundTripsThroughEveryLookup) {
  auto bob = store_->create_user({.account_id = account_.id,
                                  .email = "bob@example.com",
                                  .password_hash = "h",
                                  .role = kRoleMember,
                                  .created_at = kNow,
                                  .two_factor_enabled = true});
  ASSERT_TRUE(Ok(bob));
  EXPECT_TRUE(bob->two_factor_enabled);
  auto by_id = store_->user_by_id(bob->id);
  ASSERT_TRUE(Ok(by_id));
  EXPECT_TRUE(by_id->two_factor_enabled);
  auto by_email = store_->user_by_email(account_.id, "bob@example.com");
  ASSERT_TRUE(Ok(by_email));
  EXPECT_TRUE(by_email->two_factor_enabled);
  auto all = store_->users_by_email("bob@example.com");
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE((*all)[0].two_factor_enabled);
}

TEST_P(StoreTest, UnknownRoleIsInvalidArgument) {
  EXPECT_TRUE(Fails(store_->create_user({.account_id = account_.id,
                                         .email = "bob@example.com",
                                         .password_hash = "h",
                                         .role = "superuser"}),
                    ErrorCode::kInvalidArgument));
}

TEST_P(StoreTest, UserForUnknownAccountIsNotFound) {
  EXPECT_TRUE(Fails(store_->create_user({.account_id = account_.id + 100,
                                         .email = "bob@example.com",
                                         .password_hash = "h",
                                         .role = kRoleAdmin}),
                    ErrorCode::kNotFound));
}

TEST_P(StoreTest, UpdatePasswordHashChangesOnlyThatUser) {
  ASSERT_TRUE(Ok(store_->update_password_hash(user_.id, "$argon2id$new")));
  auto user = store_->user_by_id(user_.id);
  ASSERT_TRUE(Ok(user));
  EXPECT_EQ(user->password_hash, "$argon2id$new");
  EXPECT_TRUE(Fails(store_->update_password_hash(user_.id + 100, "x"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, DisplayNameAndEmailVerifiedRoundTripAndTheNameChangesAlone) {
  EXPECT_EQ(user_.display_name, "");
  EXPECT_FALSE(store_->user_by_id(user_.id)->email_verified);
  auto zoe = store_->create_user({.account_id = account_.id,
                                  .email = "zoe@example.com",
                                  .password_hash = "h",
                                  .role = kRoleMember,
                                  .created_at = kNow,
                                  .display_name = "Zoë \"Z\" O'Brien",
                                  .email_verified = true});
  ASSERT_TRUE(Ok(zoe));
  auto by_email = store_->user_by_email(account_.id, "zoe@example.com");
  ASSERT_TRUE(Ok(by_email));
  EXPECT_EQ(by_email->display_name, "Zoë \"Z\" O'Brien");
  EXPECT_TRUE(by_email->email_verified);
  ASSERT_TRUE(Ok(store_->update_display_name(zoe->id, "Zoe")));
  auto renamed = store_->user_by_id(zoe->id);
  EXPECT_EQ(renamed->display_name, "Zoe");
  EXPECT_TRUE(renamed->email_verified);
  EXPECT_EQ(store_->user_by_id(user_.id)->display_name, "");
  EXPECT_TRUE(Fails(store_->update_display_name(zoe->id + 100, "x"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, AdminRoleHasTheAuthSettingsPermissionsAndMemberNone) {
  auto admin = store_->role_permissions(kRoleAdmin);
  ASSERT_TRUE(Ok(admin));
  EXPECT_EQ(*admin, (std::vector<std::string>{kPermDeleteAuthSettings, kPermEditAuthSettings,
                                              kPermViewAuthSettings}));
  auto member = store_->role_permissions(kRoleMember);
  ASSERT_TRUE(Ok(member));
  EXPECT_TRUE(member->empty());
  auto unknown = store_->role_permissions("nobody");
  ASSERT_TRUE(Ok(unknown));
  EXPECT_TRUE(unknown->empty());
}

// ---- Clients

TEST_P(StoreTest, ClientRoundTripsWithRedirectUriListsInOrder) {
  Client client{
      .client_id = "confidential",
      .is_public = false,
      .secret_hash = "$argon2id$secret",
      .redirect_uris = {"https://b.example/cb", "https://a.example/cb", "http://127.0.0.1:8080/cb"},
      .post_logout_redirect_uris = {"https://b.example/bye"},
      .created_at = kNow};
  ASSERT_TRUE(Ok(store_->create_client(client)));
  auto loaded = store_->client_by_id("confidential");
  ASSERT_TRUE(Ok(loaded));
  EXPECT_EQ(loaded->client_id, client.client_id);
  EXPECT_FALSE(loaded->is_public);
  EXPECT_EQ(loaded->secret_hash, client.secret_hash);
  EXPECT_EQ(loaded->redirect_uris, client.redirect_uris);
  EXPECT_EQ(loaded->post_logout_redirect_uris, client.post_logout_redirect_uris);
  EXPECT_EQ(loaded->created_at, kNow);

  auto public_client = store_->client_by_id("app");
  ASSERT_TRUE(Ok(public_client));
  EXPECT_TRUE(public_client->is_public);
  EXPECT_EQ(public_client->redirect_uris, std::vector<std::string>{"https://app.example/cb"});
  EXPECT_TRUE(public_client->post_logout_redirect_uris.empty());
}

TEST_P(StoreTest, ClientAllowedOriginsRoundTripInOrderAndClientsListsEveryClient) {
  Client spa{.client_id = "spa",
             .is_public = true,
             .secret_hash = "",
             .redirect_uris = {"https://spa.example/cb"},
             .post_logout_redirect_uris = {},
             .created_at = kNow,
             .allowed_origins = {"https://z.example", "https://a.example:8443"}};
  ASSERT_TRUE(Ok(store_->create_client(spa)));
  auto loaded = store_->client_by_id("spa");
  ASSERT_TRUE(Ok(loaded));
  EXPECT_EQ(loaded->allowed_origins, spa.allowed_origins);
  EXPECT_TRUE(store_->client_by_id("app")->allowed_origins.empty());

  auto all = store_->clients();
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "app");
  EXPECT_EQ((*all)[0].redirect_uris, std::vector<std::string>{"https://app.example/cb"});
  EXPECT_EQ((*all)[1].client_id, "spa");
  EXPECT_EQ((*all)[1].allowed_origins, spa.allowed_origins);
  EXPECT_EQ((*all)[1].redirect_uris, spa.redirect_uris);
}

TEST_P(StoreTest, AClientNamingAnOriginTwiceIsNotStored) {
  Client twice{.client_id = "twice",
               .is_public = true,
               .secret_hash = "",
               .redirect_uris = {"https://spa.example/cb"},
               .post_logout_redirect_uris = {},
               .created_at = kNow,
               .allowed_origins = {"https://a.example", "https://a.example"}};
  EXPECT_TRUE(Fails(store_->create_client(twice), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Fails(store_->client_by_id("twice"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, DuplicateClientIsAlreadyExistsAndUnknownIsNotFound) {
  Client duplicate;
  duplicate.client_id = "app";
  EXPECT_TRUE(Fails(store_->create_client(duplicate), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Fails(store_->client_by_id("nope"), ErrorCode::kNotFound));
}

// ---- Signing keys

SigningKey key(const std::string& kid, bool active, int64_t created_at) {
  return SigningKey{.kid = kid,
                    .alg = "ES256",
                    .sealed_private_key = "sealed-" + kid,
                    .public_jwk = R"({"kty":"EC"})",
                    .active = active,
                    .created_at = created_at};
}

std::vector<std::string> kids(const std::vector<SigningKey>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(k.kid);
  return out;
}

TEST_P(StoreTest, AddingActiveKeyDeactivatesThePreviousOne) {
  ASSERT_TRUE(Ok(store_->add_signing_key(key("k1", true, kNow))));
  ASSERT_TRUE(Ok(store_->add_signing_key(key("k2", false, kNow + 10))));
  ASSERT_TRUE(Ok(store_->add_signing_key(key("k3", true, kNow + 5))));
  auto keys = store_->signing_keys();
  ASSERT_TRUE(Ok(keys));
  // Active first, then newest first.
  EXPECT_EQ(kids(*keys), (std::vector<std::string>{"k3", "k2", "k1"}));
  EXPECT_TRUE((*keys)[0].active);
  EXPECT_FALSE((*keys)[1].active);
  EXPECT_FALSE((*keys)[2].active);
}

TEST_P(StoreTest, FailedAddOfActiveKeyKeepsThePreviousActiveKey) {
  ASSERT_TRUE(Ok(store_->add_signing_key(key("k1", true, kNow))));
  EXPECT_TRUE(Fails(store_->add_signing_key(key("k1", true, kNow + 1)), ErrorCode::kAlreadyExists));
  auto keys = store_->signing_keys();
  ASSERT_TRUE(Ok(keys));
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_TRUE((*keys)[0].active);
}

TEST_P(StoreTest, RetiringTheActiveKeyIsConflictAndRetiredKeysLeaveTheList) {
  ASSERT_TRUE(Ok(store_->add_signing_key(key("old", false, kNow))));
  ASSERT_TRUE(Ok(store_->add_signing_key(key("cur", true, kNow + 1))));
  EXPECT_TRUE(Fails(store_->retire_signing_key("cur"), ErrorCode::kConflict));
  EXPECT_TRUE(Fails(store_->retire_signing_key("nope"), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->retire_signing_key("old")));
  auto keys = store_->signing_keys();
  ASSERT_TRUE(Ok(keys));
  EXPECT_EQ(kids(*keys), std::vector<std::string>{"cur"});
}

TEST_P(StoreTest, SealedPrivateKeyWithNulBytesRoundTrips) {
  SigningKey k = key("bin", true, kNow);
  k.sealed_private_key = std::string("\x00\x01\xff\x00sealed\x00", 11);
  ASSERT_TRUE(Ok(store_->add_signing_key(k)));
  auto keys = store_->signing_keys();
  ASSERT_TRUE(Ok(keys));
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].sealed_private_key, k.sealed_private_key);
  EXPECT_EQ((*keys)[0].sealed_private_key.size(), 11u);
  EXPECT_EQ((*keys)[0].public_jwk, k.public_jwk);
  EXPECT_EQ((*keys)[0].alg, "ES256");
}

// ---- Login flows

LoginFlow flow(const std::string& id, int64_t expires_at = kNow + 600) {
  return LoginFlow{.id = id,
                   .browser_binding_hash = "bind",
                   .csrf_token = "csrf",
                   .request_json = R"({"client_id":"app"})",
                   .progress_json = "{}",
                   .version = 0,
                   .created_at = kNow,
                   .expires_at = expires_at};
}

TEST_P(StoreTest, FlowUpdateIsCompareAndSetOnVersion) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  ASSERT_TRUE(Ok(store_->update_flow("f1", 0, R"({"user":1})")));
  // A second writer that read version 0 too must lose.
  EXPECT_TRUE(Fails(store_->update_flow("f1", 0, R"({"user":2})"), ErrorCode::kConflict));
  auto loaded = store_->flow_by_id("f1", kNow);
  ASSERT_TRUE(Ok(loaded));
  EXPECT_EQ(loaded->version, 1);
  EXPECT_EQ(loaded->progress_json, R"({"user":1})");
  EXPECT_EQ(loaded->request_json, R"({"client_id":"app"})");
  EXPECT_EQ(loaded->csrf_token, "csrf");
  EXPECT_TRUE(Ok(store_->update_flow("f1", 1, "{}")));
  EXPECT_TRUE(Fails(store_->update_flow("nope", 0, "{}"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, FlowIsExpiredAtItsExpiryTime) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1", kNow + 10))));
  EXPECT_TRUE(Ok(store_->flow_by_id("f1", kNow + 9)));
  EXPECT_TRUE(Fails(store_->flow_by_id("f1", kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->flow_by_id("nope", kNow), ErrorCode::kNotFound));
}

TEST_P(StoreTest, DeletedFlowIsGone) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  EXPECT_TRUE(Fails(store_->create_flow(flow("f1")), ErrorCode::kAlreadyExists));
  ASSERT_TRUE(Ok(store_->delete_flow("f1")));
  EXPECT_TRUE(Fails(store_->flow_by_id("f1", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->delete_flow("f1"), ErrorCode::kNotFound));
}

// ---- Sessions

Session session(const std::string& id_hash, const std::string& sid, int64_t user_id,
                int64_t expires_at = kNow + 3600) {
  return Session{.id_hash = id_hash,
                 .sid = sid,
                 .user_id = user_id,
                 .auth_time = kNow,
                 .acr = "1",
                 .amr = "pwd",
                 .created_at = kNow,
                 .expires_at = expires_at};
}

TEST_P(StoreTest, SessionIsNotFoundOnceExpired) {
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id, kNow + 100))));
  auto by_hash = store_->session_by_id_hash("h1", kNow + 99);
  ASSERT_TRUE(Ok(by_hash));
  EXPECT_EQ(by_hash->sid, "sid-1");
  EXPECT_EQ(by_hash->user_id, user_.id);
  EXPECT_EQ(by_hash->expires_at, kNow + 100);
  EXPECT_TRUE(Ok(store_->session_by_sid("sid-1", kNow + 99)));
  EXPECT_TRUE(Fails(store_->session_by_id_hash("h1", kNow + 100), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->session_by_sid("sid-1", kNow + 100), ErrorCode::kNotFound));
}

TEST_P(StoreTest, SessionFactorTimesRoundTrip) {
  Session created = session("h1", "sid-1", user_.id);
  created.password_time = kNow - 5;
  created.mfa_time = kNow - 2;
  ASSERT_TRUE(Ok(store_->create_session(created)));
  for (auto loaded :
       {store_->session_by_id_hash("h1", kNow), store_->session_by_sid("sid-1", kNow)}) {
    ASSERT_TRUE(Ok(loaded));
    EXPECT_EQ(loaded->password_time, kNow - 5);
    EXPECT_EQ(loaded->mfa_time, kNow - 2);
  }
  ASSERT_TRUE(Ok(store_->create_session(session("h2", "sid-2", user_.id))));
  auto fresh = store_->session_by_sid("sid-2", kNow);
  ASSERT_TRUE(Ok(fresh));
  EXPECT_EQ(fresh->password_time, 0);
  EXPECT_EQ(fresh->mfa_time, 0);
}

TEST_P(StoreTest, SessionAuthUpdateAndDelete) {
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id))));
  Session reauth = session("h1", "ignored-sid", user_.id + 100, kNow + 1);
  reauth.auth_time = kNow + 50;
  reauth.acr = "2";
  reauth.amr = "pwd otp mfa";
  reauth.password_time = kNow + 40;
  reauth.mfa_time = kNow + 50;
  ASSERT_TRUE(Ok(store_->update_session_auth(reauth)));
  auto updated = store_->session_by_sid("sid-1", kNow);
  ASSERT_TRUE(Ok(updated));
  EXPECT_EQ(updated->auth_time, kNow + 50);
  EXPECT_EQ(updated->acr, "2");
  EXPECT_EQ(updated->amr, "pwd otp mfa");
  EXPECT_EQ(updated->password_time, kNow + 40);
  EXPECT_EQ(updated->mfa_time, kNow + 50);
  // Only the authentication fields change; the session keeps its identity and lifetime.
  EXPECT_EQ(updated->user_id, user_.id);
  EXPECT_EQ(updated->expires_at, kNow + 3600);
  EXPECT_TRUE(
      Fails(store_->update_session_auth(session("nope", "sid-x", user_.id)), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow)));
  EXPECT_TRUE(Fails(store_->session_by_id_hash("h1", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->end_session("sid-1", kNow)));
}

TEST_P(StoreTest, SessionNeedsKnownUserAndUniqueSid) {
  EXPECT_TRUE(
      Fails(store_->create_session(session("h1", "sid-1", user_.id + 100)), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id))));
  EXPECT_TRUE(
      Fails(store_->create_session(session("h2", "sid-1", user_.id)), ErrorCode::kAlreadyExists));
}

// ---- Sign-in steps (FlowStore::commit_flow_step)

// A sign-in's last step as LoginController commits it: the flow used up, the password's
// throttle key cleared, an audit event, a new session and the code's grant.
FlowStep last_step(const std::string& flow_id, const Session& session, const Grant& grant,
                   const AuthCode& code) {
  FlowStep step;
  step.flow_id = flow_id;
  step.reset_attempts = {"pwd:alice@example.com"};
  step.audit = {AuditEvent{.at = kNow,
                           .account_id = 0,
                           .user_id = 0,
                           .event = "mfa.code_accepted",
                           .address = "",
                           .detail = "",
                           .request_id = ""}};
  step.session = session;
  step.grant = grant;
  step.code = code;
  return step;
}

TEST_P(StoreTest, FlowStepMakesEveryWriteOfTheStep) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  ASSERT_TRUE(Ok(store_->record_failure("pwd:alice@example.com", kNow)));
  FlowStep step = last_step("f1", session("h1", "sid-1", user_.id), grant("g1"), code("c1", "g1"));
  step.audit[0].account_id = account_.id;
  step.audit[0].user_id = user_.id;

  ASSERT_TRUE(Ok(store_->commit_flow_step(step, kNow)));

  EXPECT_TRUE(Fails(store_->flow_by_id("f1", kNow), ErrorCode::kNotFound));
  EXPECT_EQ(store_->attempts("pwd:alice@example.com")->failures, 0);
  auto events = store_->audit_events(account_.id, 0, 10);
  ASSERT_TRUE(Ok(events));
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event, "mfa.code_accepted");
  auto stored = store_->session_by_sid("sid-1", kNow);
  ASSERT_TRUE(Ok(stored));
  EXPECT_EQ(stored->id_hash, "h1");
  auto redeemed = store_->redeem_code("c1", kNow);
  ASSERT_TRUE(Ok(redeemed));
  EXPECT_EQ(redeemed->grant.id, "g1");
  EXPECT_EQ(redeemed->grant.sid, "sid-1");
}

TEST_P(StoreTest, FlowStepAdvancesTheFlowOrUpdatesTheSessionAndEndsAnother) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  FlowStep advance;
  advance.flow_id = "f1";
  advance.progress_json = R"({"stage":"second"})";
  ASSERT_TRUE(Ok(store_->commit_flow_step(advance, kNow)));
  auto advanced = store_->flow_by_id("f1", kNow);
  ASSERT_TRUE(Ok(advanced));
  EXPECT_EQ(advanced->version, 1);
  EXPECT_EQ(advanced->progress_json, R"({"stage":"second"})");

  // The browser's session of another sign-in ends (its grant with it); this user's own
  // session gets the new authentication.
  ASSERT_TRUE(Ok(store_->create_session(session("h-old", "sid-old", user_.id))));
  ASSERT_TRUE(
      Ok(store_->create_grant_with_code(grant("g-old", "sid-old"), code("c-old", "g-old"))));
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id))));
  Session reauth = session("h1", "sid-1", user_.id);
  reauth.amr = "pwd otp mfa";
  FlowStep done = last_step("f1", reauth, grant("g1"), code("c1", "g1"));
  done.expected_version = 1;
  done.session_exists = true;
  done.end_sid = "sid-old";
  done.audit.clear();
  ASSERT_TRUE(Ok(store_->commit_flow_step(done, kNow)));
  EXPECT_TRUE(Fails(store_->session_by_sid("sid-old", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(store_->grant_by_id("g-old")->revoked);
  EXPECT_EQ(store_->session_by_sid("sid-1", kNow)->amr, "pwd otp mfa");
  EXPECT_TRUE(Ok(store_->grant_by_id("g1")));
}

TEST_P(StoreTest, FlowStepWritesNothingWhenOnePartFails) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  ASSERT_TRUE(Ok(store_->record_failure("pwd:alice@example.com", kNow)));
  const auto nothing_written = [&] {
    auto loaded = store_->flow_by_id("f1", kNow);
    ASSERT_TRUE(Ok(loaded));
    EXPECT_EQ(loaded->version, 0);
    EXPECT_EQ(store_->attempts("pwd:alice@example.com")->failures, 1);
    EXPECT_TRUE(Fails(store_->session_by_sid("sid-1", kNow), ErrorCode::kNotFound));
    EXPECT_TRUE(Fails(store_->grant_by_id("g1"), ErrorCode::kNotFound));
  };
  const FlowStep good =
      last_step("f1", session("h1", "sid-1", user_.id), grant("g1"), code("c1", "g1"));

  FlowStep stale = good;  // another request advanced the flow first
  stale.expected_version = 7;
  EXPECT_TRUE(Fails(store_->commit_flow_step(stale, kNow), ErrorCode::kConflict));
  nothing_written();

  FlowStep gone = good;
  gone.flow_id = "nope";
  EXPECT_TRUE(Fails(store_->commit_flow_step(gone, kNow), ErrorCode::kNotFound));
  nothing_written();

  FlowStep unknown_client = good;  // the last write fails
  unknown_client.grant->client_id = "nope";
  EXPECT_TRUE(Fails(store_->commit_flow_step(unknown_client, kNow), ErrorCode::kNotFound));
  nothing_written();

  FlowStep other_sid = good;
  other_sid.grant->sid = "sid-2";
  EXPECT_TRUE(Fails(store_->commit_flow_step(other_sid, kNow), ErrorCode::kInvalidArgument));
  nothing_written();

  EXPECT_TRUE(Ok(store_->commit_flow_step(good, kNow)));
}

TEST_P(StoreTest, FlowStepWithACredentialUsedMeanwhileIsReplayedAndWritesNothing) {
  auto stored = store_->put_pending_credential(MfaCredential{.user_id = user_.id,
                                                             .provider_id = "totp",
                                                             .secret = "sealed",
                                                             .params = nlohmann::json::object(),
                                                             .state = nlohmann::json::object(),
                                                             .counter = -1,
                                                             .created_at = kNow});
  ASSERT_TRUE(Ok(stored));
  ASSERT_TRUE(Ok(store_->create_flow(flow("f1"))));
  ASSERT_TRUE(Ok(store_->create_flow(flow("f2"))));
  MfaCredential used = *stored;
  used.counter = 1000;
  FlowStep first = last_step("f1", session("h1", "sid-1", user_.id), grant("g1"), code("c1", "g1"));
  first.credential = used;
  first.credential_version = stored->version;
  FlowStep second =
      last_step("f2", session("h2", "sid-2", user_.id), grant("g2", "sid-2"), code("c2", "g2"));
  second.credential = used;
  second.credential_version = stored->version;

  ASSERT_TRUE(Ok(store_->commit_flow_step(first, kNow)));
  EXPECT_TRUE(Fails(store_->commit_flow_step(second, kNow), ErrorCode::kReplayed));

  auto credentials = store_->credentials_of_user(user_.id);
  ASSERT_TRUE(Ok(credentials));
  ASSERT_EQ(credentials->size(), 1u);
  EXPECT_EQ((*credentials)[0].counter, 1000);
  EXPECT_EQ((*credentials)[0].version, stored->version + 1);
  EXPECT_TRUE(Ok(store_->flow_by_id("f2", kNow)));
  EXPECT_TRUE(Fails(store_->session_by_sid("sid-2", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->grant_by_id("g2"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, FlowStepWithoutAFlowWritesTheRest) {
  FlowStep step = last_step("", session("h1", "sid-1", user_.id), grant("g1"), code("c1", "g1"));
  ASSERT_TRUE(Ok(store_->commit_flow_step(step, kNow)));
  EXPECT_TRUE(Ok(store_->session_by_sid("sid-1", kNow)));
  EXPECT_TRUE(Ok(store_->grant_by_id("g1")));
}

// ---- Codes, grants and tokens

TEST_P(StoreTest, FirstRedeemReturnsCodeAndGrant) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  auto redeemed = store_->redeem_code("c1", kNow);
  ASSERT_TRUE(Ok(redeemed));
  EXPECT_TRUE(redeemed->code.used);
  EXPECT_EQ(redeemed->code.grant_id, "g1");
  EXPECT_EQ(redeemed->code.redirect_uri, "https://app.example/cb");
  EXPECT_EQ(redeemed->code.code_challenge, "challenge");
  EXPECT_EQ(redeemed->grant.id, "g1");
  EXPECT_EQ(redeemed->grant.client_id, "app");
  EXPECT_EQ(redeemed->grant.user_id, user_.id);
  EXPECT_EQ(redeemed->grant.scope, "openid email");
  EXPECT_EQ(redeemed->grant.nonce, "n-0");
  EXPECT_EQ(redeemed->grant.amr, "pwd");
  EXPECT_FALSE(redeemed->grant.revoked);
}

TEST_P(StoreTest, SecondRedeemOfCodeRevokesGrantAndItsTokens) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->redeem_code("c1", kNow)));
  ASSERT_TRUE(Ok(store_->add_tokens({token("at", "g1", TokenKind::kAccess)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("rt", "g1", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->active_token("at", TokenKind::kAccess, kNow)));

  EXPECT_TRUE(Fails(store_->redeem_code("c1", kNow), ErrorCode::kReplayed));
  auto g = store_->grant_by_id("g1");
  ASSERT_TRUE(Ok(g));
  EXPECT_TRUE(g->revoked);
  EXPECT_TRUE(Fails(store_->active_token("at", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->active_token("rt", TokenKind::kRefresh, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->redeem_code("c1", kNow), ErrorCode::kReplayed));
}

TEST_P(StoreTest, ExpiredUnknownAndRevokedCodesAreRefused) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1", kNow + 60))));
  EXPECT_TRUE(Fails(store_->redeem_code("c1", kNow + 60), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->redeem_code("nope", kNow), ErrorCode::kNotFound));

  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->revoke_grant("g2")));
  EXPECT_TRUE(Fails(store_->redeem_code("c2", kNow), ErrorCode::kReplayed));
}

TEST_P(StoreTest, GrantNeedsKnownClientAndUserAndMatchingCode) {
  Grant bad_client = grant("g1");
  bad_client.client_id = "nope";
  EXPECT_TRUE(
      Fails(store_->create_grant_with_code(bad_client, code("c1", "g1")), ErrorCode::kNotFound));
  Grant bad_user = grant("g1");
  bad_user.user_id = user_.id + 100;
  EXPECT_TRUE(
      Fails(store_->create_grant_with_code(bad_user, code("c1", "g1")), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->create_grant_with_code(grant("g1"), code("c1", "other")),
                    ErrorCode::kInvalidArgument));
  // Nothing of the failed attempts stayed behind.
  EXPECT_TRUE(Fails(store_->grant_by_id("g1"), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->redeem_code("c1", kNow), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", ""))));
  auto redeemed = store_->redeem_code("c1", kNow);
  ASSERT_TRUE(Ok(redeemed));
  EXPECT_EQ(redeemed->code.grant_id, "g1");
}

TEST_P(StoreTest, ActiveTokenChecksKindExpiryAndRevocation) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("at", "g1", TokenKind::kAccess, kNow + 10)})));
  auto active = store_->active_token("at", TokenKind::kAccess, kNow + 9);
  ASSERT_TRUE(Ok(active));
  EXPECT_EQ(active->token.kind, TokenKind::kAccess);
  EXPECT_EQ(active->token.expires_at, kNow + 10);
  EXPECT_EQ(active->grant.id, "g1");
  EXPECT_TRUE(Fails(store_->active_token("at", TokenKind::kRefresh, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(
      Fails(store_->active_token("at", TokenKind::kAccess, kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->active_token("nope", TokenKind::kAccess, kNow), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->revoke_grant("g1")));
  EXPECT_TRUE(Fails(store_->active_token("at", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->revoke_grant("nope"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, TokenForRevokedOrUnknownGrantIsRefused) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t1", "g1", TokenKind::kAccess)})));
  EXPECT_TRUE(Fails(store_->add_tokens({token("t1", "g1", TokenKind::kAccess)}),
                    ErrorCode::kAlreadyExists));
  EXPECT_TRUE(
      Fails(store_->add_tokens({token("t2", "nope", TokenKind::kAccess)}), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->revoke_grant("g1")));
  EXPECT_TRUE(
      Fails(store_->add_tokens({token("t3", "g1", TokenKind::kAccess)}), ErrorCode::kConflict));
}

TEST_P(StoreTest, PingSucceedsWhileTheDatabaseAnswers) {
  EXPECT_TRUE(Ok(store_->ping()));
  reconnect();
  EXPECT_TRUE(Ok(store_->ping()));
}

// Two nodes: one redeemed the code and is minting its tokens when the other's replay of the
// same code revokes the grant. The tokens are refused as a conflict (the token endpoint's
// invalid_grant), never stored, and never an error the client would retry.
TEST_P(StoreTest, TokensOfACodeWhoseGrantAReplayRevokedMeanwhileAreAConflict) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->redeem_code("c1", kNow)));
  auto other = connect();
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(Fails(other->store().redeem_code("c1", kNow), ErrorCode::kReplayed));
  EXPECT_TRUE(Fails(store_->add_tokens({token("at", "g1", TokenKind::kAccess),
                                        token("rt", "g1", TokenKind::kRefresh)}),
                    ErrorCode::kConflict));
  EXPECT_TRUE(Fails(store_->active_token("at", TokenKind::kAccess, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->active_token("rt", TokenKind::kRefresh, kNow), ErrorCode::kNotFound));
}

TEST_P(StoreTest, TokensAreAddedAllOrNone) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t1", "g1", TokenKind::kAccess)})));
  // The second token's hash is taken: the first is not stored either.
  EXPECT_TRUE(Fails(store_->add_tokens({token("t2", "g1", TokenKind::kAccess),
                                        token("t1", "g1", TokenKind::kRefresh)}),
                    ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Fails(store_->active_token("t2", TokenKind::kAccess, kNow), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->add_tokens(
      {token("t2", "g1", TokenKind::kAccess), token("r2", "g1", TokenKind::kRefresh)})));
  EXPECT_TRUE(Ok(store_->active_token("t2", TokenKind::kAccess, kNow)));
  EXPECT_TRUE(Ok(store_->active_token("r2", TokenKind::kRefresh, kNow)));
}

TEST_P(StoreTest, RefreshRotationStoresTheAccessTokenItIssuesOrNothing) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh)})));
  Token narrowed = token("a2", "g1", TokenKind::kAccess);
  narrowed.scope = "openid";
  ASSERT_TRUE(Ok(store_->rotate_refresh_token("r1", token("r2", "g1", TokenKind::kRefresh),
                                              {narrowed}, kNow)));
  auto access = store_->active_token("a2", TokenKind::kAccess, kNow);
  ASSERT_TRUE(Ok(access));
  EXPECT_EQ(access->token.scope, "openid");
  EXPECT_TRUE(Ok(store_->active_token("r2", TokenKind::kRefresh, kNow)));

  // An access token of another grant, or a refresh token among them: refused, r2 unused.
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("r2", token("r3", "g1", TokenKind::kRefresh),
                                                 {token("a3", "g2", TokenKind::kAccess)}, kNow),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("r2", token("r3", "g1", TokenKind::kRefresh),
                                                 {token("a3", "g1", TokenKind::kRefresh)}, kNow),
                    ErrorCode::kInvalidArgument));
  // A taken hash fails the whole rotation.
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("r2", token("r3", "g1", TokenKind::kRefresh),
                                                 {token("a2", "g1", TokenKind::kAccess)}, kNow),
                    ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Ok(store_->active_token("r2", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Fails(store_->active_token("r3", TokenKind::kRefresh, kNow), ErrorCode::kNotFound));
}

TEST_P(StoreTest, RefreshRotationReplacesTheToken) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh)})));
  ASSERT_TRUE(
      Ok(store_->rotate_refresh_token("r1", token("r2", "g1", TokenKind::kRefresh), {}, kNow)));
  EXPECT_TRUE(Fails(store_->active_token("r1", TokenKind::kRefresh, kNow), ErrorCode::kReplayed));
  auto r2 = store_->active_token("r2", TokenKind::kRefresh, kNow);
  ASSERT_TRUE(Ok(r2));
  EXPECT_EQ(r2->grant.id, "g1");
  EXPECT_FALSE(r2->token.used);
}

TEST_P(StoreTest, ReusedRefreshTokenRevokesGrant) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("a1", "g1", TokenKind::kAccess)})));
  ASSERT_TRUE(
      Ok(store_->rotate_refresh_token("r1", token("r2", "g1", TokenKind::kRefresh), {}, kNow)));

  EXPECT_TRUE(
      Fails(store_->rotate_refresh_token("r1", token("r3", "g1", TokenKind::kRefresh), {}, kNow),
            ErrorCode::kReplayed));
  auto g = store_->grant_by_id("g1");
  ASSERT_TRUE(Ok(g));
  EXPECT_TRUE(g->revoked);
  EXPECT_TRUE(Fails(store_->active_token("r2", TokenKind::kRefresh, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->active_token("a1", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->active_token("r3", TokenKind::kRefresh, kNow), ErrorCode::kNotFound));
  // The legitimate holder's next rotation fails too.
  EXPECT_TRUE(
      Fails(store_->rotate_refresh_token("r2", token("r4", "g1", TokenKind::kRefresh), {}, kNow),
            ErrorCode::kDenied));
}

TEST_P(StoreTest, RefreshRotationRefusesUnknownExpiredAndMismatchedTokens) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh, kNow + 10)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("a1", "g1", TokenKind::kAccess)})));
  const Token next = token("r2", "g1", TokenKind::kRefresh);
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("nope", next, {}, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("a1", next, {}, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->rotate_refresh_token("r1", next, {}, kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(
      Fails(store_->rotate_refresh_token("r1", token("r2", "g2", TokenKind::kRefresh), {}, kNow),
            ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      Fails(store_->rotate_refresh_token("r1", token("r2", "g1", TokenKind::kAccess), {}, kNow),
            ErrorCode::kInvalidArgument));
  // None of the refusals consumed r1.
  EXPECT_TRUE(Ok(store_->rotate_refresh_token("r1", next, {}, kNow)));
}

TEST_P(StoreTest, EndingASessionRevokesItsGrantsAndLeavesOtherSessionsAlone) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2", "sid-1"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g3", "sid-2"), code("c3", "g3"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t1", "g1", TokenKind::kAccess)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t3", "g3", TokenKind::kAccess)})));
  // The grants go even when their session is gone already (purged, or never stored here).
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow)));
  ASSERT_TRUE(Ok(store_->end_session("sid-without-grants", kNow)));
  EXPECT_TRUE(store_->grant_by_id("g1")->revoked);
  EXPECT_TRUE(store_->grant_by_id("g2")->revoked);
  EXPECT_FALSE(store_->grant_by_id("g3")->revoked);
  EXPECT_TRUE(Fails(store_->active_token("t1", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Ok(store_->active_token("t3", TokenKind::kAccess, kNow)));
}

// A client told of ended sessions (Back-Channel Logout), with a grant of user_ in `sid`.
class BackchannelStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreTest::SetUp());
    ASSERT_TRUE(Ok(store_->create_client({.client_id = "rp",
                                          .is_public = true,
                                          .secret_hash = "",
                                          .redirect_uris = {"https://rp.example/cb"},
                                          .post_logout_redirect_uris = {},
                                          .created_at = kNow,
                                          .backchannel_logout_uri = "https://rp.example/bc"})));
  }
  Grant rp_grant(const std::string& id, const std::string& sid) const {
    Grant g = grant(id, sid);
    g.client_id = "rp";
    return g;
  }
};

TEST_P(BackchannelStoreTest, EndingASessionQueuesOneNoticePerClientWithAUri) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g2", "sid-1"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g3", "sid-1"), code("c3", "g3"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g4", "sid-2"), code("c4", "g4"))));
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow + 7)));
  // Ending it again finds no unrevoked grant: nobody is told twice.
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow + 8)));
  auto notices = store_->logout_notices_of("rp");
  ASSERT_TRUE(Ok(notices));
  ASSERT_EQ(notices->size(), 1u);
  const LogoutNotice& n = (*notices)[0];
  EXPECT_EQ(n.uri, "https://rp.example/bc");
  EXPECT_EQ(n.user_id, user_.id);
  EXPECT_EQ(n.sid, "sid-1");
  EXPECT_EQ(n.jti.size(), 32u);
  EXPECT_EQ(n.created_at, kNow + 7);
  EXPECT_EQ(n.next_attempt_at, kNow + 7);
  EXPECT_EQ(n.delivered_at, 0);
  // "app" has no back-channel URI: nothing queued for it.
  EXPECT_TRUE(store_->logout_notices_of("app")->empty());
  EXPECT_FALSE(store_->grant_by_id("g4")->revoked);
}

TEST_P(BackchannelStoreTest, OtherSessionsAndAResetQueueNoticesForTheirSessions) {
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id))));
  ASSERT_TRUE(Ok(store_->create_session(session("h2", "sid-2", user_.id))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g2", "sid-2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g3", "sid-gone"), code("c3", "g3"))));
  auto ended = store_->end_other_sessions(user_.id, "sid-1", kNow + 1);
  ASSERT_TRUE(Ok(ended));
  EXPECT_EQ(*ended, 1);
  auto notices = store_->logout_notices_of("rp");
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].sid, "sid-2");
  // The reset tells the rest, also of a grant whose session is gone.
  ASSERT_TRUE(Ok(store_->reset_two_factor(user_.id, kNow + 2, {})));
  notices = store_->logout_notices_of("rp");
  ASSERT_EQ(notices->size(), 3u);
  EXPECT_EQ((*notices)[1].sid, "sid-1");
  EXPECT_EQ((*notices)[2].sid, "sid-gone");
  EXPECT_EQ((*notices)[2].created_at, kNow + 2);
}

TEST_P(BackchannelStoreTest, NoticesAreDueUntilDeliveredOrGivenUp) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g2", "sid-2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow)));
  ASSERT_TRUE(Ok(store_->end_session("sid-2", kNow + 1)));
  auto due = store_->due_logout_notices(kNow, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u);
  const int64_t first = (*due)[0].id;
  ASSERT_TRUE(Ok(store_->mark_logout_failed(first, kNow + 60, "503 from the client")));
  due = store_->due_logout_notices(kNow + 1, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].sid, "sid-2");
  ASSERT_TRUE(Ok(store_->mark_logout_delivered((*due)[0].id, kNow + 2)));
  due = store_->due_logout_notices(kNow + 60, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_error, "503 from the client");
  ASSERT_TRUE(Ok(store_->mark_logout_delivered(first, kNow + 61)));
  ASSERT_TRUE(Ok(store_->mark_logout_delivered(first, kNow + 99)));
  EXPECT_TRUE(Fails(store_->mark_logout_failed(first, kNow + 99, "late"), ErrorCode::kConflict));
  EXPECT_TRUE(store_->due_logout_notices(kLogoutNever - 1, 10)->empty());
  EXPECT_EQ(store_->logout_notices_of("rp")->at(0).delivered_at, kNow + 61);
  EXPECT_TRUE(Fails(store_->mark_logout_delivered(424242, kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->mark_logout_failed(424242, kNow, "x"), ErrorCode::kNotFound));
  // Delivered notices are purged after the outbox's retention, like sent mail.
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + 61 + kSentMailRetention)));
  EXPECT_TRUE(store_->logout_notices_of("rp")->empty());
}

// The sids of `notices`, in their order.
std::vector<std::string> sids(const std::vector<LogoutNotice>& notices) {
  std::vector<std::string> out;
  for (const auto& n : notices) out.push_back(n.sid);
  return out;
}

TEST_P(BackchannelStoreTest, AClaimTakesDueNoticesUntilItsLeaseRunsOut) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g2", "sid-2"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g3", "sid-3"), code("c3", "g3"))));
  ASSERT_TRUE(Ok(store_->end_session("sid-1", kNow)));
  ASSERT_TRUE(Ok(store_->end_session("sid-2", kNow)));
  ASSERT_TRUE(Ok(store_->end_session("sid-3", kNow + 1)));
  EXPECT_TRUE(Fails(store_->claim_logout_notices(kNow, 10, 0), ErrorCode::kInvalidArgument));
  auto claimed = store_->claim_logout_notices(kNow, 10, 300);
  ASSERT_TRUE(Ok(claimed));
  ASSERT_EQ(sids(*claimed), (std::vector<std::string>{"sid-1", "sid-2"}));
  EXPECT_EQ((*claimed)[0].next_attempt_at, kNow + 300);
  EXPECT_EQ(store_->logout_notices_of("rp")->at(0).next_attempt_at, kNow + 300);
  // Held: another worker (another connection, another node) gets only what is left.
  auto other = connect();
  ASSERT_NE(other, nullptr);
  auto later = other->store().claim_logout_notices(kNow + 1, 10, 300);
  ASSERT_TRUE(Ok(later));
  EXPECT_EQ(sids(*later), (std::vector<std::string>{"sid-3"}));
  ASSERT_TRUE(Ok(other->store().mark_logout_delivered((*later)[0].id, kNow + 2)));
  EXPECT_TRUE(other->store().claim_logout_notices(kNow + 299, 10, 300)->empty());
  // The first worker delivered one and died holding the other: that one is due again after
  // the lease, the delivered one never.
  ASSERT_TRUE(Ok(store_->mark_logout_delivered((*claimed)[0].id, kNow + 1)));
  auto again = other->store().claim_logout_notices(kNow + 300, 10, 300);
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(sids(*again), (std::vector<std::string>{"sid-2"}));
  // mark_logout_failed ends a claim with the retry time it sets.
  ASSERT_TRUE(Ok(other->store().mark_logout_failed((*again)[0].id, kNow + 310, "503")));
  EXPECT_EQ(sids(*store_->claim_logout_notices(kNow + 310, 10, 300)),
            (std::vector<std::string>{"sid-2"}));
}

TEST_P(BackchannelStoreTest, ConcurrentClaimsThroughSeparateConnectionsNeverShareANotice) {
  constexpr int kNotices = 60;
  for (int i = 0; i < kNotices; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g" + n, "sid-" + n),
                                                  code("c" + n, "g" + n))));
    ASSERT_TRUE(Ok(store_->end_session("sid-" + n, kNow)));
  }
  const std::vector<int64_t> all = claim_from_connections(
      4, [](StoreConnection& c) { return c.store().claim_logout_notices(kNow, 3, 300); });
  EXPECT_EQ(all.size(), static_cast<size_t>(kNotices));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a notice claimed twice";
}

TEST_P(BackchannelStoreTest, ClientPolicyIsStoredAndUpdated) {
  auto rp = store_->client_by_id("rp");
  ASSERT_TRUE(Ok(rp));
  EXPECT_EQ(rp->backchannel_logout_uri, "https://rp.example/bc");
  EXPECT_FALSE(rp->require_two_factor);
  Client changed = *rp;
  changed.require_two_factor = true;
  changed.backchannel_logout_uri = "";
  changed.backchannel_logout_session_required = true;
  ASSERT_TRUE(Ok(store_->update_client(changed)));
  rp = store_->client_by_id("rp");
  EXPECT_TRUE(rp->require_two_factor);
  EXPECT_EQ(rp->backchannel_logout_uri, "");
  EXPECT_TRUE(rp->backchannel_logout_session_required);
  EXPECT_EQ(rp->redirect_uris, std::vector<std::string>{"https://rp.example/cb"});
  changed.client_id = "nobody";
  EXPECT_TRUE(Fails(store_->update_client(changed), ErrorCode::kNotFound));
}

TEST_P(StoreTest, UpdateClientStoresTheGrantPolicyAndHowPeopleSeeIt) {
  Client changed = *store_->client_by_id("app");
  EXPECT_EQ(changed.display_name, "");
  changed.grants = {.refresh_tokens = RefreshTokens::kNever,
                    .refresh_idle_ttl = 600,
                    .refresh_absolute_ttl = 86400,
                    .first_party = false};
  changed.display_name = "The App";
  changed.logo_uri = "https://app.example/logo.png";
  changed.home_uri = "https://app.example/";
  changed.redirect_uris = {"https://elsewhere.example/cb"};  // not changed by update_client
  ASSERT_TRUE(Ok(store_->update_client(changed)));
  auto stored = store_->client_by_id("app");
  ASSERT_TRUE(Ok(stored));
  EXPECT_EQ(stored->grants.refresh_tokens, RefreshTokens::kNever);
  EXPECT_EQ(stored->grants.refresh_idle_ttl, 600);
  EXPECT_EQ(stored->grants.refresh_absolute_ttl, 86400);
  EXPECT_FALSE(stored->grants.first_party);
  EXPECT_EQ(stored->display_name, "The App");
  EXPECT_EQ(stored->logo_uri, "https://app.example/logo.png");
  EXPECT_EQ(stored->home_uri, "https://app.example/");
  EXPECT_EQ(stored->redirect_uris, std::vector<std::string>{"https://app.example/cb"});
  EXPECT_EQ(store_->clients()->at(0).display_name, "The App");
}

TEST_P(StoreTest, AnAccountRequiresTwoFactorForAClientOfItsOwn) {
  auto other = store_->create_account({.name = "globex", .issuer_label = "G", .created_at = kNow});
  ASSERT_TRUE(Ok(other));
  EXPECT_TRUE(store_->clients_requiring_two_factor(account_.id)->empty());
  ASSERT_TRUE(Ok(store_->set_client_requires_two_factor(account_.id, "app", true)));
  ASSERT_TRUE(Ok(store_->set_client_requires_two_factor(account_.id, "app", true)));
  EXPECT_EQ(*store_->clients_requiring_two_factor(account_.id), std::vector<std::string>{"app"});
  EXPECT_TRUE(store_->clients_requiring_two_factor(other->id)->empty());
  EXPECT_FALSE(store_->client_by_id("app")->require_two_factor);  // the client's own: unchanged
  ASSERT_TRUE(Ok(store_->set_client_requires_two_factor(account_.id, "app", false)));
  ASSERT_TRUE(Ok(store_->set_client_requires_two_factor(account_.id, "app", false)));
  EXPECT_TRUE(store_->clients_requiring_two_factor(account_.id)->empty());
  EXPECT_TRUE(Fails(store_->set_client_requires_two_factor(account_.id, "nope", true),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->set_client_requires_two_factor(999999, "app", true),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(store_->clients_requiring_two_factor(999999)->empty());
}

TEST_P(BackchannelStoreTest, RemovingAMemberQueuesLogoutsAndDeletesEverythingOfTheirs) {
  ASSERT_TRUE(Ok(store_->create_session(session("h1", "sid-1", user_.id))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(rp_grant("g1", "sid-1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2", "sid-1"), code("c2", "g2"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("rt1", "g1", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->create_api_token({.account_id = account_.id,
                                           .user_id = user_.id,
                                           .name = "laptop",
                                           .token_hash = "api-1",
                                           .created_at = kNow})));
  auto admin = store_->create_user({.account_id = account_.id,
                                    .email = "boss@example.com",
                                    .password_hash = "$argon2id$boss",
                                    .role = kRoleAdmin,
                                    .created_at = kNow});
  ASSERT_TRUE(Ok(admin));
  auto removed = store_->remove_member(user_.id, kNow + 9, {});
  ASSERT_TRUE(Ok(removed));
  EXPECT_EQ(removed->sessions_ended, 1);
  EXPECT_EQ(removed->grants_revoked, 2);
  EXPECT_EQ(removed->logouts_queued, 1);
  EXPECT_TRUE(Fails(store_->user_by_id(user_.id), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->session_by_sid("sid-1", kNow), ErrorCode::kNotFound));
  EXPECT_FALSE(store_->active_token("rt1", TokenKind::kRefresh, kNow));
  EXPECT_TRUE(Fails(store_->api_token_by_hash("api-1"), ErrorCode::kNotFound));
  // The notice outlives the user, so the application still hears of it.
  auto notices = store_->logout_notices_of("rp");
  ASSERT_TRUE(Ok(notices));
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].user_id, user_.id);
  EXPECT_EQ((*notices)[0].sid, "sid-1");
  EXPECT_TRUE(Fails(store_->remove_member(user_.id, kNow, {}), ErrorCode::kNotFound));
  // The last admin stays.
  EXPECT_TRUE(Fails(store_->remove_member(admin->id, kNow, {}), ErrorCode::kConflict));
  EXPECT_TRUE(Ok(store_->user_by_id(admin->id)));
}

TEST_P(StoreTest, PurgeDeletesOnlyExpiredRows) {
  ASSERT_TRUE(Ok(store_->create_flow(flow("f-old", kNow))));
  ASSERT_TRUE(Ok(store_->create_flow(flow("f-new", kNow + 1))));
  ASSERT_TRUE(Ok(store_->create_session(session("h-old", "sid-old", user_.id, kNow))));
  ASSERT_TRUE(Ok(store_->create_session(session("h-new", "sid-new", user_.id, kNow + 1))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c-old", "g1", kNow))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2"), code("c-new", "g2", kNow + 1))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t-old", "g1", TokenKind::kAccess, kNow - 5)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("t-new", "g1", TokenKind::kRefresh, kNow + 1)})));

  auto purged = store_->purge_expired(kNow);
  ASSERT_TRUE(Ok(purged));
  EXPECT_EQ(*purged, 4);
  EXPECT_TRUE(Fails(store_->flow_by_id("f-old", kNow - 1), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->flow_by_id("f-new", kNow)));
  EXPECT_TRUE(Fails(store_->session_by_sid("sid-old", kNow - 1), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->session_by_sid("sid-new", kNow)));
  EXPECT_TRUE(Fails(store_->redeem_code("c-old", kNow - 1), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->redeem_code("c-new", kNow)));
  EXPECT_TRUE(
      Fails(store_->active_token("t-old", TokenKind::kAccess, kNow - 6), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->active_token("t-new", TokenKind::kRefresh, kNow)));
  // Grants stay: they carry revocation state.
  EXPECT_TRUE(Ok(store_->grant_by_id("g1")));

  auto again = store_->purge_expired(kNow);
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(*again, 0);
}

// ---- Grant policies, token revocation and consent (issue 15)

TEST_P(StoreTest, AClientsGrantPolicyRoundTripsAndDefaultsToOfflineAccessFirstParty) {
  Client partner_client;
  partner_client.client_id = "partner";
  partner_client.is_public = true;
  partner_client.redirect_uris = {"https://partner.example/cb"};
  partner_client.created_at = kNow;
  partner_client.grants = {RefreshTokens::kAlways, 3600, 86400, /*first_party=*/false};
  ASSERT_TRUE(Ok(store_->create_client(partner_client)));
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

TEST_P(StoreTest, RevokingARefreshTokenRevokesItsGrantAndAnAccessTokenOnlyItself) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("a1", "g1", TokenKind::kAccess)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("a2", "g1", TokenKind::kAccess)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->revoke_token("a1", "app")));
  EXPECT_TRUE(Fails(store_->active_token("a1", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Ok(store_->active_token("a2", TokenKind::kAccess, kNow)));
  EXPECT_TRUE(Ok(store_->active_token("r1", TokenKind::kRefresh, kNow)));
  ASSERT_TRUE(Ok(store_->revoke_token("r1", "app")));
  EXPECT_TRUE(store_->grant_by_id("g1")->revoked);
  EXPECT_TRUE(Fails(store_->active_token("a2", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  // Again: already revoked is a success.
  EXPECT_TRUE(Ok(store_->revoke_token("r1", "app")));
}

TEST_P(StoreTest, RevokingAnotherClientsOrAnUnknownTokenChangesNothing) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r1", "g1", TokenKind::kRefresh)})));
  EXPECT_TRUE(Fails(store_->revoke_token("r1", "other"), ErrorCode::kDenied));
  EXPECT_TRUE(Ok(store_->active_token("r1", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Fails(store_->revoke_token("nope", "app"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, AConsentIsStoredReplacedAndListedByClient) {
  add_other_client();
  EXPECT_TRUE(Fails(store_->consent(user_.id, "app"), ErrorCode::kNotFound));
  ASSERT_TRUE(Ok(store_->put_consent({user_.id, "other", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->put_consent({user_.id, "app", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->put_consent({user_.id, "app", "openid email", kNow + 5})));
  auto consent = store_->consent(user_.id, "app");
  ASSERT_TRUE(Ok(consent));
  EXPECT_EQ(consent->scope, "openid email");
  EXPECT_EQ(consent->granted_at, kNow + 5);
  auto all = store_->consents_of_user(user_.id);
  ASSERT_TRUE(Ok(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].client_id, "app");
  EXPECT_EQ((*all)[1].client_id, "other");
  EXPECT_TRUE(Fails(store_->put_consent({user_.id, "nobody", "openid", kNow}),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->put_consent({user_.id + 100, "app", "openid", kNow}),
                    ErrorCode::kNotFound));
}

TEST_P(StoreTest, RevokingAConsentRevokesTheUsersGrantsToThatClientOnly) {
  add_other_client();
  Grant other = grant("g-other");
  other.client_id = "other";
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g-app"), code("c-app", "g-app"))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(other, code("c-other", "g-other"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r-app", "g-app", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("r-other", "g-other", TokenKind::kRefresh)})));
  ASSERT_TRUE(Ok(store_->put_consent({user_.id, "app", "openid", kNow})));
  ASSERT_TRUE(Ok(store_->revoke_consent(user_.id, "app")));
  EXPECT_TRUE(Fails(store_->consent(user_.id, "app"), ErrorCode::kNotFound));
  EXPECT_TRUE(store_->grant_by_id("g-app")->revoked);
  EXPECT_TRUE(Fails(store_->active_token("r-app", TokenKind::kRefresh, kNow), ErrorCode::kDenied));
  EXPECT_FALSE(store_->grant_by_id("g-other")->revoked);
  EXPECT_TRUE(Ok(store_->active_token("r-other", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Fails(store_->revoke_consent(user_.id, "app"), ErrorCode::kNotFound));
}

TEST_P(StoreTest, AConsentRequestIsTakenOnceAndExpires) {
  ASSERT_TRUE(Ok(store_->create_consent_request(consent_request("q1"))));
  EXPECT_TRUE(Fails(store_->create_consent_request(consent_request("q1")),
                    ErrorCode::kAlreadyExists));
  auto read = store_->consent_request("q1", kNow);
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->sid, "sid-1");
  EXPECT_EQ(read->user_id, user_.id);
  EXPECT_EQ(read->request_json, R"({"client_id":"app"})");
  EXPECT_TRUE(Ok(store_->take_consent_request("q1", kNow)));
  EXPECT_TRUE(Fails(store_->take_consent_request("q1", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->consent_request("q1", kNow), ErrorCode::kNotFound));

  ASSERT_TRUE(Ok(store_->create_consent_request(consent_request("q2", kNow + 10))));
  EXPECT_TRUE(Fails(store_->consent_request("q2", kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->take_consent_request("q2", kNow + 10), ErrorCode::kExpired));
  EXPECT_TRUE(Fails(store_->take_consent_request("q2", kNow), ErrorCode::kNotFound));
  ConsentRequest stranger = consent_request("q3");
  stranger.user_id = user_.id + 100;
  EXPECT_TRUE(Fails(store_->create_consent_request(stranger), ErrorCode::kNotFound));
}

TEST_P(StoreTest, PurgeDeletesExpiredConsentRequests) {
  ASSERT_TRUE(Ok(store_->create_consent_request(consent_request("old", kNow))));
  ASSERT_TRUE(Ok(store_->create_consent_request(consent_request("new", kNow + 1))));
  auto purged = store_->purge_expired(kNow);
  ASSERT_TRUE(Ok(purged));
  EXPECT_EQ(*purged, 1);
  EXPECT_TRUE(Fails(store_->consent_request("old", kNow - 1), ErrorCode::kNotFound));
  EXPECT_TRUE(Ok(store_->consent_request("new", kNow)));
}

// ---- Concurrency

// Runs redeem of one code from 8 threads, each through the store redeem_with picks.
template <class Pick>
void expect_exactly_one_redeem(Pick redeem_with) {
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::atomic<int> replayed{0};
  std::atomic<int> other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      auto result = redeem_with(i).redeem_code("c1", kNow);
      if (result.ok()) {
        ++ok;
      } else if (result.error().code == ErrorCode::kReplayed) {
        ++replayed;
      } else {
        ++other;
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(replayed.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
}

TEST_P(StoreTest, OneConnectionServesManyThreadsAtOnce) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j) {
        const std::string name = "t" + std::to_string(i) + "-" + std::to_string(j);
        if (!store_->create_account({.name = name, .issuer_label = name}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(Ok(store_->account_by_name("t" + std::to_string(i) + "-19")));
  }
}

TEST_P(StoreTest, ConcurrentRedeemThroughOneStoreHasExactlyOneWinner) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  expect_exactly_one_redeem([&](int) -> Store& { return *store_; });
}

TEST_P(StoreTest, ConcurrentRedeemThroughSeparateConnectionsHasExactlyOneWinner) {
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1"), code("c1", "g1"))));
  std::vector<std::unique_ptr<StoreConnection>> stores;
  for (int i = 0; i < 8; ++i) {
    stores.push_back(connect());
    ASSERT_NE(stores.back(), nullptr);
  }
  expect_exactly_one_redeem([&](int i) -> Store& { return stores[i]->store(); });
  auto g = store_->grant_by_id("g1");
  ASSERT_TRUE(Ok(g));
  EXPECT_TRUE(g->revoked);
}

// ---- AdminStore

TEST_P(StoreTest, ResetRevokesEveryGrantOfTheUserEvenWithoutItsSession) {
  auto bob = store_->create_user({.account_id = account_.id,
                                  .email = "bob@example.com",
                                  .password_hash = "$argon2id$bob",
                                  .role = kRoleMember,
                                  .created_at = kNow});
  ASSERT_TRUE(Ok(bob));
  // g1's session is gone (expired and purged); g2's is alive; bob's grant is his.
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g1", "sid-purged"), code("c1", "g1"))));
  ASSERT_TRUE(Ok(store_->create_session(session("h2", "sid-2", user_.id))));
  ASSERT_TRUE(Ok(store_->create_grant_with_code(grant("g2", "sid-2"), code("c2", "g2"))));
  Grant bobs = grant("g3", "sid-3");
  bobs.user_id = bob->id;
  ASSERT_TRUE(Ok(store_->create_grant_with_code(bobs, code("c3", "g3"))));
  ASSERT_TRUE(Ok(store_->add_tokens({token("rt1", "g1", TokenKind::kRefresh, kNow + 30 * 86400)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("at2", "g2", TokenKind::kAccess)})));
  ASSERT_TRUE(Ok(store_->add_tokens({token("rt3", "g3", TokenKind::kRefresh)})));
  auto mine = store_->create_api_token({.account_id = account_.id,
                                        .user_id = user_.id,
                                        .name = "laptop",
                                        .token_hash = "api-1",
                                        .created_at = kNow});
  ASSERT_TRUE(Ok(mine));
  ASSERT_TRUE(Ok(store_->create_api_token({.account_id = account_.id,
                                           .user_id = bob->id,
                                           .name = "bob's",
                                           .token_hash = "api-2",
                                           .created_at = kNow})));

  auto reset = store_->reset_two_factor(user_.id, kNow + 5, {});
  ASSERT_TRUE(Ok(reset));
  EXPECT_EQ(reset->grants_revoked, 2);
  EXPECT_EQ(reset->sessions_ended, 1);
  ASSERT_EQ(reset->api_tokens.size(), 1u);
  EXPECT_EQ(reset->api_tokens[0].name, "laptop");
  EXPECT_EQ(reset->api_tokens[0].revoked_at, kNow + 5);
  EXPECT_TRUE(Fails(store_->active_token("rt1", TokenKind::kRefresh, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->active_token("at2", TokenKind::kAccess, kNow), ErrorCode::kDenied));
  EXPECT_TRUE(Fails(store_->session_by_id_hash("h2", kNow), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->api_token_by_hash("api-1"), ErrorCode::kNotFound));
  // Another user's grants and tokens are untouched.
  EXPECT_TRUE(Ok(store_->active_token("rt3", TokenKind::kRefresh, kNow)));
  EXPECT_TRUE(Ok(store_->api_token_by_hash("api-2")));
  // A repeat finds nothing left to end; an unknown user changes nothing.
  auto again = store_->reset_two_factor(user_.id, kNow + 6, {});
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(again->grants_revoked, 0);
  EXPECT_TRUE(again->api_tokens.empty());
  EXPECT_TRUE(Fails(store_->reset_two_factor(999999, kNow, {}), ErrorCode::kNotFound));
}

TEST_P(StoreTest, ApiTokenExpiryRoundTrips) {
  auto created = store_->create_api_token({.account_id = account_.id,
                                           .user_id = user_.id,
                                           .name = "ci",
                                           .token_hash = "api-1",
                                           .created_at = kNow,
                                           .expires_at = kNow + 60});
  ASSERT_TRUE(Ok(created));
  auto found = store_->api_token_by_hash("api-1");
  ASSERT_TRUE(Ok(found));
  EXPECT_EQ(found->expires_at, kNow + 60);
  EXPECT_FALSE(found->expired(kNow + 59));
  EXPECT_TRUE(found->expired(kNow + 60));
  EXPECT_EQ(store_->api_tokens(account_.id)->front().expires_at, kNow + 60);
}

TEST_P(StoreTest, ListsComeInPagesWithTheirTotal) {
  for (const char* email : {"c@example.com", "b@example.com", "d@example.com"})
    ASSERT_TRUE(Ok(store_->create_user({.account_id = account_.id,
                                        .email = email,
                                        .password_hash = "x",
                                        .role = kRoleMember,
                                        .created_at = kNow})));
  auto first = store_->members_page(account_.id, {.offset = 0, .limit = 2});
  ASSERT_TRUE(Ok(first));
  EXPECT_EQ(first->total, 4);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].user.email, "alice@example.com");
  EXPECT_EQ(first->items[1].user.email, "b@example.com");
  auto last = store_->members_page(account_.id, {.offset = 2, .limit = 2});
  ASSERT_EQ(last->items.size(), 2u);
  EXPECT_EQ(last->items[1].user.email, "d@example.com");
  EXPECT_TRUE(store_->members_page(account_.id, {.offset = 4, .limit = 2})->items.empty());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(Ok(store_->create_api_token({.account_id = account_.id,
                                             .user_id = user_.id,
                                             .name = "t" + std::to_string(i),
                                             .token_hash = "h" + std::to_string(i),
                                             .created_at = kNow})));
  auto tokens = store_->api_tokens_page(account_.id, {.offset = 1, .limit = 5});
  ASSERT_TRUE(Ok(tokens));
  EXPECT_EQ(tokens->total, 3);
  ASSERT_EQ(tokens->items.size(), 2u);
  EXPECT_EQ(tokens->items[0].name, "t1");
}

STORE_CONFORMANCE_SUITE(StoreTest);
STORE_CONFORMANCE_SUITE(BackchannelStoreTest);

}  // namespace
}  // namespace keystep::storetest
