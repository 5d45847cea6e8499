#include "tools/cli/command.h"

#include <algorithm>

namespace keystep::cli {
namespace {

void print_overview(const std::string& program, const CommandTable& commands, std::ostream& out) {
  out << "Usage: " << program << " COMMAND [OPTIONS]   (" << program
      << " COMMAND --help for details)\n\nCommands:\n";
  for (const auto& [name, command] : commands)
    out << "  " << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ')
        << command.summary << "\n";
}

}  // namespace

int run_command_line(const std::string& program, const CommandTable& commands,
                     const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  if (words.empty()) {
    print_overview(program, commands, err);
    return 2;
  }
  if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    print_overview(program, commands, out);
    return 0;
  }
  const Command* command = nullptr;
  size_t consumed = 0;
  for (size_t n = std::min<size_t>(2, words.size()); n >= 1 && !command; --n) {
    std::string name = words[0];
    for (size_t i = 1; i < n; ++i) name += " " + words[i];
    if (auto it = commands.find(name); it != commands.end()) {
      command = &it->second;
      consumed = n;
    }
  }
  if (!command) {
    err << program << ": unknown command '" << words[0] << "'\n";
    print_overview(program, commands, err);
    return 2;
  }
  const std::vector<std::string> rest(words.begin() + static_cast<long>(consumed), words.end());
  if (std::any_of(rest.begin(), rest.end(),
                  [](const std::string& w) { return w == "--help" || w == "-h"; })) {
    out << "Usage: " << command->usage << "\n\n" << command->summary << "\n";
    return 0;
  }
  auto args = Args::parse(rest, command->flags);
  if (!args) {
    err << program << ": " << args.error().message << "\nUsage: " << command->usage << "\n";
    return 2;
  }
  return command->run(*args);
}

}  // namespace keystep::cli
