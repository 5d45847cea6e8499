// html_escape (base/html.h): what pages and the HTML part of emails put between tags and
// inside quoted attribute values.

#include "base/html.h"

#include <gtest/gtest.h>

#include <string>

namespace keystep {
namespace {

TEST(HtmlEscape, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(html_escape("&"), "&amp;");
  EXPECT_EQ(html_escape("<"), "&lt;");
  EXPECT_EQ(html_escape(">"), "&gt;");
  EXPECT_EQ(html_escape("\""), "&quot;");
  EXPECT_EQ(html_escape("'"), "&#39;");
}

TEST(HtmlEscape, LeavesOtherTextAsItIs) {
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("alice@example.com"), "alice@example.com");
  EXPECT_EQ(html_escape("Zoë – 日本 = 1; /path?x#y"), "Zoë – 日本 = 1; /path?x#y");
  EXPECT_EQ(html_escape(std::string("a\0b\r\n\t", 6)), std::string("a\0b\r\n\t", 6));
}

TEST(HtmlEscape, EscapesAnAmpersandOnceSoEntitiesInTheInputStayText) {
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");
  EXPECT_EQ(html_escape("&#39;"), "&amp;#39;");
}

TEST(HtmlEscape, NeutralisesMarkupAndAttributeBreakouts) {
  EXPECT_EQ(html_escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html_escape("\" onmouseover=\"x"), "&quot; onmouseover=&quot;x");
  EXPECT_EQ(html_escape("' autofocus onfocus='x"), "&#39; autofocus onfocus=&#39;x");
  const std::string escaped = html_escape("<a href=\"x\" title='y'>&</a>");
  EXPECT_EQ(escaped.find_first_of("<>\"'"), std::string::npos) << escaped;
}

}  // namespace
}  // namespace keystep
