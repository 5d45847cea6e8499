#include "tests/http/test_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "base/crypto/hash.h"
#include "base/crypto/jws.h"
#include "idp/directory/directory.h"
#include "providers/builtin.h"
#include "providers/totp/totp_provider.h"

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

std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [entity, text] : entities) {
    for (size_t at = s.find(entity); at != std::string::npos; at = s.find(entity, at + 1))
      s.replace(at, std::string_view(entity).size(), text);
  }
  return s;
}

// The value attribute of the <input name="name"> of a page ("" when absent).

// The path of an absolute URL ("/" when it has none).
std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash, url.find_first_of("?#", slash) - slash);
}

// A port that was free a moment ago. The issuer must name the real port before the server
// starts, so the port is chosen first; start() retries if someone takes it meanwhile.
Result<uint16_t> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kUnavailable, "cannot bind 127.0.0.1:0");
  return static_cast<uint16_t>(ntohs(addr.sin_port));
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

std::string input_value(const std::string& html, const std::string& name) {
  const std::string marker = "name=\"" + name + "\" value=\"";
  const auto at = html.find(marker);
  if (at == std::string::npos) return "";
  const auto begin = at + marker.size();
  const auto end = html.find('"', begin);
  if (end == std::string::npos) return "";
  return html_unescape(html.substr(begin, end - begin));
}

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

std::string s256_challenge(const std::string& verifier) { return sha256_b64url(verifier); }

Pkce make_pkce() {
  OsRandom random;
  auto verifier = random_token(random, 32);  // 43 characters of the unreserved set
  if (!verifier) {
    ADD_FAILURE() << verifier.error().message;
    return {};
  }
  return Pkce{*verifier, s256_challenge(*verifier)};
}

namespace {

// The data every server starts from: a database holding the migrations, an RS256 signing key
// sealed under `master_key`, the two accounts, the users and the clients. Built once per
// process and copied for each server, because RSA key generation alone takes up to a second.
struct SeedData {
  std::string dir;
  std::string master_key;
  int64_t alice_id = 0;
  int64_t other_alice_id = 0;

