#pragma once
// What a YubiKey in OATH-HOTP mode types when touched: an optional 12-character token
// identifier (OMP+TT+MUI, e.g. "ubhe" + the serial as 8 digits: "ubhe12345678"), then 6 or 8
// digits, then Enter. The identifier's characters are modhex letters (the 16 letters a key
// types alike on QWERTY, AZERTY and QWERTZ layouts) or decimal digits.
//
// A key is a USB keyboard sending key positions, so the host's layout decides the
// characters: on AZERTY the digit row gives `&é"'(-è_çà` for 1234567890, and Caps Lock
// upper-cases the letters. read_key_output undoes both.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep {

inline constexpr size_t kTokenIdLength = 12;

struct KeyOutput {
  std::string token_id;  // lower case, kTokenIdLength characters, or "" when the key has none
  std::string code;      // the digits
};

// `typed` as the key's characters mean them: spaces, tabs, CR and LF dropped, AZERTY's digit
// row read as digits, letters lower-cased. Any other character is kept, for the checks
// below to refuse.
std::string key_typing(std::string_view typed);

// True for a token identifier as an administrator or the enrollment tool names it:
// kTokenIdLength modhex letters (cbdefghijklnrtuv) or digits, lower case.
bool valid_token_id(std::string_view id);

// One key output, typed (key_typing applies): `digits` digits, or a token identifier and
// then `digits` digits, for any of the code lengths `digits` lists. kInvalidArgument with a
// message for the user otherwise.
Result<KeyOutput> read_key_output(std::string_view typed, std::span<const unsigned> digits);

// `count` outputs of one key typed one after the other (touched `count` times, each output
// ended by Enter; the separators may be gone): each of `digits` digits, all with the same
// token identifier or all without. kInvalidArgument otherwise.
Result<std::vector<KeyOutput>> read_key_outputs(std::string_view typed, unsigned digits,
                                                size_t count);

}  // namespace keystep
