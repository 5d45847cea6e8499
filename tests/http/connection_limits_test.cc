// The connection cap's arithmetic and counting, without a server.

#include "http/connection_limits.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace keystep::http {
namespace {

TEST(MaxConnections, LeavesHeadroomBelowTheDescriptorLimit) {
  EXPECT_EQ(max_connections_for_fd_limit(1024), 768u);
  EXPECT_EQ(max_connections_for_fd_limit(65536), 49152u);
  EXPECT_EQ(max_connections_for_fd_limit(200), 136u);
  EXPECT_EQ(max_connections_for_fd_limit(64), 1u);
  EXPECT_EQ(max_connections_for_fd_limit(0), 1u);
  EXPECT_GE(default_max_connections(), 1u);
}

TEST(ConnectionCounter, AdmitsUpToTheCapAndFreesASlotWhenItsHolderGoes) {
  ConnectionCounter counter(2);
  auto first = counter.admit();
  auto second = counter.admit();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(counter.open(), 2u);
  EXPECT_EQ(counter.admit(), nullptr);
  EXPECT_EQ(counter.open(), 2u);
  first.reset();
  EXPECT_EQ(counter.open(), 1u);
  EXPECT_NE(counter.admit(), nullptr);  // admitted, then dropped at once
  EXPECT_EQ(counter.open(), 1u);
}

TEST(AcceptBackoff, SleepsOnlyWhenAcceptRanOutOfDescriptors) {
  AcceptBackoff backoff(std::chrono::milliseconds(1));
  EXPECT_TRUE(backoff.isEnabledFor(Pistache::Log::Level::WARN));
  EXPECT_FALSE(backoff.isEnabledFor(Pistache::Log::Level::INFO));
  backoff.log(Pistache::Log::Level::WARN, std::string("Socket error: ") + std::strerror(EMFILE));
  backoff.log(Pistache::Log::Level::WARN, std::string("Socket error: ") + std::strerror(ENFILE));
  EXPECT_EQ(backoff.backoffs(), 2u);
  backoff.log(Pistache::Log::Level::WARN,
              std::string("Socket error: ") + std::strerror(ECONNABORTED));
  backoff.log(Pistache::Log::Level::FATAL, std::string("Server error: ") + std::strerror(EMFILE));
  EXPECT_EQ(backoff.backoffs(), 2u);
}

}  // namespace
}  // namespace keystep::http
