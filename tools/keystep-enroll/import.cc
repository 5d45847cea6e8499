#include "tools/keystep-enroll/import.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "base/crypto/encoding.h"
#include "tools/keystep-enroll/csv.h"

namespace keystep::enroll {
namespace {

Error bad_line(size_t line, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "line " + std::to_string(line) + ": " + what);
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), out);
  return parsed.ec == std::errc() && parsed.ptr == text.data() + text.size();
}

bool is_header(const CsvRow& row, const std::vector<CsvRow>& rows, const char* first) {
  return &row == &rows.front() && email_key(row.fields[0]) == first;
}

// The key as RFC 4648 base32 (upper case, no padding), the form the server reads without
// doubt (40 characters of hexadecimal would also be base32). From hexadecimal (an even number
// of hex digits) or base32 (any case; spaces and '=' padding ignored); empty when it is
// neither or does not hold 16 to 20 bytes (what a YubiKey's OATH-HOTP slot holds).
// Hexadecimal wins when a key reads as both.
std::string key_as_base32(const std::string& text) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string raw;
  uint32_t buffer = 0;
  int bits = 0;
  if (auto decoded = hex_decode(text)) {
    raw = std::move(*decoded);
  } else {
    for (char c : text) {
      if (c == ' ' || c == '=') continue;
      const auto value =
          kAlphabet.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      if (value == std::string_view::npos) {
        OPENSSL_cleanse(raw.data(), raw.size());
        return "";
      }
      buffer = (buffer << 5) | static_cast<uint32_t>(value);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        raw += static_cast<char>((buffer >> bits) & 0xff);
      }
    }
  }
  std::string out;
  if (raw.size() >= 16 && raw.size() <= 20) {
    buffer = 0;
    bits = 0;
    for (unsigned char byte : raw) {
      buffer = (buffer << 8) | byte;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out += kAlphabet[(buffer >> bits) & 31];
      }
    }
    if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  }
  OPENSSL_cleanse(raw.data(), raw.size());
  buffer = 0;
  return out;
}

bool is_token_id(const std::string& text) {
  return text.size() == 12 && std::all_of(text.begin(), text.end(), [](unsigned char c) {
           return std::islower(c) || std::isdigit(c);
         });
}

std::string default_label(const ImportRow& row) {
  if (row.serial) return "YubiKey " + std::to_string(*row.serial);
  if (row.key.token_id) return "YubiKey " + *row.key.token_id;
  return "YubiKey";
}

}  // namespace

Result<std::map<uint32_t, std::string>> parse_serial_users(std::string_view text) {
  auto csv = parse_csv(text);
  if (!csv) return csv.error();
  std::map<uint32_t, std::string> users;
  for (const auto& row : *csv) {
    if (is_header(row, *csv, "serial")) continue;
    uint32_t serial = 0;
    if (row.fields.size() != 2 || !parse_number(row.fields[0], serial) ||
        row.fields[1].find('@') == std::string::npos)
      return bad_line(row.line, "expected SERIAL,EMAIL");
    if (!users.emplace(serial, row.fields[1]).second)
      return bad_line(row.line, "serial " + row.fields[0] + " is listed twice");
  }
  return users;
}

