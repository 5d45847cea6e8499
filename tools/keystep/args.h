#pragma once
// A small command-line parser: `--flag`, `--flag value` and `--flag=value`, repeated flags,
// and a clear error for anything unknown. Programs declare what they accept.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep::cli {

struct FlagSpec {
  std::set<std::string> with_value;  // e.g. "--data-dir"
  std::set<std::string> switches;    // e.g. "--demo"
  std::set<std::string> repeatable;  // subset of with_value that may repeat
};

class Args {
 public:
  static Result<Args> parse(const std::vector<std::string>& argv, const FlagSpec& spec);
  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::optional<std::string> get(const std::string& flag) const;
  std::vector<std::string> all(const std::string& flag) const;
  // The value of a required flag, or kInvalidArgument naming it.
  Result<std::string> required(const std::string& flag) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace keystep::cli
