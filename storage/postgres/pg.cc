#include "storage/postgres/pg.h"

#include <poll.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "idp/store/read_memo.h"

namespace keystep::postgres {
namespace {

// How long acquire() waits for a busy pool, and the server's limits per statement and per
// lock wait: a stuck database yields kUnavailable (503) rather than a hung request.
constexpr auto kPoolWait = std::chrono::seconds(10);
// How long opening a connection waits for an unreachable server (libpq waits for ever).
constexpr const char* kConnectTimeoutSeconds = "5";
constexpr const char* kSessionSettings =
    "SET statement_timeout = '10s'; SET lock_timeout = '5s'; SET client_min_messages = warning";

// SQLSTATE -> ErrorCode (https://www.postgresql.org/docs/15/errcodes-appendix.html).
ErrorCode code_of(std::string_view state) {
  if (state == "23505") return ErrorCode::kAlreadyExists;   // unique_violation
  if (state == "23503") return ErrorCode::kNotFound;        // foreign_key_violation
  if (state == "23514" || state == "23502" || state.substr(0, 2) == "22")
    return ErrorCode::kInvalidArgument;  // check, not null, data exceptions (bad JSON, UTF-8)
  if (state == "40001" || state == "40P01" || state == "55P03" || state == "57014" ||
      state.substr(0, 2) == "08" || state == "57P01" || state == "57P03" || state == "53300")
    return ErrorCode::kUnavailable;  // serialization, deadlock, lock/statement timeout, gone
  return ErrorCode::kInternal;
}

thread_local int64_t round_trips = 0;

std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

int64_t Rows::int64(int row, int col) const {
  if (PQgetisnull(result_.get(), row, col)) return 0;
  return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
}

bool Rows::boolean(int row, int col) const {
  return !PQgetisnull(result_.get(), row, col) && PQgetvalue(result_.get(), row, col)[0] == 't';
}

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<size_t>(PQgetlength(result_.get(), row, col)));
}

std::string Rows::bytea(int row, int col) const {
  size_t length = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &length);
  if (bytes == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  // connect_timeout before dbname: the URL's own connect_timeout, if any, overrides it.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {kConnectTimeoutSeconds, url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  std::unique_ptr<Connection> connection(new Connection(conn));
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    return make_error(ErrorCode::kUnavailable,
                      "cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn)));
  }
  if (Status s = connection->exec(kSessionSettings); !s) return s.error();
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

int64_t Connection::round_trips_on_this_thread() { return round_trips; }

bool Connection::alive() {
  if (!healthy()) return false;
  // An idle connection is sent nothing, so nothing to read is the usual answer: one poll.
  pollfd socket{PQsocket(conn_), POLLIN, 0};
  if (::poll(&socket, 1, 0) == 0) return true;
  // A server going down sends its FATAL and then closes: the first read takes the message,
  // the second the end of the stream, on which libpq marks the connection bad.
  for (int read = 0; read < 2 && healthy(); ++read) {
    if (PQconsumeInput(conn_) == 0) break;
  }
  return healthy();
}

Error Connection::last_error(PGresult* result) const {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message =
      trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (state == nullptr) {  // no answer at all: the connection broke
    return make_error(healthy() ? ErrorCode::kInternal : ErrorCode::kUnavailable,
                      "PostgreSQL: " + message);
  }
  return make_error(code_of(state), "PostgreSQL: " + message);
}

namespace {

// A statement that may have written (anything but a SELECT or a BEGIN; a SELECT ... FOR
// UPDATE is followed by its COMMIT or ROLLBACK): the request that ran it reads afresh, as
// on SQLite through its commit and rollback hooks (idp/store/read_memo.h). A failed one
// too: a refused compare-and-set means another request changed what this one read.
void forget_reads_after(std::string_view sql) {
  const auto start = sql.find_first_not_of(" \t\n");
  const std::string_view head = start == std::string_view::npos ? "" : sql.substr(start, 6);
  auto is = [&](std::string_view word) {  // `word` in capitals
    if (head.size() < word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(head[i])) != word[i]) return false;
    return true;
  };
  if (!is("SELECT") && !is("BEGIN")) ReadMemo::forget();
}

}  // namespace

Result<Rows> Connection::query(std::string_view sql, const Params& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    if (!p.binary() && p.value().find('\0') != std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "text holds a NUL byte");
    values.push_back(p.value().c_str());
    lengths.push_back(static_cast<int>(p.value().size()));
    formats.push_back(p.binary() ? 1 : 0);
  }
  const std::string text(sql);
  auto it = prepared_.find(text);
  const bool prepare = it == prepared_.end();
  const std::string name = prepare ? "k" + std::to_string(prepared_.size()) : it->second;
  const Statement statement{
      text,          name,           prepare,       static_cast<int>(values.size()),
      values.data(), lengths.data(), formats.data()};
  Result<Rows> rows = begin_pending_ ? run_after_begin(statement) : run(statement);
  forget_reads_after(text);
  return rows;
}