  ~SeedData() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Result<std::string> make_temp_dir() {
  std::string path = (std::filesystem::temp_directory_path() / "keystep-http-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr)
    return make_error(ErrorCode::kInternal, std::string("mkdtemp: ") + std::strerror(errno));
  return path;
}

Status build_seed(SeedData& seed) {
  auto dir = make_temp_dir();
  if (!dir) return dir.error();
  seed.dir = *dir;
  TestClock clock;
  OsRandom random;
  auto master = random_bytes(random, SecretBox::kKeySize);
  if (!master) return master.error();
  seed.master_key = *master;
  auto box = SecretBox::from_key(seed.master_key);
  if (!box) return box.error();
  auto store = sqlite::SqliteStore::open(seed.dir + "/keystep.db");
  if (!store) return store.error();
  SigningKeys keys(**store, *box, clock);
  if (auto kid = keys.rotate("RS256", random); !kid) return kid.error();

  const PasswordHasher hasher(TestServer::kArgon2, random);
  Directory directory(**store, hasher, random, clock);
  if (auto a = directory.create_account("acme", "Acme"); !a) return a.error();
  if (auto a = directory.create_account("globex", "Globex"); !a) return a.error();
  auto alice =
      directory.create_user("acme", TestServer::kAliceEmail, TestServer::kAlicePassword, false);
  if (!alice) return alice.error();
  seed.alice_id = alice->id;
  auto other = directory.create_user("globex", TestServer::kAliceEmail,
                                     TestServer::kOtherAlicePassword, false);
  if (!other) return other.error();
  seed.other_alice_id = other->id;
  if (auto s = directory.create_client(
          {"spa", {TestServer::kSpaRedirect}, {TestServer::kSpaLogoutRedirect}, {}});
      !s)
    return s;
  if (auto s = directory.create_client({"web",
                                        {TestServer::kWebRedirect},
                                        {TestServer::kWebLogoutRedirect},
                                        std::string(TestServer::kWebSecret)});
      !s)
    return s;
  return {};  // closing the store checkpoints the WAL into keystep.db
}

Result<const SeedData*> seed_data() {
  static std::mutex mu;
  static std::unique_ptr<SeedData> seed;
  std::lock_guard lock(mu);
  if (!seed) {
    auto fresh = std::make_unique<SeedData>();
    if (auto s = build_seed(*fresh); !s) return s.error();
    seed = std::move(fresh);
  }
  return seed.get();
}

}  // namespace

std::optional<std::string> base32_decode(const std::string& text) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == ' ') continue;
    const auto value = kAlphabet.find(c);
    if (value == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

Result<std::unique_ptr<TestServer>> TestServer::start(const TestServerOptions& options) {
  init_process_once();
  std::unique_ptr<TestServer> server(new TestServer());
  if (auto s = server->init(options); !s) return s.error();
  return server;
}

Result<int> TestServer::run_sql(const std::string& sql) {
  sqlite3* db = nullptr;
  const std::string path = dir_ + "/keystep.db";
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 5000);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
  const int changed = rc == SQLITE_OK ? sqlite3_changes(db) : 0;
  sqlite3_close(db);
  if (rc != SQLITE_OK) return make_error(ErrorCode::kInternal, "SQL: " + message);
  return changed;
}

Status TestServer::set_user_two_factor_flag(int64_t user_id, bool on) {
  return store_->set_two_factor_setting(user_id, on);
}

Status TestServer::give_custom_role(int64_t user_id, const std::string& role,
                                    const std::vector<std::string>& permissions) {
  // Test-chosen names only: quoted, not bound.
  std::string sql = "INSERT INTO roles (name) VALUES ('" + role + "');";
  for (const auto& p : permissions)
    sql += "INSERT INTO role_permissions (role, permission) VALUES ('" + role + "', '" + p + "');";
  sql += "UPDATE users SET role = '" + role + "' WHERE id = " + std::to_string(user_id) + ";";
  auto changed = run_sql(sql);
  if (!changed) return changed.error();
  if (*changed != 1) return make_error(ErrorCode::kNotFound, "no user " + std::to_string(user_id));
  return {};
}

Status TestServer::init(const TestServerOptions& options) {
  auto seed = seed_data();
  if (!seed) return seed.error();
  alice_id_ = (*seed)->alice_id;
  other_alice_id_ = (*seed)->other_alice_id;
  auto dir = make_temp_dir();
  if (!dir) return dir.error();
  dir_ = *dir;
  std::error_code ec;
  std::filesystem::copy_file((*seed)->dir + "/keystep.db", dir_ + "/keystep.db", ec);
  if (ec) return make_error(ErrorCode::kInternal, "copying the seed database: " + ec.message());

  auto store = sqlite::SqliteStore::open(dir_ + "/keystep.db");
  if (!store) return store.error();
  store_ = std::move(*store);
  auto box = SecretBox::from_key((*seed)->master_key);
  if (!box) return box.error();
  box_ = std::make_unique<SecretBox>(*box);
  keys_ = std::make_unique<SigningKeys>(*store_, *box_, clock_);
  if (auto jwks = keys_->jwks(); !jwks) return jwks.error();  // the seed key unseals
  config_.argon2 = options.argon2.value_or(kArgon2);
  hasher_ = std::make_unique<PasswordHasher>(config_.argon2, random_);
  if (auto s = register_builtin_providers(registry_, random_); !s) return s;
  const KeystepPluginHost host{&random_};
  for (const auto& path : options.plugins) {
    plugin_reports_.push_back(plugin_loader_.load(path, host, registry_));
    if (!plugin_reports_.back().loaded && !options.refused_plugins_are_reported)
      return make_error(ErrorCode::kInternal,
                        "plugin " + path + " refused: " + plugin_reports_.back().message);
  }
  two_factor_ = std::make_unique<TwoFactor>(*store_, *store_, registry_, *box_, random_, clock_);

  config_.threads = options.threads;
  if (options.metrics_allow) config_.metrics_allow = *options.metrics_allow;
  config_.metrics_token = options.metrics_token;
  config_.trusted_proxies = options.trusted_proxies;
  metrics_ = std::make_unique<MetricsEndpoint>(config_.metrics_allow, config_.metrics_token,
                                               *store_, clock_);
  Error last{ErrorCode::kUnavailable, "no attempt"};
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto port = free_port();
    if (!port) return port.error();
    config_.issuer = "http://127.0.0.1:" + std::to_string(*port);
    config_.listen = "127.0.0.1:" + std::to_string(*port);
    if (auto s = validate_config(config_); !s) return s;
    provider_ = std::make_unique<Provider>(config_, *store_, *keys_, *hasher_, *two_factor_,
                                           random_, clock_);
    directory_ = std::make_unique<Directory>(*store_, *hasher_, random_, clock_);
    admin_ = std::make_unique<AdminApi>(config_, *store_, *directory_, *two_factor_, random_,
                                        clock_);
    server_ = std::make_unique<http::Server>(*provider_, config_.issuer);
    server_->set_admin_api(admin_.get());
    console_ = std::make_unique<AdminConsole>(*provider_, *admin_, *directory_, registry_);
    server_->set_admin_console(console_.get());
    server_->set_metrics(metrics_.get());
    http::ServerOptions http_options = options.http;
    http_options.host = "127.0.0.1";
    http_options.trusted_proxies = config_.trusted_proxies;
    http_options.port = *port;
    http_options.threads = config_.threads;
    auto started = server_->start(http_options);
    if (started) {
      port_ = server_->port();
      if (port_ != *port) return make_error(ErrorCode::kInternal, "server reports another port");
      return {};
    }
    last = started.error();
    server_.reset();
    provider_.reset();
  }
  return last;
}

