// MfaStore conformance (idp/store/mfa_store.h), on every backend: credentials with
// compare-and-set, the user-level 2FA flag, attempt counters and the audit log.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
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
constexpr const char* kTotp = "totp";
constexpr const char* kRecovery = "recovery_codes";
constexpr const char* kYubikey = "yubikey_hotp";
// A cap no test reaches unless it means to.
constexpr int kCap = 5;

MfaCredential credential(int64_t user_id, const std::string& provider_id,
                         int64_t created_at = kNow) {
  return MfaCredential{.user_id = user_id,
                       .provider_id = provider_id,
                       .secret = "sealed-" + provider_id,
                       .params = {{"algorithm", "SHA1"}, {"digits", 6}},
                       .state = nlohmann::json::object(),
                       .counter = -1,
                       .created_at = created_at};
}

MfaCredential recovery_codes(int64_t user_id, const std::string& hashes) {
  MfaCredential c = credential(user_id, kRecovery);
  c.params = nlohmann::json::object();
  c.state = {{"hashes", {hashes}}};
  c.confirmed = true;
  return c;
}

std::vector<int64_t> ids(const std::vector<MfaCredential>& credentials) {
  std::vector<int64_t> out;
  for (const auto& c : credentials) out.push_back(c.id);
  return out;
}

AuditEvent event(int64_t account_id, const std::string& name, int64_t user_id = 0) {
  return AuditEvent{.at = kNow,
                    .account_id = account_id,
                    .user_id = user_id,
                    .event = name,
                    .address = "127.0.0.1",
                    .detail = "totp",
                    .request_id = ""};
}

std::vector<std::string> names(const std::vector<AuditEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.event);
  return out;
}

// One account with two member users, alice and bob.
class MfaStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreConformanceTest::SetUp());
    auto account =
        store_->create_account({.name = "acme", .issuer_label = "Acme", .created_at = kNow});
    ASSERT_TRUE(Ok(account));
    account_ = *account;
    for (auto [email, user] :
         {std::pair{"alice@example.com", &alice_}, std::pair{"bob@example.com", &bob_}}) {
      auto created = store_->create_user({.account_id = account_.id,
                                          .email = email,
                                          .password_hash = "h",
                                          .role = kRoleMember,
                                          .created_at = kNow});
      ASSERT_TRUE(Ok(created));
      *user = *created;
    }
  }

  std::vector<MfaCredential> credentials_of(int64_t user_id) {
    auto credentials = store_->credentials_of_user(user_id);
    EXPECT_TRUE(Ok(credentials));
    return credentials.ok() ? *credentials : std::vector<MfaCredential>{};
  }

  bool two_factor_enabled(int64_t user_id) {
    auto user = store_->user_by_id(user_id);
    EXPECT_TRUE(Ok(user));
    return user.ok() && user->two_factor_enabled;
  }

  // A pending TOTP credential of alice as stored.
  MfaCredential pending_totp(int64_t created_at = kNow) {
    auto stored = store_->put_pending_credential(credential(alice_.id, kTotp, created_at));
    EXPECT_TRUE(Ok(stored));
    return stored.ok() ? *stored : MfaCredential{};
  }

  // enable_two_factor with the user's own setting and a cap no test reaches by default.
  Status enable(const MfaCredential& confirmed, int64_t expected_version,
                const std::optional<MfaCredential>& recovery, bool user_setting_on = true,
                int max_of_provider = kCap) {
    return store_->enable_two_factor(confirmed, expected_version, recovery, user_setting_on,
                                     max_of_provider);
  }

  // A confirmed TOTP credential of alice as stored (enabled without recovery codes).
  MfaCredential confirmed_totp(int64_t created_at = kNow) {
    MfaCredential pending = pending_totp(created_at);
    EXPECT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version, std::nullopt)));
    return stored(pending.id);
  }

  // The stored credential `id` of alice.
  MfaCredential stored(int64_t id) {
    for (const auto& c : credentials_of(alice_.id)) {
      if (c.id == id) return c;
    }
    ADD_FAILURE() << "no credential " << id;
    return MfaCredential{};
  }

  // Confirms a pending credential the way the enrollment step does: counter set by the
  // first code, state trimmed.
  static MfaCredential confirmed_from(MfaCredential pending, int64_t counter) {
    pending.confirmed = true;
    pending.counter = counter;
    pending.state = nlohmann::json::object();
    pending.last_used_at = kNow;
    return pending;
  }

  Account account_;
  User alice_;
  User bob_;
};

// ---- Credentials

TEST_P(MfaStoreTest, PendingCredentialRoundTripsWithIdVersionAndParsedJson) {
  MfaCredential pending = credential(alice_.id, kTotp);
  pending.state = {{"otpauth_uri", "otpauth://totp/Acme:alice"}};
  pending.counter = 7;
  pending.last_used_at = kNow - 1;
  auto stored = store_->put_pending_credential(pending);
  ASSERT_TRUE(Ok(stored));
  EXPECT_GT(stored->id, 0);
  EXPECT_EQ(stored->version, 0);

  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);
  const MfaCredential& c = loaded[0];
  EXPECT_EQ(c.id, stored->id);
  EXPECT_EQ(c.user_id, alice_.id);
  EXPECT_EQ(c.provider_id, kTotp);
  EXPECT_EQ(c.secret, "sealed-totp");
  EXPECT_EQ(c.params, pending.params);
  EXPECT_EQ(c.state, pending.state);
  EXPECT_EQ(c.counter, 7);
  EXPECT_EQ(c.version, 0);
  EXPECT_FALSE(c.confirmed);
  EXPECT_EQ(c.created_at, kNow);
  EXPECT_EQ(c.last_used_at, kNow - 1);
  EXPECT_TRUE(credentials_of(bob_.id).empty());
}

TEST_P(MfaStoreTest, SecretWithNulBytesRoundTrips) {
  MfaCredential pending = credential(alice_.id, kTotp);
  pending.secret = std::string("\x00\x01\xff\x00sealed\x00", 11);
  ASSERT_TRUE(Ok(store_->put_pending_credential(pending)));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].secret.size(), 11u);
  EXPECT_EQ(loaded[0].secret, pending.secret);
}

