#pragma once
// keystep-enroll import: registering YubiKeys programmed elsewhere, from privacyIDEA's
// yubikey_mass_enroll output or from a documented CSV file. Every row ends registered,
// skipped (the member already has a YubiKey of that label) or refused (why); each
// registration is one request, so nothing is ever half-imported, and a file with a malformed
// line is refused before anything is registered.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tools/keystep-enroll/admin_client.h"
#include "tools/keystep-enroll/enroll.h"

namespace keystep::enroll {

struct ImportRow {
  size_t line = 0;
  std::string email;
  std::optional<uint32_t> serial;
  ImportedKey key;
  std::string refused;  // non-empty: the row is refused for this reason, without a request
};

// --users: rows "SERIAL,EMAIL" (a first row "serial,…" is a header).
Result<std::map<uint32_t, std::string>> parse_serial_users(std::string_view text);

// privacyIDEA's token file: rows "UBOM<serial>_<slot>, <hex key>, HOTP[, <digits>]". Each
// serial's member comes from `users`; `token_id_from_serial` says the keys type the
// standard identifier (ubhe + serial), else they type the code alone (privacyIDEA's
// default). TOTP rows and serials missing from `users` are refused rows. kInvalidArgument
// naming the line for anything else that is not such a row.
Result<std::vector<ImportRow>> parse_privacyidea(std::string_view text,
                                                 const std::map<uint32_t, std::string>& users,
                                                 bool token_id_from_serial);

// Keystep's import CSV: rows "EMAIL,SERIAL,KEY,DIGITS,COUNTER,TOKEN_ID" (a first row
// "email,…" is a header). KEY is hexadecimal or base32 (RFC 4648) of 16 to 20 bytes,
// SERIAL may be empty,
// DIGITS 6 or 8 (empty: 6), COUNTER the key's next moving factor (empty: 0), TOKEN_ID the
// 12 characters the key types before its code (empty: none). kInvalidArgument naming the
// line for a malformed row.
Result<std::vector<ImportRow>> parse_import_csv(std::string_view text);

struct ImportSummary {
  size_t registered = 0;
  size_t skipped = 0;
  size_t refused = 0;
  bool stopped = false;  // the token or the account refused the requests as such (401, 403)
  bool ok() const { return refused == 0 && !stopped; }
};

// Registers each row through the admin API, saying one line per row and a summary. Stops at
// the first refusal of the token or the account (refuses_every_request), leaving the rows
// after it untouched.
ImportSummary run_import(const std::vector<ImportRow>& rows, AdminClient& api, Operator& op);

}  // namespace keystep::enroll