TestServer::~TestServer() {
  if (server_) server_->shutdown();
  server_.reset();
  provider_.reset();
  two_factor_.reset();
  keys_.reset();
  store_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void KeystepHttpTest::SetUp() {
  auto server = TestServer::start(server_options());
  ASSERT_TRUE(server) << server.error().message;
  server_ = std::move(server).value();
}

void KeystepHttpTest::TearDown() { server_.reset(); }

Fields KeystepHttpTest::spa_request(const Pkce& pkce) const {
  return {{"client_id", "spa"},
          {"redirect_uri", TestServer::kSpaRedirect},
          {"response_type", "code"},
          {"scope", "openid email"},
          {"state", "st-123"},
          {"nonce", "n-456"},
          {"code_challenge", pkce.challenge},
          {"code_challenge_method", "S256"}};
}

Fields KeystepHttpTest::web_request() const {
  return {{"client_id", "web"},      {"redirect_uri", TestServer::kWebRedirect},
          {"response_type", "code"}, {"scope", "openid"},
          {"state", "web-state"},    {"nonce", "web-nonce"}};
}

std::string KeystepHttpTest::authorize_url(const Fields& params) const {
  return url("/authorize?" + encode_fields(params));
}

HttpResponse KeystepHttpTest::authorize(const Fields& params) {
  return client_.get(authorize_url(params), &browser_);
}

LoginPage KeystepHttpTest::open_login_page(const std::string& login_url) {
  LoginPage page;
  page.response = client_.get(login_url, &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "login page " << login_url << " answered " << page.response.status << ": "
                  << page.response.body;
    return page;
  }
  page.flow = input_value(page.response.body, "flow");
  page.csrf_token = input_value(page.response.body, "csrf_token");
  if (page.flow.empty() || page.csrf_token.empty())
    ADD_FAILURE() << "login page lacks flow or csrf_token: " << page.response.body;
  return page;
}

HttpResponse KeystepHttpTest::submit_login(const LoginPage& page, const std::string& email,
                                           const std::string& password) {
  return client_.post_form(url("/login"),
                           {{"flow", page.flow},
                            {"csrf_token", page.csrf_token},
                            {"email", email},
                            {"password", password}},
                           &browser_);
}

HttpResponse KeystepHttpTest::sign_in(const Fields& params, const std::string& email,
                                      const std::string& password) {
  HttpResponse start = authorize(params);
  if (start.status != 302) {
    ADD_FAILURE() << "/authorize answered " << start.status << ": " << start.body;
    return start;
  }
  // With a live session the browser goes straight back to the client.
  if (start.location().rfind(url("/login?"), 0) != 0) return start;
  LoginPage page = open_login_page(start.location());
  if (page.flow.empty()) return page.response;
  return submit_login(page, email, password);
}

std::string KeystepHttpTest::sign_in_for_code(const Fields& params, const std::string& email,
                                              const std::string& password) {
  HttpResponse done = sign_in(params, email, password);
  const std::string redirect = field(params, "redirect_uri").value_or("");
  if (done.status != 302 || without_query(done.location()) != redirect) {
    ADD_FAILURE() << "sign-in did not return to " << redirect << ": " << done.status << " "
                  << done.location() << " " << done.body;
    return "";
  }
  auto code = field(query_of(done.location()), "code");
  if (!code || code->empty()) {
    ADD_FAILURE() << "no code in " << done.location();
    return "";
  }
  return *code;
}

HttpResponse KeystepHttpTest::exchange_spa_code(const std::string& code,
                                                const std::string& verifier) {
  return client_.post_form(url("/token"), {{"grant_type", "authorization_code"},
                                           {"code", code},
                                           {"redirect_uri", TestServer::kSpaRedirect},
                                           {"client_id", "spa"},
                                           {"code_verifier", verifier}});
}

nlohmann::json KeystepHttpTest::spa_tokens(const Fields& extra) {
  const Pkce pkce = make_pkce();
  Fields params = spa_request(pkce);
  for (const auto& [name, value] : extra) params = with(params, name, value);
  const std::string code = sign_in_for_code(params);
  if (code.empty()) return nullptr;
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  if (tokens.status != 200) {
    ADD_FAILURE() << "code exchange answered " << tokens.status << ": " << tokens.body;
    return nullptr;
  }
  return tokens.json();
}

HttpResponse KeystepHttpTest::refresh_spa(const std::string& refresh_token) {
  return client_.post_form(
      url("/token"),
      {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}, {"client_id", "spa"}});
}

