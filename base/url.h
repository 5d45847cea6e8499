#pragma once
// Percent-encoding, application/x-www-form-urlencoded bodies and queries, and a small
// absolute-URL parser: enough for OAuth request parsing, building redirects and checking
// redirect URIs. Stateless and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace keystep {

// Name/value pairs in the order received. Duplicates are kept so callers can refuse them
// (RFC 6749 §3.1: request parameters must not be repeated).
using Params = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes every byte except the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~),
// with upper-case hex digits. Safe for a query value, a form value and a path segment.
std::string url_encode(std::string_view text);

// On success returns text with %XX sequences decoded and, if plus_as_space, '+' as a space
// (form bodies and queries; not paths). Any byte may result (see parse_form for text). On
// failure (a '%' not followed by two hex digits) returns kInvalidArgument.
Result<std::string> url_decode(std::string_view text, bool plus_as_space);

// On success returns the pairs of an application/x-www-form-urlencoded body or a query
// string (without the '?'), decoded, '+' as space. Empty segments ("a=1&&b=2") are skipped;
// a segment without '=' is a name with an empty value. On failure (bad percent-encoding, or a
// decoded name or value that is not well-formed UTF-8) returns kInvalidArgument, so every
// parameter a caller sees is text that JSON, HTML and the database take as is.
Result<Params> parse_form(std::string_view body);

// True iff text is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF, no truncated sequence.
bool is_utf8(std::string_view text);

// The inverse of parse_form: name=value pairs joined by '&', each url_encode()d.
std::string encode_form(const Params& params);

// The value of the first parameter `name` with a non-empty value, or nullopt. A parameter
// sent without a value counts as omitted (RFC 6749 §3.1).
std::optional<std::string> get_param(const Params& params, std::string_view name);
// get_param, or "" when omitted.
std::string param(const Params& params, std::string_view name);

// True if `name` occurs more than once with a non-empty value.
bool has_duplicate(const Params& params, std::string_view name);

// url with `extra` added to its query: after '?' if it has none yet, else after '&'; an
// existing query and a fragment are kept (the parameters go before the '#'). Returns url
// unchanged when extra is empty.
std::string append_query(std::string_view url, const Params& extra);

// True iff every byte of text is one RFC 3986 allows in a URI (unreserved, reserved or
// '%') and every '%' starts a two-hex-digit escape: no spaces, controls, non-ASCII, quotes,
// angle brackets or backslashes.
bool is_well_formed_uri_text(std::string_view text);

struct ParsedUrl {
  std::string scheme;                   // lower-case: "http" or "https"
  std::string host;                     // lower-case; an IPv6 literal keeps its brackets
  std::optional<uint16_t> port;         // nullopt when the URL names none
  std::string path;                     // as written, may be empty
  std::optional<std::string> query;     // without '?'; "" for a bare '?'
  std::optional<std::string> fragment;  // without '#'; "" for a bare '#'
};

// On success returns the components of an absolute http or https URL. On failure returns
// kInvalidArgument for: another or missing scheme, no "//" authority, userinfo ('@' in the
// authority), an empty or malformed host, a port outside 1..65535, or a space, control
// character or non-ASCII byte anywhere. Percent-encoding is left as written.
Result<ParsedUrl> parse_url(std::string_view url);

}  // namespace keystep
