#include "idp/login/login_flow.h"

#include <gtest/gtest.h>

namespace keystep {
namespace {

TEST(LoginFlow, PasswordCompletesWhenNoSecondFactorIsRequired) {
  auto next = next_stage(LoginStage::kPassword, LoginEvent::kPasswordVerified, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, LoginStage::kDone);
}

TEST(LoginFlow, PasswordLeadsToSecondFactorWhenRequired) {
  auto next = next_stage(LoginStage::kPassword, LoginEvent::kPasswordVerified, true);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, LoginStage::kSecondFactor);
}

TEST(LoginFlow, SecondFactorCompletes) {
  auto next = next_stage(LoginStage::kSecondFactor, LoginEvent::kSecondFactorVerified, true);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, LoginStage::kDone);
}

TEST(LoginFlow, RefusesEventsOutOfOrder) {
  EXPECT_EQ(next_stage(LoginStage::kPassword, LoginEvent::kSecondFactorVerified, true)
                .error().code, ErrorCode::kConflict);
  EXPECT_EQ(next_stage(LoginStage::kSecondFactor, LoginEvent::kPasswordVerified, true)
                .error().code, ErrorCode::kConflict);
  EXPECT_FALSE(next_stage(LoginStage::kDone, LoginEvent::kPasswordVerified, false));
  EXPECT_FALSE(next_stage(LoginStage::kDone, LoginEvent::kSecondFactorVerified, false));
}

TEST(LoginFlow, RequestAndProgressRoundTripThroughJson) {
  AuthRequest request{"rp", "https://rp.example/cb", "openid email", "s", "n",
                      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "a@b.c", 300, true,
                      {"urn:keystep:loa:2fa"}, "link-hash"};
  auto back = auth_request_from_json(to_json(request).dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->redirect_uri, request.redirect_uri);
  EXPECT_EQ(back->max_age, 300);
  EXPECT_TRUE(back->prompt_login);
  EXPECT_EQ(back->acr_values, request.acr_values);
  EXPECT_EQ(back->enrollment_link, "link-hash");
  request.enrollment_link.clear();
  EXPECT_FALSE(to_json(request).contains("enrollment_link"));
  FlowProgress progress{LoginStage::kSecondFactor, 7, 100, 0, {"pwd"}};
  auto again = flow_progress_from_json(to_json(progress).dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stage, LoginStage::kSecondFactor);
  EXPECT_EQ(again->user_id, 7);
  EXPECT_EQ(again->amr, std::vector<std::string>{"pwd"});
}

TEST(LoginFlow, CorruptStoredStateIsAnErrorNotACrash) {
  EXPECT_EQ(auth_request_from_json("{").error().code, ErrorCode::kInternal);
  EXPECT_EQ(auth_request_from_json("{\"client_id\":1}").error().code, ErrorCode::kInternal);
  EXPECT_EQ(flow_progress_from_json(
                "{\"stage\":9,\"user_id\":1,\"password_time\":0,\"mfa_time\":0,\"amr\":[]}")
                .error().code,
            ErrorCode::kInternal);
}

}  // namespace
}  // namespace keystep
