#include "idp/mail/mailer.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "idp/mail/mail.h"
#include "idp/observability/observability.h"

namespace keystep {
namespace {

Error errno_error(const std::string& what) {
  return make_error(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// The rename is durable only once the directory entry is on disk.
Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("opening " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_error("syncing " + dir);
  return {};
}

struct Upload {
  std::string_view data;
};

size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data.size());
  std::memcpy(buffer, upload->data.data(), n);
  upload->data.remove_prefix(n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// curl_global_init is not thread-safe in every libcurl build; do it once, before any handle.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Failures worth retrying soon: the server is unreachable, slow, or answered 4xx
// ("try again later"). Everything else (5xx, TLS, authentication) is also retried by the
// Mailer, but reported as kInternal so an operator sees it is not a passing outage.
bool transient(CURLcode rc, long response) {
  if (response >= 400 && response < 500) return true;
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return true;
    default:
      return false;
  }
}

int64_t backoff(int64_t attempts, const MailerOptions& options) {
  int64_t delay = std::max<int64_t>(options.base_backoff, 1);
  for (int64_t i = 0; i < attempts && delay < options.max_backoff; ++i) delay *= 2;
  return std::min(delay, std::max<int64_t>(options.max_backoff, 1));
}

Error bad_key(const std::string& key, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "mail." + key + " " + why);
}

Status read_string(const nlohmann::json& json, const std::string& prefix, const char* key,
                   std::string& out) {
  const auto it = json.find(key);
  if (it == json.end()) return {};
  if (!it->is_string()) return bad_key(prefix + key, "must be a string");
  out = it->get<std::string>();
  return {};
}

Status read_int(const nlohmann::json& json, const std::string& prefix, const char* key, int64_t min,
                int64_t max, int64_t& out) {
  const auto it = json.find(key);
  if (it == json.end()) return {};
  if (!it->is_number_integer()) return bad_key(prefix + key, "must be an integer");
  const int64_t value = it->get<int64_t>();
  if (value < min || value > max) {
    return bad_key(prefix + key,
                   "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = value;
  return {};
}

Status check_keys(const nlohmann::json& json, const std::string& prefix,
                  std::initializer_list<const char*> known) {
  if (!json.is_object()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        (prefix.empty() ? std::string("mail") : "mail." + prefix.substr(0, prefix.size() - 1)) +
            " must be an object");
  }
  for (const auto& [key, value] : json.items()) {
    bool found = false;
    for (const char* k : known) found = found || key == k;
    if (!found) return bad_key(prefix + key, "is not a known configuration key");
  }
  return {};
}

}  // namespace

// ---- FileTransport

std::string FileTransport::file_name(const OutgoingMail& mail) {
  std::string name = std::to_string(mail.id) + "-";
  for (char c : mail.dedupe_key.substr(0, 80)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name += keep ? c : '_';
  }
  return name + ".eml";
}

Status FileTransport::deliver(const OutgoingMail& mail) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    std::filesystem::create_directories(dir_, ec);
    if (ec) return make_error(ErrorCode::kInternal, "creating " + dir_ + ": " + ec.message());
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    if (ec) return make_error(ErrorCode::kInternal, "chmod " + dir_ + ": " + ec.message());
  }
  const std::string final_path = dir_ + "/" + file_name(mail);
  // A dot name: readers listing *.eml never see a half-written file.
  std::string temp_path = dir_ + "/." + file_name(mail) + ".XXXXXX";
  const int fd = ::mkostemp(temp_path.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return errno_error("creating a file in " + dir_);
  Status written = write_all(fd, mail.mime, temp_path);
  if (written && ::fsync(fd) != 0) written = errno_error("syncing " + temp_path);
  if (::close(fd) != 0 && written) written = errno_error("closing " + temp_path);
  if (written && ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    written = errno_error("renaming to " + final_path);
  }
  if (!written) {
    ::unlink(temp_path.c_str());
    return written;
  }
  return fsync_dir(dir_);
}

Result<int> FileTransport::purge(int64_t now) {
  constexpr int64_t kAbandonedTemp = 3600;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec == std::errc::no_such_file_or_directory) return 0;
  if (ec) return make_error(ErrorCode::kInternal, "listing " + dir_ + ": " + ec.message());
  int deleted = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(ErrorCode::kInternal, "listing " + dir_ + ": " + ec.message());
    const auto& entry = *it;
    const std::string name = entry.path().filename().string();
    const bool temp = name.front() == '.' && name.find(".eml.") != std::string::npos;
    const bool eml = name.front() != '.' && name.ends_with(".eml");
    if (!temp && !(eml && retention_ > 0)) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_mtime > now - (temp ? kAbandonedTemp : retention_)) continue;
    if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT)
      return errno_error("deleting " + entry.path().string());
    ++deleted;
  }
  return deleted;
}

