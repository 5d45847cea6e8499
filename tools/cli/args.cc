#include "tools/cli/args.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace keystep::cli {
namespace {

Error usage_error(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// Rewrites the two spellings CLI11 2.1 reads otherwise than we mean: `--flag=`, an empty
// value like `--flag ""` (CLI11 would take the next word as the value instead), and
// `--switch=value`, refused (CLI11 would read the value as a boolean).
Result<std::vector<std::string>> normalise(const std::vector<std::string>& argv,
                                           const FlagSpec& spec) {
  std::vector<std::string> words;
  for (const auto& word : argv) {
    const auto eq = word.find('=');
    const std::string flag = word.substr(0, eq);
    if (word.rfind("--", 0) != 0 || eq == std::string::npos) {
      words.push_back(word);
    } else if (spec.switches.count(flag)) {
      return usage_error(flag + " takes no value");
    } else if (eq + 1 == word.size() && spec.with_value.count(flag)) {
      words.push_back(flag);
      words.emplace_back();
    } else {
      words.push_back(word);
    }
  }
  return words;
}

}  // namespace

Result<Args> Args::parse(const std::vector<std::string>& argv, const FlagSpec& spec) {
  CLI::App app;
  app.set_help_flag();  // each program answers --help from its own usage text
  app.allow_extras();   // unknown words are reported below, in our words
  std::map<std::string, CLI::Option*> options;
  for (const auto& flag : spec.with_value)
    options[flag] =
        app.add_option(flag)->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  for (const auto& flag : spec.switches)
    options[flag] = app.add_flag(flag)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  std::vector<CLI::Option*> positionals;
  for (const auto& name : spec.positionals)
    positionals.push_back(app.add_option(name)->expected(1));

  auto words = normalise(argv, spec);
  if (!words) return words.error();
  std::reverse(words->begin(), words->end());  // CLI11 consumes its arguments from the back
  try {
    app.parse(*words);
  } catch (const CLI::ArgumentMismatch& e) {
    // The one mismatch left is a flag at the end without its value: "NAME: 1 required ...".
    const std::string what = e.what();
    const std::string flag = what.substr(0, what.find(':'));
    if (spec.with_value.count(flag)) return usage_error(flag + " needs a value");
    return usage_error(what);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  for (const auto& word : app.remaining()) {
    if (word.rfind("-", 0) == 0) {
      return usage_error("unknown option " + word.substr(0, word.find('=')));
    }
    return usage_error("unexpected argument " + word);
  }

  Args args;
  for (const auto& [flag, option] : options) {
    if (option->count() == 0) continue;
    if (option->count() > 1 && !spec.repeatable.count(flag))
      return usage_error(flag + " may be given only once");
    if (spec.switches.count(flag))
      args.values_[flag].assign(option->count(), "");
    else
      args.values_[flag] = option->results();
  }
  for (size_t i = 0; i < positionals.size(); ++i) {
    if (positionals[i]->count() == 0) return usage_error(spec.positionals[i] + " is required");
    args.values_[spec.positionals[i]] = positionals[i]->results();
  }
  return args;
}

size_t Args::count(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? 0 : it->second.size();
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.front();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<std::string> Args::required(const std::string& name) const {
  auto value = get(name);
  if (!value || value->empty()) return usage_error(name + " is required");
  return *value;
}

}  // namespace keystep::cli
