#pragma once
// Escaping for HTML text and attribute values, shared by the pages (http/) and the HTML
// part of emails (idp/). Escapes & < > " and '.

#include <string>
#include <string_view>

namespace keystep {

std::string html_escape(std::string_view text);

}  // namespace keystep
