#include "tools/keystep-enroll/csv.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace keystep::enroll {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

Result<std::vector<CsvRow>> parse_csv(std::string_view text) {
  std::vector<CsvRow> rows;
  size_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    CsvRow row{number, {}};
    size_t i = 0;
    while (true) {
      std::string field;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] == '"') {
        bool closed = false;
        for (++i; i < line.size(); ++i) {
          if (line[i] != '"') {
            field += line[i];
          } else if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            closed = true;
            ++i;
            break;
          }
        }
        if (!closed)
          return make_error(ErrorCode::kInvalidArgument,
                            "line " + std::to_string(number) + ": a quote is not closed");
        const size_t comma = line.find(',', i);
        if (!trim(line.substr(i, comma == std::string_view::npos ? line.npos : comma - i)).empty())
          return make_error(ErrorCode::kInvalidArgument,
                            "line " + std::to_string(number) + ": text after a quoted field");
        i = comma;
      } else {
        const size_t comma = line.find(',', i);
        field = std::string(
            trim(line.substr(i, comma == std::string_view::npos ? line.npos : comma - i)));
        i = comma;
      }
      row.fields.push_back(std::move(field));
      if (i == std::string_view::npos) break;
      ++i;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ErrorCode::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string email_key(std::string email) {
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return email;
}

std::string count_of(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace keystep::enroll
