#pragma once
// A program made of commands of one or two words (`keystep account create`,
// `keystep-enroll yubikey`), each with its usage, summary, flags and body.

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tools/cli/args.h"

namespace keystep::cli {

struct Command {
  std::string usage;    // the synopsis, starting with the program's name
  std::string summary;  // one paragraph, shown by --help and in the overview
  FlagSpec flags;
  std::function<int(const Args&)> run;  // the exit status
};

using CommandTable = std::map<std::string, Command>;

// Runs the command that the first one or two of `words` (argv without the program) name.
// No words: the overview on `err`, exit 2. "--help", "-h" or "help" first: the overview on
// `out`, exit 0. A known command with "--help" or "-h" anywhere: its usage and summary on
// `out`, exit 0. An unknown command or flags its spec refuses: the message and a usage on
// `err`, exit 2. Otherwise the command's own exit status.
int run_command_line(const std::string& program, const CommandTable& commands,
                     const std::vector<std::string>& words, std::ostream& out, std::ostream& err);

}  // namespace keystep::cli
