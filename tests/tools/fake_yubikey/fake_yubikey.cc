#include "tests/tools/fake_yubikey/fake_yubikey.h"

#include <liboath/oath.h>
#include <ykdef.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/crypto/encoding.h"

namespace keystep::fakekey {
namespace {

using enroll::AccessCode;
using enroll::DeviceStatus;
using enroll::HotpSlot;
using enroll::OpenFailure;
using enroll::YkpConfig;
using nlohmann::json;

Result<json> load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "no fake key state at " + path);
  json state = json::parse(in, nullptr, false);
  if (!state.is_object()) return make_error(ErrorCode::kInvalidArgument, path + " is not JSON");
  return state;
}

Status save(const std::string& path, const json& state) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << state.dump(2) << "\n";
    if (!out) return make_error(ErrorCode::kUnavailable, "cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    return make_error(ErrorCode::kUnavailable, "cannot replace " + path);
  return {};
}

struct config_st decode(const std::string& bytes) {
  struct config_st config {};
  std::memcpy(&config, bytes.data(), std::min(bytes.size(), sizeof config));
  return config;
}

std::string modhex(const unsigned char* data, size_t n) {
  static constexpr char kModhex[] = "cbdefghijklnrtuv";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kModhex[data[i] >> 4];
    out += kModhex[data[i] & 0x0f];
  }
  return out;
}

class FakeKey final : public enroll::YubiKeyDevice {
 public:
  explicit FakeKey(std::string path) : path_(std::move(path)) {}

  Result<DeviceStatus> status() override {
    auto state = load(path_);
    if (!state) return state.error();
    DeviceStatus status;
    const auto& fw = (*state)["firmware"];
    status.firmware = {fw[0].get<int>(), fw[1].get<int>(), fw[2].get<int>()};
    if (!(*state)["hide_serial"].get<bool>()) status.serial = (*state)["serial"].get<uint32_t>();
    for (int i = 0; i < 2; ++i)
      status.programmed[i] = (*state)["slots"][i]["programmed"].get<bool>();
    return status;
  }

  Status program_hotp(const HotpSlot& slot, const std::optional<AccessCode>& unlock) override {
    auto state = load(path_);
    if (!state) return state.error();
    json& stored = (*state)["slots"][slot.slot - 1];
    if ((*state)["fail_write"].get<bool>())
      return make_error(ErrorCode::kUnavailable,
                        "writing slot " + std::to_string(slot.slot) + " failed (write error)");
    const std::string protection = stored.value("access_code", std::string());
    const std::string offered =
        unlock ? hex_encode(std::string(unlock->begin(), unlock->end())) : std::string();
    if (!protection.empty() && protection != offered)
      return make_error(ErrorCode::kUnavailable,
                        "writing slot " + std::to_string(slot.slot) +
                            " failed (write error); the slot is protected by an access code");
    const auto fw = (*state)["firmware"];
    auto config = YkpConfig::build(slot, {fw[0].get<int>(), fw[1].get<int>(), fw[2].get<int>()});
    if (!config) return config.error();
    const std::string bytes = config->bytes();
    const struct config_st written = decode(bytes);
    // The initial moving factor: uid[4..5], in units of 16 (ykp_set_oath_imf).
    const uint64_t imf = (static_cast<uint64_t>(written.uid[4]) << 8 | written.uid[5]) * 16;
    const std::string code(reinterpret_cast<const char*>(written.accCode), ACC_CODE_SIZE);
    stored =
        json{{"programmed", true},
             {"config", hex_encode(bytes)},
             {"counter", imf},
             {"access_code", code == std::string(ACC_CODE_SIZE, '\0') ? "" : hex_encode(code)}};
    return save(path_, *state);
  }

 private:
  std::string path_;
};

}  // namespace

Status create_fake_key(const std::string& path, const FakeKeySpec& spec) {
  json state = {
      {"serial", spec.serial},
      {"firmware", {spec.firmware.major, spec.firmware.minor, spec.firmware.build}},
      {"keys", spec.keys},
      {"usb_permission", spec.usb_permission},
      {"fail_write", spec.fail_write},
      {"hide_serial", spec.hide_serial},
      {"slots", {{{"programmed", spec.slot1_programmed}}, {{"programmed", spec.slot2_programmed}}}},
  };
  return save(path, state);
}

Result<std::unique_ptr<enroll::YubiKeyDevice>> open_fake_key(const std::string& path) {
  auto state = load(path);
  if (!state) return state.error();
  const int keys = (*state)["keys"].get<int>();
  if (keys == 0) return enroll::open_failure(OpenFailure::kNoKey);
  if (keys > 1) return enroll::open_failure(OpenFailure::kSeveralKeys);
  if (!(*state)["usb_permission"].get<bool>())
    return enroll::open_failure(OpenFailure::kNoPermission,
                                "USB: Access denied (insufficient permissions)");
  return std::unique_ptr<enroll::YubiKeyDevice>(new FakeKey(path));
}

Result<std::string> fake_key_config(const std::string& path, int slot) {
  auto state = load(path);
  if (!state) return state.error();
  const json& stored = (*state)["slots"][slot - 1];
  if (!stored.contains("config"))
    return make_error(ErrorCode::kNotFound, "slot " + std::to_string(slot) + " was not written");
  return hex_decode(stored["config"].get<std::string>());
}

Result<std::string> touch_fake_key(const std::string& path, int slot) {
  auto state = load(path);
  if (!state) return state.error();
  auto bytes = fake_key_config(path, slot);
  if (!bytes) return bytes.error();
  const struct config_st config = decode(*bytes);
  if (!(config.tktFlags & TKTFLAG_OATH_HOTP) || (config.cfgFlags & CFGFLAG_CHAL_YUBICO))
    return make_error(ErrorCode::kNotFound, "slot " + std::to_string(slot) + " is not OATH-HOTP");
  // The 20-byte key: the key field, then the first four bytes of uid (ykp_HMAC_key_from_raw).
  std::string secret(reinterpret_cast<const char*>(config.key), KEY_SIZE);
  secret.append(reinterpret_cast<const char*>(config.uid), KEY_SIZE_OATH - KEY_SIZE);
  std::string typed;
  if (config.fixedSize > 0) {
    const unsigned char mask = config.cfgFlags & CFGFLAG_OATH_FIXED_MASK;
    const size_t modhex_bytes = mask == CFGFLAG_OATH_FIXED_MODHEX    ? config.fixedSize
                                : mask == CFGFLAG_OATH_FIXED_MODHEX2 ? 2
                                : mask == CFGFLAG_OATH_FIXED_MODHEX1 ? 1
                                                                     : 0;
    typed = modhex(config.fixed, modhex_bytes) +
            hex_encode(std::string(reinterpret_cast<const char*>(config.fixed) + modhex_bytes,
                                   config.fixedSize - modhex_bytes));
  }
  json& stored = (*state)["slots"][slot - 1];
  const uint64_t counter = stored["counter"].get<uint64_t>();
  const unsigned digits = (config.cfgFlags & CFGFLAG_OATH_HOTP8) ? 8 : 6;
  char code[10] = {};
  oath_init();
  const int rc = oath_hotp_generate(secret.data(), secret.size(), counter, digits, false,
                                    OATH_HOTP_DYNAMIC_TRUNCATION, code);
  if (rc != OATH_OK) return make_error(ErrorCode::kInternal, oath_strerror(rc));
  typed += code;
  if (config.tktFlags & TKTFLAG_APPEND_CR) typed += "\n";
  stored["counter"] = counter + 1;
  if (auto s = save(path, *state); !s) return s.error();
  return typed;
}

}  // namespace keystep::fakekey
