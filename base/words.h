#pragma once
// Space-separated word lists, as OAuth and OIDC write them (scope, prompt, acr_values, amr).

#include <string>
#include <string_view>
#include <vector>

namespace keystep {

// The words of `s`, split on runs of whitespace; empty for a blank string.
std::vector<std::string> split_spaces(std::string_view s);
// The words joined by single spaces.
std::string join_spaces(const std::vector<std::string>& words);
// Whether `word` is one of `words`.
bool contains(const std::vector<std::string>& words, std::string_view word);

}  // namespace keystep
