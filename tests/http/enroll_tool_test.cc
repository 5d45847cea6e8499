// keystep-enroll against a real Keystep server on loopback and the tests' fake YubiKey
// (tests/tools/fake_yubikey): program -> touch -> confirmed; a failure anywhere after the
// server began the credential leaves nothing registered; a batch interrupted after the second
// of five members, run again, ends with five keys and no duplicate; the dry run writes
// nothing; each refusal of the admin API (401, 403, 404, 409, 410) says what to do; a
// privacyIDEA file imports, skips on a second run, and its keys sign in.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "tests/http/admin_fixture.h"
#include "tests/tools/fake_yubikey/fake_yubikey.h"
#include "tools/keystep-enroll/admin_client.h"
#include "tools/keystep-enroll/batch.h"
#include "tools/keystep-enroll/commands.h"
#include "tools/keystep-enroll/enroll.h"
#include "tools/keystep-enroll/import.h"
#include "tools/keystep-enroll/journal.h"

namespace keystep::httptest {
namespace {

using enroll::AdminClient;
using enroll::KeyOptions;
using enroll::Operator;
using fakekey::FakeKeySpec;

// The person at the keyboard, scripted: what happens when asked to insert a key or to touch
// it. Everything said and asked is kept.
class ScriptedOperator final : public Operator {
 public:
  std::function<Result<std::string>()> on_insert = [] { return std::string(); };
  std::function<Result<std::string>()> on_touch;
  std::vector<std::string> lines;

  void say(const std::string& line) override { lines.push_back(line); }
  Result<std::string> ask(Ask what, const std::string& prompt) override {
    lines.push_back(prompt);
    return what == Ask::kInsertKey ? on_insert() : on_touch();
  }
};

class EnrollToolTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    char pattern[] = "/tmp/keystep-enroll-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    key_ = dir_ + "/key.json";
    allow({"totp", "yubikey_hotp"});
    api_ = std::make_unique<AdminClient>(server_->issuer(), "acme", boss_token_);
    op_.on_touch = [this] { return fakekey::touch_fake_key(key_); };
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    AdminApiTest::TearDown();
  }

  int64_t alice_id() { return server_->alice_id(); }
  std::unique_ptr<enroll::YubiKeyDevice> plug_in(const FakeKeySpec& spec = {}) {
    EXPECT_TRUE(fakekey::create_fake_key(key_, spec));
    auto device = fakekey::open_fake_key(key_);
    EXPECT_TRUE(device) << device.error().message;
    return device ? std::move(*device) : nullptr;
  }
  int64_t create_member(const std::string& email) {
    auto user = server_->directory().create_user("acme", email, "member horse battery", false);
    EXPECT_TRUE(user);
    return user ? user->id : 0;
  }
  // The member's yubikey_hotp credentials as the admin API lists them (pending ones too).
  std::vector<nlohmann::json> yubikeys(int64_t user_id) {
    HttpResponse r =
        api("GET", url("/api/v1/accounts/acme/members/" + std::to_string(user_id) + "/credentials"),
            boss_token_);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<nlohmann::json> keys;
    const nlohmann::json answer = r.json();
    for (const auto& c : answer["credentials"])
      if (c["provider"] == "yubikey_hotp") keys.push_back(c);
    return keys;
  }
  // Signs alice in with `typed` at the second step; the response of the submit.
  HttpResponse second_step(const std::string& typed) {
    new_browser();
    Pkce pkce = make_pkce();
    SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
    return submit_second_factor(page, typed);
  }

  std::string dir_;
  std::string key_;
  std::unique_ptr<AdminClient> api_;
  ScriptedOperator op_;
};

TEST_F(EnrollToolTest, ProgramsTheKeyAndItsTouchConfirmsTheCredential) {
  auto device = plug_in();
  auto enrolled = enroll::enroll_key(*device, *api_, op_, alice_id(), KeyOptions{});
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  EXPECT_EQ(enrolled->serial, 12345678u);
  EXPECT_EQ(enrolled->token_id, "ubhe12345678");
  const auto keys = yubikeys(alice_id());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["id"], enrolled->credential);
  EXPECT_EQ(keys[0]["confirmed"], true);
  EXPECT_EQ(keys[0]["label"], "YubiKey 12345678");
  // The key's next touch signs alice in.
  ASSERT_TRUE(server_->set_user_two_factor_flag(alice_id(), true));
  auto typed = fakekey::touch_fake_key(key_);
  ASSERT_TRUE(typed);
  EXPECT_EQ(second_step(typed->substr(0, typed->size() - 1)).status, 302);
}

TEST_F(EnrollToolTest, AProgrammingFailureLeavesNothingRegistered) {
  auto device = plug_in({.fail_write = true});
  auto enrolled = enroll::enroll_key(*device, *api_, op_, alice_id(), KeyOptions{});
  ASSERT_FALSE(enrolled);
  EXPECT_NE(enrolled.error().message.find("the key was not changed; nothing was registered"),
            std::string::npos)
      << enrolled.error().message;
  EXPECT_TRUE(yubikeys(alice_id()).empty());
  EXPECT_FALSE(fakekey::fake_key_config(key_));
}

