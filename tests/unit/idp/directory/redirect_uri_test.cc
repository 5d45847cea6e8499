#include "idp/directory/redirect_uri.h"

#include <gtest/gtest.h>

#include <string>

namespace keystep {
namespace {

TEST(ValidateRedirectUri, AcceptsAllowedForms) {
  for (std::string_view uri : {
           "https://app.example.com/callback",
           "https://app.example.com:8443/cb?tenant=1",
           "https://app.example.com",
           "http://localhost/cb",
           "http://localhost:51004/cb",
           "http://127.0.0.1:8080/cb",
           "http://[::1]:8080/cb",
           "com.example.app:/oauth2redirect/example-provider",
           "com.example.app://callback",
       }) {
    Status s = validate_redirect_uri(uri);
    EXPECT_TRUE(s.ok()) << uri << ": " << s.error().message;
  }
}

TEST(ValidateRedirectUri, RejectsDisallowedForms) {
  const std::string too_long = "https://a.example/" + std::string(2048, 'x');
  for (std::string_view uri : {
           std::string_view(""),
           std::string_view("/callback"),
           std::string_view("app.example.com/callback"),
           std::string_view("https://app.example.com/cb#frag"),
           std::string_view("https://app.example.com/cb#"),
           std::string_view("http://app.example.com/cb"),
           std::string_view("http://127.0.0.2/cb"),
           std::string_view("http://localhost.evil.com/cb"),
           std::string_view("https://user@app.example.com/cb"),
           std::string_view("https://user:pw@app.example.com/cb"),
           std::string_view("com.example.app://user@host/cb"),
           std::string_view("javascript:alert(1)"),
           std::string_view("data:text/html,hi"),
           std::string_view("file:///etc/passwd"),
           std::string_view("myapp:/cb"),
           std::string_view("com.example.app:"),
           std::string_view("1com.example:/cb"),
           std::string_view("https://app.example.com/c b"),
           std::string_view("https://app.example.com/\n"),
           std::string_view("https://app.example.com\\@evil.com/"),
           std::string_view(too_long),
       }) {
    Status s = validate_redirect_uri(uri);
    ASSERT_FALSE(s.ok()) << uri;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(ValidateRedirectUri, AcceptsExactlyMaximumLength) {
  const std::string prefix = "https://a.example/";
  EXPECT_TRUE(
      validate_redirect_uri(prefix + std::string(kMaxRedirectUriLength - prefix.size(), 'x')).ok());
  EXPECT_FALSE(
      validate_redirect_uri(prefix + std::string(kMaxRedirectUriLength - prefix.size() + 1, 'x'))
          .ok());
}

TEST(RedirectUriRegistered, RequiresExactMatch) {
  const std::vector<std::string> registered = {"https://app.example.com/cb",
                                               "http://127.0.0.1:8080/cb"};
  EXPECT_TRUE(redirect_uri_registered(registered, "https://app.example.com/cb"));
  EXPECT_TRUE(redirect_uri_registered(registered, "http://127.0.0.1:8080/cb"));
  for (std::string_view near : {"https://app.example.com/cb/", "https://app.example.com/cb?x=1",
                                "https://APP.example.com/cb", "https://app.example.com/c",
                                "https://app.example.com:443/cb", "http://127.0.0.1:8081/cb", ""}) {
    EXPECT_FALSE(redirect_uri_registered(registered, near)) << near;
  }
  EXPECT_FALSE(redirect_uri_registered({}, "https://app.example.com/cb"));
}

}  // namespace
}  // namespace keystep
