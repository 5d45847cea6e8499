#include "base/json_body.h"

#include <set>
#include <string>
#include <vector>

namespace keystep {

Result<nlohmann::json> parse_json_object(std::string_view body) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> names;  // of each object being parsed, innermost last
  std::string problem;
  // The callback sees every event in order; it never discards (returns true), it only notes
  // the first problem, so the stack of open objects stays in step with the parser.
  const auto callback = [&](int depth, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
        names.emplace_back();
        [[fallthrough]];
      case Event::array_start:
        if (depth >= kMaxJsonBodyDepth && problem.empty())
          problem = "the body nests deeper than " + std::to_string(kMaxJsonBodyDepth) + " levels";
        break;
      case Event::object_end:
        if (!names.empty()) names.pop_back();
        break;
      case Event::key:
        if (!names.empty() && !names.back().insert(parsed.get<std::string>()).second &&
            problem.empty())
          problem = "duplicate member " + parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  nlohmann::json parsed = nlohmann::json::parse(body.begin(), body.end(), callback, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  if (!problem.empty()) return make_error(ErrorCode::kInvalidArgument, problem);
  return parsed;
}

}  // namespace keystep
