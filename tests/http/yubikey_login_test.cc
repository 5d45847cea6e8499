// Signing in with a YubiKey (OATH-HOTP) through the real server: the key's output picks the
// credential by its identifier, another member's key is refused like a wrong code, a key
// that ran ahead of the look-ahead window is resynchronised by its next code (audited,
// throttled when it fails), sixteen requests racing with one code have one winner, and the
// profile's "Add a YubiKey" takes two codes of a key programmed with the ykman command shown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "providers/yubikey_hotp/yubikey_hotp_provider.h"
#include "tests/http/html_scrape.h"
#include "tests/http/mfa_steps.h"

namespace keystep::httptest {
namespace {

struct Key {
  std::string token_id;
  std::string secret;
  std::string output(uint64_t moving_factor) const {
    return token_id + *hotp_code(secret, moving_factor, 6);
  }
};

const Key kDesk{"ubhe11111111", "desk key secret 20by"};
const Key kSpare{"ubhe22222222", "spare key secret 20b"};
const Key kBobs{"ubhe33333333", "bob's key secret 20b"};

class YubikeyLoginTest : public MfaHttpTest {
 protected:
  // Registers `key` for `user_id` as an administrator would, at counter -1 (a new key).
  int64_t give(int64_t user_id, const Key& key) {
    MfaCredential c;
    c.user_id = user_id;
    c.provider_id = "yubikey_hotp";
    c.secret = key.secret;
    c.params = {{"digits", 6}};
    c.counter = -1;
    c.confirmed = true;
    c.created_at = server_->clock().now();
    c.lookup_key = key.token_id;
    c.label = "YubiKey " + key.token_id.substr(4);
    auto sealed = server_->two_factor().sealed(c);
    EXPECT_TRUE(sealed);
    auto added = server_->store().add_credential(*sealed, 10);
    EXPECT_TRUE(added) << added.error().message;
    EXPECT_TRUE(server_->store().set_two_factor_setting(user_id, true));
    return added ? added->id : 0;
  }
  MfaCredential stored(int64_t credential_id) {
    const auto all = server_->store().credentials_of_user(server_->alice_id());
    for (const auto& c : *all)
      if (c.id == credential_id) return c;
    ADD_FAILURE() << "no credential " << credential_id;
    return {};
  }
  SecondFactorPage page() { return sign_in_to_second_factor(spa_request(make_pkce())); }
  std::vector<std::string> events(const std::string& name) {
    std::vector<std::string> out;
    auto account = server_->store().account_by_name("acme");
    const auto all = server_->store().audit_events(account->id, 0, 500);
    for (const auto& e : *all)
      if (e.event == name) out.push_back(e.detail);
    return out;
  }
  User alice() { return *server_->store().user_by_id(server_->alice_id()); }
};

TEST_F(YubikeyLoginTest, TheKeysIdentifierPicksItsCredential) {
  const int64_t desk = give(server_->alice_id(), kDesk);
  const int64_t spare = give(server_->alice_id(), kSpare);
  SecondFactorPage p = page();
  EXPECT_EQ(p.method, "yubikey_hotp");
  EXPECT_NE(p.response.body.find("inputmode=\"text\""), std::string::npos) << p.response.body;
  HttpResponse done = submit_second_factor(p, kSpare.output(0));
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(stored(spare).counter, 0);
  EXPECT_EQ(stored(desk).counter, -1);
}

TEST_F(YubikeyLoginTest, AnotherMembersKeyIsRefusedLikeAWrongCode) {
  give(server_->alice_id(), kDesk);
  auto bob = server_->directory().create_user("acme", "bob@example.com", "bob's password", false);
  ASSERT_TRUE(bob) << bob.error().message;
  give(bob->id, kBobs);
  SecondFactorPage p = page();
  HttpResponse wrong = submit_second_factor(p, kDesk.token_id + "000000");
  EXPECT_EQ(wrong.status, 401);
  p = open_second_factor_page(url("/login/second-factor?flow=" + p.flow));
  HttpResponse bobs = submit_second_factor(p, kBobs.output(0));
  EXPECT_EQ(bobs.status, 401);
  const auto message = [](const std::string& body) {
    const size_t at = body.find("class=\"error\"");
    return at == std::string::npos ? std::string() : body.substr(at, body.find("</", at) - at);
  };
  EXPECT_FALSE(message(wrong.body).empty()) << wrong.body;
  EXPECT_EQ(message(bobs.body), message(wrong.body));
}

TEST_F(YubikeyLoginTest, AKeyAheadOfTheWindowIsResyncedByItsNextCode) {
  const int64_t desk = give(server_->alice_id(), kDesk);
  SecondFactorPage p = page();
  HttpResponse ask = submit_second_factor(p, kDesk.output(500));
  EXPECT_EQ(ask.status, 401);
  EXPECT_NE(ask.body.find("once more"), std::string::npos) << ask.body;
  EXPECT_EQ(stored(desk).counter, -1);  // alone it moves nothing
  // The answer is the page the user types into: same flow and form.
  HttpResponse done = submit_second_factor(p, kDesk.output(501));
  ASSERT_EQ(done.status, 302) << done.body;
  EXPECT_EQ(stored(desk).counter, 501);
  EXPECT_EQ(events("mfa.resynced").size(), 1u);
  EXPECT_EQ(events("mfa.resync_asked").size(), 1u);
}

TEST_F(YubikeyLoginTest, AFailedResyncIsRefusedAndCountedAgainstTheThrottle) {
  const int64_t desk = give(server_->alice_id(), kDesk);
  SecondFactorPage p = page();
  ASSERT_EQ(submit_second_factor(p, kDesk.output(500)).status, 401);
  HttpResponse refused = submit_second_factor(p, kDesk.output(502));
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body.find("once more"), std::string::npos);
  EXPECT_EQ(stored(desk).counter, -1);
  EXPECT_EQ(events("mfa.resync_refused").size(), 1u);
  auto attempts = server_->store().attempts("user:" + std::to_string(server_->alice_id()));
  ASSERT_TRUE(attempts);
  EXPECT_EQ(attempts->failures, 2);  // the lone code and the failed pair
  // The page asks for a plain code again: the key's next code now starts over.
  HttpResponse ask = submit_second_factor(p, kDesk.output(503));
  EXPECT_NE(ask.body.find("once more"), std::string::npos);
}

TEST_F(YubikeyLoginTest, SixteenRequestsRacingWithOneCodeHaveOneWinner) {
  give(server_->alice_id(), kDesk);
  const User user = alice();
  std::atomic<int> accepted{0};
  std::atomic<int> replayed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      StepRefusal refusal;
      auto amr = server_->two_factor().verify_login(user, "yubikey_hotp", kDesk.output(0),
                                                    "10.0.0." + std::to_string(i), refusal);
      if (amr) {
        ++accepted;
      } else if (refusal.code == ErrorCode::kReplayed) {
        ++replayed;
      }
    });
  }
  for (auto& t : threads) t.join();
  // The others are refused as replays (or, once the user's failures pass the free ones, as
  // locked out before anything is checked).
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_GE(replayed.load(), 1);
}