TEST_P(MfaStoreTest, CredentialsOfUserAreOldestFirst) {
  // Created out of insertion order: created_at decides, the id breaks ties.
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, "fido2", kNow + 20))));
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, kTotp, kNow + 10))));
  ASSERT_TRUE(Ok(store_->replace_credentials(credential(alice_.id, kRecovery, kNow + 10))));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded[0].provider_id, kTotp);
  EXPECT_EQ(loaded[1].provider_id, kRecovery);
  EXPECT_EQ(loaded[2].provider_id, "fido2");
}

TEST_P(MfaStoreTest, NewPendingCredentialReplacesOnlyUnconfirmedOfTheSameProvider) {
  MfaCredential first = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(first, 1), first.version,
                                           recovery_codes(alice_.id, "r1"))));
  auto other_provider = store_->put_pending_credential(credential(alice_.id, "fido2"));
  ASSERT_TRUE(Ok(other_provider));
  auto bobs = store_->put_pending_credential(credential(bob_.id, kTotp));
  ASSERT_TRUE(Ok(bobs));

  MfaCredential second = pending_totp();
  MfaCredential third = pending_totp();
  // Never the id of the credential it replaced: compare-and-set goes by (id, version).
  EXPECT_GT(third.id, second.id);

  std::set<int64_t> alices;
  for (int64_t id : ids(credentials_of(alice_.id))) alices.insert(id);
  // The confirmed TOTP credential, the recovery codes, the other provider's pending one and
  // only the latest pending TOTP credential.
  EXPECT_EQ(alices.size(), 4u);
  EXPECT_TRUE(alices.count(first.id));
  EXPECT_TRUE(alices.count(other_provider->id));
  EXPECT_TRUE(alices.count(third.id));
  EXPECT_FALSE(alices.count(second.id));
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
}

TEST_P(MfaStoreTest, PendingCredentialMustBeUnconfirmedAndOfAKnownUser) {
  MfaCredential confirmed = credential(alice_.id, kTotp);
  confirmed.confirmed = true;
  EXPECT_TRUE(Fails(store_->put_pending_credential(confirmed), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->put_pending_credential(credential(bob_.id + 100, kTotp)),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
}

TEST_P(MfaStoreTest, CredentialJsonThatCannotBeSerialisedIsInvalidArgument) {
  MfaCredential bad = credential(alice_.id, kTotp);
  bad.state = {{"label", std::string("\xff\xfe", 2)}};  // not UTF-8
  EXPECT_TRUE(Fails(store_->put_pending_credential(bad), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->replace_credentials(bad), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
}

TEST_P(MfaStoreTest, CredentialUpdateIsCompareAndSetOnVersion) {
  MfaCredential stored = pending_totp();
  MfaCredential used = stored;
  used.secret = "must-not-be-written";
  used.counter = 56'666'666;
  used.state = {{"last_step", 56'666'666}};
  used.params["digits"] = 8;
  used.last_used_at = kNow + 30;
  ASSERT_TRUE(Ok(store_->update_credential(used, stored.version)));

  auto after_first = credentials_of(alice_.id);
  ASSERT_EQ(after_first.size(), 1u);
  EXPECT_EQ(after_first[0].version, 1);
  EXPECT_EQ(after_first[0].counter, 56'666'666);
  EXPECT_EQ(after_first[0].state, used.state);
  EXPECT_EQ(after_first[0].params["digits"], 8);
  EXPECT_EQ(after_first[0].last_used_at, kNow + 30);
  EXPECT_EQ(after_first[0].secret, "sealed-totp");
  EXPECT_EQ(after_first[0].created_at, kNow);

  // A second request that read version 0 too must lose, and write nothing.
  MfaCredential racer = stored;
  racer.counter = 99;
  racer.state = {{"last_step", 99}};
  racer.confirmed = true;
  racer.last_used_at = kNow + 31;
  EXPECT_TRUE(Fails(store_->update_credential(racer, stored.version), ErrorCode::kConflict));
  auto after_race = credentials_of(alice_.id);
  ASSERT_EQ(after_race.size(), 1u);
  EXPECT_EQ(after_race[0].version, 1);
  EXPECT_EQ(after_race[0].counter, 56'666'666);
  EXPECT_EQ(after_race[0].state, used.state);
  EXPECT_FALSE(after_race[0].confirmed);
  EXPECT_EQ(after_race[0].last_used_at, kNow + 30);

  EXPECT_TRUE(Ok(store_->update_credential(racer, 1)));
  EXPECT_EQ(credentials_of(alice_.id)[0].version, 2);
}

TEST_P(MfaStoreTest, UpdateOfAbsentOrForeignCredentialIsNotFound) {
  MfaCredential stored = pending_totp();
  MfaCredential gone = stored;
  gone.id = stored.id + 100;
  EXPECT_TRUE(Fails(store_->update_credential(gone, 0), ErrorCode::kNotFound));
  MfaCredential foreign = stored;
  foreign.user_id = bob_.id;
  EXPECT_TRUE(Fails(store_->update_credential(foreign, 0), ErrorCode::kNotFound));
  EXPECT_EQ(credentials_of(alice_.id)[0].version, 0);
}

TEST_P(MfaStoreTest, StaleUpdateOfAReplacedPendingCredentialDoesNotLandOnItsReplacement) {
  MfaCredential old_pending = pending_totp();
  MfaCredential new_pending = pending_totp();  // enrollment restarted in another tab
  MfaCredential stale = confirmed_from(old_pending, 3);
  EXPECT_TRUE(Fails(store_->update_credential(stale, old_pending.version), ErrorCode::kNotFound));
  EXPECT_TRUE(
      Fails(enable(stale, old_pending.version, recovery_codes(alice_.id, "r1")),
            ErrorCode::kNotFound));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].id, new_pending.id);
  EXPECT_FALSE(loaded[0].confirmed);
  EXPECT_EQ(loaded[0].version, 0);
  EXPECT_FALSE(two_factor_enabled(alice_.id));
}

TEST_P(MfaStoreTest, ConcurrentUpdatesWithTheSameVersionHaveExactlyOneWinner) {
  MfaCredential stored = pending_totp();
  auto second = connect();
  ASSERT_NE(second, nullptr);
  Store* connections[2] = {store_, &second->store()};
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> ready{0};
    std::atomic<int> ok{0};
    std::atomic<int> conflict{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        MfaCredential used = stored;
        used.counter = round * 2 + i;
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        Status s = connections[i]->update_credential(used, round);
        if (s.ok()) {
          ++ok;
        } else if (s.error().code == ErrorCode::kConflict) {
          ++conflict;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(ok.load(), 1) << "round " << round;
    ASSERT_EQ(conflict.load(), 1) << "round " << round;
    ASSERT_EQ(other.load(), 0) << "round " << round;
  }
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].version, kRounds);
}

TEST_P(MfaStoreTest, CorruptCredentialJsonIsInternalNotACrash) {
  MfaCredential stored = pending_totp();
  ASSERT_TRUE(Ok(backend_->corrupt_credential_state(stored.id)));
  EXPECT_TRUE(Fails(store_->credentials_of_user(alice_.id), ErrorCode::kInternal));
  EXPECT_TRUE(Ok(store_->credentials_of_user(bob_.id)));
}

// ---- Enabling and disabling two-factor

TEST_P(MfaStoreTest, UserFlagIsOffByDefaultAndFollowsEnableAndDisable) {
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  MfaCredential pending = pending_totp();
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                                           recovery_codes(alice_.id, "r1"))));
  EXPECT_TRUE(two_factor_enabled(alice_.id));
  EXPECT_FALSE(two_factor_enabled(bob_.id));
  ASSERT_TRUE(Ok(store_->disable_two_factor(alice_.id)));
  EXPECT_FALSE(two_factor_enabled(alice_.id));
}

