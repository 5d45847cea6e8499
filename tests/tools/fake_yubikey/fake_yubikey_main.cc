// keystep-fake-yubikey: drives the tests' fake YubiKey (fake_yubikey.h) from a shell or node.
//   keystep-fake-yubikey create STATE [--serial N] [--firmware X.Y.Z] [--slot2-programmed]
//                               [--keys N] [--no-permission] [--fail-write]
//   keystep-fake-yubikey touch STATE [--slot 1|2]   prints what the key types

#include <iostream>

#include "tests/tools/fake_yubikey/fake_yubikey.h"
#include "tools/cli/command.h"

namespace {

using keystep::cli::Args;
using keystep::cli::FlagSpec;
using namespace keystep::fakekey;

int fail(const std::string& message) {
  std::cerr << "keystep-fake-yubikey: " << message << "\n";
  return 1;
}

int cmd_create(const Args& args) {
  FakeKeySpec spec;
  if (auto serial = args.get("--serial")) spec.serial = static_cast<uint32_t>(std::stoul(*serial));
  if (auto fw = args.get("--firmware")) {
    if (std::sscanf(fw->c_str(), "%d.%d.%d", &spec.firmware.major, &spec.firmware.minor,
                    &spec.firmware.build) != 3)
      return fail("--firmware is X.Y.Z");
  }
  if (auto keys = args.get("--keys")) spec.keys = std::stoi(*keys);
  spec.slot2_programmed = args.has("--slot2-programmed");
  spec.usb_permission = !args.has("--no-permission");
  spec.fail_write = args.has("--fail-write");
  if (auto s = create_fake_key(*args.get("STATE"), spec); !s) return fail(s.error().message);
  return 0;
}

int cmd_touch(const Args& args) {
  auto typed = touch_fake_key(*args.get("STATE"), args.get("--slot").value_or("2") == "1" ? 1 : 2);
  if (!typed) return fail(typed.error().message);
  std::cout << *typed << std::flush;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const keystep::cli::CommandTable commands = {
      {"create",
       {"keystep-fake-yubikey create STATE [--serial N] [--firmware X.Y.Z] [--slot2-programmed] "
        "[--keys N] [--no-permission] [--fail-write]",
        "Create a fake key's state file.",
        FlagSpec{{"--serial", "--firmware", "--keys"},
                 {"--slot2-programmed", "--no-permission", "--fail-write"},
                 {},
                 {"STATE"}},
        cmd_create}},
      {"touch",
       {"keystep-fake-yubikey touch STATE [--slot 1|2]",
        "Touch the fake key: print what it types (identifier, code, newline).",
        FlagSpec{{"--slot"}, {}, {}, {"STATE"}}, cmd_touch}},
  };
  return keystep::cli::run_command_line("keystep-fake-yubikey", commands, {argv + 1, argv + argc},
                                        std::cout, std::cerr);
}
