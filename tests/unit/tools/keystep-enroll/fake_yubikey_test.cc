// The tests' fake key (tests/tools/fake_yubikey) behaves as a programmed YubiKey: what it
// types is computed from the bytes libykpers built, so these tests also prove those bytes.
#include "tests/tools/fake_yubikey/fake_yubikey.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_util.h"

namespace keystep::fakekey {
namespace {

using enroll::HotpSlot;
using testutil::Fails;
using testutil::Ok;
using testutil::TempDir;

const std::string kSecret = "12345678901234567890";

class FakeYubiKey : public testing::Test {
 protected:
  std::string create(const FakeKeySpec& spec = {}) {
    EXPECT_TRUE(Ok(create_fake_key(path_, spec)));
    return path_;
  }
  TempDir dir_;
  std::string path_ = dir_.path() + "/key.json";
};

TEST_F(FakeYubiKey, TypesIdentifierRfc4226CodesAndEnter) {
  auto key = open_fake_key(create());
  ASSERT_TRUE(Ok(key));
  ASSERT_TRUE(Ok((*key)->program_hotp(HotpSlot{2, kSecret, 6, 12345678u, {}}, {})));
  // RFC 4226 Appendix D, counters 0, 1, 2.
  EXPECT_EQ(*touch_fake_key(path_), "ubhe12345678755224\n");
  EXPECT_EQ(*touch_fake_key(path_), "ubhe12345678287082\n");
  EXPECT_EQ(*touch_fake_key(path_), "ubhe12345678359152\n");
  auto status = (*key)->status();
  ASSERT_TRUE(Ok(status));
  EXPECT_TRUE(status->programmed[1]);
  EXPECT_EQ(status->serial, 12345678u);
}

TEST_F(FakeYubiKey, TypesEightDigitsWithoutIdentifier) {
  auto key = open_fake_key(create());
  ASSERT_TRUE(Ok(key));
  ASSERT_TRUE(Ok((*key)->program_hotp(HotpSlot{2, kSecret, 8, std::nullopt, {}}, {})));
  EXPECT_EQ(*touch_fake_key(path_), "84755224\n");
}

TEST_F(FakeYubiKey, FailsToOpenAsTheRealBackendDoes) {
  EXPECT_TRUE(Fails(open_fake_key(create({.keys = 0})), ErrorCode::kNotFound));
  EXPECT_TRUE(Fails(open_fake_key(create({.keys = 2})), ErrorCode::kConflict));
  auto denied = open_fake_key(create({.usb_permission = false}));
  ASSERT_TRUE(Fails(denied, ErrorCode::kDenied));
  EXPECT_NE(denied.error().message.find("udev"), std::string::npos);
}

TEST_F(FakeYubiKey, KeepsAnAccessCodeAndRefusesAWriteWithoutIt) {
  auto key = open_fake_key(create());
  ASSERT_TRUE(Ok(key));
  const enroll::AccessCode code{1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(Ok((*key)->program_hotp(HotpSlot{2, kSecret, 6, 12345678u, code}, {})));
  EXPECT_TRUE(Fails((*key)->program_hotp(HotpSlot{2, kSecret, 6, 12345678u, {}}, {}),
                    ErrorCode::kUnavailable));
  EXPECT_TRUE(Ok((*key)->program_hotp(HotpSlot{2, kSecret, 6, 12345678u, code}, code)));
}

TEST_F(FakeYubiKey, AFailingWriteLeavesTheSlotAsItWas) {
  auto key = open_fake_key(create({.fail_write = true}));
  ASSERT_TRUE(Ok(key));
  EXPECT_TRUE(Fails((*key)->program_hotp(HotpSlot{2, kSecret, 6, 12345678u, {}}, {}),
                    ErrorCode::kUnavailable));
  EXPECT_TRUE(Fails(touch_fake_key(path_), ErrorCode::kNotFound));
  EXPECT_FALSE((*(*key)->status()).programmed[1]);
}

}  // namespace
}  // namespace keystep::fakekey
