#include "providers/webauthn/client_data.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"

namespace keystep::webauthn {
namespace {

const std::string* string_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

}  // namespace

Status check_client_data(std::string_view client_data_json, const ExpectedClientData& expected) {
  const nlohmann::json client =
      nlohmann::json::parse(client_data_json.begin(), client_data_json.end(), nullptr, false);
  if (!client.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "clientDataJSON is not a JSON object");
  }
  const std::string* type = string_member(client, "type");
  const std::string* challenge = string_member(client, "challenge");
  const std::string* origin = string_member(client, "origin");
  if (!type || !challenge || !origin) {
    return make_error(ErrorCode::kInvalidArgument,
                      "clientDataJSON lacks its type, challenge or origin");
  }
  if (*type != expected.type) {
    return make_error(ErrorCode::kDenied,
                      "clientDataJSON.type is not " + std::string(expected.type));
  }
  // The challenge was issued as base64url; decoding (strict, one encoding per byte string)
  // and comparing bytes does not depend on how a browser might pad or spell it.
  Result<std::string> sent = base64url_decode(*challenge);
  if (!sent || !constant_time_equal(*sent, expected.challenge)) {
    return make_error(ErrorCode::kDenied, "clientDataJSON.challenge is not this ceremony's");
  }
  if (*origin != expected.origin) {
    return make_error(ErrorCode::kDenied, "clientDataJSON.origin is not this server's origin");
  }
  // §7.1 step 10 / §7.2 step 14: a ceremony run inside a frame of another site may have been
  // started by that site; a second factor is never collected there.
  const auto cross = client.find("crossOrigin");
  if (cross != client.end() && !(cross->is_boolean() && !cross->get<bool>())) {
    return make_error(ErrorCode::kDenied,
                      "clientDataJSON.crossOrigin is set: the key was used "
                      "from a frame of another site");
  }
  if (client.contains("topOrigin")) {
    return make_error(ErrorCode::kDenied,
                      "clientDataJSON.topOrigin is set: the key was used "
                      "from a frame of another site");
  }
  return {};
}

}  // namespace keystep::webauthn
