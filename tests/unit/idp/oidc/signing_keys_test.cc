#include "idp/oidc/signing_keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "base/crypto/encoding.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using sqlite::SqliteStore;
using testutil::Ok;

class MovableClock final : public Clock {
 public:
  int64_t now() const override { return now_; }
  void set(int64_t now) { now_ = now; }

 private:
  int64_t now_ = 1'000'000;
};

// The kid in a compact JWS's header.
std::string kid_of(const std::string& compact) {
  auto header = base64url_decode(compact.substr(0, compact.find('.')));
  if (!header) return "";
  return nlohmann::json::parse(*header).value("kid", "");
}

std::vector<std::string> published(SigningKeys& keys) {
  std::vector<std::string> kids;
  auto jwks = keys.jwks();
  if (!jwks) return kids;
  for (const auto& key : (*jwks)["keys"]) kids.push_back(key["kid"]);
  return kids;
}

bool publishes(SigningKeys& keys, const std::string& kid) {
  auto kids = published(keys);
  return std::find(kids.begin(), kids.end(), kid) != kids.end();
}

class SigningKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::open(":memory:");
    ASSERT_TRUE(Ok(store));
    store_ = std::move(*store);
    auto box = SecretBox::from_key(std::string(SecretBox::kKeySize, '\x42'));
    ASSERT_TRUE(Ok(box));
    box_ = std::make_unique<SecretBox>(*box);
  }

  // One node: its own SigningKeys on the shared store.
  std::unique_ptr<SigningKeys> node() {
    return std::make_unique<SigningKeys>(*store_, *box_, clock_);
  }

  std::string signed_kid(SigningKeys& keys) {
    auto token = keys.sign({{"sub", "1"}});
    EXPECT_TRUE(Ok(token));
    return token ? kid_of(*token) : "";
  }

  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SecretBox> box_;
  MovableClock clock_;
  OsRandom random_;
};

TEST_F(SigningKeysTest, TheFirstKeySignsAtOnce) {
  auto keys = node();
  auto kid = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(kid));
  EXPECT_EQ(signed_kid(*keys), *kid);
  EXPECT_EQ(published(*keys), std::vector<std::string>{*kid});
}

TEST_F(SigningKeysTest, ARotatedKeyIsPublishedAtOnceAndSignsOnlyOnceEveryNodeHasReloaded) {
  auto keys = node();
  auto first = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(first));
  clock_.set(clock_.now() + 3600);
  const int64_t rotated_at = clock_.now();
  auto second = keys->rotate("RS256", random_);
  ASSERT_TRUE(Ok(second));

  EXPECT_TRUE(publishes(*keys, *second));
  EXPECT_TRUE(publishes(*keys, *first));
  EXPECT_EQ(signed_kid(*keys), *first);
  clock_.set(rotated_at + SigningKeys::kReloadSeconds - 1);
  EXPECT_EQ(signed_kid(*keys), *first);
  // Not one reload period later than that: the key set is reloaded when the key may sign.
  clock_.set(rotated_at + SigningKeys::kReloadSeconds);
  EXPECT_EQ(signed_kid(*keys), *second);
  auto token = keys->sign({{"sub", "1"}});
  ASSERT_TRUE(Ok(token));
  EXPECT_TRUE(Ok(keys->verify(*token)));
}

TEST_F(SigningKeysTest, AnotherNodePublishesTheKeyBeforeAnyNodeSignsWithIt) {
  auto a = node();
  auto b = node();
  auto first = a->rotate("ES256", random_);
  ASSERT_TRUE(Ok(first));
  clock_.set(clock_.now() + 3600);
  EXPECT_EQ(signed_kid(*b), *first);  // b loads its key set now and keeps it
  clock_.set(clock_.now() + 10);
  const int64_t rotated_at = clock_.now();
  auto second = a->rotate("ES256", random_);  // on node a, as `keystep key rotate` would
  ASSERT_TRUE(Ok(second));

  for (int64_t t = rotated_at; t <= rotated_at + 2 * SigningKeys::kReloadSeconds; ++t) {
    clock_.set(t);
    const std::string by_a = signed_kid(*a);
    const std::string by_b = signed_kid(*b);
    if (by_a == *second || by_b == *second) {
      EXPECT_TRUE(publishes(*a, *second)) << "at +" << t - rotated_at << " s";
      EXPECT_TRUE(publishes(*b, *second)) << "at +" << t - rotated_at << " s";
    }
    if (t >= rotated_at + SigningKeys::kReloadSeconds) {
      EXPECT_EQ(by_a, *second) << "at +" << t - rotated_at << " s";
      EXPECT_EQ(by_b, *second) << "at +" << t - rotated_at << " s";
    } else {
      EXPECT_EQ(by_a, *first) << "at +" << t - rotated_at << " s";
      EXPECT_EQ(by_b, *first) << "at +" << t - rotated_at << " s";
    }
  }
}

TEST_F(SigningKeysTest, ARotationSoonAfterTheFirstKeyKeepsTheFirstSigning) {
  auto keys = node();
  const int64_t initialised_at = clock_.now();
  auto first = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(first));
  clock_.set(initialised_at + 5);
  auto second = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(second));
  EXPECT_EQ(signed_kid(*keys), *first);  // neither is 30 s old: the one published longest
  clock_.set(initialised_at + 5 + SigningKeys::kReloadSeconds);
  EXPECT_EQ(signed_kid(*keys), *second);
}

TEST_F(SigningKeysTest, WithTheOlderKeysRetiredTheNewKeySignsAtOnce) {
  auto keys = node();
  auto first = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(first));
  clock_.set(clock_.now() + 3600);
  auto second = keys->rotate("ES256", random_);
  ASSERT_TRUE(Ok(second));
  ASSERT_TRUE(Ok(store_->retire_signing_key(*first)));
  auto fresh = node();  // a node starting now, with no key set loaded
  EXPECT_EQ(signed_kid(*fresh), *second);
  EXPECT_EQ(published(*fresh), std::vector<std::string>{*second});
}

}  // namespace
}  // namespace keystep
