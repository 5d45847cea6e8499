#pragma once
// Delivery of the outbox (idp/store/mail_store.h): transports that hand one message to the world
// (an .eml file in the data directory, or an SMTP server through libcurl), and the Mailer,
// a worker that delivers due messages with retries and exponential backoff.
//
// At least once: a message is marked sent right after its transport accepted it, so a crash
// in between delivers it again on restart (FileTransport then rewrites the same file); the
// message is then the same bytes with the same Message-ID, built when it was queued, so the
// recipient's systems can tell it is a copy. Nothing else delivers a message twice (when
// marking fails, the Mailer remembers the message and marks it at its next pass instead of
// delivering it again), and nothing that fails is dropped before MailerOptions::max_attempts
// attempts.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/crypto/secret_box.h"
#include "idp/store/mail_store.h"
#include "base/polling_worker.h"
#include "base/result.h"

namespace keystep {

class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // Delivers mail.mime to mail.to. On success the message is the receiver's responsibility.
  // On failure returns kUnavailable when the receiver could not be reached or refused for
  // now, kInternal otherwise, with the receiver's text; the Mailer retries either way.
  // Called by one thread at a time.
  virtual Status deliver(const OutgoingMail& mail) = 0;
  // Deletes what the transport keeps of messages delivered before now - its retention, and
  // what a crash in the middle of a delivery left behind. Returns how many it deleted.
  // May run concurrently with deliver(). Default: the transport keeps nothing.
  virtual Result<int> purge(int64_t /*now*/) { return 0; }
};

// How long FileTransport keeps a delivered .eml file by default: a week, ample for whatever
// picks the files up, short enough that TOTP secrets and links do not pile up in clear.
inline constexpr int64_t kDefaultOutboxRetention = 7 * 24 * 3600;

// Writes each message to <dir>/<id>-<dedupe key, sanitised>.eml, readable by the owner only
// (setup emails carry TOTP secrets). Atomic: the file appears complete or not at all
// (written to a temporary name, fsynced, renamed, directory fsynced). Delivering the same
// message again replaces its file, so a redelivery leaves one file. Creates dir (mode 0700)
// when missing.
//
// The files are in clear (whatever picks them up must read them), so they are not kept for
// ever: purge() deletes .eml files last written `retention` seconds or more before now
// (retention 0: never), and temporary files a crash left half-written, an hour after they
// were last written (a delivery never takes that long). Nothing else in dir is touched.
class FileTransport final : public MailTransport {
 public:
  explicit FileTransport(std::string dir, int64_t retention = kDefaultOutboxRetention)
      : dir_(std::move(dir)), retention_(retention) {}
  Status deliver(const OutgoingMail& mail) override;
  Result<int> purge(int64_t now) override;
  // The file name a message is delivered to (without the directory).
  static std::string file_name(const OutgoingMail& mail);

 private:
  std::string dir_;
  int64_t retention_;
};

struct SmtpConfig {
  std::string host;
  int port = 587;
  std::string security = "starttls";  // "none", "starttls" (required, not opportunistic), "tls"
  std::string username;               // empty: no AUTH
  std::string password;
  std::string from;  // envelope sender (MAIL FROM), a bare address
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 30000;  // the whole transaction
};

// Sends through an SMTP server with libcurl: smtp:// (plain, or STARTTLS required when
// security is "starttls") or smtps:// (implicit TLS), certificates verified against the
// system store. Thread-compatible: one deliver() at a time.
class SmtpTransport final : public MailTransport {
 public:
  explicit SmtpTransport(SmtpConfig config);
  Status deliver(const OutgoingMail& mail) override;

 private:
  SmtpConfig config_;
};

