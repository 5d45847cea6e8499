#pragma once
// The device seam of keystep-enroll: what the tool asks of a YubiKey (its status and serial,
// and writing one OATH-HOTP slot). The libykpers backend (ykpers_device.h) and the tests'
// fake implement it; another backend (e.g. ykman's protocol) can replace libykpers behind
// it, since nothing here names a libykpers type.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "tools/keystep-enroll/hotp_slot.h"

namespace keystep::enroll {

struct DeviceStatus {
  Firmware firmware;
  std::optional<uint32_t> serial;    // none when the key does not show it to the API
  std::array<bool, 2> programmed{};  // slot 1 and slot 2 hold a configuration
};

// One opened YubiKey. Not thread-safe; closed when destroyed.
class YubiKeyDevice {
 public:
  virtual ~YubiKeyDevice() = default;
  // On success the key's firmware, serial and which slots are programmed. On failure
  // kUnavailable with the backend's text (the key was removed, a USB error).
  virtual Result<DeviceStatus> status() = 0;
  // Writes `slot` to the key, replacing what the slot held. `unlock` is the access code that
  // protects the slot's current configuration, if it has one. On success the key types the
  // new configuration's codes from the next touch. On failure kUnavailable naming the cause
  // (a wrong or missing access code, the key removed); the slot is as it was.
  virtual Status program_hotp(const HotpSlot& slot, const std::optional<AccessCode>& unlock) = 0;
};

// Opens the one key plugged in; the failures below are errors from open_failure().
using DeviceOpener = std::function<Result<std::unique_ptr<YubiKeyDevice>>()>;

enum class OpenFailure {
  kNoKey,         // no YubiKey is plugged in
  kSeveralKeys,   // more than one: the tool would not know which one it programs
  kNoPermission,  // the key is there but this user may not open it (udev rule missing)
};

// The one wording of each open failure, for every backend: kNotFound, kConflict or kDenied
// with a message that says what to do; `detail` (the backend's text) is appended.
Error open_failure(OpenFailure failure, std::string_view detail = {});

}  // namespace keystep::enroll
