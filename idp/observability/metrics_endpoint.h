#pragma once
// GET /metrics: who may scrape, and what they get (idp/observability.h render_metrics).
//
// Access (IdpConfig metrics_allow / metrics_token):
// - a request with "Authorization: Bearer T" is served iff a token is configured and T is it
//   (kInvalidToken otherwise, whatever the address);
// - without one, a request whose client address is in `allow` is served, unless it came
//   through a forwarding proxy Keystep does not trust (see scrape()): behind such a proxy
//   every client looks like the proxy, often 127.0.0.1;
// - anyone else gets kMetricsTokenRequired when a token is configured (so the scraper knows
//   to send it), else kForbidden.
//
// Thread-safety: scrape() may be called concurrently.

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "idp/outcome/fault.h"
#include "idp/store/mail_store.h"

namespace keystep {

struct MetricsAnswer {
  std::optional<Fault> fault;  // none: served
  std::string body;  // the exposition text (text/plain; version=0.0.4), else the error_description
  std::string www_authenticate;  // set on kInvalidToken and kMetricsTokenRequired
};

class MetricsEndpoint {
 public:
  MetricsEndpoint(std::vector<std::string> allow, std::string token, MailStore& outbox,
                  const Clock& clock)
      : allow_(std::move(allow)), token_(std::move(token)), outbox_(outbox), clock_(clock) {}

  // `client`: the request's client address (http::client_address); `untrusted_forwarding`:
  // the request carries a forwarding header (X-Forwarded-For, Forwarded, X-Real-IP) from a
  // peer that is not a trusted proxy, so `client` is the proxy, not the scraper.
  MetricsAnswer scrape(const std::string& client, bool untrusted_forwarding,
                       const std::optional<std::string>& authorization) const;

 private:
  std::vector<std::string> allow_;
  std::string token_;
  MailStore& outbox_;
  const Clock& clock_;
};

}  // namespace keystep
