#pragma once
// The command-line parser of keystep and keystep-enroll (CLI11 underneath): `--flag`,
// `--flag value` and `--flag=value`, repeated flags, named positional arguments, and a clear
// error for anything unknown. Programs declare what they accept in a FlagSpec.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace keystep::cli {

struct FlagSpec {
  std::set<std::string> with_value;           // e.g. "--data-dir"
  std::set<std::string> switches;             // e.g. "--demo"
  std::set<std::string> repeatable;           // subset of with_value and switches that may repeat
  std::vector<std::string> positionals = {};  // required arguments in order, e.g. "FILE"
};

class Args {
 public:
  // On success every flag of `argv` is one of `spec`, each non-repeatable flag appears at most
  // once, and there is exactly one word per positional. On failure kInvalidArgument with a
  // message naming the offending word ("unknown option --x", "--name needs a value",
  // "--demo takes no value", "--name may be given only once", "unexpected argument x",
  // "FILE is required").
  static Result<Args> parse(const std::vector<std::string>& argv, const FlagSpec& spec);
  // A flag or positional by name ("--data-dir", "FILE").
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // How many times a flag was given (a switch given twice counts 2).
  size_t count(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  // The value of a required flag, or kInvalidArgument naming it.
  Result<std::string> required(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace keystep::cli