Result<std::vector<ImportRow>> parse_privacyidea(std::string_view text,
                                                 const std::map<uint32_t, std::string>& users,
                                                 bool token_id_from_serial) {
  auto csv = parse_csv(text);
  if (!csv) return csv.error();
  std::vector<ImportRow> rows;
  for (const auto& fields : *csv) {
    const auto& f = fields.fields;
    ImportRow row;
    row.line = fields.line;
    // UBOM<serial>_<slot>: Yubico's prefix "UB", privacyIDEA's "OM" for OATH mode.
    const std::string& name = f[0];
    const auto underscore = name.find('_');
    uint32_t serial = 0;
    if (f.size() < 3 || f.size() > 5 || name.rfind("UBOM", 0) != 0 ||
        underscore == std::string::npos ||
        !parse_number(std::string_view(name).substr(4, underscore - 4), serial))
      return bad_line(row.line, "expected UBOM<serial>_<slot>, <hex key>, HOTP[, <digits>]");
    row.serial = serial;
    row.key.secret = key_as_base32(f[1]);
    if (row.key.secret.empty() || f[1].size() % 2 != 0)
      return bad_line(row.line, "the key is not 32 to 40 hexadecimal characters");
    int digits = 6;
    if (f.size() >= 4 && !f[3].empty() &&
        (!parse_number(f[3], digits) || (digits != 6 && digits != 8)))
      return bad_line(row.line, "digits must be 6 or 8");
    row.key.digits = digits;
    if (token_id_from_serial) {
      auto id = token_id_for_serial(serial);
      if (!id) return bad_line(row.line, id.error().message);
      row.key.token_id = *id;
    }
    row.key.label = default_label(row);
    const std::string type = f[2];
    if (type != "HOTP" && type != "hotp") {
      row.refused = type + " token: only OATH-HOTP keys can be imported";
    } else if (auto user = users.find(serial); user == users.end()) {
      row.refused = "serial " + std::to_string(serial) + " is not in the --users file";
    } else {
      row.email = user->second;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::vector<ImportRow>> parse_import_csv(std::string_view text) {
  auto csv = parse_csv(text);
  if (!csv) return csv.error();
  std::vector<ImportRow> rows;
  for (const auto& fields : *csv) {
    if (is_header(fields, *csv, "email")) continue;
    const auto& f = fields.fields;
    ImportRow row;
    row.line = fields.line;
    if (f.size() != 6)
      return bad_line(row.line, "expected EMAIL,SERIAL,KEY,DIGITS,COUNTER,TOKEN_ID");
    row.email = f[0];
    if (row.email.find('@') == std::string::npos)
      return bad_line(row.line, "'" + row.email + "' is not an email");
    uint32_t serial = 0;
    if (!f[1].empty()) {
      if (!parse_number(f[1], serial)) return bad_line(row.line, "the serial is not a number");
      row.serial = serial;
    }
    row.key.secret = key_as_base32(f[2]);
    if (row.key.secret.empty())
      return bad_line(row.line, "the key is neither hexadecimal nor base32 of 16 to 20 bytes");
    if (!f[3].empty() &&
        (!parse_number(f[3], row.key.digits) || (row.key.digits != 6 && row.key.digits != 8)))
      return bad_line(row.line, "digits must be 6 or 8");
    if (!f[4].empty() && !parse_number(f[4], row.key.counter))
      return bad_line(row.line, "the counter is not a number");
    if (!f[5].empty()) {
      if (!is_token_id(f[5]))
        return bad_line(row.line, "the token identifier is 12 lower-case letters and digits");
      row.key.token_id = f[5];
    }
    row.key.label = default_label(row);
    rows.push_back(std::move(row));
  }
  return rows;
}

ImportSummary run_import(const std::vector<ImportRow>& rows, AdminClient& api, Operator& op) {
  ImportSummary summary;
  auto members = api.members();
  if (!members) {
    op.say("Stopped: " + members.error().message);
    summary.stopped = true;
  }
  for (const auto& row : rows) {
    if (summary.stopped) break;
    const std::string head = "line " + std::to_string(row.line) + " (" +
                             (row.email.empty() ? "?" : row.email) + ", " + row.key.label + "): ";
    auto refuse = [&](const std::string& why) {
      op.say(head + "refused: " + why);
      ++summary.refused;
    };
    auto fail = [&](const Error& error) {
      refuse(error.message);
      summary.stopped = refuses_every_request(error);
    };
    if (!row.refused.empty()) {
      refuse(row.refused);
      continue;
    }
    auto member = members->find(email_key(row.email));
    if (member == members->end()) {
      refuse("no such member in the account");
      continue;
    }
    auto existing = api.credentials(member->second);
    if (!existing) {
      fail(existing.error());
      continue;
    }
    const bool there =
        (row.serial || row.key.token_id) &&
        std::any_of(existing->begin(), existing->end(), [&](const auto& c) {
          return c.provider == "yubikey_hotp" && c.confirmed && c.label == row.key.label;
        });
    if (there) {
      op.say(head + "skipped: already registered");
      ++summary.skipped;
      continue;
    }
    auto id = api.import_yubikey(member->second, row.key);
    if (!id) {
      fail(id.error());
      continue;
    }
    op.say(head + "registered as credential " + std::to_string(*id));
    ++summary.registered;
  }
  op.say(count_of(rows.size(), "row") + ": " + std::to_string(summary.registered) +
         " registered, " + std::to_string(summary.skipped) + " skipped (already there), " +
         std::to_string(summary.refused) + " refused" +
         (summary.stopped ? "; stopped early: nothing more was sent" : ""));
  return summary;
}

}  // namespace keystep::enroll
