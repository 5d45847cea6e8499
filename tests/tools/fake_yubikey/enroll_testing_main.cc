// keystep-enroll-testing: keystep-enroll with the tests' fake key (fake_yubikey.h) in place of
// libykpers, for the end-to-end tests. The key is the state file named by
// KEYSTEP_FAKE_YUBIKEY; the tests touch it with keystep-fake-yubikey. Built only with the
// tests: the shipped keystep-enroll has no fake.

#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/tools/fake_yubikey/fake_yubikey.h"
#include "tools/keystep-enroll/commands.h"

int main(int argc, char** argv) {
  const char* state = std::getenv("KEYSTEP_FAKE_YUBIKEY");
  if (!state || !*state) {
    std::cerr << "keystep-enroll-testing: set KEYSTEP_FAKE_YUBIKEY to a fake key's state file\n";
    return 2;
  }
  const std::string path = state;
  return keystep::enroll::enroll_main(argc, argv,
                                      [path] { return keystep::fakekey::open_fake_key(path); },
                                      keystep::enroll::hid_keys());
}