// ---- SmtpTransport

SmtpTransport::SmtpTransport(SmtpConfig config) : config_(std::move(config)) { init_curl_once(); }

Status SmtpTransport::deliver(const OutgoingMail& mail) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return make_error(ErrorCode::kInternal, "curl_easy_init failed");
  const std::string host =
      config_.host.find(':') != std::string::npos ? "[" + config_.host + "]" : config_.host;
  const std::string url = std::string(config_.security == "tls" ? "smtps://" : "smtp://") + host +
                          ":" + std::to_string(config_.port);
  const std::string mail_from = "<" + config_.from + ">";
  std::unique_ptr<curl_slist, CurlDeleter> rcpt(
      curl_slist_append(nullptr, ("<" + mail.to + ">").c_str()));
  if (!rcpt) return make_error(ErrorCode::kInternal, "out of memory");
  Upload upload{mail.mime};
  char error_buffer[CURL_ERROR_SIZE] = {};

  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_USE_SSL,
                   config_.security == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL);
  if (!config_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) return {};
  long response = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response);
  std::string message = url + ": " + curl_easy_strerror(rc);
  if (error_buffer[0] != '\0') message += std::string(" (") + error_buffer + ")";
  if (response != 0) message += ", server replied " + std::to_string(response);
  return make_error(transient(rc, response) ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                    message);
}

// ---- configuration

Status apply_mail_config_json(const nlohmann::json& json, MailConfig& config) {
  if (Status s = check_keys(json, "", {"from", "outbox_dir", "outbox_retention_days",
                                           "claim_lease_seconds", "smtp"});
      !s) {
    return s;
  }
  if (Status s = read_string(json, "", "from", config.from); !s) return s;
  auto from = mailbox_address(config.from);
  if (!from) return bad_key("from", "is not an email address: " + from.error().message);
  if (Status s = read_string(json, "", "outbox_dir", config.outbox_dir); !s) return s;
  if (Status s = read_int(json, "", "claim_lease_seconds", 2, 86400, config.claim_lease_seconds);
      !s)
    return s;
  if (Status s = read_int(json, "", "outbox_retention_days", 0, 3650, config.outbox_retention_days);
      !s) {
    return s;
  }
  config.smtp.from = *from;
  const auto smtp = json.find("smtp");
  if (smtp == json.end()) return {};
  if (Status s = check_keys(
          *smtp, "smtp.",
          {"host", "port", "security", "username", "password", "connect_timeout_ms", "timeout_ms"});
      !s) {
    return s;
  }
  SmtpConfig& c = config.smtp;
  int64_t port = c.port;
  Status s;
  if (!(s = read_string(*smtp, "smtp.", "host", c.host))) return s;
  if (!(s = read_int(*smtp, "smtp.", "port", 1, 65535, port))) return s;
  if (!(s = read_string(*smtp, "smtp.", "security", c.security))) return s;
  if (!(s = read_string(*smtp, "smtp.", "username", c.username))) return s;
  if (!(s = read_string(*smtp, "smtp.", "password", c.password))) return s;
  if (!(s = read_int(*smtp, "smtp.", "connect_timeout_ms", 1, 600000, c.connect_timeout_ms))) {
    return s;
  }
  if (!(s = read_int(*smtp, "smtp.", "timeout_ms", 1, 3600000, c.timeout_ms))) return s;
  c.port = static_cast<int>(port);
  if (c.host.empty()) return bad_key("smtp.host", "must be set");
  if (c.host.find_first_of("/@?# \r\n") != std::string::npos) {
    return bad_key("smtp.host", "must be a host name or IP address");
  }
  if (c.security != "none" && c.security != "starttls" && c.security != "tls") {
    return bad_key("smtp.security", "must be \"none\", \"starttls\" or \"tls\"");
  }
  config.use_smtp = true;
  return {};
}

