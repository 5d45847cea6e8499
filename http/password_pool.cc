#include "http/password_pool.h"

#include <algorithm>

namespace keystep::http {

PasswordPool::PasswordPool(size_t threads, size_t queue_limit)
    : queue_limit_(std::max<size_t>(1, queue_limit)) {
  const size_t n = std::max<size_t>(1, threads);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
}

PasswordPool::~PasswordPool() { shutdown(); }

bool PasswordPool::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= queue_limit_) return false;
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

void PasswordPool::shutdown() {
  std::lock_guard joining(join_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

size_t PasswordPool::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

size_t PasswordPool::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void PasswordPool::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    // Queued jobs still run after shutdown() began: each holds a request that must be answered.
    if (jobs_.empty()) return;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    job();
    job = nullptr;  // the job's captures (the ResponseWriter) go before the count drops
    lock.lock();
    --running_;
  }
}

}  // namespace keystep::http
