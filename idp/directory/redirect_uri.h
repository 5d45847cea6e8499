#pragma once
// Redirect URI rules for client registration and authorization requests. Stateless,
// thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep {

inline constexpr size_t kMaxRedirectUriLength = 2048;

// On success the URI may be registered. It must be at most kMaxRedirectUriLength bytes of
// URI characters, absolute, without a fragment and without userinfo, and one of:
//  - https://host[:port][/path][?query];
//  - http:// with a loopback host (localhost, 127.0.0.1, [::1]) for native apps, any port
//    (RFC 8252 §7.3);
//  - a private-use scheme containing a '.', as reverse domain names are (RFC 8252 §7.1),
//    e.g. com.example.app:/oauth2redirect. This rules out javascript:, data:, file: and
//    other schemes a browser would act on.
// On failure returns kInvalidArgument saying which rule was broken.
Status validate_redirect_uri(std::string_view uri);

// True iff requested is byte-for-byte equal to one of the registered URIs (no
// normalisation, no prefix or pattern matching: RFC 9700 §2.1).
bool redirect_uri_registered(const std::vector<std::string>& registered,
                             std::string_view requested);

}  // namespace keystep
