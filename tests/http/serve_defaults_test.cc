// The defaults `keystep serve` derives from the machine when keystep.conf leaves them at 0
// (tools/keystep/wiring.h): HTTP workers, password threads, and the PostgreSQL pool that
// follows both.

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tools/keystep/wiring.h"

namespace keystep {
namespace {

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

TEST(ServeDefaults, TwoHttpWorkersPerCoreAndAPoolConnectionForEachThread) {
  IdpConfig config;
  config.listen = "127.0.0.1:8080";
  ASSERT_EQ(config.threads, 0);
  ASSERT_EQ(config.password_threads, 0);
  EXPECT_EQ(http_threads(config), std::min(255, 2 * cores()));  // Pistache takes 255 at most
  EXPECT_EQ(password_threads(config), std::max(1, cores() / 2));
  auto options = serve_options(config);
  ASSERT_TRUE(static_cast<bool>(options));
  EXPECT_EQ(options->threads, http_threads(config));
  EXPECT_EQ(options->password_threads, static_cast<size_t>(password_threads(config)));
  EXPECT_EQ(database_pool_size(config), http_threads(config) + password_threads(config) + 4);
}

TEST(ServeDefaults, ConfiguredThreadsAreKeptAndThePoolFollowsThem) {
  IdpConfig config;
  config.listen = "127.0.0.1:8080";
  config.threads = 3;
  config.password_threads = 2;
  EXPECT_EQ(http_threads(config), 3);
  auto options = serve_options(config);
  ASSERT_TRUE(static_cast<bool>(options));
  EXPECT_EQ(options->threads, 3);
  EXPECT_EQ(options->password_threads, 2u);
  EXPECT_EQ(database_pool_size(config), 9);
}

}  // namespace
}  // namespace keystep
