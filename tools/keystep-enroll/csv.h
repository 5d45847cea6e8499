#pragma once
// The small CSV dialect of keystep-enroll's input files (--batch, import): comma-separated
// fields, each trimmed of spaces and tabs, optionally in double quotes ("" is a quote inside
// one); blank lines and lines starting with '#' are comments.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep::enroll {

struct CsvRow {
  size_t line = 0;  // 1-based line number in the file
  std::vector<std::string> fields;
};

// On success the rows of `text` that are not comments. On failure kInvalidArgument naming
// the line (an unterminated quote).
Result<std::vector<CsvRow>> parse_csv(std::string_view text);

// The whole file at `path`; kNotFound naming it when it cannot be read.
Result<std::string> read_text_file(const std::string& path);

// An email as the files, the journal and the account's members are matched by: lower-cased
// (ASCII), since the server compares addresses without case.
std::string email_key(std::string email);

// "1 row", "2 rows": a count and its noun, for summaries.
std::string count_of(size_t n, const std::string& noun);

}  // namespace keystep::enroll
