#pragma once
// The client data a browser signs over (WebAuthn Level 3 §5.8.1, CollectedClientData):
// parsed as JSON and checked member by member, never matched as text, since browsers add
// members of their own. Stateless and thread-safe.

#include <string_view>

#include "base/result.h"

namespace keystep::webauthn {

// What a ceremony's client data must say.
struct ExpectedClientData {
  std::string_view type;       // "webauthn.create" or "webauthn.get"
  std::string_view challenge;  // the raw challenge bytes the server issued
  std::string_view origin;     // the serialized origin, e.g. "https://id.example.com:8443"
};

// Checks `client_data_json` (the bytes the browser sent, UTF-8 JSON) against `expected`:
// type, challenge (base64url of expected.challenge, compared in constant time), origin
// (scheme, host and port, exactly), and crossOrigin absent or false with no topOrigin (the
// ceremony ran in a top-level page of our origin, not in a frame of another site).
// On success returns nothing. kInvalidArgument when the bytes are not a JSON object with
// string type, challenge and origin; kDenied naming the member that differs otherwise.
// The messages never repeat the values.
Status check_client_data(std::string_view client_data_json, const ExpectedClientData& expected);

}  // namespace keystep::webauthn
