#pragma once
// How many TCP connections the server holds, and what its accept loop does when the process
// runs out of file descriptors. Pistache 0.0.5's Listener retries a failed accept() at once
// and forever (the listening socket stays readable), so at the descriptor limit it spins a
// core and the client waits unserved; a cap below the limit and a back-off keep it from that.

#include <pistache/string_logger.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace keystep::http {

// The connection cap for a soft RLIMIT_NOFILE of `fd_limit`: the limit less a quarter of it
// (at least 64) kept for the database, outbox files, SMTP sockets and Pistache's own
// descriptors; at least 1.
size_t max_connections_for_fd_limit(uint64_t fd_limit);
// max_connections_for_fd_limit of this process's soft RLIMIT_NOFILE (an unlimited or unknown
// limit counts as 65536).
size_t default_max_connections();

// Counts open connections against a cap. Thread-safe.
class ConnectionCounter {
 public:
  explicit ConnectionCounter(size_t max_connections);
  // A slot for one more connection, held for the connection's lifetime (it frees itself when
  // the last owner drops it, however the connection ends); nullptr when `max_connections`
  // are open.
  std::shared_ptr<void> admit();
  size_t open() const { return *open_; }
  size_t max() const { return max_; }

 private:
  size_t max_;
  std::shared_ptr<std::atomic<size_t>> open_;
};

// The logger handed to Pistache's Listener, which reports a failed accept() only as a
// "Socket error: <strerror>" warning. When accept() failed for lack of descriptors (EMFILE,
// ENFILE, ENOBUFS, ENOMEM) it sleeps `pause` on the accept thread, so a waiting connection
// is retried a few times a second instead of in a busy loop, and is served once a descriptor
// is free. Says so on stderr at most once a minute. Other messages are ignored.
class AcceptBackoff final : public Pistache::Log::StringLogger {
 public:
  explicit AcceptBackoff(std::chrono::milliseconds pause = std::chrono::milliseconds(100));
  void log(Pistache::Log::Level level, const std::string& message) override;
  bool isEnabledFor(Pistache::Log::Level level) const override;
  // How many times accept() failed for lack of descriptors.
  uint64_t backoffs() const { return backoffs_; }

 private:
  std::chrono::milliseconds pause_;
  std::atomic<uint64_t> backoffs_{0};
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace keystep::http
