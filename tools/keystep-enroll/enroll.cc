#include "tools/keystep-enroll/enroll.h"

#include <openssl/crypto.h>

#include <sstream>

namespace keystep::enroll {
namespace {

constexpr int kTouchTries = 3;

std::string key_name(const DeviceStatus& status) {
  return status.serial ? "YubiKey " + std::to_string(*status.serial) : "the YubiKey";
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

}  // namespace

Status check_key(const DeviceStatus& status, const KeyOptions& options) {
  if (status.programmed[options.slot - 1] && !options.force)
    return make_error(ErrorCode::kConflict,
                      "slot " + std::to_string(options.slot) + " of " + key_name(status) +
                          " is already programmed; --force overwrites it (what it holds stops "
                          "working)");
  if (options.token_id && !status.serial)
    return make_error(ErrorCode::kInvalidArgument,
                      "the YubiKey does not show its serial, so it cannot type the standard "
                      "token identifier; use --no-token-id");
  return {};
}

Result<EnrolledKey> enroll_key(YubiKeyDevice& device, AdminClient& api, Operator& op,
                               int64_t member, const KeyOptions& options,
                               const std::function<Status(int64_t)>& on_pending) {
  auto status = device.status();
  if (!status) return status.error();
  if (auto checked = check_key(*status, options); !checked) return checked.error();
  EnrolledKey key;
  key.serial = status->serial;
  if (options.token_id) {
    auto id = token_id_for_serial(*status->serial);
    if (!id) return id.error();
    key.token_id = *id;
  }
  const std::string label = !options.label.empty() ? options.label
                            : status->serial       ? "YubiKey " + std::to_string(*status->serial)
                                                   : "YubiKey";
  auto pending = api.begin_yubikey(member, label, options.digits, key.token_id);
  if (!pending) return pending.error();
  const int64_t id = pending->id;
  bool programmed = false;
  auto undo = [&](Error why) {
    why.message += programmed ? "; slot " + std::to_string(options.slot) +
                                    " of the key is programmed but not registered (run again "
                                    "with --force)"
                              : "; the key was not changed";
    return cancel_pending(api, member, id, std::move(why));
  };
  if (on_pending) {
    if (auto recorded = on_pending(id); !recorded) return undo(recorded.error());
  }

  HotpSlot slot{options.slot, std::move(pending->secret), options.digits,
                options.token_id ? status->serial : std::nullopt, options.access_code};
  const auto unlock = status->programmed[options.slot - 1] ? options.access_code : std::nullopt;
  auto written = device.program_hotp(slot, unlock);
  OPENSSL_cleanse(slot.secret.data(), slot.secret.size());
  if (!written) return undo(written.error());
  programmed = true;

  const std::string press = options.slot == 1 ? "tap it briefly" : "hold it for about 3 seconds";
  Error last = make_error(ErrorCode::kInvalidArgument, "no code");
  for (int attempt = 1; attempt <= kTouchTries; ++attempt) {
    auto typed =
        op.ask(Operator::Ask::kTouchKey, "Touch the key (" + press + "); it types its code here: ");
    if (!typed) return undo(typed.error());
    auto confirmed = api.confirm(member, id, trim(*typed));
    if (confirmed) {
      key.credential = id;
      return key;
    }
    last = confirmed.error();
    if (last.code != ErrorCode::kInvalidArgument) break;
    if (attempt < kTouchTries) op.say(last.message + "; touch the key again");
  }
  return undo(last);
}

Result<std::string> dry_run_report(const std::string& email, const KeyOptions& options,
                                   const std::optional<DeviceStatus>& status) {
  DeviceStatus assumed{Firmware{5, 4, 3}, 0u, {false, false}};
  const DeviceStatus& key = status ? *status : assumed;
  if (status) {
    if (auto checked = check_key(*status, options); !checked) return checked.error();
  }
  // A placeholder secret of the right size: the real one exists only on the server.
  HotpSlot slot{options.slot, std::string(20, '\0'), options.digits,
                options.token_id ? key.serial : std::nullopt, options.access_code};
  auto config = YkpConfig::build(slot, key.firmware);
  if (!config) return config.error();
  std::ostringstream out;
  out << "Dry run: nothing is registered and no key is written.\n"
      << "Would register a YubiKey for " << email << " (OATH-HOTP, " << options.digits << " digits";
  if (options.token_id) out << ", token identifier " << *token_id_for_serial(*key.serial);
  out << ") and write slot " << options.slot << " of ";
  if (status)
    out << key_name(key) << " (firmware " << key.firmware.text() << ")";
  else
    out << "the key (none plugged in: firmware 5.4.3 and serial 0 assumed)";
  out << ":\n";
  std::istringstream lines(config->describe());
  for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  out << "The same slot by hand (SECRET_BASE32 / SECRET_HEX: the secret the server draws):\n";
  std::istringstream commands(equivalent_commands(slot));
  for (std::string line; std::getline(commands, line);) out << "  " << line << "\n";
  return out.str();
}

}  // namespace keystep::enroll
