// The password pool (http/password_pool.h): the executor on its own, and the server with a
// pool of one thread and a queue of one, kept busy by a job the test holds, so what the
// workers still answer, and what a full queue answers, is seen without any timing.

#include "http/password_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "tests/http/oidc_steps.h"

namespace keystep::httptest {
namespace {

using http::PasswordPool;

// Waits (up to 10 s) until `done` holds.
template <class F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A job that holds a pool thread until release() (or the Blocker's end, so that a failed
// assertion cannot leave the pool blocked).
class Blocker {
 public:
  ~Blocker() { release(); }
  std::function<void()> job() {
    return [started = started_, released = released_] {
      started->set_value();
      released.wait();
    };
  }
  void wait_started() { started_->get_future().wait(); }
  void release() {
    if (!released_set_) release_.set_value();
    released_set_ = true;
  }

 private:
  std::shared_ptr<std::promise<void>> started_ = std::make_shared<std::promise<void>>();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool released_set_ = false;
};

TEST(PasswordPool, RefusesAJobBeyondTheQueueLimitAndRunsTheQueuedOnes) {
  PasswordPool pool(1, 1);
  Blocker blocker;
  ASSERT_TRUE(pool.try_submit(blocker.job()));
  blocker.wait_started();
  EXPECT_EQ(pool.running(), 1u);
  std::atomic<int> ran{0};
  EXPECT_TRUE(pool.try_submit([&] { ++ran; }));
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_FALSE(pool.try_submit([&] { ran += 100; }));
  blocker.release();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(pool.running(), 0u);
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(PasswordPool, ShutdownRunsWhatIsQueuedThenRefusesNewJobs) {
  PasswordPool pool(2, 8);
  std::atomic<int> ran{0};
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.try_submit([&] { ++ran; }));
  pool.shutdown();
  EXPECT_EQ(ran.load(), 8);
  EXPECT_FALSE(pool.try_submit([&] { ++ran; }));
  pool.shutdown();  // idempotent
  EXPECT_EQ(ran.load(), 8);
}

TEST(PasswordPool, RunsJobsOnItsOwnThreads) {
  PasswordPool pool(1, 1);
  std::promise<std::thread::id> where;
  ASSERT_TRUE(pool.try_submit([&] { where.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
}

// One HTTP worker, one password thread, a queue of one.
class PasswordPoolHttp : public KeystepHttpTest {
 protected:
  TestServerOptions server_options() const override {
    TestServerOptions options;
    options.threads = 1;
    options.http.password_threads = 1;
    options.http.password_queue = 1;
    return options;
  }
  PasswordPool& pool() { return *server_->server().password_pool(); }

  // Holds the only password thread with `blocker`.
  void occupy(Blocker& blocker) {
    ASSERT_TRUE(pool().try_submit(blocker.job()));
    blocker.wait_started();
  }
};

TEST_F(PasswordPoolHttp, SignInWaitsInTheQueueWhileDiscoveryJwksAndRefreshAnswer) {
  const auto tokens = spa_tokens();
  const std::string refresh = tokens.value("refresh_token", "");
  ASSERT_FALSE(refresh.empty());

  Blocker blocker;
  occupy(blocker);
  browser_ = CookieJar();  // a new browser, without the session
  HttpResponse start = authorize(spa_request(make_pkce()));
  ASSERT_EQ(start.status, 302);
  LoginPage page = open_login_page(start.location());
  ASSERT_FALSE(page.flow.empty());
  std::atomic<long> login_status{0};
  std::thread login([&] {
    HttpClient client;
    CookieJar jar = browser_;
    login_status = client
                       .post_form(url("/login"),
                                  {{"flow", page.flow},
                                   {"csrf_token", page.csrf_token},
                                   {"email", TestServer::kAliceEmail},
                                   {"password", TestServer::kAlicePassword}},
                                  &jar)
                       .status;
  });
  ASSERT_TRUE(eventually([&] { return pool().queued() == 1; }));

  // The only HTTP worker took the sign-in and is free again: the rest is answered.
  HttpClient other;
  EXPECT_EQ(other.get(url("/.well-known/openid-configuration")).status, 200);
  EXPECT_EQ(other.get(url("/jwks.json")).status, 200);
  HttpResponse refreshed = other.post_form(
      url("/token"),
      {{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "spa"}});
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(login_status.load(), 0);  // still waiting for the password thread
  EXPECT_EQ(pool().queued(), 1u);

  blocker.release();
  login.join();
  EXPECT_EQ(login_status.load(), 302);
}

TEST_F(PasswordPoolHttp, FullQueueAnswers503WithRetryAfterAtOnce) {
  Blocker running;
  occupy(running);
  Blocker waiting;
  ASSERT_TRUE(pool().try_submit(waiting.job()));
  ASSERT_EQ(pool().queued(), 1u);

  HttpResponse start = authorize(spa_request(make_pkce()));
  ASSERT_EQ(start.status, 302);
  LoginPage page = open_login_page(start.location());
  HttpResponse refused = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("Retry-After").value_or(""), "1");
  EXPECT_NE(refused.body.find("Try again in a moment"), std::string::npos) << refused.body;
  // The same for the other password forms.
  EXPECT_EQ(client_.post_form(url("/signup"), {{"invitation", "x"}}, &browser_).status, 503);
  EXPECT_EQ(
      client_.post_form(url("/profile/two-factor"), {{"action", "disable"}}, &browser_).status,
      503);

  running.release();
  waiting.release();
  ASSERT_TRUE(eventually([&] { return pool().running() == 0 && pool().queued() == 0; }));
  HttpResponse ok = submit_login(page, TestServer::kAliceEmail, TestServer::kAlicePassword);
  EXPECT_EQ(ok.status, 302) << ok.body;
}

}  // namespace
}  // namespace keystep::httptest
