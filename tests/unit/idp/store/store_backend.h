#pragma once
// The store conformance suite (tests/unit/idp/store/*_test.cc) runs every test on every
// backend of store_backends(): the contract written in idp/store/*.h, checked through those
// interfaces alone. A backend creates one fresh database per test and opens connections to
// it; the few states the interfaces cannot produce (a user deleted by an operator, a row
// corrupted on disk) it makes with its own means, behind StoreBackend's hooks, so no
// conformance test sees a backend's internals. A second store joins by implementing
// StoreBackend and adding itself to store_backends().

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "idp/store/mail_store.h"
#include "idp/store/store.h"

namespace keystep::storetest {

// One connection to the test's database, as one server process holds it.
class StoreConnection {
 public:
  virtual ~StoreConnection() = default;
  virtual Store& store() = 0;
  virtual MailStore& mail() = 0;
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;  // drops the test's database
  // A new connection to this backend's database, which the first call creates empty at the
  // latest schema. What one connection commits, every other sees.
  virtual Result<std::unique_ptr<StoreConnection>> connect() = 0;
  // Deletes user `user_id` the way an operator's SQL would, with the schema's cascades.
  virtual Status delete_user(int64_t user_id) = 0;
  // Overwrites the stored state of credential `credential_id` with text that is not JSON.
  virtual Status corrupt_credential_state(int64_t credential_id) = 0;
};

struct BackendParam {
  std::string name;  // a test name suffix: letters and digits
  std::function<std::unique_ptr<StoreBackend>()> make;
};
// Every backend the conformance suite runs on (store_backends.cc).
std::vector<BackendParam> store_backends();
// Names the backend in test output.
inline void PrintTo(const BackendParam& backend, std::ostream* out) { *out << backend.name; }

// Base fixture: a fresh backend per test and a first connection, store_ and mail_.
class StoreConformanceTest : public testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    ASSERT_NO_FATAL_FAILURE(reconnect());
  }

  // Another connection to the test's database.
  std::unique_ptr<StoreConnection> connect() {
    auto connection = backend_->connect();
    EXPECT_TRUE(connection.ok()) << connection.error().message;
    return connection.ok() ? std::move(*connection) : nullptr;
  }
  // Closes the first connection and opens it again, as a restart does.
  void reconnect() {
    store_ = nullptr;
    mail_ = nullptr;
    connection_.reset();
    connection_ = connect();
    ASSERT_NE(connection_, nullptr);
    store_ = &connection_->store();
    mail_ = &connection_->mail();
  }

  // Claims (MailStore::claim_mail, LogoutStore::claim_logout_notices) from `workers` new
  // connections at once: each calls claim(connection) until it returns no row, retrying an
  // error (SQLite's lock when busy). Returns the ids of every row claimed, sorted; a row
  // claimed twice is there twice.
  template <class Claim>
  std::vector<int64_t> claim_from_connections(int workers, Claim claim) {
    std::vector<std::unique_ptr<StoreConnection>> connections;
    for (int w = 0; w < workers; ++w) {
      connections.push_back(connect());
      if (connections.back() == nullptr) return {};
    }
    std::vector<std::vector<int64_t>> taken(workers);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        for (;;) {
          auto claimed = claim(*connections[w]);
          if (!claimed) continue;
          if (claimed->empty()) return;
          for (const auto& row : *claimed) taken[w].push_back(row.id);
        }
      });
    }
    for (auto& t : threads) t.join();
    std::vector<int64_t> all;
    for (const auto& ids : taken) all.insert(all.end(), ids.begin(), ids.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<StoreConnection> connection_;
  Store* store_ = nullptr;
  MailStore* mail_ = nullptr;
};

}  // namespace keystep::storetest

// Runs the TEST_P tests of `fixture` (a StoreConformanceTest) on every backend.
#define STORE_CONFORMANCE_SUITE(fixture)                                          \
  INSTANTIATE_TEST_SUITE_P(                                                       \
      Backends, fixture, testing::ValuesIn(::keystep::storetest::store_backends()), \
      [](const testing::TestParamInfo<::keystep::storetest::BackendParam>& info) { \
        return info.param.name;                                                   \
      })