TEST_P(MfaStoreTest, EnableConfirmsTheCredentialAndAddsRecoveryCodes) {
  MfaCredential pending = pending_totp();
  MfaCredential confirmed = confirmed_from(pending, 42);
  confirmed.confirmed = false;  // the store confirms whatever the flag says
  ASSERT_TRUE(
      Ok(enable(confirmed, pending.version, recovery_codes(alice_.id, "r1"))));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].id, pending.id);
  EXPECT_TRUE(loaded[0].confirmed);
  EXPECT_EQ(loaded[0].version, 1);
  EXPECT_EQ(loaded[0].counter, 42);
  EXPECT_EQ(loaded[0].state, nlohmann::json::object());
  EXPECT_EQ(loaded[0].secret, "sealed-totp");
  EXPECT_EQ(loaded[1].provider_id, kRecovery);
  EXPECT_TRUE(loaded[1].confirmed);
  EXPECT_EQ(loaded[1].version, 0);
  EXPECT_EQ(loaded[1].state, recovery_codes(alice_.id, "r1").state);
}

TEST_P(MfaStoreTest, LabelAndLookupKeyAreStoredAtInsertAndByCompareAndSet) {
  MfaCredential pending = credential(alice_.id, "yubikey_hotp");
  pending.label = "YubiKey";
  pending.lookup_key = "cccc";
  auto stored = store_->put_pending_credential(pending);
  ASSERT_TRUE(Ok(stored));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].label, "YubiKey");
  EXPECT_EQ(loaded[0].lookup_key, "cccc");

  // Enrollment learns the token ID from the first code and names the key after it.
  MfaCredential confirmed = confirmed_from(*stored, 1);
  confirmed.label = "YubiKey 12345678";
  confirmed.lookup_key = "vvcijgklnrbf";
  ASSERT_TRUE(
      Ok(enable(confirmed, stored->version, recovery_codes(alice_.id, "r1"))));
  loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].label, "YubiKey 12345678");
  EXPECT_EQ(loaded[0].lookup_key, "vvcijgklnrbf");
  EXPECT_EQ(loaded[1].label, "");
  EXPECT_EQ(loaded[1].lookup_key, "");
}

TEST_P(MfaStoreTest, EnableWithStaleVersionChangesNothing) {
  MfaCredential pending = pending_totp();
  // Another request confirmed the same pending credential first.
  MfaCredential other = pending;
  other.counter = 5;
  ASSERT_TRUE(Ok(store_->update_credential(other, pending.version)));

  EXPECT_TRUE(Fails(enable(confirmed_from(pending, 9), pending.version,
                                              recovery_codes(alice_.id, "r1")),
                    ErrorCode::kConflict));
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 1u);  // no recovery codes
  EXPECT_EQ(loaded[0].id, pending.id);
  EXPECT_FALSE(loaded[0].confirmed);
  EXPECT_EQ(loaded[0].counter, 5);
  EXPECT_EQ(loaded[0].version, 1);
}

TEST_P(MfaStoreTest, EnableOfAbsentCredentialIsNotFoundAndChangesNothing) {
  MfaCredential pending = pending_totp();
  MfaCredential gone = confirmed_from(pending, 1);
  gone.id = pending.id + 100;
  EXPECT_TRUE(Fails(enable(gone, 0, recovery_codes(alice_.id, "r1")),
                    ErrorCode::kNotFound));
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  EXPECT_EQ(ids(credentials_of(alice_.id)), std::vector<int64_t>{pending.id});
}

TEST_P(MfaStoreTest, EnableRefusesRecoveryCodesOfAnotherUserOrTheSameProvider) {
  MfaCredential pending = pending_totp();
  EXPECT_TRUE(Fails(enable(confirmed_from(pending, 1), pending.version,
                                              recovery_codes(bob_.id, "r1")),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(enable(confirmed_from(pending, 1), pending.version,
                                              credential(alice_.id, kTotp)),
                    ErrorCode::kInvalidArgument));
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  EXPECT_EQ(credentials_of(alice_.id)[0].version, 0);
}

// Issue 11: a user may hold several authenticator apps, so a second one is added beside the
// first (before, enabling replaced the user's credentials of the provider).
TEST_P(MfaStoreTest, EnableKeepsTheOtherCredentialsAndReplacesOnlyTheRecoveryCodes) {
  MfaCredential first = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(first, 1), first.version,
                                           recovery_codes(alice_.id, "r1"))));
  auto bobs = store_->put_pending_credential(credential(bob_.id, kTotp));
  ASSERT_TRUE(Ok(bobs));
  auto other_provider = store_->put_pending_credential(credential(alice_.id, "fido2"));
  ASSERT_TRUE(Ok(other_provider));

  MfaCredential second = pending_totp(kNow + 60);
  ASSERT_TRUE(Ok(enable(confirmed_from(second, 2), second.version,
                                           recovery_codes(alice_.id, "r2"))));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 4u);
  std::vector<int64_t> totp_ids;
  std::vector<std::string> providers;
  for (const auto& c : loaded) {
    if (c.provider_id == kTotp) {
      totp_ids.push_back(c.id);
      EXPECT_TRUE(c.confirmed);
    }
    if (c.provider_id == kRecovery) {
      EXPECT_EQ(c.state, recovery_codes(alice_.id, "r2").state);
    }
    providers.push_back(c.provider_id);
  }
  EXPECT_EQ(totp_ids, (std::vector<int64_t>{first.id, second.id}));
  std::sort(providers.begin(), providers.end());
  EXPECT_EQ(providers, (std::vector<std::string>{"fido2", kRecovery, kTotp, kTotp}));
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
  EXPECT_TRUE(two_factor_enabled(alice_.id));
}

