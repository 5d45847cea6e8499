#pragma once
// Checkpointer: moves a WAL database's checkpoints off its writers' commits.
//
// SQLite's auto-checkpoint runs inside whichever commit leaves the WAL at 1,000 pages or
// more: that commit copies the WAL into the database and fdatasyncs it, milliseconds while
// SqliteStore's mutex is held and every other request waits. watch() replaces it on a
// connection with a hook that only wakes this thread, which checkpoints on a connection of
// its own, in two steps:
//  1. PASSIVE, without any lock of the store: it copies the bulk of the WAL while commits
//     go on.
//  2. RESTART, holding the store's writers' mutex. It copies the few frames committed during
//     step 1 and waits, a bounded time, for the readers of the old WAL to finish, so that
//     the next commit writes the WAL from its start again. After a restart that a reader
//     held up, step 2 is skipped for 1, 3, 7 ... 31 wake-ups (a reader that keeps a snapshot
//     that long, a backup say, would otherwise make the writers wait at every wake-up).
// Without step 2 the WAL never starts over under a steady load (a commit restarts it only
// when it finds the WAL wholly copied, and the next commit always comes before the copy
// ends): it grew to 222 MB in a 3-second benchmark, every commit allocating file blocks and
// every checkpoint re-reading a longer WAL.
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
  // Step 2's bounded wait for the readers of the old WAL (they read for microseconds; one
  // that keeps a snapshot open only postpones the restart to the next wake-up).
  static constexpr int kRestartWaitMicros = 2000;

  // Opens its connection to the database file at `path` (in WAL mode already) and starts the
  // thread, which holds `writers` (the mutex every write of the store holds; it must outlive
  // the checkpointer) for step 2. kInternal when the file cannot be opened.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, std::mutex& writers);
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
  Checkpointer(sqlite3* db, std::mutex& writers) : db_(db), writers_(writers) {}
  void run();

  sqlite3* db_;  // owned; used by the thread only once started
  std::mutex& writers_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool due_ = false;       // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  // WAL pages that wake the thread; touched only by the watched connection's commits.
  int wake_at_ = kWalPages;
  std::atomic<int64_t> checkpoints_{0};
  // Step 2's back-off after restarts a reader held up; used by the thread only.
  static constexpr int kMaxRestartBackoff = 5;
  int failed_restarts_ = 0;
  int restarts_to_skip_ = 0;
  std::thread thread_;
};

}  // namespace keystep::sqlite
