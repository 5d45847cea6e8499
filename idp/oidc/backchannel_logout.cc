#include "idp/oidc/backchannel_logout.h"

#include <curl/curl.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "base/url.h"

namespace keystep {

namespace {

void init_curl_once() {
  // curl_global_init is not thread-safe in every libcurl build: once, before any handle.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t discard_body(char*, size_t size, size_t count, void*) { return size * count; }

// A status that says the client read the token and will not take it, now or later.
bool final_refusal(int status) {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

}  // namespace

CurlLogoutTransport::CurlLogoutTransport() { init_curl_once(); }

Result<int> CurlLogoutTransport::post(const std::string& uri, const std::string& form) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error(ErrorCode::kInternal, "curl_easy_init failed");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/x-www-form-urlencoded"),
      curl_slist_free_all);
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, uri.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, form.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    return make_error(ErrorCode::kUnavailable,
                      error_buffer[0] ? std::string(error_buffer) : curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return static_cast<int>(status);
}

BackchannelLogouts::BackchannelLogouts(LogoutStore& store, SigningKeys& keys,
                                       LogoutTransport& transport, std::string issuer,
                                       const Clock& clock, BackchannelOptions options)
    : store_(store),
      keys_(keys),
      transport_(transport),
      issuer_(std::move(issuer)),
      clock_(clock),
      options_(std::move(options)) {
  options_.batch = std::clamp(options_.batch, 1, 500);
  if (!options_.on_error)
    options_.on_error = [](const Error& e) {
      std::cerr << "keystep: back-channel logout: " << e.message << "\n";
    };
}

BackchannelLogouts::~BackchannelLogouts() { stop(); }

Result<std::string> BackchannelLogouts::logout_token(const LogoutNotice& notice) {
  const int64_t now = clock_.now();
  // §2.4: no nonce (so it cannot pass for an id_token), the event, sub and sid.
  const nlohmann::json claims = {{"iss", issuer_},
                                 {"aud", notice.client_id},
                                 {"iat", now},
                                 {"exp", now + options_.token_ttl},
                                 {"jti", notice.jti},
                                 {"sub", std::to_string(notice.user_id)},
                                 {"sid", notice.sid},
                                 {"events", {{kBackchannelLogoutEvent, nlohmann::json::object()}}}};
  return keys_.sign(claims, "logout+jwt");
}

Result<int> BackchannelLogouts::deliver_due() {
  int delivered = 0;
  for (;;) {
    const int64_t claimed_at = clock_.now();
    auto due = store_.claim_logout_notices(claimed_at, options_.batch, options_.lease);
    if (!due) return due.error();
    for (const LogoutNotice& notice : *due) {
      if (worker_.stopping()) return delivered;
      // Past half its claim a notice is left to a later claim (ours, or another node's once
      // the lease ran out): a delivery started now could still run when another takes it.
      if (clock_.now() >= claimed_at + options_.lease / 2) break;
      auto token = logout_token(notice);
      if (!token) return token.error();  // no signing key: nothing can go out now
      auto status = transport_.post(notice.uri, encode_form({{"logout_token", *token}}));
      if (status && *status >= 200 && *status < 300) {
        if (Status s = store_.mark_logout_delivered(notice.id, clock_.now()); !s)
          return s.error();
        ++delivered;
        continue;
      }
      std::string error = status ? notice.uri + " answered " + std::to_string(*status)
                                 : status.error().message;
      int64_t next = kLogoutNever;
      if (status && final_refusal(*status)) {
        error += "; given up (the client refused the token)";
      } else if (notice.attempts + 1 >= options_.max_attempts) {
        error += "; given up after " + std::to_string(notice.attempts + 1) + " attempts";
      } else {
        const int64_t delay =
            std::min(options_.max_backoff,
                     options_.base_backoff << std::min<int64_t>(notice.attempts, 30));
        next = clock_.now() + delay;
      }
      if (Status s = store_.mark_logout_failed(notice.id, next, error);
          !s && s.error().code != ErrorCode::kConflict)
        return s.error();
    }
    if (static_cast<int>(due->size()) < options_.batch) return delivered;
  }
}

void BackchannelLogouts::start() {
  worker_.start(options_.poll, [this] {
    if (auto r = deliver_due(); !r) options_.on_error(r.error());
  });
}

void BackchannelLogouts::stop() { worker_.stop(); }

void BackchannelLogouts::notify() { worker_.notify(); }

}  // namespace keystep
