#pragma once
// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): telling applications that a
// user's session here ended, so they end theirs. The store queues one notice per client and
// session in the transaction that ends it (idp/store/logout_store.h: logout, another user
// signing in on the browser, turning 2FA on ending the other sessions, an administrator's 2FA
// reset); BackchannelLogouts delivers them: a logout token signed at delivery time (iss, aud,
// iat, exp, jti, events, sub, sid; typ logout+jwt) POSTed as the form's logout_token to the
// client's backchannel_logout_uri, retried with exponential backoff.
//
// Once: a notice is marked delivered when its client answered 2xx and is never sent again,
// also across restarts; its jti is the same at every attempt, so a client that saw an
// attempt whose answer we lost can tell the retry apart. A client's 4xx (other than 408 and
// 429) is final: it read the token and refused it, and the same token again would be refused
// too; the notice is given up with the answer in last_error.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/clock.h"
#include "base/polling_worker.h"
#include "base/result.h"
#include "idp/config/config.h"
#include "idp/oidc/signing_keys.h"
#include "idp/store/logout_store.h"

namespace keystep {

// The "events" member of a logout token (Back-Channel Logout §2.4).
inline constexpr const char* kBackchannelLogoutEvent =
    "http://schemas.openid.net/event/backchannel-logout";

class LogoutTransport {
 public:
  virtual ~LogoutTransport() = default;
  // POSTs `form` (application/x-www-form-urlencoded) to `uri` without following redirects.
  // On an answer returns its HTTP status; kUnavailable with the reason when `uri` could not
  // be reached or did not answer in time. Called by one thread at a time.
  virtual Result<int> post(const std::string& uri, const std::string& form) = 0;
};

// Over libcurl: http and https only, certificates verified against the system store, no
// redirects, 5 s to connect, 10 s in all.
class CurlLogoutTransport final : public LogoutTransport {
 public:
  CurlLogoutTransport();
  Result<int> post(const std::string& uri, const std::string& form) override;
};

struct BackchannelOptions {
  int batch = 50;                        // notices per store read
  int64_t base_backoff = 30;             // seconds before the first retry; doubles per failure
  int64_t max_backoff = 3600;            // cap of the delay between attempts
  int max_attempts = 20;                 // then the notice is given up
  int64_t token_ttl = 120;               // the logout token's exp - iat, seconds
  std::chrono::milliseconds poll{5000};  // background pass interval without notify()
  // Seconds a claimed notice (LogoutStore::claim_logout_notices) stays this worker's: another
  // node's worker takes it only after that, when this one died delivering it. A notice is
  // sent only in the first half of its claim, so a slow client (10 s per attempt at most,
  // CurlLogoutTransport) never gets it from two nodes. keystep.conf's
  // backchannel_logout.claim_lease_seconds (idp/config/config.h).
  int64_t lease = BackchannelLogoutConfig{}.claim_lease_seconds;
  // Store errors of background passes (delivery errors go to LogoutNotice::last_error).
  // Default: written to stderr.
  std::function<void(const Error&)> on_error;
};

class BackchannelLogouts {
 public:
  // Borrows everything; all must outlive it. `issuer` is the logout tokens' iss.
  BackchannelLogouts(LogoutStore& store, SigningKeys& keys, LogoutTransport& transport,
                     std::string issuer, const Clock& clock, BackchannelOptions options = {});
  ~BackchannelLogouts();  // stop()s
  BackchannelLogouts(const BackchannelLogouts&) = delete;
  BackchannelLogouts& operator=(const BackchannelLogouts&) = delete;

  // The logout token of `notice`, signed now with the active key. kUnavailable without one.
  Result<std::string> logout_token(const LogoutNotice& notice);

  // One pass: claims (LogoutStore::claim_logout_notices, options.lease) and delivers every
  // notice due at clock.now(), in batches. A 2xx marks it
  // delivered; a final refusal gives it up at once; any other failure gets attempts + 1 and a
  // retry after min(base_backoff * 2^attempts, max_backoff) seconds, or is given up after
  // max_attempts. Returns how many were delivered, or the first store error. Not to be called
  // concurrently with itself or with a started worker.
  Result<int> deliver_due();

  // The background worker: a pass now, then every poll interval and on notify(). start() is
  // a no-op when running, stop() when not; stop() waits for the current notice.
  void start();
  void stop();
  // Wakes the worker (after a change that ended sessions).
  void notify();

 private:

  LogoutStore& store_;
  SigningKeys& keys_;
  LogoutTransport& transport_;
  const std::string issuer_;
  const Clock& clock_;
  BackchannelOptions options_;

  PollingWorker worker_;
};

}  // namespace keystep
