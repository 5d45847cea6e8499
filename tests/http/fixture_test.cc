// The fixture's own helpers, checked against known answers so that a failing protocol test
// points at the server, not at the test client.

#include <gtest/gtest.h>

#include "providers/totp/totp_provider.h"
#include "tests/http/html_scrape.h"
#include "tests/http/http_client.h"
#include "tests/http/oidc_steps.h"
#include "tests/http/test_server.h"

namespace keystep::httptest {
namespace {

TEST(Pkce, S256ChallengeMatchesRfc7636AppendixB) {
  EXPECT_EQ(s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Pkce, MakePkceGivesAValidVerifierAndItsChallenge) {
  const Pkce pkce = make_pkce();
  EXPECT_GE(pkce.verifier.size(), 43u);
  EXPECT_EQ(pkce.verifier.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"),
            std::string::npos);
  EXPECT_EQ(pkce.challenge, s256_challenge(pkce.verifier));
  EXPECT_NE(make_pkce().verifier, pkce.verifier);
}

TEST(Form, EncodesEverythingButUnreservedAndDecodesBack) {
  const Fields fields = {{"a b", "x&y=z"}, {"é", "100%+"}, {"empty", ""}};
  const std::string text = encode_fields(fields);
  EXPECT_EQ(text, "a%20b=x%26y%3Dz&%C3%A9=100%25%2B&empty=");
  EXPECT_EQ(decode_fields(text), fields);
  EXPECT_EQ(decode_fields("a=1+2&b"), (Fields{{"a", "1 2"}, {"b", ""}}));
}

TEST(Form, QueryOfAUrlStopsAtTheFragment) {
  EXPECT_EQ(query_of("http://h/cb?code=c&state=s#frag"), (Fields{{"code", "c"}, {"state", "s"}}));
  EXPECT_TRUE(query_of("http://h/cb").empty());
  EXPECT_EQ(without_query("http://h/cb?x=1#f"), "http://h/cb");
}

TEST(SetCookieHeader, ParsesNameValueAndAttributes) {
  auto cookie = parse_set_cookie("ks_flow=abc=; Path=/login; Max-Age=900; HttpOnly; SameSite=Lax");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_EQ(cookie->name, "ks_flow");
  EXPECT_EQ(cookie->value, "abc=");
  EXPECT_EQ(cookie->attribute("path"), "/login");
  EXPECT_EQ(cookie->attribute("max-age"), "900");
  EXPECT_TRUE(cookie->has("httponly"));
  EXPECT_EQ(cookie->attribute("samesite"), "Lax");
  EXPECT_FALSE(cookie->has("secure"));
  EXPECT_FALSE(parse_set_cookie("no-equals-sign").has_value());
}

TEST(CookieJar, StoresByPathAndDeletesOnMaxAgeZero) {
  CookieJar jar;
  HttpResponse set;
  set.headers = {{"Set-Cookie", "a=1; Path=/"}, {"set-cookie", "b=2; Path=/login"}};
  jar.update(set);
  EXPECT_EQ(jar.header_for("/login"), "a=1; b=2");
  EXPECT_EQ(jar.header_for("/token"), "a=1");
  HttpResponse clear;
  clear.headers = {{"Set-Cookie", "b=; Path=/login; Max-Age=0"}};
  jar.update(clear);
  EXPECT_FALSE(jar.get("b").has_value());
  EXPECT_EQ(jar.get("a"), "1");
}

TEST(Base32, DecodesRfc4648VectorsAndWhatTheTotpProviderShows) {
  EXPECT_EQ(base32_decode("MZXW6YTBOI"), "foobar");
  EXPECT_EQ(base32_decode("MZXW 6YTB OI"), "foobar");
  const std::string secret("\x00\xff\x10 twenty bytes\x7f", 17);
  EXPECT_EQ(base32_decode(totp_base32(secret)), secret);
  EXPECT_EQ(base32_decode("MZXW1"), std::nullopt);
}

TEST(TestServerStart, ServesHealthzAndHomePageOnItsIssuer) {
  auto server = TestServer::start();
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_EQ((*server)->issuer(), "http://127.0.0.1:" + std::to_string((*server)->port()));
  HttpClient client;
  HttpResponse health = client.get((*server)->url("/healthz"));
  EXPECT_EQ(health.status, 200) << health.transport_error;
  EXPECT_EQ(health.body, "ok\n");
  HttpResponse home = client.get((*server)->url("/"));
  EXPECT_EQ(home.status, 200);
  EXPECT_NE(home.body.find((*server)->issuer()), std::string::npos);
}

TEST(TestServerStart, TwoServersRunSideBySide) {
  auto a = TestServer::start();
  auto b = TestServer::start();
  ASSERT_TRUE(a && b);
  EXPECT_NE((*a)->port(), (*b)->port());
  HttpClient client;
  EXPECT_EQ(client.get((*a)->url("/healthz")).status, 200);
  EXPECT_EQ(client.get((*b)->url("/healthz")).status, 200);
}

}  // namespace
}  // namespace keystep::httptest