TEST_P(MfaStoreTest, EnableWithoutRecoveryCodesKeepsTheUsersRecoveryCodes) {
  MfaCredential first = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(first, 1), first.version, recovery_codes(alice_.id, "r1"))));
  const int64_t codes_id = credentials_of(alice_.id).back().id;
  MfaCredential second = pending_totp(kNow + 60);
  ASSERT_TRUE(Ok(enable(confirmed_from(second, 2), second.version, std::nullopt)));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(ids(loaded), (std::vector<int64_t>{first.id, codes_id, second.id}));
  EXPECT_EQ(loaded[1].state, recovery_codes(alice_.id, "r1").state);
  EXPECT_TRUE(loaded[2].confirmed);
}

TEST_P(MfaStoreTest, EnableForcedByTheAccountLeavesTheUsersSettingOff) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                        recovery_codes(alice_.id, "r1"), /*user_setting_on=*/false)));
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  EXPECT_TRUE(credentials_of(alice_.id)[0].confirmed);
}

TEST_P(MfaStoreTest, EnableBeyondTheCapIsDeniedAndChangesNothing) {
  MfaCredential first = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(first, 1), first.version, recovery_codes(alice_.id, "r1"),
                        true, 2)));
  confirmed_totp(kNow + 1);
  // Neither another provider's credentials, nor pending ones, nor another user's count.
  ASSERT_TRUE(Ok(store_->add_credential(confirmed_from(credential(bob_.id, kTotp), 1), 2)));
  ASSERT_TRUE(Ok(store_->add_credential(confirmed_from(credential(alice_.id, "fido2"), 1), 1)));
  ASSERT_TRUE(Ok(store_->set_two_factor_setting(alice_.id, false)));
  MfaCredential third = pending_totp(kNow + 2);
  const auto before = credentials_of(alice_.id);

  Status denied = enable(confirmed_from(third, 3), third.version, recovery_codes(alice_.id, "r2"),
                         true, 2);
  ASSERT_TRUE(Fails(denied, ErrorCode::kDenied));
  EXPECT_NE(denied.error().message.find("at most 2"), std::string::npos)
      << denied.error().message;
  const auto after = credentials_of(alice_.id);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].version, before[i].version);
    EXPECT_EQ(after[i].confirmed, before[i].confirmed);
    EXPECT_EQ(after[i].state, before[i].state);
  }
  EXPECT_FALSE(two_factor_enabled(alice_.id));

  // A cap of 3 lets it in.
  EXPECT_TRUE(Ok(enable(confirmed_from(third, 3), third.version, std::nullopt, true, 3)));
}

TEST_P(MfaStoreTest, EnableRefusesACapBelowOne) {
  MfaCredential pending = pending_totp();
  for (int cap : {0, -1}) {
    EXPECT_TRUE(Fails(enable(confirmed_from(pending, 1), pending.version, std::nullopt, true, cap),
                      ErrorCode::kInvalidArgument))
        << cap;
  }
  EXPECT_FALSE(stored(pending.id).confirmed);
}

// ---- Several credentials per provider

TEST_P(MfaStoreTest, SeveralCredentialsOfOneProviderAreListedUpdatedAndRenamedApart) {
  MfaCredential phone = confirmed_totp(kNow);
  MfaCredential tablet = confirmed_totp(kNow + 10);
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(ids(loaded), (std::vector<int64_t>{phone.id, tablet.id}));

  // Rename is update_credential with a new label, compare-and-set like any update.
  MfaCredential renamed = tablet;
  renamed.label = "Tablet";
  ASSERT_TRUE(Ok(store_->update_credential(renamed, tablet.version)));
  renamed.label = "Old tablet";
  EXPECT_TRUE(Fails(store_->update_credential(renamed, tablet.version), ErrorCode::kConflict));
  MfaCredential used = phone;
  used.counter = 77;
  ASSERT_TRUE(Ok(store_->update_credential(used, phone.version)));

  EXPECT_EQ(stored(tablet.id).label, "Tablet");
  EXPECT_EQ(stored(tablet.id).counter, 1);
  EXPECT_EQ(stored(phone.id).label, "");
  EXPECT_EQ(stored(phone.id).counter, 77);
}

// ---- Adding a registered credential

TEST_P(MfaStoreTest, AddCredentialInsertsItConfirmedAtVersionZeroBesideTheOthers) {
  MfaCredential phone = confirmed_totp();
  ASSERT_TRUE(Ok(store_->set_two_factor_setting(alice_.id, false)));
  MfaCredential key = confirmed_from(credential(alice_.id, kYubikey, kNow + 5), 3);
  key.label = "YubiKey 12345678";
  key.lookup_key = "vvcijgklnrbf";
  auto added = store_->add_credential(key, 10);
  ASSERT_TRUE(Ok(added));
  EXPECT_GT(added->id, phone.id);
  EXPECT_EQ(added->version, 0);

  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(ids(loaded), (std::vector<int64_t>{phone.id, added->id}));
  const MfaCredential& c = loaded[1];
  EXPECT_TRUE(c.confirmed);
  EXPECT_EQ(c.version, 0);
  EXPECT_EQ(c.provider_id, kYubikey);
  EXPECT_EQ(c.secret, "sealed-yubikey_hotp");
  EXPECT_EQ(c.counter, 3);
  EXPECT_EQ(c.label, "YubiKey 12345678");
  EXPECT_EQ(c.lookup_key, "vvcijgklnrbf");
  EXPECT_EQ(c.created_at, kNow + 5);
  EXPECT_FALSE(two_factor_enabled(alice_.id));  // the flag is the user's own
}

