#include "base/url.h"

#include <gtest/gtest.h>

#include <string>

namespace keystep {
namespace {

TEST(UrlEncode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode("a b+c&d=e/f?g#h%"), "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
  EXPECT_EQ(url_encode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(url_encode(std::string_view("\0", 1)), "%00");
  EXPECT_EQ(url_encode(""), "");
}

TEST(UrlDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(*url_decode("a%20b%2bc%2Fd", false), "a b+c/d");
  EXPECT_EQ(*url_decode("%C3%A9", false), "\xc3\xa9");
}

TEST(UrlDecode, TreatsPlusAsSpaceOnlyWhenAsked) {
  EXPECT_EQ(*url_decode("a+b", true), "a b");
  EXPECT_EQ(*url_decode("a+b", false), "a+b");
  EXPECT_EQ(*url_decode("a%2Bb", true), "a+b");
}

TEST(UrlDecode, RejectsBadEscapes) {
  for (std::string_view bad : {"%", "%2", "a%2", "%zz", "%2g", "%%41"}) {
    Result<std::string> r = url_decode(bad, true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(UrlEncode, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(*url_decode(url_encode(all), true), all);
}

TEST(ParseForm, ParsesPairsInOrder) {
  Result<Params> p =
      parse_form("grant_type=authorization_code&code=abc%2Fdef&redirect_uri=https%3A%2F%2Fa");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (Params{{"grant_type", "authorization_code"},
                        {"code", "abc/def"},
                        {"redirect_uri", "https://a"}}));
}

TEST(ParseForm, DecodesPlusAsSpaceAndHandlesEdgeSegments) {
  Result<Params> p = parse_form("scope=openid+email&&flag&empty=&=v&a=b=c&");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(
      *p,
      (Params{{"scope", "openid email"}, {"flag", ""}, {"empty", ""}, {"", "v"}, {"a", "b=c"}}));
  EXPECT_TRUE(parse_form("")->empty());
}

TEST(ParseForm, RejectsBadEscapes) {
  Result<Params> p = parse_form("a=1&b=%G0");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_form("%=1").ok());
}

TEST(ParseForm, RejectsInvalidUtf8InNamesAndValues) {
  for (std::string_view bad : {"state=%FF", "nonce=%C3", "a=1&b=%C3%28", "%FF=1", "x=%ED%A0%80",
                               "x=%C0%AF", "x=%F4%90%80%80", "x=\xff"}) {
    Result<Params> p = parse_form(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  Result<Params> p = parse_form("name=Jos%C3%A9&emoji=%F0%9F%94%91&raw=\xc3\xa9");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p,
            (Params{{"name", "Jos\xc3\xa9"}, {"emoji", "\xf0\x9f\x94\x91"}, {"raw", "\xc3\xa9"}}));
}

TEST(IsUtf8, AcceptsWellFormedAndRejectsEveryIllFormedKind) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain ASCII"));
  EXPECT_TRUE(is_utf8("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
  EXPECT_TRUE(is_utf8(std::string_view("\0", 1)));
  for (std::string_view bad :
       {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc3", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xef\xbf",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "a\xc3(b"}) {
    EXPECT_FALSE(is_utf8(bad)) << testing::PrintToString(std::string(bad));
  }
}

TEST(GetParam, ReturnsFirstNonEmptyValue) {
  const Params p = {{"a", "1"}, {"b", ""}, {"c", ""}, {"c", "3"}};
  EXPECT_EQ(get_param(p, "a"), "1");
  EXPECT_EQ(get_param(p, "b"), std::nullopt);
  EXPECT_EQ(get_param(p, "c"), "3");
  EXPECT_EQ(get_param(p, "missing"), std::nullopt);
}

TEST(HasDuplicate, DetectsRepeatedParameters) {
  const Params p = {{"a", "1"}, {"a", "2"}, {"b", "1"}, {"c", ""}, {"c", "x"}};
  EXPECT_TRUE(has_duplicate(p, "a"));
  EXPECT_FALSE(has_duplicate(p, "b"));
  EXPECT_FALSE(has_duplicate(p, "c"));  // an empty value counts as omitted
  EXPECT_FALSE(has_duplicate(p, "missing"));
  EXPECT_TRUE(has_duplicate(*parse_form("scope=a&scope=a"), "scope"));
}

TEST(EncodeForm, IsTheInverseOfParseForm) {
  const Params p = {{"redirect_uri", "https://a/cb?x=1"}, {"state", "a b&c"}, {"e", ""}};
  EXPECT_EQ(encode_form(p), "redirect_uri=https%3A%2F%2Fa%2Fcb%3Fx%3D1&state=a%20b%26c&e=");
  EXPECT_EQ(*parse_form(encode_form(p)), p);
}

TEST(AppendQuery, AddsQuestionMarkOrAmpersand) {
  const Params extra = {{"code", "c 1"}, {"state", "s"}};
  EXPECT_EQ(append_query("https://a/cb", extra), "https://a/cb?code=c%201&state=s");
  EXPECT_EQ(append_query("https://a/cb?x=1", extra), "https://a/cb?x=1&code=c%201&state=s");
  EXPECT_EQ(append_query("https://a/cb?", extra), "https://a/cb?code=c%201&state=s");
  EXPECT_EQ(append_query("https://a/cb?x=1&", extra), "https://a/cb?x=1&code=c%201&state=s");
  EXPECT_EQ(append_query("com.example.app:/cb", extra), "com.example.app:/cb?code=c%201&state=s");
}

TEST(AppendQuery, KeepsFragmentLast) {
  EXPECT_EQ(append_query("https://a/cb?x=1#frag", {{"k", "v"}}), "https://a/cb?x=1&k=v#frag");
  EXPECT_EQ(append_query("https://a/cb#f?g", {{"k", "v"}}), "https://a/cb?k=v#f?g");
}

TEST(AppendQuery, LeavesUrlAloneWithoutParameters) {
  EXPECT_EQ(append_query("https://a/cb?x", {}), "https://a/cb?x");
}

TEST(ParseUrl, SplitsComponents) {
  Result<ParsedUrl> u = parse_url("HTTPS://Example.COM:8443/a/b%20c?x=1&y=2#frag");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/a/b%20c");
  EXPECT_EQ(u->query, "x=1&y=2");
  EXPECT_EQ(u->fragment, "frag");
}

TEST(ParseUrl, DistinguishesAbsentAndEmptyParts) {
  Result<ParsedUrl> bare = parse_url("http://localhost");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "localhost");
  EXPECT_EQ(bare->port, std::nullopt);
  EXPECT_EQ(bare->path, "");
  EXPECT_EQ(bare->query, std::nullopt);
  EXPECT_EQ(bare->fragment, std::nullopt);

  Result<ParsedUrl> empty = parse_url("http://h/?#");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->path, "/");
  EXPECT_EQ(empty->query, "");
  EXPECT_EQ(empty->fragment, "");

  Result<ParsedUrl> query_only = parse_url("https://h?q");
  ASSERT_TRUE(query_only.ok());
  EXPECT_EQ(query_only->host, "h");
  EXPECT_EQ(query_only->path, "");
  EXPECT_EQ(query_only->query, "q");
}

TEST(ParseUrl, AcceptsIpLiterals) {
  Result<ParsedUrl> v6 = parse_url("http://[::1]:8080/cb");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 8080);
  Result<ParsedUrl> v4 = parse_url("http://127.0.0.1/cb");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
}

TEST(ParseUrl, RejectsWhatARedirectMustNotBe) {
  for (std::string_view bad : {"",
                               "example.com/cb",
                               "/cb",
                               "ftp://a/",
                               "javascript:alert(1)",
                               "https:/a/cb",
                               "https:///cb",
                               "https://user@a/cb",
                               "https://user:pw@a/cb",
                               "https://a:0/",
                               "https://a:65536/",
                               "https://a:/",
                               "https://a:80x/",
                               "https://[::1/",
                               "https://[]/",
                               "https://[::1]x/",
                               "https://a b/",
                               "https://a/c d",
                               "https://a/\x01",
                               "https://a\\@b/",
                               "https://a/\"",
                               "https://a/%zz",
                               "https://\xc3\xa9/",
                               "https://a_%41/"}) {
    Result<ParsedUrl> u = parse_url(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace keystep
