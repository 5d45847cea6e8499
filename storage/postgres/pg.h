#pragma once
// A thin RAII layer over libpq for storage/postgres/ only: a connection with its prepared
// statements, a query's rows, a transaction guard, a bounded connection pool, and the mapping
// from SQLSTATE codes to ErrorCode. The counterpart of storage/sqlite/statement.h.
//
// Parameters are sent as text (numbers and booleans spelled out), bytea as binary; rows come
// back as text and the getters convert. A statement's text is prepared once per connection
// (named by its position in the connection's cache) and executed with PQexecPrepared.
//
// Thread-safety: a Connection is used by one thread at a time (the one holding its Pool
// lease); the Pool itself is thread-safe.

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"

namespace keystep::postgres {

// kNotFound with "<what> not found".
inline Error not_found(const std::string& what) {
  return make_error(ErrorCode::kNotFound, what + " not found");
}

// One statement parameter. Text must not contain NUL bytes (PostgreSQL text cannot hold
// them): the query fails with kInvalidArgument instead of storing a truncated value.
class Param {
 public:
  Param(std::string_view text) : value_(text) {}  // NOLINT: implicit, for brace lists
  Param(const std::string& text) : value_(text) {}  // NOLINT
  Param(const char* text) : value_(text) {}  // NOLINT
  Param(int64_t number) : value_(std::to_string(number)) {}  // NOLINT
  Param(int number) : value_(std::to_string(number)) {}  // NOLINT
  Param(bool flag) : value_(flag ? "t" : "f") {}  // NOLINT
  // Binary-safe bytes for a BYTEA column.
  static Param bytea(std::string_view bytes) {
    Param p{std::string_view(bytes)};
    p.binary_ = true;
    return p;
  }

  const std::string& value() const { return value_; }
  bool binary() const { return binary_; }

 private:
  std::string value_;
  bool binary_ = false;
};
using Params = std::vector<Param>;

// The rows (and affected-row count) of one executed statement.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;
  // Getters for row `row`, column `col` (0-based). NULL reads as 0, false or "".
  int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const;
  std::string text(int row, int col) const;
  std::string bytea(int row, int col) const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// A row cursor over Rows, so readers take one row: read_user(Row{rows, i}).
struct Row {
  const Rows& rows;
  int index;
  int64_t int64(int col) const { return rows.int64(index, col); }
  bool boolean(int col) const { return rows.boolean(index, col); }
  std::string text(int col) const { return rows.text(index, col); }
  std::string bytea(int col) const { return rows.bytea(index, col); }
};

class Connection {
 public:
  // Connects to `url` (a postgresql:// URI or key=value string). kUnavailable when the
  // server cannot be reached; the message never repeats the URL (it may hold a password).
  static Result<std::unique_ptr<Connection>> open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with `params` ($1, $2, ...). On failure the SQLSTATE's error (see
  // pg_error); inside a transaction, the transaction is then aborted.
  Result<Rows> query(std::string_view sql, const Params& params = {});
  // Runs trusted SQL text without parameters, possibly several statements (migrations,
  // transaction control). Never pass text containing caller-supplied values.
  Status exec(const std::string& sql);
  // False once the connection broke (server gone); the pool then replaces it.
  bool healthy() const;
  // healthy(), after reading without waiting what the server sent while the connection was
  // idle: a server that shut down or restarted has closed it, and that is noticed here rather
  // than by the next statement failing. No round trip.
  bool alive();
  // The round trips to the server the calling thread has made through any Connection
  // (statements, their first preparation, transaction control): what tests count.
  static int64_t round_trips_on_this_thread();

 private:
  friend class Transaction;
  // A statement to run: its text, its prepared name, whether it is still to be prepared, and
  // libpq's parameter arrays.
  struct Statement {
    const std::string& text;
    const std::string& name;
    bool prepare;
    int count;
    const char* const* values;
    const int* lengths;
    const int* formats;
  };

  explicit Connection(PGconn* conn) : conn_(conn) {}
  Error last_error(PGresult* result) const;
  Result<Rows> run(const Statement& statement);
  Result<Rows> run_after_begin(const Statement& statement);
  Status exec_text(const std::string& sql);

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  // Transaction::begin was called and BEGIN is not sent yet: it goes with the next statement.
  bool begin_pending_ = false;
  // The protocol went out of step (a pipeline's results not as expected): the pool drops it.
  bool broken_ = false;
};

// Rolls back on destruction unless commit() succeeded. BEGIN goes to the server with the
// first statement, in the same round trip (a transaction that runs none sends nothing).
// READ COMMITTED: read-modify-write methods lock what they read (SELECT ... FOR UPDATE) or
// write with one conditional statement, never read in one transaction and write in another.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& conn);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;  // null once committed or moved from
};

// At most `size` connections to one database, opened on demand and shared by all threads. A
// caller that finds them all busy waits for one (kUnavailable after the wait limit).
class Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Pool(std::string url, int size) : url_(std::move(url)), size_(size < 1 ? 1 : size) {}
  // A healthy connection: an idle one that is alive(), a new one while fewer than `size` are
  // open, or the next returned. Broken connections are closed and replaced, so after the
  // database comes back (restarted, failed over) the next acquire() succeeds without a
  // restart of ours. kUnavailable while the database cannot be reached (connecting gives up
  // after 5 s unless the URL sets connect_timeout).
  Result<Lease> acquire();

 private:
  void release(std::unique_ptr<Connection> conn);

  const std::string url_;
  const int size_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // guarded by mu_: idle and leased
};

// Runs f(Connection&) on a leased connection, each statement committing on its own.
template <class F>
auto with_connection(Pool& pool, F&& f) -> decltype(f(std::declval<Connection&>())) {
  auto lease = pool.acquire();
  if (!lease) return lease.error();
  return f(**lease);
}

// Runs f(Connection&) in one transaction on a leased connection: committed when f succeeds,
// rolled back when it fails.
template <class F>
auto in_transaction(Pool& pool, F&& f) -> decltype(f(std::declval<Connection&>())) {
  auto lease = pool.acquire();
  if (!lease) return lease.error();
  auto tx = Transaction::begin(**lease);
  if (!tx) return tx.error();
  auto result = f(**lease);
  if (!result) return result;
  if (Status s = tx->commit(); !s) return s.error();
  return result;
}

}  // namespace keystep::postgres