TEST_P(MfaStoreTest, AddCredentialRefusesUnconfirmedUnknownUserAndBadCap) {
  EXPECT_TRUE(Fails(store_->add_credential(credential(alice_.id, kTotp), kCap),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 0),
                    ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      Fails(store_->add_credential(confirmed_from(credential(bob_.id + 100, kTotp), 1), kCap),
            ErrorCode::kNotFound));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
}

TEST_P(MfaStoreTest, AddCredentialBeyondTheCapIsDeniedAndAddsNothing) {
  ASSERT_TRUE(Ok(store_->add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 2)));
  ASSERT_TRUE(Ok(store_->add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 2)));
  pending_totp();  // a pending one does not count
  auto denied = store_->add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 2);
  ASSERT_TRUE(Fails(denied, ErrorCode::kDenied));
  EXPECT_NE(denied.error().message.find("at most 2"), std::string::npos)
      << denied.error().message;
  EXPECT_EQ(credentials_of(alice_.id).size(), 3u);
  EXPECT_TRUE(Ok(store_->add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 3)));
}

// ---- Lookup keys

TEST_P(MfaStoreTest, ALookupKeyNamesOneCredentialOfItsProviderAmongAllUsers) {
  MfaCredential key = confirmed_from(credential(alice_.id, kYubikey), 1);
  key.lookup_key = "vvcijgklnrbf";
  auto alices = store_->add_credential(key, kCap);
  ASSERT_TRUE(Ok(alices));

  // The same token ID again, for alice or for bob: refused.
  EXPECT_TRUE(Fails(store_->add_credential(key, kCap), ErrorCode::kAlreadyExists));
  MfaCredential bobs = key;
  bobs.user_id = bob_.id;
  auto refused = store_->add_credential(bobs, kCap);
  ASSERT_TRUE(Fails(refused, ErrorCode::kAlreadyExists));
  EXPECT_NE(refused.error().message.find("vvcijgklnrbf"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(credentials_of(bob_.id).empty());

  // Through the other writers too, leaving the credential as it was.
  MfaCredential pending = credential(bob_.id, kYubikey);
  pending.lookup_key = "vvcijgklnrbf";
  EXPECT_TRUE(Fails(store_->put_pending_credential(pending), ErrorCode::kAlreadyExists));
  pending.lookup_key = "";
  auto bobs_pending = store_->put_pending_credential(pending);
  ASSERT_TRUE(Ok(bobs_pending));
  MfaCredential clash = confirmed_from(*bobs_pending, 1);
  clash.lookup_key = "vvcijgklnrbf";
  EXPECT_TRUE(Fails(store_->update_credential(clash, bobs_pending->version),
                    ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Fails(store_->enable_two_factor(clash, bobs_pending->version,
                                              recovery_codes(bob_.id, "r1"), true, kCap),
                    ErrorCode::kAlreadyExists));
  auto bob_now = credentials_of(bob_.id);
  ASSERT_EQ(bob_now.size(), 1u);
  EXPECT_EQ(bob_now[0].version, 0);
  EXPECT_FALSE(bob_now[0].confirmed);
  EXPECT_FALSE(two_factor_enabled(bob_.id));

  // Another provider may use the same text, and empty keys never clash.
  MfaCredential other = confirmed_from(credential(bob_.id, "fido2"), 1);
  other.lookup_key = "vvcijgklnrbf";
  EXPECT_TRUE(Ok(store_->add_credential(other, kCap)));
  EXPECT_TRUE(Ok(store_->add_credential(confirmed_from(credential(bob_.id, kYubikey), 1), kCap)));
  EXPECT_TRUE(Ok(store_->add_credential(confirmed_from(credential(bob_.id, kYubikey), 1), kCap)));

  // Once removed, the key can be registered again.
  ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, alices->id, 0, {kYubikey},
                                           MfaStore::LastFactor::kTurnOff)));
  EXPECT_TRUE(Ok(store_->add_credential(bobs, kCap)));
}

// ---- Removing a credential

const std::vector<std::string> kFactors = {kTotp, kYubikey};

TEST_P(MfaStoreTest, RemoveCredentialRemovesOnlyThatOne) {
  MfaCredential first = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(first, 1), first.version, recovery_codes(alice_.id, "r1"))));
  MfaCredential second = confirmed_totp(kNow + 10);
  auto bobs = store_->add_credential(confirmed_from(credential(bob_.id, kTotp), 1), kCap);
  ASSERT_TRUE(Ok(bobs));
  const auto before = ids(credentials_of(alice_.id));
  ASSERT_EQ(before.size(), 3u);

  ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, second.id, second.version, kFactors,
                                           MfaStore::LastFactor::kRefuse)));
  EXPECT_EQ(ids(credentials_of(alice_.id)), (std::vector<int64_t>{before[0], before[1]}));
  EXPECT_TRUE(two_factor_enabled(alice_.id));
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
}

TEST_P(MfaStoreTest, RemoveCredentialIsCompareAndSetAndFindsOnlyTheUsersOwn) {
  MfaCredential phone = confirmed_totp();
  MfaCredential tablet = confirmed_totp(kNow + 10);
  MfaCredential used = phone;
  used.counter = 9;
  ASSERT_TRUE(Ok(store_->update_credential(used, phone.version)));  // now version + 1

  EXPECT_TRUE(Fails(store_->remove_credential(alice_.id, phone.id, phone.version, kFactors,
                                              MfaStore::LastFactor::kTurnOff),
                    ErrorCode::kConflict));
  EXPECT_TRUE(Fails(store_->remove_credential(bob_.id, phone.id, phone.version + 1, kFactors,
                                              MfaStore::LastFactor::kTurnOff),
                    ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(store_->remove_credential(alice_.id, tablet.id + 100, 0, kFactors,
                                              MfaStore::LastFactor::kTurnOff),
                    ErrorCode::kNotFound));
  EXPECT_EQ(ids(credentials_of(alice_.id)), (std::vector<int64_t>{phone.id, tablet.id}));
  EXPECT_TRUE(two_factor_enabled(alice_.id));

  ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, phone.id, phone.version + 1, kFactors,
                                           MfaStore::LastFactor::kRefuse)));
  EXPECT_TRUE(Fails(store_->remove_credential(alice_.id, phone.id, phone.version + 1, kFactors,
                                              MfaStore::LastFactor::kRefuse),
                    ErrorCode::kNotFound));
}