HttpResponse KeystepHttpTest::userinfo(const std::string& access_token) {
  return client_.get(url("/userinfo"), nullptr, {"Authorization: Bearer " + access_token});
}

nlohmann::json KeystepHttpTest::verify_id_token(const std::string& id_token) {
  HttpResponse jwks = client_.get(url("/jwks.json"));
  if (jwks.status != 200) {
    ADD_FAILURE() << "/jwks.json answered " << jwks.status;
    return nullptr;
  }
  auto verifier = JwsVerifier::from_jwks(jwks.json());
  if (!verifier) {
    ADD_FAILURE() << "JWKS unusable: " << verifier.error().message;
    return nullptr;
  }
  auto claims = verifier->verify(id_token);
  if (!claims) {
    ADD_FAILURE() << "id_token does not verify: " << claims.error().message;
    return nullptr;
  }
  return *claims;
}

ProfilePage MfaHttpTest::open_profile() {
  ProfilePage page;
  page.response = client_.get(url("/profile"), &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "/profile answered " << page.response.status << " " << page.response.location()
                  << ": " << page.response.body;
    return page;
  }
  page.csrf_token = input_value(page.response.body, "csrf_token");
  if (page.csrf_token.empty()) ADD_FAILURE() << "profile lacks csrf_token: " << page.response.body;
  return page;
}

ProfilePage MfaHttpTest::sign_in_to_profile(const std::string& email, const std::string& password) {
  HttpResponse start = client_.get(url("/profile"), &browser_);
  if (start.status != 302 || without_query(start.location()) != url("/login")) {
    ADD_FAILURE() << "/profile without a session answered " << start.status << " "
                  << start.location();
    return {start, ""};
  }
  LoginPage login = open_login_page(start.location());
  if (login.flow.empty()) return {login.response, ""};
  HttpResponse done = submit_login(login, email, password);
  if (done.status != 302 || done.location() != url("/profile")) {
    ADD_FAILURE() << "signing in to the profile answered " << done.status << " " << done.location()
                  << ": " << done.body;
    return {done, ""};
  }
  return open_profile();
}

HttpResponse MfaHttpTest::start_enable(const ProfilePage& profile) {
  HttpResponse toggled =
      client_.post_form(url("/profile/two-factor"),
                        {{"csrf_token", profile.csrf_token}, {"action", "enable"}}, &browser_);
  if (toggled.status != 302 || toggled.location() != url("/profile/two-factor/enable")) {
    ADD_FAILURE() << "action=enable answered " << toggled.status << " " << toggled.location()
                  << ": " << toggled.body;
    return toggled;
  }
  HttpResponse page = client_.get(toggled.location(), &browser_);
  if (page.status != 200) ADD_FAILURE() << "enable page answered " << page.status;
  return page;
}

std::string MfaHttpTest::secret_on(const HttpResponse& enable_page) {
  const std::string marker = "id=\"secret-key\">";
  const auto at = enable_page.body.find(marker);
  const auto end = at == std::string::npos ? at : enable_page.body.find("</p>", at);
  if (end == std::string::npos) {
    ADD_FAILURE() << "no secret on the enable page: " << enable_page.body;
    return "";
  }
  const std::string shown =
      html_unescape(enable_page.body.substr(at + marker.size(), end - at - marker.size()));
  auto secret = base32_decode(shown);
  if (!secret || secret->empty()) {
    ADD_FAILURE() << "the secret shown is not base32: " << shown;
    return "";
  }
  return *secret;
}

HttpResponse MfaHttpTest::confirm_enable(const ProfilePage& profile, const std::string& code) {
  return client_.post_form(url("/profile/two-factor/enable"),
                           {{"csrf_token", profile.csrf_token}, {"code", code}}, &browser_);
}

std::string MfaHttpTest::enable_two_factor() {
  ProfilePage profile = sign_in_to_profile();
  if (profile.csrf_token.empty()) return "";
  const std::string secret = secret_on(start_enable(profile));
  if (secret.empty()) return "";
  HttpResponse done = confirm_enable(profile, code_now(secret));
  if (done.status != 200) {
    ADD_FAILURE() << "confirming the enrollment answered " << done.status << ": " << done.body;
    return "";
  }
  recovery_codes_ = recovery_codes_on(done);
  return secret;
}

