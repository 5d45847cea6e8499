#include "tools/keystep-enroll/import.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_util.h"

namespace keystep::enroll {
namespace {

using testutil::Fails;
using testutil::Ok;

const std::string kHex = "3132333435363738393031323334353637383930";
const std::string kBase32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

TEST(ImportPrivacyIdea, ReadsYubikeyMassEnrollRowsAndMapsSerials) {
  const std::map<uint32_t, std::string> users = {{1234567, "alice@example.com"}};
  auto rows = parse_privacyidea(
      "# privacyIDEA\nUBOM1234567_2, " + kHex + ", HOTP, 8\nUBOM7654321_2, " + kHex + ", HOTP\n",
      users, false);
  ASSERT_TRUE(Ok(rows));
  ASSERT_EQ(rows->size(), 2u);
  const ImportRow& alice = (*rows)[0];
  EXPECT_EQ(alice.line, 2u);
  EXPECT_EQ(alice.email, "alice@example.com");
  EXPECT_EQ(alice.serial, 1234567u);
  EXPECT_EQ(alice.key.secret, kBase32);  // sent as base32
  EXPECT_EQ(alice.key.digits, 8);
  EXPECT_EQ(alice.key.counter, 0u);
  EXPECT_FALSE(alice.key.token_id);
  EXPECT_EQ(alice.key.label, "YubiKey 1234567");
  EXPECT_TRUE(alice.refused.empty());
  EXPECT_EQ((*rows)[1].refused, "serial 7654321 is not in the --users file");
}

TEST(ImportPrivacyIdea, TokenIdFromSerialAndTotpRowsRefused) {
  const std::map<uint32_t, std::string> users = {{1234567, "a@example.com"}};
  auto rows = parse_privacyidea("UBOM1234567_1, " + kHex + ", TOTP, 6, 30\n", users, true);
  ASSERT_TRUE(Ok(rows));
  EXPECT_EQ((*rows)[0].key.token_id, "ubhe01234567");
  EXPECT_EQ((*rows)[0].refused, "TOTP token: only OATH-HOTP keys can be imported");
}

TEST(ImportPrivacyIdea, RefusesTheWholeFileForAMalformedLine) {
  for (const std::string& bad :
       std::vector<std::string>{"UBXX1_2, " + kHex + ", HOTP", "UBOM12_2, xyz, HOTP",
                                "UBOM12_2, " + kHex + ", HOTP, 7", "UBOM12_2, " + kHex}) {
    auto rows = parse_privacyidea("UBOM1_2, " + kHex + ", HOTP\n" + bad + "\n", {}, false);
    ASSERT_TRUE(Fails(rows, ErrorCode::kInvalidArgument)) << bad;
    EXPECT_EQ(rows.error().message.rfind("line 2: ", 0), 0u) << rows.error().message;
  }
}

TEST(ImportCsv, ReadsEveryColumnAndBase32Keys) {
  auto rows = parse_import_csv(
      "email,serial,key,digits,counter,token_id\n"
      "bob@example.com,12345678," +
      kBase32 +
      ",6,42,ubhe12345678\n"
      "\"carol@example.com\",," +
      kHex + ",,,\n");
  ASSERT_TRUE(Ok(rows));
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].email, "bob@example.com");
  EXPECT_EQ((*rows)[0].key.secret, kBase32);
  EXPECT_EQ((*rows)[1].key.secret, kBase32);
  EXPECT_EQ((*rows)[0].key.counter, 42u);
  EXPECT_EQ((*rows)[0].key.token_id, "ubhe12345678");
  EXPECT_EQ((*rows)[0].key.label, "YubiKey 12345678");
  EXPECT_FALSE((*rows)[1].serial);
  EXPECT_EQ((*rows)[1].key.digits, 6);
  EXPECT_FALSE((*rows)[1].key.token_id);
}

TEST(ImportCsv, RefusesMalformedRows) {
  for (const std::string& bad :
       std::vector<std::string>{"bob,1," + kHex + ",6,0,", "bob@x,1,not-a-key,6,0,",
                                "bob@x,1," + kHex + ",7,0,", "bob@x,1," + kHex + ",6,-1,",
                                "bob@x,1," + kHex + ",6,0,UBHE12345678", "bob@x,1," + kHex + ",6,0",
                                "bob@x,x," + kHex + ",6,0,", "bob@x,1," + kHex + "3132,6,0,"}) {
    EXPECT_TRUE(Fails(parse_import_csv(bad + "\n"), ErrorCode::kInvalidArgument)) << bad;
  }
}

TEST(ImportUsers, MapsSerialsToEmails) {
  auto users = parse_serial_users("serial,email\n1234567, alice@example.com\n");
  ASSERT_TRUE(Ok(users));
  EXPECT_EQ(users->at(1234567), "alice@example.com");
  EXPECT_TRUE(Fails(parse_serial_users("1,a@x\n1,b@x\n"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(parse_serial_users("a@x,1\n"), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace keystep::enroll
