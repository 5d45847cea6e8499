// GET /readyz, the readiness check: 200 while the store answers, beside /healthz (liveness).
// Its 503 while the database is away, and the 503 of every other page meanwhile, are proven
// on PostgreSQL stopped under a running server: tests/http/database_outage_test.cc (ctest's
// keystep_http_tests_postgres) and tests/e2e/database_loss.test.mjs.

#include <gtest/gtest.h>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

using Readiness = KeystepHttpTest;

TEST_F(Readiness, ReadyzIs200WhileTheStoreAnswers) {
  HttpResponse ready = client_.get(url("/readyz"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(ready.header("Cache-Control"), "no-store");
  EXPECT_FALSE(ready.header("Retry-After").has_value());
  HttpResponse head = client_.request("HEAD", url("/readyz"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

}  // namespace
}  // namespace keystep::httptest