// Mail settings, the "mail" object of keystep.conf:
//   {"from": "Keystep <no-reply@id.example.com>",   // From header and envelope sender
//    "outbox_dir": "/var/lib/keystep/outbox",       // file transport; default DATA_DIR/outbox
//    "outbox_retention_days": 7,                    // file transport; 0 keeps files for ever
//    "claim_lease_seconds": 300,                    // MailerOptions::lease (several nodes)
//    "smtp": {"host": "smtp.example.com", "port": 587, "security": "starttls",
//             "username": "keystep", "password": "…",
//             "connect_timeout_ms": 5000, "timeout_ms": 30000}}
// With "smtp" present mail goes through SMTP, else into .eml files.
// MailerOptions::lease unless configured: longer than any SMTP delivery (connect_timeout_ms
// + timeout_ms) twice over.
inline constexpr int64_t kDefaultClaimLease = 300;

struct MailConfig {
  std::string from = "Keystep <keystep@localhost>";
  std::string outbox_dir;  // empty: <data dir>/outbox
  int64_t outbox_retention_days = kDefaultOutboxRetention / (24 * 3600);  // 0: keep
  int64_t claim_lease_seconds = kDefaultClaimLease;  // MailerOptions::lease
  bool use_smtp = false;
  SmtpConfig smtp;  // smtp.from is the address of `from`
};

// Applies the members present in `json` (the "mail" object) on top of `config`. Unknown
// keys, wrong types, a from that is not an address, security other than none/starttls/tls,
// a port outside 1..65535, non-positive timeouts, a retention outside 0..3650 days or smtp
// without a host are refused with
// kInvalidArgument naming the key.
Status apply_mail_config_json(const nlohmann::json& json, MailConfig& config);

// The transport `config` asks for; data_dir supplies the default outbox directory.
std::unique_ptr<MailTransport> make_mail_transport(const MailConfig& config,
                                                   const std::string& data_dir);

struct MailerOptions {
  int batch = 50;                        // messages per store read
  int64_t base_backoff = 30;             // seconds before the first retry; doubles per failure
  int64_t max_backoff = 3600;            // cap of the delay between attempts
  int max_attempts = 20;                 // after this many failures the message is given up
  std::chrono::milliseconds poll{5000};  // background pass interval without notify()
  // Seconds a claimed message (MailStore::claim_mail) stays this worker's: workers of other
  // nodes take it only after that, when this one died delivering it. A message is delivered
  // only in the first half of its claim, so a slow delivery never overlaps another node's.
  int64_t lease = kDefaultClaimLease;
  // Opens sealed messages (idp/mail/mail.h seal_mime) before delivery; without it a sealed message
  // fails like an undeliverable one. Borrowed: must outlive the Mailer.
  const SecretBox* box = nullptr;
  // Store errors of background passes (delivery errors go to OutgoingMail::last_error).
  // Default: written to stderr.
  std::function<void(const Error&)> on_error;
};

class Mailer {
 public:
  // Borrows all three; they must outlive the Mailer.
  Mailer(MailStore& store, MailTransport& transport, const Clock& clock,
         MailerOptions options = {});
  ~Mailer();  // stop()s
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  // One pass: first marks sent the messages an earlier pass delivered but could not mark;
  // then claims (MailStore::claim_mail, options.lease) and delivers every message due at
  // clock.now(), in batches, opened (options.box). A
  // delivered message is marked sent; a failed one gets attempts + 1 and is retried after
  // min(base_backoff * 2^attempts, max_backoff) seconds (attempts counted before this
  // failure), or is given up (next_attempt_at = kMailNever, last_error says so) once it has
  // failed max_attempts times. On success returns how many were delivered; on a store error
  // stops and returns it (messages already delivered stay marked, or are marked next pass).
  // Not to be called concurrently with itself or with a started worker.
  Result<int> deliver_due();

  // Starts the background worker: a pass now, then every poll interval and on notify().
  // No-op if already running.
  void start();
  // Stops the worker after its current message; no-op if not running.
  void stop();
  // Wakes the worker for a pass (call after committing a change that queued mail).
  void notify();

 private:

  MailStore& store_;
  MailTransport& transport_;
  const Clock& clock_;
  MailerOptions options_;

  std::set<int64_t> unmarked_;  // delivered, mark_sent failed; only deliver_due() uses it
  PollingWorker worker_;
};

}  // namespace keystep