TEST_P(MfaStoreTest, RemovingTheLastFactorWhenRefusedIsConflictAndChangesNothing) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                        recovery_codes(alice_.id, "r1"))));
  // A pending credential of a factor provider is not a factor yet.
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, kYubikey))));
  const auto before = ids(credentials_of(alice_.id));
  MfaCredential phone = stored(pending.id);

  Status refused = store_->remove_credential(alice_.id, phone.id, phone.version, kFactors,
                                             MfaStore::LastFactor::kRefuse);
  ASSERT_TRUE(Fails(refused, ErrorCode::kConflict));
  EXPECT_NE(refused.error().message.find("last second factor"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(ids(credentials_of(alice_.id)), before);
  EXPECT_EQ(stored(phone.id).version, phone.version);
  EXPECT_TRUE(two_factor_enabled(alice_.id));
}

TEST_P(MfaStoreTest, RemovingTheLastFactorWhenTurningOffRemovesEverythingAndTheFlag) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                        recovery_codes(alice_.id, "r1"))));
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, kYubikey))));
  auto bobs = store_->add_credential(confirmed_from(credential(bob_.id, kTotp), 1), kCap);
  ASSERT_TRUE(Ok(bobs));
  ASSERT_TRUE(Ok(store_->set_two_factor_setting(bob_.id, true)));
  MfaCredential phone = stored(pending.id);

  ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, phone.id, phone.version, kFactors,
                                           MfaStore::LastFactor::kTurnOff)));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
  EXPECT_TRUE(two_factor_enabled(bob_.id));
}

TEST_P(MfaStoreTest, AFactorOfAnotherProviderKeepsTheRemovedOneFromBeingTheLast) {
  MfaCredential phone = confirmed_totp();
  auto key = store_->add_credential(confirmed_from(credential(alice_.id, kYubikey), 1), kCap);
  ASSERT_TRUE(Ok(key));
  ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, phone.id, phone.version, kFactors,
                                           MfaStore::LastFactor::kRefuse)));
  EXPECT_EQ(ids(credentials_of(alice_.id)), std::vector<int64_t>{key->id});
  EXPECT_TRUE(two_factor_enabled(alice_.id));
  // Now the key is the last one.
  EXPECT_TRUE(Fails(store_->remove_credential(alice_.id, key->id, 0, kFactors,
                                              MfaStore::LastFactor::kRefuse),
                    ErrorCode::kConflict));
}

TEST_P(MfaStoreTest, RemovingWhatIsNotAFactorIsNeverTheLast) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                        recovery_codes(alice_.id, "r1"))));
  auto fido = store_->add_credential(confirmed_from(credential(alice_.id, "fido2"), 1), kCap);
  ASSERT_TRUE(Ok(fido));
  auto waiting = store_->put_pending_credential(credential(alice_.id, kYubikey));
  ASSERT_TRUE(Ok(waiting));
  const int64_t codes_id = credentials_of(alice_.id)[1].id;
  ASSERT_EQ(stored(codes_id).provider_id, kRecovery);

  // Recovery codes, a pending credential, and a provider the caller does not count as a
  // factor: each goes alone, whatever when_last says.
  for (int64_t id : {codes_id, waiting->id, fido->id}) {
    ASSERT_TRUE(Ok(store_->remove_credential(alice_.id, id, 0, kFactors,
                                             MfaStore::LastFactor::kTurnOff)))
        << id;
  }
  EXPECT_EQ(ids(credentials_of(alice_.id)), std::vector<int64_t>{pending.id});
  EXPECT_TRUE(two_factor_enabled(alice_.id));
}

// Runs first(store_) and second(another connection) at the same moment; returns their
// results in that order.
template <class First, class Second>
std::pair<Status, Status> race(Store& a, Store& b, First first, Second second) {
  std::atomic<int> ready{0};
  Status results[2];
  std::thread one([&] {
    ++ready;
    while (ready.load() < 2) std::this_thread::yield();
    results[0] = first(a);
  });
  std::thread two([&] {
    ++ready;
    while (ready.load() < 2) std::this_thread::yield();
    results[1] = second(b);
  });
  one.join();
  two.join();
  return {results[0], results[1]};
}

// Two requests each removing one of the user's two factors under enforcement: each alone
// is allowed, both together would leave none, so exactly one wins.
TEST_P(MfaStoreTest, RacingRemovalsOfTheLastTwoFactorsLeaveOne) {
  auto second = connect();
  ASSERT_NE(second, nullptr);
  for (int round = 0; round < 20; ++round) {
    MfaCredential phone = confirmed_totp(kNow + round);
    MfaCredential tablet = confirmed_totp(kNow + round);
    auto remove = [&](const MfaCredential& c) {
      return [&, c](Store& store) {
        return store.remove_credential(alice_.id, c.id, c.version, kFactors,
                                       MfaStore::LastFactor::kRefuse);
      };
    };
    auto [a, b] = race(*store_, second->store(), remove(phone), remove(tablet));
    ASSERT_NE(a.ok(), b.ok()) << "round " << round;
    const Status& lost = a.ok() ? b : a;
    ASSERT_EQ(lost.error().code, ErrorCode::kConflict) << lost.error().message;
    ASSERT_EQ(credentials_of(alice_.id).size(), 1u) << "round " << round;
    ASSERT_TRUE(Ok(store_->disable_two_factor(alice_.id)));
  }
}