TEST_F(EnrollToolTest, RefusedCodesRemoveThePendingCredential) {
  auto device = plug_in();
  op_.on_touch = [] { return std::string("ubhe12345678000000"); };
  auto enrolled = enroll::enroll_key(*device, *api_, op_, alice_id(), KeyOptions{});
  ASSERT_FALSE(enrolled);
  EXPECT_NE(enrolled.error().message.find("programmed but not registered (run again with --force)"),
            std::string::npos)
      << enrolled.error().message;
  EXPECT_TRUE(yubikeys(alice_id()).empty());
}

TEST_F(EnrollToolTest, AProgrammedSlotIsOverwrittenOnlyWithForce) {
  auto device = plug_in({.slot2_programmed = true});
  auto refused = enroll::enroll_key(*device, *api_, op_, alice_id(), KeyOptions{});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("--force"), std::string::npos);
  EXPECT_TRUE(yubikeys(alice_id()).empty());
  KeyOptions force;
  force.force = true;
  EXPECT_TRUE(enroll::enroll_key(*device, *api_, op_, alice_id(), force));
}

TEST_F(EnrollToolTest, ABatchInterruptedAfterTwoOfFiveEndsWithFiveKeysWhenRunAgain) {
  std::vector<enroll::BatchRow> rows;
  std::vector<int64_t> ids;
  for (int i = 1; i <= 5; ++i) {
    const std::string email = "member" + std::to_string(i) + "@example.com";
    ids.push_back(create_member(email));
    rows.push_back({static_cast<size_t>(i), email, ""});
  }
  const std::string journal_path = dir_ + "/batch.journal";
  uint32_t next_serial = 1000001;
  int inserted = 0;
  int stop_at = 3;  // the operator stops when asked for the third key
  op_.on_insert = [&]() -> Result<std::string> {
    if (++inserted == stop_at) return make_error(ErrorCode::kUnavailable, "the input ended");
    EXPECT_TRUE(fakekey::create_fake_key(key_, FakeKeySpec{.serial = next_serial++}));
    return std::string();
  };
  const enroll::DeviceOpener open = [this] { return fakekey::open_fake_key(key_); };
  {
    auto journal = enroll::Journal::open(journal_path);
    ASSERT_TRUE(journal);
    const auto first = enroll::run_batch(rows, *journal, *api_, open, op_, KeyOptions{});
    EXPECT_EQ(first.registered, 2u);
    EXPECT_TRUE(first.stopped);
    EXPECT_FALSE(first.ok());
    // As if the run had died between beginning member 3's credential and confirming it.
    auto left = api_->begin_yubikey(ids[2], "YubiKey 999", 6, std::nullopt);
    ASSERT_TRUE(left) << left.error().message;
    ASSERT_TRUE(journal->record_pending(rows[2].email, left->id));
    EXPECT_EQ(yubikeys(ids[2]).size(), 1u);
  }
  stop_at = 0;
  auto journal = enroll::Journal::open(journal_path);
  ASSERT_TRUE(journal);
  const auto second = enroll::run_batch(rows, *journal, *api_, open, op_, KeyOptions{});
  EXPECT_EQ(second.registered, 3u);
  EXPECT_EQ(second.skipped, 2u);
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(op_.lines.back(), "5 members: 3 registered, 2 skipped (done earlier), 0 failed");
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto keys = yubikeys(ids[i]);
    ASSERT_EQ(keys.size(), 1u) << rows[i].email;
    EXPECT_EQ(keys[0]["confirmed"], true) << rows[i].email;
  }
}

