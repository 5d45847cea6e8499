#pragma once
// The HTTP side of the integration tests: form and query fields, a small libcurl client that
// never follows redirects, parsed responses and Set-Cookie headers, and a cookie jar the test
// controls. Knows nothing of Keystep.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keystep::httptest {

// Ordered name/value pairs: a query string or a form body, before encoding.
using Fields = std::vector<std::pair<std::string, std::string>>;

// Replaces the first field called `name` (or appends it) / removes every field so called.
Fields with(Fields fields, const std::string& name, const std::string& value);
Fields without(Fields fields, const std::string& name);
// The value of the first field called `name`.
std::optional<std::string> field(const Fields& fields, const std::string& name);

// application/x-www-form-urlencoded text of `fields` (RFC 3986 unreserved kept, rest %XX).
std::string encode_fields(const Fields& fields);
// Percent-decodes a form or query string ('+' is a space). Malformed escapes are kept as is.
Fields decode_fields(const std::string& text);
// The decoded query of a URL (between '?' and '#'), empty when it has none.
Fields query_of(const std::string& url);
// The URL without its query and fragment.
std::string without_query(const std::string& url);

// One Set-Cookie header, parsed.
struct SetCookie {
  std::string name;
  std::string value;
  std::map<std::string, std::string> attributes;  // lower-case names: "path", "max-age", …

  bool has(const std::string& lower_name) const { return attributes.count(lower_name) > 0; }
  std::optional<std::string> attribute(const std::string& lower_name) const;
};
std::optional<SetCookie> parse_set_cookie(const std::string& header);

struct HttpResponse {
  long status = 0;  // 0 when the transfer failed (see transport_error)
  std::string transport_error;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  long new_connections = -1;  // CURLINFO_NUM_CONNECTS: 0 when an open connection was reused

  // Case-insensitive header lookup: the first value, or every value.
  std::optional<std::string> header(const std::string& name) const;
  std::vector<std::string> header_values(const std::string& name) const;
  std::optional<SetCookie> set_cookie(const std::string& cookie_name) const;
  std::string location() const { return header("Location").value_or(""); }
  // The body parsed as JSON (discarded value when it is not JSON).
  nlohmann::json json() const;
};

// The cookies a browser would hold for the server. Only name, value and path matter here.
class CookieJar {
 public:
  // Applies every Set-Cookie of `response` (Max-Age=0 or less deletes).
  void update(const HttpResponse& response);
  void set(const std::string& name, const std::string& value, const std::string& path = "/");
  void erase(const std::string& name) { cookies_.erase(name); }
  std::optional<std::string> get(const std::string& name) const;
  // The Cookie header value for a request to `path` (empty when no cookie applies).
  std::string header_for(const std::string& path) const;

 private:
  struct Entry {
    std::string value;
    std::string path;
  };
  std::map<std::string, Entry> cookies_;
};

// A libcurl easy handle: requests reuse its open connection (HTTP/1.1 keep-alive), never
// follow redirects and time out after 10 s.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `body` when given (POST and PUT; libcurl's default Content-Type is removed, so
  // pass one in `headers`). With a jar, sends its cookies and stores the ones set.
  HttpResponse request(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers = {},
                       const std::optional<std::string>& body = std::nullopt,
                       CookieJar* jar = nullptr);
  HttpResponse get(const std::string& url, CookieJar* jar = nullptr,
                   const std::vector<std::string>& headers = {});
  // POST with Content-Type application/x-www-form-urlencoded.
  HttpResponse post_form(const std::string& url, const Fields& form, CookieJar* jar = nullptr,
                         std::vector<std::string> headers = {});

 private:
  void* curl_;  // CURL*
};

}  // namespace keystep::httptest
