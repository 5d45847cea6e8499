#include "providers/yubikey_hotp/key_output.h"

#include <algorithm>
#include <array>
#include <utility>

namespace keystep {
namespace {

constexpr std::string_view kModhex = "cbdefghijklnrtuv";

// AZERTY's unshifted digit row, 1 to 0, in UTF-8.
constexpr std::array<std::pair<std::string_view, char>, 10> kAzertyDigits = {{{"&", '1'},
                                                                               {"\xC3\xA9", '2'},
                                                                               {"\"", '3'},
                                                                               {"'", '4'},
                                                                               {"(", '5'},
                                                                               {"-", '6'},
                                                                               {"\xC3\xA8", '7'},
                                                                               {"_", '8'},
                                                                               {"\xC3\xA7", '9'},
                                                                               {"\xC3\xA0", '0'}}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) { return std::all_of(s.begin(), s.end(), is_digit); }

Error malformed(std::span<const unsigned> digits) {
  std::string lengths;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0) lengths += i + 1 == digits.size() ? " or " : ", ";
    lengths += std::to_string(digits[i]);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "Touch your YubiKey in the field: it types its identifier and a code of " +
                        lengths + " digits.");
}

}  // namespace

std::string key_typing(std::string_view typed) {
  std::string out;
  out.reserve(typed.size());
  for (size_t i = 0; i < typed.size();) {
    const char c = typed[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    bool mapped = false;
    for (const auto& [azerty, digit] : kAzertyDigits) {
      if (typed.substr(i, azerty.size()) == azerty) {
        out += digit;
        i += azerty.size();
        mapped = true;
        break;
      }
    }
    if (mapped) continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    ++i;
  }
  return out;
}

bool valid_token_id(std::string_view id) {
  return id.size() == kTokenIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return is_digit(c) || kModhex.find(c) != std::string_view::npos;
         });
}

Result<KeyOutput> read_key_output(std::string_view typed, std::span<const unsigned> digits) {
  const std::string text = key_typing(typed);
  for (unsigned n : digits) {
    if (text.size() == n && all_digits(text)) return KeyOutput{"", text};
    if (text.size() == kTokenIdLength + n) {
      const std::string_view id = std::string_view(text).substr(0, kTokenIdLength);
      const std::string_view code = std::string_view(text).substr(kTokenIdLength);
      if (valid_token_id(id) && all_digits(code)) return KeyOutput{std::string(id), std::string(code)};
    }
  }
  return malformed(digits);
}

Result<std::vector<KeyOutput>> read_key_outputs(std::string_view typed, unsigned digits,
                                                size_t count) {
  const std::string text = key_typing(typed);
  const unsigned lengths[] = {digits};
  if (count == 0 || text.size() % count != 0) return malformed(lengths);
  const size_t each = text.size() / count;
  std::vector<KeyOutput> outputs;
  for (size_t i = 0; i < count; ++i) {
    auto output = read_key_output(std::string_view(text).substr(i * each, each), lengths);
    if (!output) return output.error();
    if (!outputs.empty() && output->token_id != outputs.front().token_id)
      return make_error(ErrorCode::kInvalidArgument,
                        "The codes come from different keys: touch the same key each time.");
    outputs.push_back(std::move(*output));
  }
  return outputs;
}

}  // namespace keystep
