#include "tools/keystep-enroll/admin_client.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/crypto/encoding.h"
#include "base/url.h"
#include "tools/keystep-enroll/csv.h"

namespace keystep::enroll {
namespace {

using nlohmann::json;

size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// The server's own words for a refusal, and what the operator can do about it. `provider`
// names the kind of key a registration asked for (its 403 method_not_allowed says to allow it).
Error api_error(long status, const std::string& body, const std::string& what,
                std::string_view provider = {}) {
  const json answer = json::parse(body, nullptr, false);
  std::string description;
  std::string code;
  if (answer.is_object()) {
    if (answer.contains("error_description") && answer["error_description"].is_string())
      description = answer["error_description"].get<std::string>();
    if (answer.contains("error") && answer["error"].is_string())
      code = answer["error"].get<std::string>();
  }
  const std::string told = description.empty() ? code : description;
  const std::string prefix = what + ": ";
  switch (status) {
    case 400:
      return make_error(ErrorCode::kInvalidArgument, prefix + "refused (400): " + told);
    case 401:
      return make_error(ErrorCode::kUnauthenticated,
                        prefix + "the API token was refused (401: " + told +
                            "); create one with `keystep token create` and pass it in "
                            "KEYSTEP_TOKEN or --token-file");
    case 403:
      if (code == "method_not_allowed")
        return make_error(ErrorCode::kDenied, prefix + "the account does not allow this kind of key (403: " +
                                                  told + "); add " + std::string(provider) +
                                                  " to its allowed_providers");
      return make_error(ErrorCode::kDenied,
                        prefix + "not allowed (403: " + told +
                            "); use a token of an administrator of the account");
    case 404:
      return make_error(ErrorCode::kNotFound, prefix + "not found (404: " + told + ")");
    case 409:
      return make_error(ErrorCode::kConflict, prefix + "conflict (409: " + told + ")");
    case 410:
      return make_error(ErrorCode::kExpired, prefix + "the pending credential expired (410: " +
                                                 told + "); run the enrollment again");
    default:
      return make_error(ErrorCode::kUnavailable, prefix + "the server answered " +
                                                     std::to_string(status) +
                                                     (told.empty() ? "" : " (" + told + ")"));
  }
}

void wipe(std::string& text) {
  OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

}  // namespace

bool refuses_every_request(const Error& error) {
  return error.code == ErrorCode::kUnauthenticated || error.code == ErrorCode::kDenied;
}

Error cancel_pending(AdminClient& api, int64_t member, int64_t credential, Error why) {
  if (auto removed = api.remove(member, credential); !removed)
    why.message += "; removing the pending credential " + std::to_string(credential) +
                   " failed (" + removed.error().message + "): it expires by itself";
  else
    why.message += "; nothing was registered";
  return why;
}

PendingKey::~PendingKey() { OPENSSL_cleanse(secret.data(), secret.size()); }

AdminClient::AdminClient(std::string issuer, std::string account, std::string token)
    : issuer_(std::move(issuer)), account_(std::move(account)), token_(std::move(token)) {
  while (!issuer_.empty() && issuer_.back() == '/') issuer_.pop_back();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_ = curl_easy_init();
}

AdminClient::~AdminClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
  OPENSSL_cleanse(token_.data(), token_.size());
}

Result<AdminClient::Response> AdminClient::call(const std::string& method, const std::string& path,
                                                const std::optional<std::string>& body) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) return make_error(ErrorCode::kUnavailable, "libcurl did not start");
  curl_easy_reset(curl);  // keeps the connection
  const std::string url = issuer_ + "/api/v1/accounts/" + url_encode(account_) + path;
  Response response;
  curl_slist* headers = nullptr;
  std::string authorization = "Authorization: Bearer " + token_;
  headers = curl_slist_append(headers, authorization.c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  OPENSSL_cleanse(authorization.data(), authorization.size());
  if (rc != CURLE_OK)
    return make_error(ErrorCode::kUnavailable,
                      "cannot reach " + issuer_ + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string AdminClient::member_path(int64_t member) const {
  return "/members/" + std::to_string(member);
}

Result<std::map<std::string, int64_t>> AdminClient::members() {
  std::map<std::string, int64_t> found;
  for (int page = 1;; ++page) {
    auto r = call("GET", "/members?limit=500&page=" + std::to_string(page), std::nullopt);
    if (!r) return r.error();
    if (r->status != 200) return api_error(r->status, r->body, "listing the members");
    const json answer = json::parse(r->body, nullptr, false);
    if (!answer.is_object() || !answer.contains("members") || !answer["members"].is_array())
      return make_error(ErrorCode::kUnavailable, "listing the members: not an admin API answer");
    for (const auto& m : answer["members"])
      if (m.is_object() && m.value("email", json()).is_string() &&
          m.value("id", json()).is_number_integer())
        found[email_key(m["email"].get<std::string>())] = m["id"].get<int64_t>();
    if (!answer.contains("next_page")) return found;
  }
}

Result<int64_t> AdminClient::member_id(const std::string& email) {
  auto all = members();
  if (!all) return all.error();
  auto it = all->find(email_key(email));
  if (it == all->end())
    return make_error(ErrorCode::kNotFound, "no member " + email + " in account " + account_);
  return it->second;
}

Result<std::vector<CredentialSummary>> AdminClient::credentials(int64_t member) {
  auto r = call("GET", member_path(member) + "/credentials", std::nullopt);
  if (!r) return r.error();
  if (r->status != 200) return api_error(r->status, r->body, "listing the member's credentials");
  const json answer = json::parse(r->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("credentials") || !answer["credentials"].is_array())
    return make_error(ErrorCode::kUnavailable, "listing credentials: not an admin API answer");
  std::vector<CredentialSummary> list;
  for (const auto& c : answer["credentials"]) {
    if (!c.is_object()) continue;
    list.push_back({c.value("id", int64_t{0}), c.value("provider", std::string()),
                    c.value("label", std::string()), c.value("confirmed", false)});
  }
  return list;
}

Result<PendingKey> AdminClient::begin_yubikey(int64_t member, const std::string& label, int digits,
                                              const std::optional<std::string>& token_id) {
  json request = {{"provider", "yubikey_hotp"}, {"digits", digits}};
  if (!label.empty()) request["label"] = label;
  if (token_id) request["token_id"] = *token_id;
  auto r = call("POST", member_path(member) + "/credentials", request.dump());
  if (!r) return r.error();
  if (r->status != 201) return api_error(r->status, r->body, "registering the key", "yubikey_hotp");
  json answer = json::parse(r->body, nullptr, false);
  wipe(r->body);
  PendingKey pending;
  if (answer.is_object()) {
    pending.id = answer.value("id", int64_t{0});
    pending.expires_at = answer.value("expires_at", int64_t{0});
    if (answer.contains("secret_hex") && answer["secret_hex"].is_string()) {
      if (auto raw = hex_decode(answer["secret_hex"].get_ref<const std::string&>());
          raw && raw->size() == 20)
        pending.secret = std::move(*raw);
    }
    // The answer holds the secret twice (hex and base32): neither outlives this call.
    for (const char* name : {"secret_hex", "secret_base32"})
      if (answer.contains(name) && answer[name].is_string())
        wipe(answer[name].get_ref<std::string&>());
  }
  if (pending.id <= 0 || pending.secret.empty())
    return make_error(ErrorCode::kUnavailable,
                      "registering the key: the server's answer has no id and 160-bit "
                      "secret_hex (does it have the yubikey_hotp provider?)");
  return pending;
}

Status AdminClient::confirm(int64_t member, int64_t credential, const std::string& typed) {
  const json request = {{"code", typed}};
  auto r =
      call("POST", member_path(member) + "/credentials/" + std::to_string(credential) + "/confirm",
           request.dump());
  if (!r) return r.error();
  if (r->status != 200) return api_error(r->status, r->body, "confirming the key");
  return {};
}

Result<PendingSecurityKey> AdminClient::begin_security_key(int64_t member,
                                                          const std::string& label) {
  json request = {{"provider", "webauthn"}};
  if (!label.empty()) request["label"] = label;
  auto r = call("POST", member_path(member) + "/credentials", request.dump());
  if (!r) return r.error();
  if (r->status != 201)
    return api_error(r->status, r->body, "beginning the registration", "webauthn");
  json answer = json::parse(r->body, nullptr, false);
  PendingSecurityKey pending;
  if (answer.is_object()) {
    pending.id = answer.value("id", int64_t{0});
    pending.expires_at = answer.value("expires_at", int64_t{0});
    if (auto options = answer.find("ceremony"); options != answer.end() && options->is_object())
      pending.creation_options = std::move(*options);
  }
  if (pending.id <= 0 || pending.creation_options.is_null())
    return make_error(ErrorCode::kUnavailable,
                      "beginning the registration: the server's answer has no id and ceremony "
                      "(does it have the webauthn provider?)");
  return pending;
}

Status AdminClient::confirm_security_key(int64_t member, int64_t credential,
                                         const std::string& response) {
  json parsed = json::parse(response, nullptr, false);
  if (!parsed.is_object())
    return make_error(ErrorCode::kInternal, "the key's registration response is not JSON");
  const json request = {{"response", std::move(parsed)}};
  auto r =
      call("POST", member_path(member) + "/credentials/" + std::to_string(credential) + "/confirm",
           request.dump());
  if (!r) return r.error();
  if (r->status != 200) return api_error(r->status, r->body, "registering the key");
  return {};
}

Status AdminClient::remove(int64_t member, int64_t credential) {
  auto r = call("DELETE", member_path(member) + "/credentials/" + std::to_string(credential),
                std::nullopt);
  if (!r) return r.error();
  if (r->status != 200)
    return api_error(r->status, r->body, "removing credential " + std::to_string(credential));
  return {};
}

Result<int64_t> AdminClient::import_yubikey(int64_t member, const ImportedKey& key) {
  json request = {{"provider", "yubikey_hotp"},
                  {"secret", key.secret},
                  {"digits", key.digits},
                  {"counter", key.counter}};
  if (!key.label.empty()) request["label"] = key.label;
  if (key.token_id) request["token_id"] = *key.token_id;
  std::string body = request.dump();
  wipe(request["secret"].get_ref<std::string&>());
  auto r = call("POST", member_path(member) + "/credentials", body);
  wipe(body);
  if (!r) return r.error();
  if (r->status != 201)
    return api_error(r->status, r->body, "importing the key", "yubikey_hotp");
  const json answer = json::parse(r->body, nullptr, false);
  if (!answer.is_object() || !answer.value("id", json()).is_number_integer())
    return make_error(ErrorCode::kUnavailable, "importing the key: no credential id in the answer");
  return answer["id"].get<int64_t>();
}

}  // namespace keystep::enroll