std::unique_ptr<MailTransport> make_mail_transport(const MailConfig& config,
                                                   const std::string& data_dir) {
  if (config.use_smtp) return std::make_unique<SmtpTransport>(config.smtp);
  return std::make_unique<FileTransport>(
      config.outbox_dir.empty() ? data_dir + "/outbox" : config.outbox_dir,
      config.outbox_retention_days * 24 * 3600);
}

// ---- Mailer

Mailer::Mailer(MailStore& store, MailTransport& transport, const Clock& clock,
               MailerOptions options)
    : store_(store), transport_(transport), clock_(clock), options_(std::move(options)) {
  options_.batch = std::clamp(options_.batch, 1, 500);
  if (!options_.on_error) {
    options_.on_error = [](const Error& e) { std::cerr << "keystep: mail: " << e.message << "\n"; };
  }
}

Mailer::~Mailer() { stop(); }

namespace {
// A Mailer without a SecretBox delivers unsealed messages only.
Result<std::string> open_mime_without_key(const std::string& stored) {
  if (stored.rfind(kSealedMimePrefix, 0) == 0)
    return make_error(ErrorCode::kInternal, "the message is sealed and no master key was given");
  return stored;
}
}  // namespace

Result<int> Mailer::deliver_due() {
  // Delivered earlier but not recorded (the store failed): record them before anything else,
  // so a passing store error never sends a message twice.
  for (auto it = unmarked_.begin(); it != unmarked_.end();) {
    if (Status s = store_.mark_sent(*it, clock_.now());
        !s && s.error().code != ErrorCode::kNotFound) {
      return s.error();
    }
    it = unmarked_.erase(it);
  }
  int delivered = 0;
  for (;;) {
    const int64_t claimed_at = clock_.now();
    auto due = store_.claim_mail(claimed_at, options_.batch, options_.lease);
    if (!due) return due.error();
    for (const OutgoingMail& mail : *due) {
      if (worker_.stopping()) return delivered;
      // Past half its claim a message is left to a later claim (ours or another node's, once
      // the lease ran out): a delivery started now could still run when another takes it.
      if (clock_.now() >= claimed_at + options_.lease / 2) break;
      Status sent;
      if (auto clear = options_.box ? open_mime(*options_.box, mail.mime, mail.dedupe_key)
                                    : open_mime_without_key(mail.mime);
          clear) {
        OutgoingMail opened = mail;
        opened.mime = std::move(*clear);
        sent = transport_.deliver(opened);
      } else {
        sent = clear.error();
      }
      obs::email_delivery(static_cast<bool>(sent));
      if (sent) {
        if (Status s = store_.mark_sent(mail.id, clock_.now()); !s) {
          unmarked_.insert(mail.id);
          return s.error();
        }
        ++delivered;
        continue;
      }
      std::string error = sent.error().message;
      int64_t next = kMailNever;
      if (mail.attempts + 1 >= options_.max_attempts) {
        error = "gave up after " + std::to_string(mail.attempts + 1) + " attempts: " + error;
      } else {
        next = clock_.now() + backoff(mail.attempts, options_);
      }
      // kConflict: another worker delivered it meanwhile, which is what we wanted.
      if (Status s = store_.mark_failed(mail.id, next, error);
          !s && s.error().code != ErrorCode::kConflict) {
        return s.error();
      }
    }
    // Every message read was sent or moved into the future, so the next read makes progress.
    if (due->size() < static_cast<size_t>(options_.batch)) return delivered;
  }
}

void Mailer::start() {
  worker_.start(options_.poll, [this] {
    if (auto r = deliver_due(); !r) options_.on_error(r.error());
  });
}

void Mailer::stop() { worker_.stop(); }

void Mailer::notify() { worker_.notify(); }

}  // namespace keystep