Result<Rows> Connection::run(const Statement& s) {
  if (s.prepare) {
    ++round_trips;
    PGresult* prepared = PQprepare(conn_, s.name.c_str(), s.text.c_str(), 0, nullptr);
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      Error error = last_error(prepared);
      PQclear(prepared);
      return error;
    }
    PQclear(prepared);
    prepared_.emplace(s.text, s.name);
  }
  ++round_trips;
  PGresult* result =
      PQexecPrepared(conn_, s.name.c_str(), s.count, s.values, s.lengths, s.formats, 0);
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(result);
  Error error = last_error(result);
  PQclear(result);
  return error;
}

// BEGIN, the statement's preparation when it is new, and the statement, sent in one pipeline
// with one Sync: the first statement of a transaction costs one round trip, not two or three.
// The server runs them in order and skips what follows a failure, so a failed preparation or
// statement leaves the transaction aborted, as when each is sent alone; the Transaction's
// ROLLBACK ends it. Anything unexpected from the connection marks it broken.
Result<Rows> Connection::run_after_begin(const Statement& s) {
  begin_pending_ = false;
  ++round_trips;
  if (PQenterPipelineMode(conn_) != 1) {
    // Not idle, so out of step: its next statements must not run outside the transaction.
    broken_ = true;
    return last_error(nullptr);
  }
  const bool sent =
      PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1 &&
      (!s.prepare || PQsendPrepare(conn_, s.name.c_str(), s.text.c_str(), 0, nullptr) == 1) &&
      PQsendQueryPrepared(conn_, s.name.c_str(), s.count, s.values, s.lengths, s.formats, 0) == 1 &&
      PQpipelineSync(conn_) == 1;
  std::optional<Error> failure;
  PGresult* rows = nullptr;
  const int commands = sent ? (s.prepare ? 3 : 2) : 0;
  for (int i = 0; i < commands && !broken_; ++i) {
    PGresult* result = PQgetResult(conn_);  // the command's one result, then a null
    if (result == nullptr) {
      broken_ = true;
      break;
    }
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (s.prepare && i == 1) prepared_.emplace(s.text, s.name);
      if (i == commands - 1) {
        rows = result;
        result = nullptr;
      }
    } else if (status != PGRES_PIPELINE_ABORTED && !failure) {
      failure = last_error(result);  // skipped commands report only that they were
    }
    PQclear(result);
    if (PGresult* extra = PQgetResult(conn_); extra != nullptr) {
      PQclear(extra);
      broken_ = true;
    }
  }
  if (!sent) failure = last_error(nullptr);
  if (sent && !broken_) {
    PGresult* sync = PQgetResult(conn_);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) broken_ = true;
    PQclear(sync);
  }
  if (PQexitPipelineMode(conn_) != 1) broken_ = true;
  if (rows != nullptr && !failure && !broken_) return Rows(rows);
  PQclear(rows);
  if (failure) return *failure;
  return make_error(ErrorCode::kUnavailable,
                    "PostgreSQL: the connection broke: " + trimmed(PQerrorMessage(conn_)));
}

Status Connection::exec(const std::string& sql) {
  const bool begin = std::exchange(begin_pending_, false);
  // A transaction that sent nothing has nothing to end.
  if (begin && (sql == "COMMIT" || sql == "ROLLBACK")) return {};
  // One round trip either way: the simple protocol takes several statements.
  Status s = exec_text(begin ? "BEGIN; " + sql : sql);
  forget_reads_after(sql);
  return s;
}

Status Connection::exec_text(const std::string& sql) {
  ++round_trips;
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    PQclear(result);
    return {};
  }
  Error error = last_error(result);
  PQclear(result);
  return error;
}

Result<Transaction> Transaction::begin(Connection& conn) {
  conn.begin_pending_ = true;  // sent with the first statement (Connection::run_after_begin)
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr) (void)conn_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Status s = conn_->exec("COMMIT");
  if (s) conn_ = nullptr;
  return s;
}

Pool::Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->alive()) return Lease(this, std::move(conn));
      --open_;  // broken (the server restarted): dropped, a new one may be opened below
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      auto conn = Connection::open(url_);
      if (!conn) {
        lock.lock();
        --open_;
        returned_.notify_one();
        return conn.error();
      }
      return Lease(this, std::move(*conn));
    }
    if (returned_.wait_for(lock, kPoolWait) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      return make_error(ErrorCode::kUnavailable, "every database connection stayed busy");
    }
  }
}

void Pool::release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn->healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  returned_.notify_one();
}

}  // namespace keystep::postgres
