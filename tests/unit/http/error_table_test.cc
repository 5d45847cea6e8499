#include "http/error_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace keystep::http {
namespace {

TEST(ErrorTable, EveryFaultHasOneRowWithAnErrorStatus) {
  std::set<std::pair<int, std::string>> answers;
  for (int i = 0; i < static_cast<int>(Fault::kEnd); ++i) {
    const ErrorAnswer row = error_answer(static_cast<Fault>(i));
    SCOPED_TRACE("Fault #" + std::to_string(i));
    EXPECT_GE(row.status, 400);
    EXPECT_LE(row.status, 599);
    EXPECT_FALSE(row.error.empty());
    for (char c : row.error) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << row.error;
    // Two entries with one answer would be one meaning written twice.
    EXPECT_TRUE(answers.emplace(row.status, std::string(row.error)).second)
        << row.status << " " << row.error << " is the answer of two entries";
  }
}

TEST(ErrorTable, OneWireNameWithTwoStatusesIsTwoEntries) {
  EXPECT_EQ(error_answer(Fault::kUnknownClient).status, 400);
  EXPECT_EQ(error_answer(Fault::kInvalidClient).status, 401);
  EXPECT_EQ(error_answer(Fault::kUnknownClient).error, error_answer(Fault::kInvalidClient).error);
}

TEST(ErrorTable, SuccessStatusesFollowTheOutcome) {
  EXPECT_EQ(status_of(redirect_to("https://rp.example/cb")), 302);
  WebOutcome page;
  page.kind = WebOutcome::Kind::kLoginPage;
  EXPECT_EQ(status_of(page), 200);
  EXPECT_EQ(status_of(api_ok({{"a", 1}})), 200);
  EXPECT_EQ(status_of(api_created({{"a", 1}})), 201);
}

TEST(ErrorTable, FaultsTakeTheirStatusFromTheTable) {
  EXPECT_EQ(status_of(unavailable_page()), 503);
  WebOutcome retry;
  retry.kind = WebOutcome::Kind::kLoginPage;
  retry.fault = Fault::kTooManyAttempts;
  EXPECT_EQ(status_of(retry), 429);
  EXPECT_EQ(status_of(api_error(Fault::kConfirmationRequired, "confirm")), 428);
}

TEST(ErrorTable, ApiBodyCarriesTheTablesErrorBesideTheDetails) {
  ApiOutcome out = api_error(Fault::kOwnTwoFactorRequired, "set up yours first");
  out.body["settings_url"] = "https://id.example/profile";
  const nlohmann::json body = body_of(out);
  EXPECT_EQ(body["error"], "own_two_factor_required");
  EXPECT_EQ(body["error_description"], "set up yours first");
  EXPECT_EQ(body["settings_url"], "https://id.example/profile");
  EXPECT_EQ(body_of(api_ok({{"a", 1}})), (nlohmann::json{{"a", 1}}));
}

}  // namespace
}  // namespace keystep::http
