#include "providers/yubikey_hotp/key_output.h"

#include <algorithm>
#include <utility>

namespace keystep {
namespace {

constexpr std::string_view kModhex = "cbdefghijklnrtuv";

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

// What key_typing returns, written to `out` (at most `capacity` characters). Returns how many
// characters it holds, or capacity + 1 when they do not fit.
size_t type_into(std::string_view typed, char* out, size_t capacity) {
  // One pass, no table: this runs on every code checked. AZERTY's unshifted digit row, 1 to
  // 0, is & é " ' ( - è _ ç à; the accented ones are two bytes of UTF-8 (C3 A9, C3 A8, C3
  // A7, C3 A0).
  size_t n = 0;
  const auto put = [&](char c) {
    if (n < capacity) out[n] = c;
    ++n;
  };
  for (size_t i = 0; i < typed.size() && n <= capacity; ++i) {
    const char c = typed[i];
    switch (c) {
      case ' ': case '\t': case '\r': case '\n': continue;
      case '&': put('1'); continue;
      case '"': put('3'); continue;
      case '\'': put('4'); continue;
      case '(': put('5'); continue;
      case '-': put('6'); continue;
      case '_': put('8'); continue;
      default: break;
    }
    if (c == '\xC3' && i + 1 < typed.size()) {
      const char digit = typed[i + 1] == '\xA9'   ? '2'
                         : typed[i + 1] == '\xA8' ? '7'
                         : typed[i + 1] == '\xA7' ? '9'
                         : typed[i + 1] == '\xA0' ? '0'
                                                   : '\0';
      if (digit != '\0') {
        put(digit);
        ++i;
        continue;
      }
    }
    put((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return std::min(n, capacity + 1);
}

// Longer than any key's output, two of them included.
constexpr size_t kMaxTyped = 64;

}  // namespace

std::string key_typing(std::string_view typed) {
  std::string out(typed.size(), '\0');
  out.resize(std::min(type_into(typed, out.data(), out.size()), out.size()));
  return out;
}

bool valid_token_id(std::string_view id) {
  return id.size() == kTokenIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return is_digit(c) || kModhex.find(c) != std::string_view::npos;
         });
}

Result<KeyOutput> read_key_output(std::string_view typed, std::span<const unsigned> digits) {
  char buffer[kMaxTyped];
  const size_t length = type_into(typed, buffer, kMaxTyped);
  if (length > kMaxTyped) return malformed(digits);
  const std::string_view text(buffer, length);
  for (unsigned n : digits) {
    if (text.size() == n && all_digits(text)) return KeyOutput{"", std::string(text)};
    if (text.size() == kTokenIdLength + n) {
      const std::string_view id = text.substr(0, kTokenIdLength);
      const std::string_view code = text.substr(kTokenIdLength);
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
