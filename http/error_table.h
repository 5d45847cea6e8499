#pragma once
// The one table from the core's errors (idp/outcome/fault.h) to HTTP: each Fault's status and
// its OAuth `error` string (RFC 6749 §5.2, RFC 6750 §3.1, or our own for Keystep's pages and
// admin API). Everything http/ sends for an outcome takes its status from here.

#include <nlohmann/json.hpp>
#include <string_view>

#include "idp/admin/admin_console.h"
#include "idp/observability/metrics_endpoint.h"
#include "idp/outcome/outcome.h"

namespace keystep::http {

struct ErrorAnswer {
  int status = 0;          // 4xx or 5xx
  std::string_view error;  // the `error` of the JSON body or error page
};

// The row of `fault`; every entry before Fault::kEnd has one (tests/unit/http/error_table_test).
ErrorAnswer error_answer(Fault fault);

// The status of an outcome: its fault's, else 302 for a redirect, 201 for a creation, 200.
int status_of(const WebOutcome& out);
int status_of(const ApiOutcome& out);
int status_of(const ConsoleOutcome& out);
int status_of(const MetricsAnswer& out);

// The JSON body of an API outcome: with a fault, its body plus the fault's "error".
nlohmann::json body_of(const ApiOutcome& out);

}  // namespace keystep::http
