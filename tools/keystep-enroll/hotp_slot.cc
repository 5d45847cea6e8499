#include "tools/keystep-enroll/hotp_slot.h"

#include <openssl/crypto.h>
#include <ykdef.h>
#include <ykpers.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>
#include <utility>

#include "base/crypto/encoding.h"

namespace keystep::enroll {
namespace {

constexpr unsigned char kYubicoOathPrefix = 0xe1;  // "ub" in modhex
constexpr unsigned char kHotpTokenType = 0x63;     // "he" in modhex

Error ykp_failure(const char* what) {
  return make_error(ErrorCode::kUnavailable,
                    std::string("libykpers: ") + what + ": " + ykp_strerror(ykp_errno));
}

}  // namespace

std::string Firmware::text() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(build);
}

Result<AccessCode> parse_access_code(std::string_view hex) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front())))
    hex.remove_prefix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  AccessCode code{};
  auto bytes = hex_decode(hex);
  if (!bytes || bytes->size() != code.size())
    return make_error(ErrorCode::kInvalidArgument,
                      "an access code is 12 hexadecimal characters (6 bytes)");
  std::copy(bytes->begin(), bytes->end(), code.begin());
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return code;
}

Result<std::string> token_id_for_serial(uint32_t serial) {
  if (serial > 99'999'999)
    return make_error(ErrorCode::kInvalidArgument,
                      "serial " + std::to_string(serial) + " has more than 8 digits");
  char digits[9];
  std::snprintf(digits, sizeof digits, "%08u", serial);
  return std::string("ubhe") + digits;
}

Result<YkpConfig> YkpConfig::build(const HotpSlot& slot, const Firmware& firmware) {
  if (slot.slot != 1 && slot.slot != 2)
    return make_error(ErrorCode::kInvalidArgument, "the slot is 1 or 2");
  if (slot.digits != 6 && slot.digits != 8)
    return make_error(ErrorCode::kInvalidArgument, "digits must be 6 or 8");
  if (slot.secret.size() != KEY_SIZE_OATH)
    return make_error(ErrorCode::kInvalidArgument, "an OATH-HOTP secret is 20 bytes (160 bits)");
  if (firmware.major < 2 || (firmware.major == 2 && firmware.minor < 1))
    return make_error(ErrorCode::kUnavailable, "a YubiKey with firmware " + firmware.text() +
                                                   " has no OATH-HOTP (it needs 2.1 or later)");

  YkpConfig config(ykp_alloc());
  if (!config.config_) return ykp_failure("allocating a configuration");
  // ykp_configure_for() takes the firmware from a status block; only the version is read.
  YK_STATUS* status = ykds_alloc();
  if (!status) return ykp_failure("allocating a status");
  auto* version = reinterpret_cast<struct status_st*>(status);
  version->versionMajor = static_cast<unsigned char>(firmware.major);
  version->versionMinor = static_cast<unsigned char>(firmware.minor);
  version->versionBuild = static_cast<unsigned char>(firmware.build);
  const int configured = ykp_configure_for(config.config_, slot.slot, status);
  ykds_free(status);
  if (!configured) return ykp_failure("choosing the slot");

  // Slot 2's defaults are a static password's flags: cleared, as ykpersonalize does when a
  // mode is chosen, before the OATH-HOTP ones are set.
  YKP_CONFIG* cfg = config.config_;
  bool ok = ykp_clear_config(cfg) && ykp_set_tktflag_OATH_HOTP(cfg, true) &&
            ykp_set_tktflag_APPEND_CR(cfg, true) &&
            (slot.digits == 6 || ykp_set_cfgflag_OATH_HOTP8(cfg, true));
  if (!ok) return ykp_failure("setting the OATH-HOTP flags");
  if (ykp_HMAC_key_from_raw(cfg, slot.secret.data()) != 0) return ykp_failure("setting the key");
  if (slot.token_serial) {
    auto id = token_id_for_serial(*slot.token_serial);
    if (!id) return id.error();
    // The fixed part: prefix and type bytes, then the serial's 8 decimal digits as 4 BCD
    // bytes, which the key types as hexadecimal, i.e. as the decimal digits.
    unsigned char fixed[6] = {kYubicoOathPrefix, kHotpTokenType};
    for (int i = 0; i < 4; ++i)
      fixed[2 + i] =
          static_cast<unsigned char>(((*id)[4 + 2 * i] - '0') << 4 | ((*id)[5 + 2 * i] - '0'));
    ok = ykp_set_fixed(cfg, fixed, sizeof fixed) && ykp_set_cfgflag_OATH_FIXED_MODHEX2(cfg, true) &&
         ykp_set_extflag_SERIAL_API_VISIBLE(cfg, true);
    if (!ok) return ykp_failure("setting the token identifier");
  }
  if (!ykp_set_oath_imf(cfg, 0)) return ykp_failure("setting the initial counter");
  if (slot.access_code) {
    AccessCode code = *slot.access_code;
    const bool set = ykp_set_access_code(cfg, code.data(), code.size());
    OPENSSL_cleanse(code.data(), code.size());
    if (!set) return ykp_failure("setting the access code");
  }
  return config;
}

YkpConfig::YkpConfig(YkpConfig&& other) noexcept : config_(std::exchange(other.config_, nullptr)) {}

YkpConfig& YkpConfig::operator=(YkpConfig&& other) noexcept {
  if (this != &other) {
    YkpConfig gone(std::move(*this));
    config_ = std::exchange(other.config_, nullptr);
  }
  return *this;
}

YkpConfig::~YkpConfig() {
  if (!config_) return;
  OPENSSL_cleanse(ykp_core_config(config_), sizeof(struct config_st));
  ykp_free_config(config_);
}

std::string YkpConfig::bytes() const {
  const auto* core = reinterpret_cast<const char*>(ykp_core_config(config_));
  return std::string(core, sizeof(struct config_st));
}

std::string YkpConfig::describe() const {
  char text[1024] = {};
  if (!ykp_export_config(config_, text, sizeof text, YKP_FORMAT_LEGACY)) return "";
  std::istringstream lines(text);
  OPENSSL_cleanse(text, sizeof text);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const bool key = line.rfind("key:", 0) == 0;
    if (key) OPENSSL_cleanse(line.data(), line.size());
    out += (key ? "key: (secret not shown)" : line) + "\n";
  }
  return out;
}

std::string equivalent_commands(const HotpSlot& slot) {
  const std::string n = std::to_string(slot.slot);
  std::string ykman = "ykman otp";
  if (slot.access_code) ykman += " --access-code ACCESS_CODE";
  ykman += " hotp " + n + " SECRET_BASE32 --digits " + std::to_string(slot.digits) + " --counter 0";
  if (slot.token_serial) ykman += " --identifier -";
  ykman += " --force";
  std::string ykpersonalize = "ykpersonalize -" + n + " -ooath-hotp";
  if (slot.token_serial) ykpersonalize += " -ooath-id";
  ykpersonalize += " -oappend-cr -ooath-imf=0";
  if (slot.digits == 8) ykpersonalize += " -ooath-hotp8";
  if (slot.access_code) ykpersonalize += " -oaccess=ACCESS_CODE";
  ykpersonalize += " -a SECRET_HEX -y";
  return ykman + "\n" + ykpersonalize + "\n";
}

}  // namespace keystep::enroll
