#pragma once
// keystep-enroll's command line: the `yubikey` and `import` commands over the shared parser
// (tools/cli), with the device backend chosen by the caller (main.cc: libykpers).

#include "tools/keystep-enroll/device.h"

namespace keystep::enroll {

// Runs keystep-enroll with `argc`/`argv`, opening keys with `open_device`. The exit status:
// 0 done, 1 failed (or partly failed), 2 a usage error.
int enroll_main(int argc, char** argv, const DeviceOpener& open_device);

}  // namespace keystep::enroll
