#include "base/crypto/encoding.h"

#include <array>
#include <cstdint>

namespace keystep {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable make_decode_table(std::string_view alphabet) {
  DecodeTable table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr DecodeTable kBase64Table = make_decode_table(kBase64Alphabet);
constexpr DecodeTable kBase64UrlTable = make_decode_table(kBase64UrlAlphabet);

std::string encode(std::string_view data, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = static_cast<unsigned char>(data[i]) << 16 |
                       static_cast<unsigned char>(data[i + 1]) << 8 |
                       static_cast<unsigned char>(data[i + 2]);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  const size_t rest = data.size() - i;
  if (rest == 0) return out;
  uint32_t v = static_cast<unsigned char>(data[i]) << 16;
  if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
  out += alphabet[v >> 18 & 63];
  out += alphabet[v >> 12 & 63];
  if (rest == 2) out += alphabet[v >> 6 & 63];
  if (pad) out.append(3 - rest, '=');
  return out;
}

// Decodes unpadded text; the caller has stripped any padding.
Result<std::string> decode_unpadded(std::string_view text, const DecodeTable& table,
                                    const char* what) {
  if (text.size() % 4 == 1) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": invalid length");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) {
      return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": invalid character");
    }
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": non-canonical trailing bits");
  }
  return out;
}

}  // namespace

std::string base64url_encode(std::string_view data) {
  return encode(data, kBase64UrlAlphabet, /*pad=*/false);
}

Result<std::string> base64url_decode(std::string_view text) {
  return decode_unpadded(text, kBase64UrlTable, "base64url");
}

std::string base64_encode(std::string_view data) {
  return encode(data, kBase64Alphabet, /*pad=*/true);
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "base64: length is not a multiple of 4");
  }
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  // Any '=' left in the body is rejected by the alphabet check.
  return decode_unpadded(text.substr(0, text.size() - padding), kBase64Table, "base64");
}

std::string hex_encode(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Result<std::string> hex_decode(std::string_view text) {
  auto value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const Error bad{ErrorCode::kInvalidArgument, "not an even number of hexadecimal digits"};
  if (text.size() % 2 != 0) return bad;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = value(text[i]);
    const int low = value(text[i + 1]);
    if (high < 0 || low < 0) return bad;
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

}  // namespace keystep
