// What a sign-in costs the store in write transactions (TestServer::write_transactions, on
// both stores): a full sign-in with an authenticator app, authorize -> password -> second
// factor -> code -> token, takes at most 6; a refresh grant takes 1. Every write transaction
// is a commit: on SQLite one that holds the database's single write lock (and, past the WAL
// threshold, may checkpoint), on PostgreSQL a WAL flush and a round trip the nodes share, so
// each one saved is time other requests do not wait. And in reads, on SQLite
// (SqliteStore::read_transactions): each request reads a row once (idp/store/read_memo.h).

#include <gtest/gtest.h>

#include <optional>

#include "tests/http/mfa_steps.h"

namespace keystep::httptest {
namespace {

class WriteCount : public MfaHttpTest {
 protected:
  int64_t writes() {
    auto count = server_->write_transactions();
    EXPECT_TRUE(count) << count.error().message;
    return count ? *count : 0;
  }
  std::optional<int64_t> reads() { return server_->read_transactions(); }
};

TEST_F(WriteCount, ASignInWithAnAuthenticatorAppTakesAtMostSixWriteTransactions) {
  const std::string secret = enable_two_factor();
  ASSERT_FALSE(secret.empty());
  new_browser();
  const std::string code = next_code(secret);
  const Pkce pkce = make_pkce();

  const int64_t before = writes();
  const std::optional<int64_t> reads_before = reads();
  SecondFactorPage page = sign_in_to_second_factor(spa_request(pkce));
  HttpResponse done = submit_second_factor(page, code);
  nlohmann::json claims = id_token_claims(code_of(done), pkce);
  const int64_t used = writes() - before;
  const std::optional<int64_t> reads_after = reads();

  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims.value("amr", nlohmann::json()), nlohmann::json({"pwd", "otp", "mfa"}));
  EXPECT_LE(used, 6) << "write transactions for one sign-in";
  std::printf("write transactions per sign-in with TOTP: %lld\n", static_cast<long long>(used));
  if (reads_before && reads_after) {
    const int64_t read = *reads_after - *reads_before;
    EXPECT_LE(read, 23) << "reads for one sign-in (33 before each request read a row once)";
    std::printf("reads per sign-in with TOTP: %lld\n", static_cast<long long>(read));
  }
}

TEST_F(WriteCount, ARefreshGrantTakesOneWriteTransaction) {
  const nlohmann::json tokens = spa_tokens();
  const std::string refresh = tokens.value("refresh_token", "");
  ASSERT_FALSE(refresh.empty());

  const int64_t before = writes();
  HttpResponse refreshed = refresh_spa(refresh);
  const int64_t used = writes() - before;

  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(used, 1);
}

}  // namespace
}  // namespace keystep::httptest
