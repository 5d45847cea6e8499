#pragma once
// The libykpers backend of the device seam: the YubiKey plugged in, over USB.
//
// Yubico has deprecated yubikey-personalization (libykpers) in favour of ykman; this file is
// the only one that opens a key with it, so another backend can replace it.

#include <memory>

#include "tools/keystep-enroll/device.h"

namespace keystep::enroll {

// Opens the one YubiKey plugged in. On failure an open_failure() error (no key, several
// keys, no USB permission) or kUnavailable with libykpers' text.
Result<std::unique_ptr<YubiKeyDevice>> open_ykpers_device();

}  // namespace keystep::enroll
