#include "tools/keystep-enroll/hotp_slot.h"

#include <gtest/gtest.h>
#include <ykdef.h>

#include <cstring>
#include <string>

#include "tests/unit/test_util.h"

namespace keystep::enroll {
namespace {

using testutil::Fails;
using testutil::Ok;

// RFC 4226 Appendix D's secret.
const std::string kSecret = "12345678901234567890";
const Firmware kFirmware{5, 4, 3};

struct config_st decoded(const YkpConfig& config) {
  const std::string bytes = config.bytes();
  struct config_st core {};
  EXPECT_EQ(bytes.size(), sizeof core);
  std::memcpy(&core, bytes.data(), sizeof core);
  return core;
}

HotpSlot slot_with(int digits = 6, std::optional<uint32_t> serial = 12345678u) {
  return HotpSlot{2, kSecret, digits, serial, std::nullopt};
}

TEST(YkpConfig, WritesKeyFlagsIdentifierAndCounterAsTheKeyReadsThem) {
  auto config = YkpConfig::build(slot_with(), kFirmware);
  ASSERT_TRUE(Ok(config));
  const struct config_st core = decoded(*config);
  // The 160-bit key: 16 bytes in key, the last 4 in uid (ykp_HMAC_key_from_raw).
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(core.key), 16), kSecret.substr(0, 16));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(core.uid), 4), kSecret.substr(16));
  // The initial moving factor 0 in uid[4..5].
  EXPECT_EQ(core.uid[4], 0);
  EXPECT_EQ(core.uid[5], 0);
  // The identifier: "ub" "he" (0xe1 0x63, typed as modhex) and the serial as BCD.
  EXPECT_EQ(core.fixedSize, 6);
  const unsigned char fixed[6] = {0xe1, 0x63, 0x12, 0x34, 0x56, 0x78};
  EXPECT_EQ(std::memcmp(core.fixed, fixed, 6), 0);
  EXPECT_EQ(core.tktFlags, TKTFLAG_OATH_HOTP | TKTFLAG_APPEND_CR);
  EXPECT_EQ(core.cfgFlags, CFGFLAG_OATH_FIXED_MODHEX2);  // slot 2's static-password flags cleared
  EXPECT_EQ(core.extFlags, EXTFLAG_SERIAL_API_VISIBLE);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(core.accCode), 6), std::string(6, '\0'));
}

TEST(YkpConfig, EightDigitsWithoutIdentifier) {
  auto config = YkpConfig::build(slot_with(8, std::nullopt), kFirmware);
  ASSERT_TRUE(Ok(config));
  const struct config_st core = decoded(*config);
  EXPECT_EQ(core.cfgFlags, CFGFLAG_OATH_HOTP8);
  EXPECT_EQ(core.fixedSize, 0);
  EXPECT_EQ(core.extFlags, 0);
}

TEST(YkpConfig, WritesTheAccessCode) {
  HotpSlot slot = slot_with();
  slot.access_code = AccessCode{1, 2, 3, 4, 5, 6};
  auto config = YkpConfig::build(slot, kFirmware);
  ASSERT_TRUE(Ok(config));
  const struct config_st core = decoded(*config);
  const unsigned char code[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(std::memcmp(core.accCode, code, 6), 0);
}

TEST(YkpConfig, DescribesLikeYkpersonalizeWithoutTheKey) {
  auto config = YkpConfig::build(slot_with(), kFirmware);
  ASSERT_TRUE(Ok(config));
  const std::string text = config->describe();
  EXPECT_NE(text.find("OATH id: ubhe12345678\n"), std::string::npos) << text;
  EXPECT_NE(text.find("OATH IMF: h:0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ticket_flags: APPEND_CR|OATH_HOTP\n"), std::string::npos) << text;
  EXPECT_NE(text.find("config_flags: OATH_FIXED_MODHEX2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("key: (secret not shown)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("31323334"), std::string::npos) << text;  // the secret's hex
}

TEST(YkpConfig, RefusesWhatNoKeyCanHold) {
  HotpSlot slot = slot_with();
  slot.slot = 3;
  EXPECT_TRUE(Fails(YkpConfig::build(slot, kFirmware), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(YkpConfig::build(slot_with(7), kFirmware), ErrorCode::kInvalidArgument));
  slot = slot_with();
  slot.secret.pop_back();
  EXPECT_TRUE(Fails(YkpConfig::build(slot, kFirmware), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      Fails(YkpConfig::build(slot_with(6, 100'000'000u), kFirmware), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(YkpConfig::build(slot_with(), Firmware{2, 0, 9}), ErrorCode::kUnavailable));
}

TEST(TokenId, IsUbheAndTheSerialInEightDigits) {
  EXPECT_EQ(*token_id_for_serial(12345678), "ubhe12345678");
  EXPECT_EQ(*token_id_for_serial(7), "ubhe00000007");
  EXPECT_TRUE(Fails(token_id_for_serial(100'000'000), ErrorCode::kInvalidArgument));
}

TEST(AccessCode, IsTwelveHexCharacters) {
  auto code = parse_access_code(" 0102030405aB\n");
  ASSERT_TRUE(Ok(code));
  EXPECT_EQ(*code, (AccessCode{1, 2, 3, 4, 5, 0xab}));
  EXPECT_TRUE(Fails(parse_access_code("0102030405"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(parse_access_code("01020304050g"), ErrorCode::kInvalidArgument));
}

TEST(EquivalentCommands, NameTheSameSlotWithPlaceholders) {
  HotpSlot slot = slot_with(8);
  slot.access_code = AccessCode{};
  EXPECT_EQ(equivalent_commands(slot),
            "ykman otp --access-code ACCESS_CODE hotp 2 SECRET_BASE32 --digits 8 --counter 0 "
            "--identifier - --force\n"
            "ykpersonalize -2 -ooath-hotp -ooath-id -oappend-cr -ooath-imf=0 -ooath-hotp8 "
            "-oaccess=ACCESS_CODE -a SECRET_HEX -y\n");
  EXPECT_EQ(equivalent_commands(slot_with(6, std::nullopt)),
            "ykman otp hotp 2 SECRET_BASE32 --digits 6 --counter 0 --force\n"
            "ykpersonalize -2 -ooath-hotp -oappend-cr -ooath-imf=0 -a SECRET_HEX -y\n");
}

}  // namespace
}  // namespace keystep::enroll
