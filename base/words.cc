#include "base/words.h"

#include <algorithm>
#include <sstream>

namespace keystep {

std::vector<std::string> split_spaces(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string join_spaces(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

bool contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace keystep
