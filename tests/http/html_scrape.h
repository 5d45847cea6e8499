#pragma once
// Reading Keystep's pages as a browser user would: the values of their inputs and their text,
// with HTML entities decoded.

#include <optional>
#include <string>

namespace keystep::httptest {

// Decodes the entities base/html.h writes (&quot; &#39; &lt; &gt; &amp;).
std::string html_unescape(std::string s);
// The value of the first HTML input named `name` (entities decoded; "" when absent).
std::string input_value(const std::string& html, const std::string& name);
// The value of the first attribute `name` in `html` (e.g. "data-options"; entities decoded;
// "" when absent).
std::string attribute_value(const std::string& html, const std::string& name);
// RFC 4648 base32 without padding, as the enable page shows a secret; spaces are skipped.
// nullopt for any other character.
std::optional<std::string> base32_decode(const std::string& text);

}  // namespace keystep::httptest
