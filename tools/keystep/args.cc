#include "tools/keystep/args.h"

namespace keystep::cli {

Result<Args> Args::parse(const std::vector<std::string>& argv, const FlagSpec& spec) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (spec.switches.count(flag)) {
      if (inline_value) return make_error(ErrorCode::kInvalidArgument, flag + " takes no value");
      args.values_[flag].push_back("");
      continue;
    }
    if (!spec.with_value.count(flag)) {
      if (flag.rfind("-", 0) == 0)
        return make_error(ErrorCode::kInvalidArgument, "unknown option " + flag);
      return make_error(ErrorCode::kInvalidArgument, "unexpected argument " + flag);
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argv.size()) return make_error(ErrorCode::kInvalidArgument, flag + " needs a value");
      value = argv[++i];
    }
    auto& slot = args.values_[flag];
    if (!slot.empty() && !spec.repeatable.count(flag))
      return make_error(ErrorCode::kInvalidArgument, flag + " may be given only once");
    slot.push_back(value);
  }
  return args;
}

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second.front();
}

std::vector<std::string> Args::all(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<std::string> Args::required(const std::string& flag) const {
  auto value = get(flag);
  if (!value || value->empty()) return make_error(ErrorCode::kInvalidArgument, flag + " is required");
  return *value;
}

}  // namespace keystep::cli