// A confirmation and an administrator's registration at once, with one place left under
// the cap: exactly one gets it.
TEST_P(MfaStoreTest, RacingAdditionsAtTheCapLetOneIn) {
  auto second = connect();
  ASSERT_NE(second, nullptr);
  for (int round = 0; round < 20; ++round) {
    confirmed_totp(kNow);  // one held, cap 2
    MfaCredential pending = pending_totp(kNow + 1);
    auto [a, b] = race(
        *store_, second->store(),
        [&](Store& store) {
          return store.enable_two_factor(confirmed_from(pending, 1), pending.version,
                                         std::nullopt, true, 2);
        },
        [&](Store& store) -> Status {
          auto added = store.add_credential(confirmed_from(credential(alice_.id, kTotp), 1), 2);
          if (!added) return added.error();
          return {};
        });
    ASSERT_NE(a.ok(), b.ok()) << "round " << round;
    const Status& lost = a.ok() ? b : a;
    ASSERT_EQ(lost.error().code, ErrorCode::kDenied) << lost.error().message;
    int confirmed_totps = 0;
    for (const auto& c : credentials_of(alice_.id)) {
      confirmed_totps += c.provider_id == kTotp && c.confirmed;
    }
    ASSERT_EQ(confirmed_totps, 2) << "round " << round;
    ASSERT_TRUE(Ok(store_->disable_two_factor(alice_.id)));
  }
}

TEST_P(MfaStoreTest, DisableRemovesEveryCredentialOfOnlyThatUser) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                                           recovery_codes(alice_.id, "r1"))));
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, "fido2"))));
  auto bobs = store_->put_pending_credential(credential(bob_.id, kTotp));
  ASSERT_TRUE(Ok(bobs));

  ASSERT_TRUE(Ok(store_->disable_two_factor(alice_.id)));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
  EXPECT_FALSE(two_factor_enabled(alice_.id));
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
  EXPECT_TRUE(Ok(store_->disable_two_factor(alice_.id)));
  EXPECT_TRUE(Fails(store_->disable_two_factor(bob_.id + 100), ErrorCode::kNotFound));
}

TEST_P(MfaStoreTest, ReplaceCredentialsSwapsOnlyThatProvider) {
  MfaCredential pending = pending_totp();
  ASSERT_TRUE(Ok(enable(confirmed_from(pending, 1), pending.version,
                                           recovery_codes(alice_.id, "r1"))));
  ASSERT_TRUE(Ok(store_->replace_credentials(recovery_codes(alice_.id, "r2"))));
  auto loaded = credentials_of(alice_.id);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].id, pending.id);
  EXPECT_TRUE(loaded[0].confirmed);
  EXPECT_EQ(loaded[1].provider_id, kRecovery);
  EXPECT_EQ(loaded[1].state, recovery_codes(alice_.id, "r2").state);
  EXPECT_EQ(loaded[1].version, 0);
  EXPECT_TRUE(two_factor_enabled(alice_.id));
  EXPECT_TRUE(Fails(store_->replace_credentials(recovery_codes(bob_.id + 100, "r3")),
                    ErrorCode::kNotFound));
}

TEST_P(MfaStoreTest, DeletingAUserDeletesItsCredentialsButNotItsAuditEvents) {
  ASSERT_TRUE(Ok(store_->put_pending_credential(credential(alice_.id, kTotp))));
  ASSERT_TRUE(Ok(store_->replace_credentials(recovery_codes(alice_.id, "r1"))));
  auto bobs = store_->put_pending_credential(credential(bob_.id, kTotp));
  ASSERT_TRUE(Ok(bobs));
  ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "mfa.enabled", alice_.id))));

  ASSERT_TRUE(Ok(backend_->delete_user(alice_.id)));
  EXPECT_TRUE(credentials_of(alice_.id).empty());
  EXPECT_EQ(ids(credentials_of(bob_.id)), std::vector<int64_t>{bobs->id});
  auto events = store_->audit_events(account_.id, 0, 10);
  ASSERT_TRUE(Ok(events));
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].user_id, alice_.id);
}

// ---- Attempts

TEST_P(MfaStoreTest, AttemptsCountFromZeroPerKeyAndReset) {
  auto none = store_->attempts("user:1");
  ASSERT_TRUE(Ok(none));
  EXPECT_EQ(none->failures, 0);
  EXPECT_EQ(none->last_failure_at, 0);

  auto first = store_->record_failure("user:1", kNow);
  ASSERT_TRUE(Ok(first));
  EXPECT_EQ(first->failures, 1);
  EXPECT_EQ(first->last_failure_at, kNow);
  auto second = store_->record_failure("user:1", kNow + 7);
  ASSERT_TRUE(Ok(second));
  EXPECT_EQ(second->failures, 2);
  EXPECT_EQ(second->last_failure_at, kNow + 7);
  ASSERT_TRUE(Ok(store_->record_failure("addr:127.0.0.1", kNow)));

  auto read = store_->attempts("user:1");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->failures, 2);
  EXPECT_EQ(read->last_failure_at, kNow + 7);

  ASSERT_TRUE(Ok(store_->reset_attempts("user:1")));
  EXPECT_EQ(store_->attempts("user:1")->failures, 0);
  EXPECT_EQ(store_->attempts("addr:127.0.0.1")->failures, 1);
  EXPECT_TRUE(Ok(store_->reset_attempts("never-seen")));
  EXPECT_EQ(store_->record_failure("user:1", kNow + 9)->failures, 1);
}

TEST_P(MfaStoreTest, RecordFailureIfCountsOnlyWhenTheStateIsStillTheExpectedOne) {
  // A key without failures: counted once from the empty state, not twice.
  auto first = store_->record_failure_if("pwd:a", AttemptState{}, kNow);
  ASSERT_TRUE(Ok(first));
  EXPECT_TRUE(*first);
  auto again = store_->record_failure_if("pwd:a", AttemptState{}, kNow);
  ASSERT_TRUE(Ok(again));
  EXPECT_FALSE(*again);
  // An existing key: counted from its current state only.
  const AttemptState one{1, kNow};
  auto stale = store_->record_failure_if("pwd:a", AttemptState{1, kNow - 1}, kNow + 3);
  ASSERT_TRUE(Ok(stale));
  EXPECT_FALSE(*stale);
  auto second = store_->record_failure_if("pwd:a", one, kNow + 3);
  ASSERT_TRUE(Ok(second));
  EXPECT_TRUE(*second);
  auto read = store_->attempts("pwd:a");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->failures, 2);
  EXPECT_EQ(read->last_failure_at, kNow + 3);
  // After a reset the old state no longer matches.
  ASSERT_TRUE(Ok(store_->reset_attempts("pwd:a")));
  auto after_reset = store_->record_failure_if("pwd:a", AttemptState{2, kNow + 3}, kNow + 4);
  ASSERT_TRUE(Ok(after_reset));
  EXPECT_FALSE(*after_reset);
  EXPECT_EQ(store_->attempts("pwd:a")->failures, 0);
}

