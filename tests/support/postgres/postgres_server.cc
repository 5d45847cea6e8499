#include "tests/support/postgres/postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace keystep::testsupport {
namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

// A port the kernel just handed out on loopback: free unless someone takes it meanwhile.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

Status PostgresServer::shell(const std::string& command) const {
  const std::string full =
      (as_postgres_user_ ? "runuser -u postgres -- " : "") + command + " >>" + dir_ + "/setup.log 2>&1";
  if (std::system(full.c_str()) != 0) {
    return make_error(ErrorCode::kInternal,
                      "PostgreSQL test server: `" + command + "` failed (see " + dir_ +
                          "/setup.log)");
  }
  return {};
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
  if (!std::filesystem::exists(std::string(kBin) + "/initdb")) {
    return make_error(ErrorCode::kNotFound,
                      std::string(kBin) + "/initdb is missing: install Debian's postgresql-15 "
                                          "(tools/install-deps.sh)");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  std::string pattern =
      (std::filesystem::temp_directory_path() / "keystep-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    return make_error(ErrorCode::kInternal, "cannot create a temporary directory");
  server->dir_ = pattern;
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      return make_error(ErrorCode::kNotFound,
                        "running as root, the test PostgreSQL needs the unprivileged user "
                        "'postgres' (Debian's postgresql package creates it)");
    }
    if (::chown(server->dir_.c_str(), user->pw_uid, user->pw_gid) != 0)
      return make_error(ErrorCode::kInternal, "cannot give " + server->dir_ + " to postgres");
    server->as_postgres_user_ = true;
  }
  const std::string data = server->dir_ + "/data";
  if (Status s = server->shell(std::string(kBin) + "/initdb -D " + data +
                               " -A trust -U postgres -E UTF8 --locale=C --no-sync");
      !s)
    return s.error();
  server->port_ = free_port();
  if (Status s = server->pg_ctl_start(); !s) return s.error();
  if (Status s = server->run(server->url_of("postgres"), "CREATE DATABASE keystep"); !s)
    return s.error();
  return server;
}

Status PostgresServer::pg_ctl_start() {
  const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
                              " -k " + dir_ +
                              " -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                              "-c max_connections=200 -c autovacuum=off";
  if (Status s = shell(std::string(kBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                       "/server.log -w -t 60 -o '" + options + "' start");
      !s)
    return s;
  started_ = true;
  return {};
}

Status PostgresServer::halt() {
  if (!started_) return {};
  if (Status s = shell(std::string(kBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop"); !s)
    return s;
  started_ = false;
  return {};
}

Status PostgresServer::resume() {
  if (started_) return {};
  return pg_ctl_start();
}

PostgresServer::~PostgresServer() {
  if (started_) {
    (void)shell(std::string(kBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop");
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PostgresServer::url_of(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

Result<std::string> PostgresServer::fresh_database() {
  const std::string schema = "t" + std::to_string(++next_schema_);
  const std::string url = url_of("keystep") + "?options=-csearch_path%3D" + schema;
  if (Status s = run(url_of("keystep"), "CREATE SCHEMA " + schema); !s) return s.error();
  return url;
}

Status PostgresServer::drop(const std::string& url) {
  const std::string schema = url.substr(url.rfind("%3D") + 3);
  return run(url_of("keystep"), "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
}

Status PostgresServer::run(const std::string& url, const std::string& sql) {
  auto answered = answer(url, sql);
  if (!answered) return answered.error();
  return {};
}

Result<std::string> PostgresServer::answer(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  Result<std::string> out = std::string();
  if (PQstatus(conn) != CONNECTION_OK) {
    out = make_error(ErrorCode::kUnavailable, PQerrorMessage(conn));
  } else {
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // DROP's cascade notes
    PGresult* result = PQexec(conn, sql.c_str());
    const auto code = PQresultStatus(result);
    if (code == PGRES_TUPLES_OK && PQntuples(result) > 0 && PQnfields(result) > 0) {
      out = std::string(PQgetvalue(result, 0, 0));
    } else if (code == PGRES_COMMAND_OK || code == PGRES_TUPLES_OK) {
      out = std::string(PQcmdTuples(result));
    } else {
      out = make_error(ErrorCode::kInternal, PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

PostgresServer* shared_postgres() {
  static std::mutex mu;
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  std::lock_guard lock(mu);
  if (!server && failure.empty()) {
    auto started = PostgresServer::start();
    if (started) {
      server = std::move(*started);
    } else {
      failure = started.error().message;
    }
  }
  if (!server) ADD_FAILURE() << failure;
  return server.get();
}

FreshDatabase::FreshDatabase() : server_(shared_postgres()) {
  if (server_ == nullptr) return;
  auto url = server_->fresh_database();
  if (url) {
    url_ = *url;
  } else {
    ADD_FAILURE() << url.error().message;
  }
}

FreshDatabase::~FreshDatabase() {
  if (server_ != nullptr && !url_.empty()) (void)server_->drop(url_);
}

}  // namespace keystep::testsupport
