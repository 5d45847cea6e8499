#pragma once
// The relying party id (WebAuthn Level 3 §5.1.4.1, "is a registrable domain suffix of or is
// equal to"): the domain a key's credentials are scoped to. Keystep uses the issuer's host by
// default; an operator may name a parent domain so keys work across the organisation's
// hosts. Stateless and thread-safe.

#include <string_view>

#include "base/result.h"

namespace keystep::webauthn {

// Checks, at start-up, that `rp_id` may be used by pages of `origin` (an http or https
// origin, e.g. "https://id.example.com:8443"): it is the origin's host, or a parent domain of
// it that has at least two labels ("example.com", not "com"). An IP address is valid only as
// itself. On success returns nothing; kInvalidArgument with a message naming both otherwise.
// Without the Public Suffix List a parent such as "co.uk" is not recognised as a public
// suffix: the operator names the organisation's own domain.
Status check_rp_id(std::string_view rp_id, std::string_view origin);

}  // namespace keystep::webauthn
