// The route tables: how a table finds a route (RouteTable), and that the server answers exactly
// the routes it lists, with 404 and 405 + Allow elsewhere.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/route_table.h"
#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

using http::Method;
using Table = http::RouteTable<int>;
using Kind = Table::Found::Kind;

TEST(RouteTable, FindsTheHandlerOfPathAndMethod) {
  Table table;
  table.add({Method::kGet}, "/login", 1).add({Method::kPost}, "/login", 2);
  const auto get = table.find(Method::kGet, "/login");
  ASSERT_EQ(get.kind, Kind::kServed);
  EXPECT_EQ(*get.handler, 1);
  EXPECT_EQ(get.pattern, "/login");
  EXPECT_EQ(*table.find(Method::kPost, "/login").handler, 2);
}

TEST(RouteTable, AnotherMethodOfAKnownPathIsWrongMethodWithAllowWithoutHead) {
  Table table;
  table.add({Method::kDelete, Method::kPost}, "/x", 1).add({Method::kHead, Method::kGet}, "/x", 2);
  const auto found = table.find(Method::kPut, "/x");
  EXPECT_EQ(found.kind, Kind::kWrongMethod);
  EXPECT_EQ(found.pattern, "/x");
  EXPECT_EQ(found.allow, "GET, POST, DELETE");
  EXPECT_EQ(table.find(Method::kOther, "/x").kind, Kind::kWrongMethod);
}

TEST(RouteTable, UnknownPathIsNotFound) {
  Table table;
  table.add({Method::kGet}, "/login", 1);
  for (const char* path : {"/logi", "/login/x", "/", "", "login", "//login"}) {
    const auto found = table.find(Method::kGet, path);
    EXPECT_EQ(found.kind, Kind::kNotFound) << path;
    EXPECT_TRUE(found.pattern.empty()) << path;
  }
}

TEST(RouteTable, VariablesMatchOneSegmentEachAndComeBackInOrder) {
  Table table;
  table.add({Method::kPost}, "/a/{account}/m/{member}/reset", 1);
  const auto found = table.find(Method::kPost, "/a/acme/m/42/reset");
  ASSERT_EQ(found.kind, Kind::kServed);
  EXPECT_EQ(found.variables, (std::vector<std::string>{"acme", "42"}));
  EXPECT_EQ(found.pattern, "/a/{account}/m/{member}/reset");
  EXPECT_EQ(table.find(Method::kPost, "/a//m/42/reset").variables,
            (std::vector<std::string>{"", "42"}));
  EXPECT_EQ(table.find(Method::kPost, "/a/acme/x/m/42/reset").kind, Kind::kNotFound);
  EXPECT_TRUE(table.find(Method::kGet, "/a/acme/m/42/reset").variables.empty());
}

TEST(RouteTable, TrailingSlashIsAPathOfItsOwnUnlessTheTableIgnoresIt) {
  Table strict;
  strict.add({Method::kGet}, "/p/{x}", 1);
  EXPECT_EQ(strict.find(Method::kGet, "/p/a/").kind, Kind::kNotFound);
  Table lenient(/*ignore_trailing_slash=*/true);
  lenient.add({Method::kGet}, "/p/{x}", 1);
  EXPECT_EQ(lenient.find(Method::kGet, "/p/a/").kind, Kind::kServed);
  EXPECT_EQ(lenient.find(Method::kGet, "/p/a//").kind, Kind::kNotFound);
}

TEST(RouteTable, TheFirstMatchingPatternDecides) {
  Table table;
  table.add({Method::kGet}, "/t/{id}", 1).add({Method::kPost}, "/t/new", 2);
  EXPECT_EQ(table.find(Method::kPost, "/t/new").kind, Kind::kWrongMethod);
  ASSERT_EQ(table.routes().size(), 2u);
  EXPECT_EQ(table.routes()[0].pattern, "/t/{id}");
}

std::string describe(const std::vector<http::RouteInfo>& routes) {
  std::string out;
  for (const auto& route : routes) {
    for (const Method m : route.methods) out += std::string(http::method_name(m)) + " ";
    out += route.pattern + "\n";
  }
  return out;
}

// A concrete path for `pattern`: each variable becomes "acme" (the fixture's account) or "1".
std::string path_of(const std::string& pattern) {
  std::string path;
  for (const auto segment : http::path_segments(pattern)) {
    if (segment == "{account}")
      path += "/acme";
    else if (!segment.empty() && segment.front() == '{')
      path += "/1";
    else
      path += "/" + std::string(segment);
  }
  return path;
}

using Routes = KeystepHttpTest;

