#include "idp/observability/metrics_endpoint.h"

#include <algorithm>
#include <cctype>

#include "base/crypto/hash.h"
#include "idp/observability/observability.h"

namespace keystep {
namespace {

MetricsAnswer refuse(Fault fault, const char* description, std::string www_authenticate = "") {
  return MetricsAnswer{fault, description, std::move(www_authenticate)};
}

}  // namespace

MetricsAnswer MetricsEndpoint::scrape(const std::string& client, bool untrusted_forwarding,
                                      const std::optional<std::string>& authorization) const {
  constexpr std::string_view kBearer = "bearer ";  // the scheme is case-insensitive
  if (authorization) {
    const bool bearer =
        authorization->size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), authorization->begin(), [](char want, char got) {
          return want == std::tolower(static_cast<unsigned char>(got));
        });
    // Digests compared, so the time taken reveals nothing, not even the token's length.
    if (!bearer || token_.empty() ||
        !constant_time_equal(sha256(authorization->substr(kBearer.size())), sha256(token_)))
      return refuse(Fault::kInvalidToken, "the metrics token is not valid",
                    "Bearer realm=\"keystep metrics\", error=\"invalid_token\"");
  } else if (untrusted_forwarding ||
             std::find(allow_.begin(), allow_.end(), client) == allow_.end()) {
    if (!token_.empty())
      return refuse(Fault::kMetricsTokenRequired, "metrics need a bearer token from this address",
                    "Bearer realm=\"keystep metrics\"");
    return refuse(Fault::kForbidden, "metrics are served to the configured addresses only");
  }
  return MetricsAnswer{std::nullopt, obs::render_metrics(outbox_, clock_.now()), {}};
}

}  // namespace keystep