TEST_P(MfaStoreTest, AttemptsPersistAcrossReopen) {
  ASSERT_TRUE(Ok(store_->record_failure("user:1", kNow)));
  ASSERT_TRUE(Ok(store_->record_failure("user:1", kNow + 1)));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  auto read = store_->attempts("user:1");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->failures, 2);
  EXPECT_EQ(read->last_failure_at, kNow + 1);
  ASSERT_TRUE(Ok(store_->reset_attempts("user:1")));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(store_->attempts("user:1")->failures, 0);
}

TEST_P(MfaStoreTest, ConcurrentFailuresThroughSeparateConnectionsAreAllCounted) {
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<StoreConnection>> stores;
  for (int i = 0; i < kThreads; ++i) {
    stores.push_back(connect());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::atomic<int> ready{0};
  std::vector<int64_t> seen(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      auto state = stores[i]->store().record_failure("user:1", kNow + i);
      if (state.ok()) seen[i] = state->failures;
    });
  }
  for (auto& t : threads) t.join();
  auto read = store_->attempts("user:1");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->failures, kThreads);
  // Each call saw its own increment: the counts returned are exactly 1..8.
  std::set<int64_t> counts(seen.begin(), seen.end());
  std::set<int64_t> expected;
  for (int i = 1; i <= kThreads; ++i) expected.insert(i);
  EXPECT_EQ(counts, expected);
}

// ---- Audit log

TEST_P(MfaStoreTest, AuditEventsRoundTripNewestFirst) {
  ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "mfa.enabled", alice_.id))));
  ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "mfa.code_refused"))));
  auto events = store_->audit_events(account_.id, 0, 10);
  ASSERT_TRUE(Ok(events));
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(names(*events), (std::vector<std::string>{"mfa.code_refused", "mfa.enabled"}));
  EXPECT_GT((*events)[0].id, (*events)[1].id);
  const AuditEvent& e = (*events)[1];
  EXPECT_EQ(e.at, kNow);
  EXPECT_EQ(e.account_id, account_.id);
  EXPECT_EQ(e.user_id, alice_.id);
  EXPECT_EQ(e.address, "127.0.0.1");
  EXPECT_EQ(e.detail, "totp");
  EXPECT_EQ((*events)[0].user_id, 0);
  EXPECT_EQ(e.request_id, "");
}

TEST_P(MfaStoreTest, AuditEventsKeepTheRequestId) {
  AuditEvent with_id = event(account_.id, "mfa.enabled", alice_.id);
  with_id.request_id = "Vq3xJ2mUe7Rk0Jd3sQk9xA";
  ASSERT_TRUE(Ok(store_->append_audit(with_id)));
  auto events = store_->audit_events(account_.id, 0, 10);
  ASSERT_TRUE(Ok(events));
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].request_id, "Vq3xJ2mUe7Rk0Jd3sQk9xA");
}

TEST_P(MfaStoreTest, AuditEventsPageByBeforeId) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "e" + std::to_string(i)))));
  }
  auto first = store_->audit_events(account_.id, 0, 2);
  ASSERT_TRUE(Ok(first));
  EXPECT_EQ(names(*first), (std::vector<std::string>{"e4", "e3"}));
  auto second = store_->audit_events(account_.id, first->back().id, 2);
  ASSERT_TRUE(Ok(second));
  EXPECT_EQ(names(*second), (std::vector<std::string>{"e2", "e1"}));
  auto last = store_->audit_events(account_.id, second->back().id, 2);
  ASSERT_TRUE(Ok(last));
  EXPECT_EQ(names(*last), std::vector<std::string>{"e0"});
  auto beyond = store_->audit_events(account_.id, last->back().id, 2);
  ASSERT_TRUE(Ok(beyond));
  EXPECT_TRUE(beyond->empty());
}

TEST_P(MfaStoreTest, AuditEventsAreIsolatedByAccount) {
  auto other = store_->create_account({.name = "globex", .issuer_label = "Globex"});
  ASSERT_TRUE(Ok(other));
  ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "acme.1"))));
  ASSERT_TRUE(Ok(store_->append_audit(event(other->id, "globex.1"))));
  ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "acme.2"))));
  auto acme = store_->audit_events(account_.id, 0, 10);
  ASSERT_TRUE(Ok(acme));
  EXPECT_EQ(names(*acme), (std::vector<std::string>{"acme.2", "acme.1"}));
  auto globex = store_->audit_events(other->id, 0, 10);
  ASSERT_TRUE(Ok(globex));
  EXPECT_EQ(names(*globex), std::vector<std::string>{"globex.1"});
  // Paging with another account's cursor still shows only this account's events.
  auto paged = store_->audit_events(other->id, (*acme)[0].id + 1, 10);
  ASSERT_TRUE(Ok(paged));
  EXPECT_EQ(names(*paged), std::vector<std::string>{"globex.1"});
  auto none = store_->audit_events(other->id + 100, 0, 10);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
}

TEST_P(MfaStoreTest, AuditPageSizeIsClampedToOneThroughFiveHundred) {
  for (int i = 0; i < 501; ++i) {
    ASSERT_TRUE(Ok(store_->append_audit(event(account_.id, "e" + std::to_string(i)))));
  }
  for (int limit : {0, -5}) {
    auto one = store_->audit_events(account_.id, 0, limit);
    ASSERT_TRUE(Ok(one));
    EXPECT_EQ(names(*one), std::vector<std::string>{"e500"}) << "limit " << limit;
  }
  auto most = store_->audit_events(account_.id, 0, 100'000);
  ASSERT_TRUE(Ok(most));
  EXPECT_EQ(most->size(), 500u);
  EXPECT_EQ(most->back().event, "e1");
}

STORE_CONFORMANCE_SUITE(MfaStoreTest);

}  // namespace
}  // namespace keystep::storetest
