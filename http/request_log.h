#pragma once
// Per-request observability for http/server.cc: RequestLog, which gives each request an id
// (also the X-Request-Id answer header and the request_id of audit rows written meanwhile,
// idp/observability.h RequestScope), and when the answer is sent writes its JSON log line
// and its metrics (keystep_http_requests_total, keystep_http_request_duration_seconds).
//
// Never logged: the path's variable parts, the query, headers, cookies or the body (they
// carry codes, tokens and state); only the route pattern.

#include <chrono>
#include <string>
#include <string_view>

#include "idp/observability/observability.h"

namespace keystep::http {

// "GET", "POST", … for the usual methods, "OTHER" for the rest.
std::string method_label(std::string_view method);
// 16 random bytes, base64url: unguessable and unique enough to find one request's lines.
std::string new_request_id();

// What a request's log line and metrics need, copyable, so that an answer sent from another
// thread (the password pool, http/password_pool.h) is logged there.
struct RequestRecord {
  std::string id;
  std::string route;
  std::string method;
  std::string client;
  std::chrono::steady_clock::time_point start;
  // Writes the log line and counts the request with the answer's status.
  void finish(int status) const;
};

// One per request, on the thread that handles it, from the parsed request to the answer.
class RequestLog {
 public:
  // `route`: the pattern of the route serving the request (http/route_table.h), the path
  // itself for fixed routes ("/login/second-factor"), the variables named for the others
  // ("/api/v1/accounts/{account}/tokens/{token}"), or "unmatched" (a 404), so the number of
  // label values is bounded whatever clients send.
  RequestLog(std::string_view method, std::string route, std::string client);
  const std::string& id() const { return record_.id; }
  // For an answer sent elsewhere: the record to finish there (inside an obs::RequestScope of
  // its id); finish() here then writes nothing.
  RequestRecord hand_off() {
    handed_off_ = true;
    return record_;
  }
  void finish(int status) {
    if (!handed_off_) record_.finish(status);
  }

 private:
  RequestRecord record_;
  bool handed_off_ = false;
  obs::RequestScope scope_;  // after record_: built from its id
};

}  // namespace keystep::http
