#include "tests/http/html_scrape.h"

#include <string_view>
#include <utility>

namespace keystep::httptest {

std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [entity, text] : entities) {
    for (size_t at = s.find(entity); at != std::string::npos; at = s.find(entity, at + 1))
      s.replace(at, std::string_view(entity).size(), text);
  }
  return s;
}

namespace {

// The decoded text between `marker` and the next double quote.
std::string quoted_after(const std::string& html, const std::string& marker) {
  const auto at = html.find(marker);
  if (at == std::string::npos) return "";
  const auto begin = at + marker.size();
  const auto end = html.find('"', begin);
  if (end == std::string::npos) return "";
  return html_unescape(html.substr(begin, end - begin));
}

}  // namespace

std::string input_value(const std::string& html, const std::string& name) {
  return quoted_after(html, "name=\"" + name + "\" value=\"");
}

std::string attribute_value(const std::string& html, const std::string& name) {
  return quoted_after(html, " " + name + "=\"");
}

std::optional<std::string> base32_decode(const std::string& text) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == ' ') continue;
    const auto value = kAlphabet.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace keystep::httptest
