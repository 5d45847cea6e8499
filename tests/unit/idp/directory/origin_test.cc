// Web origins of a client (CORS): normalizing what an administrator names, deriving them from
// redirect URIs, and matching the Origin a browser sends.

#include "idp/directory/origin.h"

#include <gtest/gtest.h>

#include "tests/unit/test_util.h"

namespace keystep {
namespace {

using testutil::Fails;

TEST(NormalizeOrigin, GivesTheFormBrowsersSend) {
  EXPECT_EQ(*normalize_origin("https://App.Example.com"), "https://app.example.com");
  EXPECT_EQ(*normalize_origin("HTTPS://app.example.com:443"), "https://app.example.com");
  EXPECT_EQ(*normalize_origin("https://app.example.com:8443"), "https://app.example.com:8443");
  EXPECT_EQ(*normalize_origin("https://app.example.com/"), "https://app.example.com");
  EXPECT_EQ(*normalize_origin("http://localhost:3000"), "http://localhost:3000");
  EXPECT_EQ(*normalize_origin("http://127.0.0.1:80"), "http://127.0.0.1");
  EXPECT_EQ(*normalize_origin("http://[::1]:5173"), "http://[::1]:5173");
}

TEST(NormalizeOrigin, RefusesWhatIsNoOriginAndPlainHttpElsewhereThanLoopback) {
  for (const char* bad :
       {"", "null", "app.example.com", "https://app.example.com/cb", "https://app.example.com?x",
        "https://app.example.com#x", "https://u@app.example.com", "http://app.example.com",
        "ftp://app.example.com", "com.example.app:/cb", "https://", "https://a.example:0"}) {
    EXPECT_TRUE(Fails(normalize_origin(bad), ErrorCode::kInvalidArgument)) << bad;
  }
}

TEST(OriginOf, IsTheWebOriginOfAnHttpUriAndNoneForAPrivateUseScheme) {
  EXPECT_EQ(origin_of("https://App.example.com:443/cb?x=1"), "https://app.example.com");
  EXPECT_EQ(origin_of("http://127.0.0.1:9/cb"), "http://127.0.0.1:9");
  EXPECT_EQ(origin_of("com.example.app:/oauth2redirect"), std::nullopt);
}

TEST(AllowedOrigins, AreTheNamedOnesThenThoseOfTheRedirectUrisEachOnce) {
  Client client;
  client.redirect_uris = {"https://app.example.com/cb", "https://app.example.com/other",
                          "com.example.app:/cb", "http://localhost:3000/cb"};
  client.allowed_origins = {"https://cdn.example.net", "http://localhost:3000"};
  EXPECT_EQ(allowed_origins(client),
            (std::vector<std::string>{"https://cdn.example.net", "http://localhost:3000",
                                      "https://app.example.com"}));
}

TEST(OriginAllowed, MatchesTheOriginExactlyAsSent) {
  Client client;
  client.redirect_uris = {"https://app.example.com/cb"};
  client.allowed_origins = {"https://cdn.example.net"};
  EXPECT_TRUE(origin_allowed(client, "https://app.example.com"));
  EXPECT_TRUE(origin_allowed(client, "https://cdn.example.net"));
  for (const char* other :
       {"https://evil.example.com", "https://app.example.com.evil.test", "http://app.example.com",
        "https://app.example.com:8443", "https://app.example.com/", "null", ""}) {
    EXPECT_FALSE(origin_allowed(client, other)) << other;
  }
}

}  // namespace
}  // namespace keystep
