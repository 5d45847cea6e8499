#include "tests/http/http_client.h"

#include <curl/curl.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace keystep::httptest {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The path of an absolute URL ("/" when it has none).
std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash, url.find_first_of("?#", slash) - slash);
}

void init_process_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A peer closing its socket mid-response must not kill the test process.
    ::signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
  });
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<HttpResponse*>(user)->body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const std::string line = trim(std::string(data, size * count));
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();  // a new response (after 100 Continue)
  } else if (const auto colon = line.find(':'); colon != std::string::npos) {
    response->headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return size * count;
}

}  // namespace

Fields with(Fields fields, const std::string& name, const std::string& value) {
  for (auto& [n, v] : fields) {
    if (n == name) {
      v = value;
      return fields;
    }
  }
  fields.emplace_back(name, value);
  return fields;
}

Fields without(Fields fields, const std::string& name) {
  std::erase_if(fields, [&](const auto& f) { return f.first == name; });
  return fields;
}

std::optional<std::string> field(const Fields& fields, const std::string& name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string encode_fields(const Fields& fields) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto encode = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += encode(name) + "=" + encode(value);
  }
  return out;
}

Fields decode_fields(const std::string& text) {
  Fields out;
  size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('&', start);
    if (end == std::string::npos) end = text.size();
    const std::string pair = text.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      if (eq == std::string::npos)
        out.emplace_back(percent_decode(pair), "");
      else
        out.emplace_back(percent_decode(pair.substr(0, eq)), percent_decode(pair.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

Fields query_of(const std::string& url) {
  const auto q = url.find('?');
  if (q == std::string::npos) return {};
  const auto hash = url.find('#', q);
  return decode_fields(
      url.substr(q + 1, hash == std::string::npos ? std::string::npos : hash - q - 1));
}

std::string without_query(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

std::optional<std::string> SetCookie::attribute(const std::string& lower_name) const {
  auto it = attributes.find(lower_name);
  if (it == attributes.end()) return std::nullopt;
  return it->second;
}

std::optional<SetCookie> parse_set_cookie(const std::string& header) {
  SetCookie cookie;
  size_t start = 0;
  bool first = true;
  while (start <= header.size()) {
    auto end = header.find(';', start);
    if (end == std::string::npos) end = header.size();
    const std::string part = trim(header.substr(start, end - start));
    const auto eq = part.find('=');
    if (first) {
      if (eq == std::string::npos || eq == 0) return std::nullopt;
      cookie.name = part.substr(0, eq);
      cookie.value = part.substr(eq + 1);
      first = false;
    } else if (!part.empty()) {
      cookie.attributes[lower(trim(part.substr(0, eq)))] =
          eq == std::string::npos ? "" : trim(part.substr(eq + 1));
    }
    start = end + 1;
  }
  return cookie;
}

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (lower(n) == lower(name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HttpResponse::header_values(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (lower(n) == lower(name)) out.push_back(v);
  }
  return out;
}

std::optional<SetCookie> HttpResponse::set_cookie(const std::string& cookie_name) const {
  for (const auto& value : header_values("Set-Cookie")) {
    auto cookie = parse_set_cookie(value);
    if (cookie && cookie->name == cookie_name) return cookie;
  }
  return std::nullopt;
}

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body, nullptr, false); }

void CookieJar::update(const HttpResponse& response) {
  for (const auto& value : response.header_values("Set-Cookie")) {
    auto cookie = parse_set_cookie(value);
    if (!cookie) continue;
    const auto max_age = cookie->attribute("max-age");
    if (max_age && !max_age->empty() && std::stoll(*max_age) <= 0) {
      cookies_.erase(cookie->name);
    } else {
      set(cookie->name, cookie->value, cookie->attribute("path").value_or("/"));
    }
  }
}

void CookieJar::set(const std::string& name, const std::string& value, const std::string& path) {
  cookies_[name] = Entry{value, path.empty() ? "/" : path};
}

std::optional<std::string> CookieJar::get(const std::string& name) const {
  auto it = cookies_.find(name);
  if (it == cookies_.end()) return std::nullopt;
  return it->second.value;
}

std::string CookieJar::header_for(const std::string& path) const {
  std::string out;
  for (const auto& [name, entry] : cookies_) {
    if (path.rfind(entry.path, 0) != 0) continue;
    if (!out.empty()) out += "; ";
    out += name + "=" + entry.value;
  }
  return out;
}

HttpClient::HttpClient() {
  init_process_once();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::request(const std::string& method, const std::string& url,
                                 const std::vector<std::string>& headers,
                                 const std::optional<std::string>& body, CookieJar* jar) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body->c_str());
  } else if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
  }

  curl_slist* list = nullptr;
  bool has_type = false;
  for (const auto& h : headers) {
    list = curl_slist_append(list, h.c_str());
    if (lower(h).rfind("content-type:", 0) == 0) has_type = true;
  }
  list = curl_slist_append(list, "Expect:");
  if (!has_type) list = curl_slist_append(list, "Content-Type:");
  if (jar) {
    const std::string cookies = jar->header_for(path_of(url));
    if (!cookies.empty()) list = curl_slist_append(list, ("Cookie: " + cookies).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    response.transport_error = curl_easy_strerror(rc);
    response.status = 0;
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  }
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &response.new_connections);
  if (jar) jar->update(response);
  return response;
}

HttpResponse HttpClient::get(const std::string& url, CookieJar* jar,
                             const std::vector<std::string>& headers) {
  return request("GET", url, headers, std::nullopt, jar);
}

HttpResponse HttpClient::post_form(const std::string& url, const Fields& form, CookieJar* jar,
                                   std::vector<std::string> headers) {
  headers.push_back("Content-Type: application/x-www-form-urlencoded");
  return request("POST", url, headers, encode_fields(form), jar);
}

}  // namespace keystep::httptest
