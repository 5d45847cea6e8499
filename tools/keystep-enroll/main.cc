// keystep-enroll: programs YubiKeys for OATH-HOTP and registers them through Keystep's admin
// API (docs/keystep-enroll.md), with libykpers as the device backend.

#include "tools/keystep-enroll/commands.h"
#include "tools/keystep-enroll/ykpers_device.h"

int main(int argc, char** argv) {
  return keystep::enroll::enroll_main(argc, argv, keystep::enroll::open_ykpers_device,
                                      keystep::enroll::hid_keys());
}
