#include "base/polling_worker.h"

namespace keystep {

void PollingWorker::start(std::chrono::milliseconds poll, std::function<void()> pass) {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  poll_ = poll;
  pass_ = std::move(pass);
  thread_ = std::thread(&PollingWorker::run, this);
}

void PollingWorker::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  stopping_ = false;
}

void PollingWorker::notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

bool PollingWorker::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void PollingWorker::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_ = false;
    lock.unlock();
    pass_();
    lock.lock();
    cv_.wait_for(lock, poll_, [this] { return stopping_ || wake_; });
  }
}

}  // namespace keystep