// The routes as the if-chains of http/server.cc served them before the tables: a change here is
// a change of the HTTP surface. (Issue 15 added OPTIONS, the CORS preflight, to the four
// endpoints a browser app calls, then revocation, introspection, the consent page, the
// profile's Apps with access and the members' display name; its leftovers the removal of a
// member and the account's applications. Issue 16 added "Forgot your password?"; issue 13's
// follow-up one credential of a member, with its public details.)
TEST_F(Routes, TheServerServesTheseRoutes) {
  EXPECT_EQ(describe(server_->server().routes()),
            "GET PUT /api/v1/accounts/{account}/authentication-settings\n"
            "GET /api/v1/accounts/{account}/members\n"
            "POST /api/v1/accounts/{account}/members/{member}/two-factor/reset\n"
            "DELETE /api/v1/accounts/{account}/members/{member}\n"
            "GET /api/v1/accounts/{account}/clients\n"
            "GET PUT /api/v1/accounts/{account}/clients/{client}\n"
            "PUT /api/v1/accounts/{account}/members/{member}/display-name\n"
            "GET POST /api/v1/accounts/{account}/members/{member}/credentials\n"
            "POST /api/v1/accounts/{account}/members/{member}/credentials/{credential}/confirm\n"
            "GET DELETE /api/v1/accounts/{account}/members/{member}/credentials/{credential}\n"
            "GET POST /api/v1/accounts/{account}/invitations\n"
            "DELETE /api/v1/accounts/{account}/invitations/{invitation}\n"
            "GET POST /api/v1/accounts/{account}/tokens\n"
            "DELETE /api/v1/accounts/{account}/tokens/{token}\n"
            "GET /api/v1/accounts/{account}/audit-events\n"
            "GET HEAD OPTIONS /.well-known/openid-configuration\n"
            "GET HEAD OPTIONS /jwks.json\n"
            "GET POST /authorize\n"
            "GET POST /login\n"
            "GET POST /login/second-factor\n"
            "GET /profile\n"
            "POST /profile/two-factor\n"
            "GET POST /profile/two-factor/enable\n"
            "POST /profile/recovery-codes\n"
      "POST /profile/two-factor/add\n"
      "POST /profile/two-factor/rename\n"
      "POST /profile/two-factor/remove\n"
      "POST /profile/confirm\n"
            "GET POST /consent\n"
            "POST /profile/apps/revoke\n"
            "GET POST /signup\n"
            "GET /enroll\n"
            "GET POST /password/forgot\n"
            "GET POST /password/reset\n"
            "GET POST /account/authentication\n"
            "POST OPTIONS /token\n"
            "POST OPTIONS /revoke\n"
            "POST OPTIONS /introspect\n"
            "GET POST OPTIONS /userinfo\n"
            "GET POST /logout\n"
            "GET /metrics\n"
            "GET HEAD /assets/{file}\n"
            "GET HEAD /healthz\n"
            "GET HEAD /readyz\n"
            "GET HEAD /\n");
}

TEST_F(Routes, EveryRouteAnswersEveryOtherMethodWith405AndItsAllowHeader) {
  const auto routes = server_->server().routes();
  ASSERT_FALSE(routes.empty());
  for (const auto& route : routes) {
    const bool admin = route.pattern.rfind("/api/", 0) == 0;
    for (const char* name : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
      const Method method = http::method_from_name(name);
      bool served = false;
      for (const Method m : route.methods) served = served || m == method;
      if (served) continue;
      const std::string where = std::string(name) + " " + route.pattern;
      HttpResponse r = client_.request(name, url(path_of(route.pattern)));
      EXPECT_EQ(r.status, 405) << where;
      EXPECT_EQ(r.header("Allow").value_or(""), http::allow_header(route.methods)) << where;
      if (std::string(name) != "HEAD") {
        EXPECT_EQ(r.json()["error"], "method_not_allowed") << where;
      }
      EXPECT_EQ(r.header("Cache-Control").value_or("") == "no-store", admin) << where;
    }
  }
}

TEST_F(Routes, UnknownPathsAre404AndTheAdminApiAnswersItsOwnNoStore) {
  for (const char* path : {"/no/such/path", "/login/", "/api/v1/accounts", "/api/v1/other"}) {
    HttpResponse r = client_.get(url(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.json()["error"], "not_found") << path;
    EXPECT_FALSE(r.header("Cache-Control").has_value()) << path;
  }
  for (const char* path :
       {"/api/v1/accounts/", "/api/v1/accounts/acme/nothing",
        "/api/v1/accounts/acme/audit-events//"}) {
    HttpResponse r = client_.get(url(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.json()["error"], "not_found") << path;
    EXPECT_EQ(r.header("Cache-Control").value_or(""), "no-store") << path;
  }
}

TEST_F(Routes, TheAdminApiIgnoresOneTrailingSlash) {
  // Unauthenticated: the route is found (401), not 404.
  EXPECT_EQ(client_.get(url("/api/v1/accounts/acme/members/")).status, 401);
}

}  // namespace
}  // namespace keystep::httptest
