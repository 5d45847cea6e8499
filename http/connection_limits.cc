#include "http/connection_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "idp/observability/observability.h"

namespace keystep::http {
namespace {

// Releases one ConnectionCounter slot when the connection that holds it is gone.
struct Slot {
  explicit Slot(std::shared_ptr<std::atomic<size_t>> open) : open(std::move(open)) {}
  ~Slot() { --*open; }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  std::shared_ptr<std::atomic<size_t>> open;
};

bool ends_with(const std::string& text, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return text.size() >= n && text.compare(text.size() - n, n, suffix) == 0;
}

}  // namespace

size_t max_connections_for_fd_limit(uint64_t fd_limit) {
  const uint64_t reserve = std::max<uint64_t>(64, fd_limit / 4);
  return fd_limit > reserve ? static_cast<size_t>(fd_limit - reserve) : 1;
}

size_t default_max_connections() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return max_connections_for_fd_limit(65536);
  }
  return max_connections_for_fd_limit(limit.rlim_cur);
}

ConnectionCounter::ConnectionCounter(size_t max_connections)
    : max_(std::max<size_t>(1, max_connections)), open_(std::make_shared<std::atomic<size_t>>(0)) {}

std::shared_ptr<void> ConnectionCounter::admit() {
  if (open_->fetch_add(1) >= max_) {
    --*open_;
    return nullptr;
  }
  return std::make_shared<Slot>(open_);
}

AcceptBackoff::AcceptBackoff(std::chrono::milliseconds pause) : pause_(pause) {}

bool AcceptBackoff::isEnabledFor(Pistache::Log::Level level) const {
  return level == Pistache::Log::Level::WARN;
}

void AcceptBackoff::log(Pistache::Log::Level level, const std::string& message) {
  if (level != Pistache::Log::Level::WARN || message.rfind("Socket error: ", 0) != 0) return;
  bool exhausted = false;
  for (int error : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
    exhausted = exhausted || ends_with(message, std::strerror(error));
  }
  if (!exhausted) return;
  ++backoffs_;
  // Only the Listener's accept thread calls log(), so last_report_ needs no lock.
  const auto now = std::chrono::steady_clock::now();
  if (last_report_ == std::chrono::steady_clock::time_point{} ||
      now - last_report_ >= std::chrono::minutes(1)) {
    last_report_ = now;
    obs::log_line("error", {{"msg", "cannot accept connections; retrying"},
                            {"error", message.substr(14)},
                            {"retry_ms", pause_.count()}});
  }
  std::this_thread::sleep_for(pause_);
}

}  // namespace keystep::http
