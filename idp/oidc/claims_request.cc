#include "idp/oidc/claims_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace keystep {

const std::vector<std::string>& supported_claims() {
  static const std::vector<std::string> kSupported = {
      "iss",  "sub",  "aud",   "exp",   "iat",            "auth_time", "nonce",
      "sid",  "acr",  "amr",   "email", "email_verified", "name",      "preferred_username"};
  return kSupported;
}

namespace {

bool known_claim(const std::string& name) {
  const auto& known = supported_claims();
  return std::find(known.begin(), known.end(), name) != known.end();
}

void add_once(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

Status read_member(const nlohmann::json& member, const char* where, std::vector<std::string>& names,
                   std::vector<std::string>& essential_acr) {
  if (!member.is_object())
    return make_error(ErrorCode::kInvalidArgument, std::string("claims.") + where +
                                                       " must be an object");
  for (const auto& [name, spec] : member.items()) {
    if (!spec.is_null() && !spec.is_object())
      return make_error(ErrorCode::kInvalidArgument,
                        "the request for claim " + name + " must be null or an object");
    bool essential = false;
    std::vector<std::string> values;
    if (spec.is_object()) {
      if (spec.contains("essential")) {
        if (!spec["essential"].is_boolean())
          return make_error(ErrorCode::kInvalidArgument, "essential must be true or false");
        essential = spec["essential"].get<bool>();
      }
      if (spec.contains("value")) {
        if (!spec["value"].is_string())
          return make_error(ErrorCode::kInvalidArgument, "a claim's value must be a string");
        values.push_back(spec["value"].get<std::string>());
      }
      if (spec.contains("values")) {
        if (!spec["values"].is_array())
          return make_error(ErrorCode::kInvalidArgument, "a claim's values must be an array");
        for (const auto& v : spec["values"]) {
          if (!v.is_string())
            return make_error(ErrorCode::kInvalidArgument, "a claim's values must be strings");
          values.push_back(v.get<std::string>());
        }
      }
    }
    if (!known_claim(name)) continue;
    add_once(names, name);
    if (name == "acr" && essential) {
      // An essential acr with no value to reach is a request nobody can satisfy or check.
      if (values.empty())
        return make_error(ErrorCode::kInvalidArgument, "an essential acr needs value or values");
      for (const auto& v : values) add_once(essential_acr, v);
    }
  }
  return {};
}

}  // namespace

Result<ClaimsRequest> parse_claims_request(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return make_error(ErrorCode::kInvalidArgument, "claims must be a JSON object");
  ClaimsRequest request;
  for (const auto& [where, names] : {std::pair{"id_token", &request.id_token},
                                     std::pair{"userinfo", &request.userinfo}}) {
    if (!json.contains(where)) continue;
    if (Status s = read_member(json[where], where, *names, request.essential_acr); !s)
      return s.error();
  }
  return request;
}

std::string requested_claims_json(const ClaimsRequest& request) {
  return nlohmann::json{{"id_token", request.id_token}, {"userinfo", request.userinfo}}.dump();
}

std::vector<std::string> requested_claims_of(const std::string& json_text, const char* member) {
  auto json = nlohmann::json::parse(json_text, nullptr, false);
  std::vector<std::string> names;
  if (!json.is_object() || !json.contains(member) || !json[member].is_array()) return names;
  for (const auto& n : json[member])
    if (n.is_string()) names.push_back(n.get<std::string>());
  return names;
}

}  // namespace keystep
