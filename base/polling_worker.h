#pragma once
// A background thread that runs a pass now, then every poll interval and whenever notify()
// is called, until stop(). The outbox workers (idp/mail's Mailer, idp/oidc's
// BackchannelLogouts) deliver through it; a pass checks stopping() between items so stop()
// waits for one item, not a whole batch.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace keystep {

class PollingWorker {
 public:
  PollingWorker() = default;
  ~PollingWorker() { stop(); }
  PollingWorker(const PollingWorker&) = delete;
  PollingWorker& operator=(const PollingWorker&) = delete;

  // Starts the thread running `pass`; a no-op when it runs already.
  void start(std::chrono::milliseconds poll, std::function<void()> pass);
  // Stops the thread after its current pass; a no-op when it does not run. Thread-safe.
  void stop();
  // Wakes the thread for a pass now. Thread-safe.
  void notify();
  // True while stop() waits: a pass returns early when it sees it. Thread-safe.
  bool stopping() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool wake_ = false;      // guarded by mu_
  std::chrono::milliseconds poll_{0};
  std::function<void()> pass_;
  std::thread thread_;
};

}  // namespace keystep
