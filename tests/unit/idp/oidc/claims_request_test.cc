#include "idp/oidc/claims_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keystep {
namespace {

using Names = std::vector<std::string>;

TEST(ClaimsRequest, ReadsNamesOfBothMembersAndAnEssentialAcr) {
  auto r = parse_claims_request(
      R"({"id_token":{"acr":{"essential":true,"values":["urn:keystep:loa:2fa"]},"email":null},
          "userinfo":{"acr":{"essential":true,"value":"urn:keystep:loa:2fa"},"name":{}}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id_token, (Names{"acr", "email"}));
  EXPECT_EQ(r->userinfo, (Names{"acr", "name"}));
  EXPECT_EQ(r->essential_acr, (Names{"urn:keystep:loa:2fa"}));
}

TEST(ClaimsRequest, VoluntaryAcrAndUnknownClaimsAndMembersAreIgnored) {
  auto r = parse_claims_request(
      R"({"id_token":{"acr":{"values":["urn:keystep:loa:2fa"]},"shoe_size":{"essential":true}},
          "verified_claims":{}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id_token, (Names{"acr"}));
  EXPECT_TRUE(r->essential_acr.empty());
}

TEST(ClaimsRequest, RefusesWhatIsNotAClaimsRequest) {
  for (const char* bad : {"", "[]", "{not json", R"({"id_token":[]})",
                          R"({"userinfo":{"email":true}})",
                          R"({"id_token":{"acr":{"essential":"yes"}}})",
                          R"({"id_token":{"acr":{"values":"urn:keystep:loa:2fa"}}})",
                          R"({"id_token":{"acr":{"values":[1]}}})",
                          R"({"id_token":{"acr":{"essential":true}}})"}) {
    auto r = parse_claims_request(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ClaimsRequest, GrantTextRoundTrips) {
  ClaimsRequest r{{"email"}, {"acr", "amr"}, {}};
  const std::string text = requested_claims_json(r);
  EXPECT_EQ(requested_claims_of(text, "id_token"), (Names{"email"}));
  EXPECT_EQ(requested_claims_of(text, "userinfo"), (Names{"acr", "amr"}));
  EXPECT_TRUE(requested_claims_of("{}", "userinfo").empty());
  EXPECT_TRUE(requested_claims_of("garbage", "userinfo").empty());
}

}  // namespace
}  // namespace keystep
