#pragma once
// What keystep-enroll writes to a YubiKey's OTP slot (OATH-HOTP, RFC 4226), and the libykpers
// configuration built from it. The only code of the tool that knows libykpers' configuration
// API: the device backend and the dry run both build through YkpConfig, so what a dry run
// prints is what a key receives.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

struct ykp_config_t;  // libykpers' YKP_CONFIG

namespace keystep::enroll {

struct Firmware {
  int major = 0;
  int minor = 0;
  int build = 0;
  std::string text() const;  // "5.4.3"
};

// A slot's 6-byte access code: once written, the slot cannot be reprogrammed without it.
using AccessCode = std::array<unsigned char, 6>;

// On success the code of 12 hexadecimal characters (surrounding whitespace ignored). On
// failure kInvalidArgument, without repeating the text.
Result<AccessCode> parse_access_code(std::string_view hex);

// The standard OATH token identifier of a YubiKey (OATH Token Identifier Specification):
// the manufacturer prefix "ub", the token type "he" (HOTP, event-based) and the serial as 8
// decimal digits: "ubhe12345678". kInvalidArgument for serials of more than 8 digits.
Result<std::string> token_id_for_serial(uint32_t serial);

// One OATH-HOTP slot: HMAC-SHA1 with a 160-bit secret, counter starting at 0, Enter after the
// code.
struct HotpSlot {
  int slot = 2;                           // 1 or 2 (the key's short or long press)
  std::string secret;                     // 20 raw bytes; the owner wipes it after use
  int digits = 6;                         // 6 or 8
  std::optional<uint32_t> token_serial;   // types token_id_for_serial() before the code
  std::optional<AccessCode> access_code;  // protects the new configuration
};

// The libykpers configuration (YKP_CONFIG) of a HotpSlot for a key of a given firmware.
// Move-only; wipes the key material it holds when destroyed.
class YkpConfig {
 public:
  // On success the configuration as ykpersonalize -ooath-hotp builds it: mode and flags
  // cleared, TKTFLAG_OATH_HOTP and TKTFLAG_APPEND_CR, CFGFLAG_OATH_HOTP8 for 8 digits, the
  // identifier as the 6-byte fixed part with CFGFLAG_OATH_FIXED_MODHEX2 (so "ub" "he" are
  // typed as modhex, the serial as decimal digits) and EXTFLAG_SERIAL_API_VISIBLE, initial
  // moving factor 0, the access code if any. kInvalidArgument for a slot other than 1 or 2,
  // digits other than 6 or 8, a secret not of 20 bytes, or a serial above 99999999;
  // kUnavailable when the firmware has no OATH-HOTP (before 2.1) or libykpers refuses.
  static Result<YkpConfig> build(const HotpSlot& slot, const Firmware& firmware);
  YkpConfig(YkpConfig&& other) noexcept;
  YkpConfig& operator=(YkpConfig&& other) noexcept;
  YkpConfig(const YkpConfig&) = delete;
  YkpConfig& operator=(const YkpConfig&) = delete;
  ~YkpConfig();

  // The configuration libykpers hands to the key: the bytes of ykdef.h's struct config_st
  // (fixed, uid, key, access code, sizes and flags; the CRC is added when writing). Holds
  // the secret: wipe the copy after use.
  std::string bytes() const;
  // ykp_export_config()'s legacy text (what ykpersonalize prints before committing), with
  // the key line shown as "key: (secret not shown)".
  std::string describe() const;
  ykp_config_t* get() const { return config_; }

 private:
  explicit YkpConfig(ykp_config_t* config) : config_(config) {}
  ykp_config_t* config_;
};

// The ykman and ykpersonalize commands that write the same slot to a key by hand, with the
// placeholders SECRET_BASE32 / SECRET_HEX for the secret and ACCESS_CODE for an access code
// (this tool never prints a secret), one per line. ykman writes the identifier with
// `--identifier -` ("ubhe" + the serial; ykman 4.0.8 and later).
std::string equivalent_commands(const HotpSlot& slot);

}  // namespace keystep::enroll
