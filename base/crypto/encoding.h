#pragma once
// Binary-to-text encodings. Decoders are strict: they reject characters outside the
// alphabet, impossible lengths and non-canonical trailing bits, so one byte string has
// exactly one accepted encoding (signatures and tokens cannot be altered in transit without
// detection). Stateless and thread-safe.

#include <string>
#include <string_view>

#include "base/result.h"

namespace keystep {

// RFC 4648 §5 alphabet (A-Z a-z 0-9 - _), without padding.
std::string base64url_encode(std::string_view data);

// On success returns the decoded bytes. On failure (padding, a character outside the
// alphabet, a length of 1 mod 4, non-zero unused bits) returns kInvalidArgument.
Result<std::string> base64url_decode(std::string_view text);

// RFC 4648 §4 alphabet (A-Z a-z 0-9 + /), padded with '=' to a multiple of 4.
std::string base64_encode(std::string_view data);

// On success returns the decoded bytes. On failure (missing or misplaced padding, a
// character outside the alphabet, whitespace, non-zero unused bits) returns kInvalidArgument.
Result<std::string> base64_decode(std::string_view text);

// Lower-case hexadecimal, two characters per byte.
std::string hex_encode(std::string_view data);

// On success the bytes of `text`, an even number of hexadecimal digits in either case. On
// failure (an odd length, another character) kInvalidArgument, without repeating the text
// (it may be a key).
Result<std::string> hex_decode(std::string_view text);

}  // namespace keystep
