// PostgreSQL only (ctest's keystep_http_tests_postgres): a running server whose PostgreSQL
// stops (tests/support/postgres: pg_ctl stop -m fast, every connection of the pool ends) and
// comes back on the same port: /readyz and the pages answer 503 with Retry-After meanwhile,
// never 500 and never the database's message, and the server serves again without a restart.
// (tests/e2e/database_loss.test.mjs: the same for the keystep binary.)

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"
#include "tests/support/postgres/postgres_server.h"

namespace keystep::httptest {
namespace {

class DatabaseOutage : public KeystepHttpTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tests_on_postgres()) << "PostgreSQL only: KEYSTEP_HTTP_TEST_STORE=postgres";
    KeystepHttpTest::SetUp();
  }
  void TearDown() override {
    // Whatever the test did, the next test of this process finds the database running.
    if (postgres_ != nullptr) {
      EXPECT_TRUE(postgres_->resume().ok());
    }
    KeystepHttpTest::TearDown();
  }
  testsupport::PostgresServer* postgres_ =
      tests_on_postgres() ? testsupport::shared_postgres() : nullptr;
};

TEST_F(DatabaseOutage, ReadyzAndPagesAre503WhileTheDatabaseIsStoppedThenServeAgain) {
  ASSERT_NE(postgres_, nullptr);
  ASSERT_EQ(client_.get(url("/readyz")).status, 200);
  auto stopped = postgres_->halt();
  ASSERT_TRUE(stopped) << stopped.error().message;

  HttpResponse ready = client_.get(url("/readyz"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_TRUE(ready.header("Retry-After").has_value());
  EXPECT_EQ(client_.get(url("/healthz")).status, 200) << "liveness does not ask the database";
  HttpResponse page = authorize(spa_request(make_pkce()));
  EXPECT_EQ(page.status, 503) << page.body;
  EXPECT_TRUE(page.header("Retry-After").has_value());
  HttpResponse token = client_.post_form(
      url("/token"),
      {{"grant_type", "refresh_token"}, {"client_id", "spa"}, {"refresh_token", "whatever"}});
  EXPECT_EQ(token.status, 503) << token.body;
  for (const HttpResponse* r : {&ready, &page, &token}) {
    EXPECT_EQ(r->body.find("127.0.0.1"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("connect"), std::string::npos) << r->body;
  }

  auto resumed = postgres_->resume();
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(client_.get(url("/readyz")).status, 200);
  const nlohmann::json tokens = spa_tokens();
  EXPECT_FALSE(tokens.value("id_token", "").empty()) << tokens.dump();
}

}  // namespace
}  // namespace keystep::httptest
