#pragma once
// The one parser of JSON request bodies (the admin API's PUT and POST bodies). Stateless and
// thread-safe.

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/result.h"

namespace keystep {

// Objects and arrays nest at most this deep in a body; ours nest two levels.
inline constexpr int kMaxJsonBodyDepth = 16;

// On success returns `body` parsed, a JSON object. kInvalidArgument, with a sentence for the
// client, when it is not JSON (or not UTF-8), not an object, nests deeper than
// kMaxJsonBodyDepth, or when an object at any depth repeats a member name: nlohmann::json
// (like many parsers) keeps the last of duplicates and others keep the first, so
// {"confirm":false,"confirm":true} must mean nothing rather than two things (RFC 8259 §4).
Result<nlohmann::json> parse_json_object(std::string_view body);

}  // namespace keystep
