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
  FlowProgress progress{LoginStage::kSecondFactor, 7, 100, 0, {"pwd"}, std::nullopt};
  auto again = flow_progress_from_json(to_json(progress).dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stage, LoginStage::kSecondFactor);
  EXPECT_EQ(again->user_id, 7);
  EXPECT_EQ(again->amr, std::vector<std::string>{"pwd"});
}

TEST(LoginFlow, KeptChallengeRoundTripsWithAnyBytes) {
  FlowProgress progress{LoginStage::kSecondFactor, 7, 100, 0, {"pwd"}, std::nullopt};
  EXPECT_FALSE(to_json(progress).contains("challenge"));
  const std::string bytes("\x00\xff\xfe random \x80", 13);
  progress.challenge = KeptChallenge{"fido2", bytes, 1'700'000'060};
  auto back = flow_progress_from_json(to_json(progress).dump());
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->challenge);
  EXPECT_EQ(back->challenge->provider_id, "fido2");
  EXPECT_EQ(back->challenge->server_state, bytes);
  EXPECT_EQ(back->challenge->expires_at, 1'700'000'060);
}

TEST(LoginFlow, ProgressStoredBeforeChallengesWereKeptHasNone) {
  auto old = flow_progress_from_json(
      "{\"stage\":1,\"user_id\":1,\"password_time\":5,\"mfa_time\":0,\"amr\":[\"pwd\"]}");
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->challenge);
}

TEST(LoginFlow, CorruptStoredStateIsAnErrorNotACrash) {
  EXPECT_EQ(auth_request_from_json("{").error().code, ErrorCode::kInternal);
  EXPECT_EQ(auth_request_from_json("{\"client_id\":1}").error().code, ErrorCode::kInternal);
  EXPECT_EQ(flow_progress_from_json(
                "{\"stage\":9,\"user_id\":1,\"password_time\":0,\"mfa_time\":0,\"amr\":[]}")
                .error().code,
            ErrorCode::kInternal);
  EXPECT_EQ(flow_progress_from_json(
                "{\"stage\":1,\"user_id\":1,\"password_time\":0,\"mfa_time\":0,\"amr\":[],"
                "\"challenge\":{\"provider_id\":\"x\",\"server_state\":\"a+b\",\"expires_at\":0}}")
                .error().code,
            ErrorCode::kInternal);
}

}  // namespace
}  // namespace keystep
