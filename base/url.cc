#include "base/url.h"

#include <algorithm>

namespace keystep {
namespace {

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Characters RFC 3986 allows anywhere in a URI (unreserved, reserved, '%').
bool is_uri_char(char c) {
  static constexpr std::string_view kReserved = ":/?#[]@!$&'()*+,;=";
  return is_unreserved(c) || c == '%' || kReserved.find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

Error invalid_url(std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, "invalid URL: " + std::string(why));
}

Result<std::optional<uint16_t>> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit)) {
    return invalid_url("bad port");
  }
  unsigned value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value < 1 || value > 65535) return invalid_url("port out of range");
  return std::optional<uint16_t>(static_cast<uint16_t>(value));
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

Result<std::string> url_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return make_error(ErrorCode::kInvalidArgument, "bad percent-encoding");
      }
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Result<Params> parse_form(std::string_view body) {
  Params params;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view segment = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (segment.empty()) continue;
    const size_t eq = segment.find('=');
    Result<std::string> name = url_decode(segment.substr(0, eq), /*plus_as_space=*/true);
    if (!name) return name.error();
    Result<std::string> value = eq == std::string_view::npos
                                    ? Result<std::string>(std::string())
                                    : url_decode(segment.substr(eq + 1), /*plus_as_space=*/true);
    if (!value) return value.error();
    if (!is_utf8(*name) || !is_utf8(*value)) {
      return make_error(ErrorCode::kInvalidArgument, "parameter is not valid UTF-8");
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: the sequence length and the allowed range of the second byte (RFC 3629 §4).
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      if (b == 0xE0) low = 0xA0;   // overlong
      if (b == 0xED) high = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      if (b == 0xF0) low = 0x90;   // overlong
      if (b == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < (k == 1 ? low : 0x80) || c > (k == 1 ? high : 0xBF)) return false;
    }
    i += length;
  }
  return true;
}

std::string encode_form(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += url_encode(name);
    out += '=';
    out += url_encode(value);
  }
  return out;
}

std::optional<std::string> get_param(const Params& params, std::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name && !v.empty()) return v;
  }
  return std::nullopt;
}

std::string param(const Params& params, std::string_view name) {
  return get_param(params, name).value_or("");
}

bool has_duplicate(const Params& params, std::string_view name) {
  return std::count_if(params.begin(), params.end(),
                       [&](const auto& p) { return p.first == name && !p.second.empty(); }) > 1;
}

std::string append_query(std::string_view url, const Params& extra) {
  if (extra.empty()) return std::string(url);
  const size_t hash = url.find('#');
  const std::string_view base = url.substr(0, hash);
  const std::string_view fragment =
      hash == std::string_view::npos ? std::string_view() : url.substr(hash);
  std::string out(base);
  if (base.find('?') == std::string_view::npos) {
    out += '?';
  } else if (base.back() != '?' && base.back() != '&') {
    out += '&';
  }
  out += encode_form(extra);
  out += fragment;
  return out;
}

bool is_well_formed_uri_text(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!is_uri_char(text[i])) return false;
    if (text[i] == '%' &&
        (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0)) {
      return false;
    }
  }
  return true;
}

Result<ParsedUrl> parse_url(std::string_view url) {
  if (!is_well_formed_uri_text(url)) return invalid_url("character not allowed in a URL");
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos) return invalid_url("no scheme");
  ParsedUrl parsed;
  parsed.scheme = lower(url.substr(0, colon));
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    return invalid_url("scheme must be http or https");
  }
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return invalid_url("no authority");
  rest.remove_prefix(2);

  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return invalid_url("userinfo not allowed");

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_url("unterminated IPv6 literal");
    host = authority.substr(0, close + 1);
    const std::string_view inside = host.substr(1, host.size() - 2);
    if (inside.empty() || !std::all_of(inside.begin(), inside.end(), [](char c) {
          return hex_value(c) >= 0 || c == ':' || c == '.';
        })) {
      return invalid_url("bad IPv6 literal");
    }
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_url("junk after IPv6 literal");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t port_colon = authority.find(':');
    host = authority.substr(0, port_colon);
    if (port_colon != std::string_view::npos) {
      port = authority.substr(port_colon + 1);
      has_port = true;
    }
    if (host.empty()) return invalid_url("empty host");
    if (!std::all_of(host.begin(), host.end(), is_unreserved)) return invalid_url("bad host");
  }
  parsed.host = lower(host);
  if (has_port) {
    Result<std::optional<uint16_t>> p = parse_port(port);
    if (!p) return p.error();
    parsed.port = *p;
  }

  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    parsed.fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  const size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    parsed.query = std::string(rest.substr(question + 1));
    rest = rest.substr(0, question);
  }
  parsed.path = std::string(rest);
  return parsed;
}

}  // namespace keystep
