#pragma once
// A fake YubiKey for keystep-enroll's tests, kept in a JSON state file so that the tool (in
// keystep-enroll-testing), the tests and node (through keystep-fake-yubikey) share one key.
// Programming runs the real libykpers configuration building (YkpConfig::build) and keeps
// the configuration bytes it produced; a touch decodes those bytes as a key would (key,
// flags, fixed part, initial moving factor) and types the identifier, the next HOTP code
// (liboath) and Enter.

#include <cstdint>
#include <memory>
#include <string>

#include "tools/keystep-enroll/device.h"

namespace keystep::fakekey {

struct FakeKeySpec {
  uint32_t serial = 12345678;
  enroll::Firmware firmware{5, 4, 3};
  bool slot1_programmed = true;  // the factory Yubico OTP credential
  bool slot2_programmed = false;
  int keys = 1;                // keys "plugged in": 0 and 2 make opening fail
  bool usb_permission = true;  // false: opening fails as without the udev rule
  bool fail_write = false;     // every write fails, as a key pulled out mid-write
  bool hide_serial = false;    // the key does not show its serial to the API
};

// Creates (or replaces) the state file `path` for a key described by `spec`.
Status create_fake_key(const std::string& path, const FakeKeySpec& spec);

// The seam's open(): fails as the libykpers backend would for 0 keys, 2 keys or no
// permission; else the key, which reads and writes `path` on each call.
Result<std::unique_ptr<enroll::YubiKeyDevice>> open_fake_key(const std::string& path);

// A touch of `slot`: what the key types (identifier, code, "\n" for Enter), advancing its
// counter. kNotFound when the slot holds no OATH-HOTP configuration written by the tool.
Result<std::string> touch_fake_key(const std::string& path, int slot = 2);

// The configuration bytes libykpers produced for `slot` (ykdef.h's struct config_st).
Result<std::string> fake_key_config(const std::string& path, int slot = 2);

}  // namespace keystep::fakekey