std::string MfaHttpTest::code_now(const std::string& secret) {
  auto code = totp_code(secret, "SHA1", 6, kStep, clock().now());
  if (!code) {
    ADD_FAILURE() << code.error().message;
    return "";
  }
  return *code;
}

std::string MfaHttpTest::wrong_code(const std::string& secret) {
  std::vector<std::string> accepted;
  for (int64_t offset : {-kStep, int64_t{0}, kStep}) {
    auto code = totp_code(secret, "SHA1", 6, kStep, clock().now() + offset);
    if (code) accepted.push_back(*code);
  }
  for (int candidate = 0;; ++candidate) {
    char text[8];
    std::snprintf(text, sizeof text, "%06d", (candidate * 7919 + 123456) % 1000000);
    if (std::find(accepted.begin(), accepted.end(), text) == accepted.end()) return text;
  }
}

std::string MfaHttpTest::next_code(const std::string& secret) {
  clock().advance(kStep);
  return code_now(secret);
}

SecondFactorPage MfaHttpTest::open_second_factor_page(const std::string& page_url) {
  SecondFactorPage page;
  page.response = client_.get(page_url, &browser_);
  if (page.response.status != 200) {
    ADD_FAILURE() << "second-factor page " << page_url << " answered " << page.response.status
                  << " " << page.response.location() << ": " << page.response.body;
    return page;
  }
  page.flow = input_value(page.response.body, "flow");
  page.csrf_token = input_value(page.response.body, "csrf_token");
  page.method = input_value(page.response.body, "method");
  if (page.flow.empty() || page.csrf_token.empty() || page.method.empty())
    ADD_FAILURE() << "second-factor page lacks flow, csrf_token or method: " << page.response.body;
  return page;
}

HttpResponse MfaHttpTest::submit_second_factor(const SecondFactorPage& page,
                                               const std::string& code,
                                               const std::optional<std::string>& method) {
  return client_.post_form(url("/login/second-factor"),
                           {{"flow", page.flow},
                            {"csrf_token", page.csrf_token},
                            {"method", method.value_or(page.method)},
                            {"code", code}},
                           &browser_);
}

SecondFactorPage MfaHttpTest::sign_in_to_second_factor(const Fields& params,
                                                       const std::string& email,
                                                       const std::string& password) {
  HttpResponse done = sign_in(params, email, password);
  if (done.status != 302 || without_query(done.location()) != url("/login/second-factor")) {
    ADD_FAILURE() << "the password step did not lead to the second factor: " << done.status << " "
                  << done.location() << ": " << done.body;
    return {done, "", "", ""};
  }
  return open_second_factor_page(done.location());
}

std::string MfaHttpTest::code_of(const HttpResponse& response, const std::string& redirect_uri) {
  if (response.status != 302 || without_query(response.location()) != redirect_uri) {
    ADD_FAILURE() << "expected a redirect to " << redirect_uri << ", got " << response.status << " "
                  << response.location() << ": " << response.body;
    return "";
  }
  auto code = field(query_of(response.location()), "code");
  if (!code || code->empty()) {
    ADD_FAILURE() << "no code in " << response.location();
    return "";
  }
  return *code;
}

nlohmann::json MfaHttpTest::id_token_claims(const std::string& code, const Pkce& pkce) {
  if (code.empty()) return nullptr;
  HttpResponse tokens = exchange_spa_code(code, pkce.verifier);
  if (tokens.status != 200) {
    ADD_FAILURE() << "code exchange answered " << tokens.status << ": " << tokens.body;
    return nullptr;
  }
  return verify_id_token(tokens.json().value("id_token", ""));
}

std::vector<std::string> MfaHttpTest::recovery_codes_on(const HttpResponse& page) {
  std::vector<std::string> codes;
  const auto list = page.body.find("<ul class=\"codes\">");
  const auto end = page.body.find("</ul>", list);
  if (list == std::string::npos || end == std::string::npos) return codes;
  for (auto at = page.body.find("<li>", list); at != std::string::npos && at < end;
       at = page.body.find("<li>", at + 1)) {
    const auto close = page.body.find("</li>", at);
    codes.push_back(html_unescape(page.body.substr(at + 4, close - at - 4)));
  }
  return codes;
}

User MfaHttpTest::stored_user(int64_t user_id) {
  auto user = server_->store().user_by_id(user_id);
  if (!user) {
    ADD_FAILURE() << "user " << user_id << ": " << user.error().message;
    return {};
  }
  return *user;
}

}  // namespace keystep::httptest
