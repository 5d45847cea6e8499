#pragma once
// The `claims` authorization request parameter (OpenID Connect Core 1.0 §5.5), as far as
// Keystep honours it: claims asked for by name in the id_token or at /userinfo (released
// whatever the scope, among the ones this server has: claims_supported), and an essential
// `acr` with the values the sign-in must reach (§5.5.1.1), which is how a relying party
// says "two-factor authentication or nothing".

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep {

// Every claim this server may put in an id_token or a userinfo answer (discovery's
// claims_supported); a claims request naming another is ignored for it.
const std::vector<std::string>& supported_claims();

struct ClaimsRequest {
  std::vector<std::string> id_token;  // claim names for the id_token, each once
  std::vector<std::string> userinfo;  // claim names for /userinfo, each once
  // The values of an essential acr ("value" or "values", from either member, each once);
  // empty when acr is not essential.
  std::vector<std::string> essential_acr;
};

// Reads the parameter's JSON text: an object whose members "id_token" and "userinfo" are
// objects mapping claim names to null or to {"essential": bool, "value": v, "values": [v…]}.
// Other members are ignored, as are names this server does not know. kInvalidArgument, with a
// message fit for the client, for anything else (not JSON, a member of the wrong type, an
// essential acr without values).
Result<ClaimsRequest> parse_claims_request(std::string_view text);

// The names of `request` as the grant keeps them (Grant::requested_claims):
// {"id_token":[…],"userinfo":[…]}.
std::string requested_claims_json(const ClaimsRequest& request);
// The names a grant's requested_claims text asks for in `member` ("id_token" or "userinfo");
// none when the text is unreadable.
std::vector<std::string> requested_claims_of(const std::string& json_text,
                                             const char* member);

}  // namespace keystep