TEST_F(YubikeyLoginTest, ProfileAddsAYubiKeyFromTwoCodesOfTheKeyProgrammedAsShown) {
  ProfilePage profile = sign_in_to_profile();
  HttpResponse add = client_.post_form(url("/profile/two-factor/add"),
                                       {{"csrf_token", profile.csrf_token},
                                        {"method", "yubikey_hotp"}},
                                       &browser_);
  ASSERT_EQ(add.status, 302) << add.body;
  HttpResponse enable = client_.get(add.location(), &browser_);
  ASSERT_EQ(enable.status, 200) << enable.body;
  const size_t at = enable.body.find("ykman otp hotp 2 ");
  ASSERT_NE(at, std::string::npos) << enable.body;
  const std::string base32 = enable.body.substr(at + 17, 32);
  EXPECT_NE(enable.body.find(base32 + " --digits 6 --counter 0 --identifier -"), std::string::npos);
  EXPECT_NE(enable.body.find("<textarea"), std::string::npos);
  const Key key{"ubhe44444444", *base32_decode(base32)};
  const auto confirm = [&](const std::string& codes) {
    return client_.post_form(url("/profile/two-factor/enable"),
                             {{"csrf_token", profile.csrf_token},
                              {"method", "yubikey_hotp"},
                              {"code", codes}},
                             &browser_);
  };
  HttpResponse one = confirm(key.output(0) + "\r\n");
  EXPECT_EQ(one.status, 401) << one.body;
  EXPECT_NE(one.body.find("ykman otp hotp 2 " + base32), std::string::npos);  // the same key
  HttpResponse apart = confirm(key.output(0) + "\r\n" + key.output(2) + "\r\n");
  EXPECT_EQ(apart.status, 401);
  HttpResponse added = confirm(key.output(0) + "\r\n" + key.output(1) + "\r\n");
  ASSERT_EQ(added.status, 200) << added.body;  // the recovery codes page: her first factor
  const auto all = *server_->store().credentials_of_user(server_->alice_id());
  const auto it = std::find_if(all.begin(), all.end(),
                               [](const auto& c) { return c.provider_id == "yubikey_hotp"; });
  ASSERT_NE(it, all.end());
  EXPECT_TRUE(it->confirmed);
  EXPECT_EQ(it->counter, 1);
  EXPECT_EQ(it->lookup_key, "ubhe44444444");
  EXPECT_EQ(it->label, "YubiKey 44444444");
}

}  // namespace
}  // namespace keystep::httptest
