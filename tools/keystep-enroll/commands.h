#pragma once
// keystep-enroll's command line: the `yubikey`, `import` and `fido2` commands over the shared
// parser (tools/cli), with the device backends chosen by the caller (main.cc: libykpers and
// libfido2's HID keys).

#include "tools/keystep-enroll/device.h"
#include "tools/keystep-enroll/fido2_client.h"

namespace keystep::enroll {

// Runs keystep-enroll with `argc`/`argv`, opening YubiKeys with `open_device` and security
// keys from `fido2_keys`. The exit status: 0 done, 1 failed (or partly failed), 2 a usage
// error.
int enroll_main(int argc, char** argv, const DeviceOpener& open_device,
                const Fido2Keys& fido2_keys);

}  // namespace keystep::enroll
