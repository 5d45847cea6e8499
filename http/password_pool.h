#pragma once
// A small bounded executor for the request handlers that hash or verify passwords (Argon2id:
// POST /login, /signup, /profile/two-factor).
//
// Pistache's worker threads each serve many connections (epoll). A handler that spends tens
// of milliseconds in Argon2id, or blocks waiting for it, stalls every other connection of its
// worker, so a burst of sign-ins would delay discovery, JWKS, token refresh and the second
// step. Such handlers are handed to this pool instead, together with their ResponseWriter,
// and answer from a pool thread (Pistache queues the write to the connection's own worker).
// The pool bounds the CPU and memory spent on hashing (threads × Argon2 m_cost) and, with its
// queue limit, how long a sign-in can wait: when the queue is full a job is refused at once
// and the caller answers 503 with Retry-After instead of letting the request hang.
//
// Thread-safety: every method may be called from any thread.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace keystep::http {

class PasswordPool {
 public:
  // Starts max(1, threads) threads; at most max(1, queue_limit) jobs wait beyond those running.
  PasswordPool(size_t threads, size_t queue_limit);
  // shutdown().
  ~PasswordPool();
  PasswordPool(const PasswordPool&) = delete;
  PasswordPool& operator=(const PasswordPool&) = delete;

  // Queues `job` to run on a pool thread; `job` must not throw. Returns false, and `job` is
  // neither run nor kept, when queue_limit jobs are already waiting or after shutdown().
  bool try_submit(std::function<void()> job);
  // Stops taking jobs, runs those already queued, joins the threads. Idempotent.
  void shutdown();

  // Jobs running now, and waiting now (for tests and monitoring).
  size_t running() const;
  size_t queued() const;

 private:
  void work();

  const size_t queue_limit_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::mutex join_mu_;  // one shutdown() joins at a time
  std::vector<std::thread> threads_;
};

}  // namespace keystep::http
