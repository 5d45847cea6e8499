#include "tools/keystep-enroll/ykpers_device.h"

#include <openssl/crypto.h>
#include <ykcore.h>
#include <ykdef.h>
#include <ykpers.h>
#include <ykstatus.h>

#include <string>

namespace keystep::enroll {
namespace {

std::string yk_error_text() {
  if (yk_errno == YK_EUSBERR) return std::string("USB: ") + yk_usb_strerror();
  return yk_strerror(yk_errno);
}

Error yk_failure(const std::string& what) {
  return make_error(ErrorCode::kUnavailable, what + ": " + yk_error_text());
}

// libusb reports LIBUSB_ERROR_ACCESS as "Access denied (insufficient permissions)".
bool is_permission_error() {
  if (yk_errno != YK_EUSBERR) return false;
  const std::string text = yk_usb_strerror();
  return text.find("Access denied") != std::string::npos ||
         text.find("insufficient permissions") != std::string::npos;
}

class YkpersDevice final : public YubiKeyDevice {
 public:
  explicit YkpersDevice(YK_KEY* key) : key_(key) {}
  ~YkpersDevice() override {
    yk_close_key(key_);
    yk_release();
  }

  Result<DeviceStatus> status() override {
    YK_STATUS* st = ykds_alloc();
    if (!st) return make_error(ErrorCode::kUnavailable, "out of memory");
    if (!yk_get_status(key_, st)) {
      ykds_free(st);
      return yk_failure("reading the key's status");
    }
    DeviceStatus status;
    status.firmware = {ykds_version_major(st), ykds_version_minor(st), ykds_version_build(st)};
    const int touch = ykds_touch_level(st);
    const bool has_valid_bits =
        status.firmware.major > 2 || (status.firmware.major == 2 && status.firmware.minor >= 1);
    // Before 2.1 the key does not say which slot is programmed, only that one is.
    status.programmed =
        has_valid_bits
            ? std::array<bool, 2>{(touch & CONFIG1_VALID) != 0, (touch & CONFIG2_VALID) != 0}
            : std::array<bool, 2>{ykds_pgm_seq(st) != 0, ykds_pgm_seq(st) != 0};
    ykds_free(st);
    unsigned int serial = 0;
    if (yk_get_serial(key_, 0, 0, &serial)) status.serial = serial;
    firmware_ = status.firmware;
    return status;
  }

  Status program_hotp(const HotpSlot& slot, const std::optional<AccessCode>& unlock) override {
    if (firmware_.major == 0) {
      auto current = status();
      if (!current) return current.error();
    }
    auto config = YkpConfig::build(slot, firmware_);
    if (!config) return config.error();
    AccessCode code = unlock.value_or(AccessCode{});
    const int written = yk_write_command(key_, ykp_core_config(config->get()),
                                         static_cast<uint8_t>(ykp_command(config->get())),
                                         unlock ? code.data() : nullptr);
    OPENSSL_cleanse(code.data(), code.size());
    if (!written)
      return make_error(ErrorCode::kUnavailable,
                        "writing slot " + std::to_string(slot.slot) + " failed (" +
                            yk_error_text() +
                            "); a slot protected by an access code needs --access-code-file");
    return {};
  }

 private:
  YK_KEY* key_;
  Firmware firmware_;
};

}  // namespace

Result<std::unique_ptr<YubiKeyDevice>> open_ykpers_device() {
  if (!yk_init()) return yk_failure("starting libykpers");
  YK_KEY* key = yk_open_key(0);
  if (!key) {
    const int error = yk_errno;
    const std::string detail = yk_error_text();
    const bool permission = is_permission_error();
    yk_release();
    if (error == YK_ENOKEY) return open_failure(OpenFailure::kNoKey);
    if (permission) return open_failure(OpenFailure::kNoPermission, detail);
    return make_error(ErrorCode::kUnavailable, "opening the YubiKey failed: " + detail);
  }
  // A second key, even one this user may not open, makes the choice ambiguous.
  if (YK_KEY* second = yk_open_key(1); second || yk_errno != YK_ENOKEY) {
    if (second) yk_close_key(second);
    yk_close_key(key);
    yk_release();
    return open_failure(OpenFailure::kSeveralKeys);
  }
  return std::unique_ptr<YubiKeyDevice>(new YkpersDevice(key));
}

}  // namespace keystep::enroll
