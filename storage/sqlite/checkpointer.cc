#include "storage/sqlite/checkpointer.h"

#include <algorithm>
#include <chrono>

#include "storage/sqlite/statement.h"

namespace keystep::sqlite {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          std::mutex& writers) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(db, rc);
    sqlite3_close_v2(db);
    return make_error(ErrorCode::kInternal, "opening " + path + " to checkpoint: " + error.message);
  }
  // A connection opens the WAL when it first reads the database; until then a checkpoint on
  // it does nothing.
  if (Status s = exec_sql(db, "SELECT count(*) FROM sqlite_schema"); !s) {
    sqlite3_close_v2(db);
    return make_error(ErrorCode::kInternal,
                      "reading " + path + " to checkpoint: " + s.error().message);
  }
  // Step 2 waits for readers in short sleeps, up to kRestartWaitMicros, while the store's
  // writers wait for it (SQLite's own busy handler would sleep a whole millisecond at once).
  sqlite3_busy_handler(
      db,
      [](void*, int tries) -> int {
        constexpr int kSleepMicros = 50;
        if (tries * kSleepMicros >= kRestartWaitMicros) return 0;
        std::this_thread::sleep_for(std::chrono::microseconds(kSleepMicros));
        return 1;
      },
      nullptr);
  std::unique_ptr<Checkpointer> checkpointer(new Checkpointer(db, writers));
  checkpointer->thread_ = std::thread([c = checkpointer.get()] { c->run(); });
  return checkpointer;
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close_v2(db_);
}

void Checkpointer::watch(sqlite3* db) {
  sqlite3_wal_hook(
      db,
      [](void* self, sqlite3*, const char*, int pages) {
        auto* c = static_cast<Checkpointer*>(self);
        // Fewer pages than the threshold's base: the WAL started over after a checkpoint.
        if (pages < c->wake_at_ - kWalPages) c->wake_at_ = kWalPages;
        if (pages >= c->wake_at_) {
          c->wake_at_ = pages + kRetryPages;
          {
            std::lock_guard lock(c->mu_);
            c->due_ = true;
          }
          c->wake_.notify_one();
        }
        return SQLITE_OK;
      },
      this);
}

void Checkpointer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return due_ || stopping_; });
    if (stopping_) return;
    due_ = false;
    lock.unlock();
    // A checkpoint that cannot finish (a reader still needs old pages) copies what it can;
    // the next wake-up continues. Its errors (busy) only postpone it, so they are not kept.
    (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (restarts_to_skip_ > 0) {
      --restarts_to_skip_;
    } else {
      // No commit can start meanwhile, so the copy catches up with the WAL's end.
      std::unique_lock writers(writers_);
      const int rc =
          sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
      writers.unlock();
      // A reader that kept its snapshot past the wait may keep it long (a backup, a CLI
      // export): the writers' wait is tried again after 1, 3, 7 ... 31 wake-ups, not at each.
      if (rc == SQLITE_OK) {
        failed_restarts_ = 0;
      } else {
        failed_restarts_ = std::min(failed_restarts_ + 1, kMaxRestartBackoff);
        restarts_to_skip_ = (1 << failed_restarts_) - 1;
      }
    }
    ++checkpoints_;
    lock.lock();
  }
}

}  // namespace keystep::sqlite