TEST_F(EnrollToolTest, TheDryRunWritesNothing) {
  plug_in();
  const std::string issuer = server_->issuer();
  std::vector<std::string> words = {
      "keystep-enroll",        "yubikey",  "--issuer", issuer, "--account", "acme", "--user",
      TestServer::kAliceEmail, "--dry-run"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  std::ostringstream out;
  auto* saved = std::cout.rdbuf(out.rdbuf());
  const int status = enroll::enroll_main(static_cast<int>(argv.size()), argv.data(),
                                         [this] { return fakekey::open_fake_key(key_); },
                                         enroll::hid_keys());
  std::cout.rdbuf(saved);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.str().find("Dry run: nothing is registered and no key is written."),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("OATH id: ubhe12345678"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("ykpersonalize -2 -ooath-hotp -ooath-id"), std::string::npos);
  EXPECT_FALSE(fakekey::fake_key_config(key_));
  EXPECT_TRUE(yubikeys(alice_id()).empty());
}

TEST_F(EnrollToolTest, EachRefusalOfTheApiSaysWhatToDo) {
  AdminClient bad_token(server_->issuer(), "acme", "ks_not-a-token");
  auto unauthenticated = bad_token.member_id(TestServer::kAliceEmail);
  ASSERT_FALSE(unauthenticated);
  EXPECT_EQ(unauthenticated.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(unauthenticated.error().message.find("(401: the API token is unknown or revoked)"),
            std::string::npos)
      << unauthenticated.error().message;
  EXPECT_NE(unauthenticated.error().message.find("keystep token create"), std::string::npos);

  AdminClient member(server_->issuer(), "acme", member_token_);
  auto forbidden = member.member_id(TestServer::kAliceEmail);
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().code, ErrorCode::kDenied);
  EXPECT_NE(forbidden.error().message.find("403: this needs the auth_settings.view permission"),
            std::string::npos)
      << forbidden.error().message;

  AdminClient other(server_->issuer(), "nope", boss_token_);
  auto no_account = other.member_id(TestServer::kAliceEmail);
  ASSERT_FALSE(no_account);
  EXPECT_EQ(no_account.error().code, ErrorCode::kNotFound);
  EXPECT_NE(no_account.error().message.find("(404: no such account)"), std::string::npos);
  auto no_member = api_->member_id("nobody@example.com");
  ASSERT_FALSE(no_member);
  EXPECT_EQ(no_member.error().message, "no member nobody@example.com in account acme");

  // 409: a second key typing the identifier of one already registered.
  auto device = plug_in();
  ASSERT_TRUE(enroll::enroll_key(*device, *api_, op_, alice_id(), KeyOptions{}));
  const int64_t bob = create_member("bob@example.com");
  auto twin = plug_in();
  auto conflict = enroll::enroll_key(*twin, *api_, op_, bob, KeyOptions{});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict) << conflict.error().message;
  EXPECT_NE(conflict.error().message.find("conflict (409: "), std::string::npos);
  EXPECT_TRUE(yubikeys(bob).empty());

  // 410: a pending credential confirmed after it expired.
  auto pending = api_->begin_yubikey(bob, "late", 6, std::nullopt);
  ASSERT_TRUE(pending);
  clock().advance(24 * 3600);
  auto expired = api_->confirm(bob, pending->id, "123456");
  ASSERT_FALSE(expired);
  EXPECT_TRUE(expired.error().code == ErrorCode::kExpired ||
              expired.error().code == ErrorCode::kNotFound)
      << expired.error().message;

  // 403: the account stops allowing YubiKeys.
  allow({"totp"});
  auto not_allowed = api_->begin_yubikey(bob, "", 6, std::nullopt);
  ASSERT_FALSE(not_allowed);
  EXPECT_EQ(not_allowed.error().code, ErrorCode::kDenied);
  EXPECT_NE(not_allowed.error().message.find("add yubikey_hotp to its allowed_providers"),
            std::string::npos)
      << not_allowed.error().message;
}

TEST_F(EnrollToolTest, APrivacyIdeaFileImportsOnceAndItsKeysSignIn) {
  const int64_t bob = create_member("bob@example.com");
  const std::string alice_key = "3132333435363738393031323334353637383930";
  const std::string bob_key = "00112233445566778899aabbccddeeff00112233";
  auto users = enroll::parse_serial_users(
      "serial,email\n1234567,alice@example.com\n"
      "7654321,bob@example.com\n");
  ASSERT_TRUE(users);
  const std::string file = "UBOM1234567_2, " + alice_key + ", HOTP, 6\n" + "UBOM7654321_2, " +
                           bob_key + ", HOTP, 6\n" + "UBOM5555555_2, " + bob_key + ", HOTP, 6\n";
  auto rows = enroll::parse_privacyidea(file, *users, false);
  ASSERT_TRUE(rows);
  const auto first = enroll::run_import(*rows, *api_, op_);
  EXPECT_EQ(first.registered, 2u);
  EXPECT_EQ(first.refused, 1u);  // serial 5555555 maps to no member
  const auto second = enroll::run_import(*rows, *api_, op_);
  EXPECT_EQ(second.registered, 0u);
  EXPECT_EQ(second.skipped, 2u);
  ASSERT_EQ(yubikeys(alice_id()).size(), 1u);
  ASSERT_EQ(yubikeys(bob).size(), 1u);
  EXPECT_EQ(yubikeys(bob)[0]["label"], "YubiKey 7654321");
  // A refused token stops the import at once, registering nothing.
  AdminClient bad_token(server_->issuer(), "acme", "ks_not-a-token");
  const auto refused = enroll::run_import(*rows, bad_token, op_);
  EXPECT_TRUE(refused.stopped);
  EXPECT_EQ(refused.registered + refused.skipped + refused.refused, 0u);
  EXPECT_NE(op_.lines.back().find("stopped early"), std::string::npos);
  // Alice's key, programmed by privacyIDEA, types RFC 4226's first code (no identifier).
  ASSERT_TRUE(server_->set_user_two_factor_flag(alice_id(), true));
  EXPECT_EQ(second_step("755224").status, 302);
}

}  // namespace
}  // namespace keystep::httptest
