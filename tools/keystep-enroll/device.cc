#include "tools/keystep-enroll/device.h"

#include <string>

namespace keystep::enroll {

Error open_failure(OpenFailure failure, std::string_view detail) {
  const std::string suffix = detail.empty() ? "" : " (" + std::string(detail) + ")";
  switch (failure) {
    case OpenFailure::kNoKey:
      return make_error(ErrorCode::kNotFound, "no YubiKey found: plug one in" + suffix);
    case OpenFailure::kSeveralKeys:
      return make_error(
          ErrorCode::kConflict,
          "more than one YubiKey is plugged in: leave only the one to program" + suffix);
    case OpenFailure::kNoPermission:
      return make_error(ErrorCode::kDenied,
                        "no permission to open the YubiKey over USB: give your user access to "
                        "Yubico's USB devices (vendor 1050) with a udev rule such as "
                        "yubikey-personalization's 69-yubikey.rules and replug the key, or run "
                        "as root" +
                            suffix);
  }
  return make_error(ErrorCode::kInternal, "unknown open failure" + suffix);
}

}  // namespace keystep::enroll
