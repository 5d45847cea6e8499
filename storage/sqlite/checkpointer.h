#pragma once
// Checkpointer: moves a WAL database's checkpoints off its writers' commits.
//
// SQLite's auto-checkpoint runs inside whichever commit leaves the WAL at 1,000 pages or
// more: that commit copies the WAL into the database and fdatasyncs it, milliseconds while
// SqliteStore's mutex is held and every other request waits. watch() replaces it on a
// connection with a hook that only wakes this thread, which checkpoints on a connection of
// its own (PASSIVE: it waits for no reader or writer, so it needs no lock of the store).
//
// Thread-safety: watch() before the watched connection is used by several threads; the rest
// may be called from any thread.

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.h"

namespace keystep::sqlite {

class Checkpointer {
 public:
  // WAL pages after a commit that wake the thread: SQLite's own auto-checkpoint threshold.
  static constexpr int kWalPages = 1000;
  // A PASSIVE checkpoint stops at the first frame a reader still needs and the WAL keeps
  // growing past kWalPages until one completes: the thread is then woken again only after
  // this many more pages, not by every commit (each checkpoint costs two fdatasync calls).
  static constexpr int kRetryPages = 100;

  // Opens its connection to the database file at `path` (in WAL mode already) and starts the
  // thread. kInternal when the file cannot be opened.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path);
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  // Stops the thread after the checkpoint under way, and closes its connection. The watched
  // connections must not commit any more (their hook points here).
  ~Checkpointer();

  // Turns `db`'s auto-checkpoint off: a commit that leaves kWalPages or more in the WAL
  // wakes the thread instead (then kRetryPages more, until the WAL starts over). One
  // connection only: the one that writes.
  void watch(sqlite3* db);
  // How many checkpoints the thread has run (for tests).
  int64_t checkpoints() const { return checkpoints_.load(); }

 private:
  explicit Checkpointer(sqlite3* db) : db_(db) {}
  void run();

  sqlite3* db_;  // owned; used by the thread only once started
  std::mutex mu_;
  std::condition_variable wake_;
  bool due_ = false;       // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  // WAL pages that wake the thread; touched only by the watched connection's commits.
  int wake_at_ = kWalPages;
  std::atomic<int64_t> checkpoints_{0};
  std::thread thread_;
};

}  // namespace keystep::sqlite
