// Delivery: the Mailer's retries and backoff on an injected clock, FileTransport's atomic
// .eml files, the mail configuration, and SmtpTransport end to end against a real SMTP
// server on loopback (tests/smtp/server.py, Debian's python3-aiosmtpd; never skipped).

#include "idp/mail/mailer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "idp/mail/mail.h"
#include "base/qr_png.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/unit/test_util.h"

extern char** environ;

namespace keystep {
namespace {

namespace fs = std::filesystem;
using sqlite::SqliteStore;
using testutil::Ok;
using testutil::TempDir;

constexpr int64_t kNow = 1'700'000'000;

class FakeClock final : public Clock {
 public:
  int64_t now() const override { return now_.load(); }
  void set(int64_t t) { now_ = t; }
  void advance(int64_t seconds) { now_ += seconds; }

 private:
  std::atomic<int64_t> now_{kNow};
};

// Fails the first `failures` deliveries (all of them when negative), then accepts.
class FakeTransport final : public MailTransport {
 public:
  explicit FakeTransport(int failures = 0) : failures_(failures) {}
  Status deliver(const OutgoingMail& mail) override {
    ++calls_;
    if (failures_ < 0 || calls_ <= failures_) {
      return make_error(ErrorCode::kUnavailable, "connection refused");
    }
    std::lock_guard lock(mu_);
    delivered_.push_back(mail.dedupe_key);
    mimes_.push_back(mail.mime);
    return {};
  }
  std::vector<std::string> mimes() {
    std::lock_guard lock(mu_);
    return mimes_;
  }
  int calls() const { return calls_.load(); }
  std::vector<std::string> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }

 private:
  const int failures_;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::vector<std::string> delivered_;
  std::vector<std::string> mimes_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> files_with_extension(const std::string& dir, const std::string& ext) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ext) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

OutgoingMail mail(const std::string& key, const std::string& to = "alice@example.com") {
  OutgoingMail m;
  m.dedupe_key = key;
  m.to = to;
  m.subject = "Set up 2FA";
  m.mime = "Subject: Set up 2FA\r\n\r\nmessage " + key + "\r\n";
  m.created_at = kNow;
  m.next_attempt_at = kNow;
  return m;
}

class MailerTest : public testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::open(":memory:");
    ASSERT_TRUE(Ok(opened));
    store_ = std::move(*opened);
  }
  OutgoingMail only_mail() {
    auto all = store_->mail_for("alice@example.com");
    EXPECT_TRUE(Ok(all));
    EXPECT_EQ(all->size(), 1u);
    return all->empty() ? OutgoingMail{} : all->front();
  }

  std::unique_ptr<SqliteStore> store_;
  FakeClock clock_;
};

TEST_F(MailerTest, DeliversDueMailAndMarksItSent) {
  FakeTransport transport;
  Mailer mailer(*store_, transport, clock_);
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(Ok(store_->enqueue_mail(mail(key))));
  clock_.advance(7);
  auto delivered = mailer.deliver_due();
  ASSERT_TRUE(Ok(delivered));
  EXPECT_EQ(*delivered, 3);
  EXPECT_EQ(transport.delivered(), (std::vector<std::string>{"a", "b", "c"}));
  auto all = store_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(all));
  for (const OutgoingMail& m : *all) {
    EXPECT_EQ(m.sent_at, kNow + 7);
  }
  EXPECT_EQ(*mailer.deliver_due(), 0);
  EXPECT_EQ(transport.calls(), 3) << "a sent message is never delivered again";
}

// The outbox of `inner`, whose mark_sent fails (kUnavailable, as a locked database does)
// while `failing` is set.
class FlakyMarkStore final : public MailStore {
 public:
  explicit FlakyMarkStore(MailStore& inner) : inner_(inner) {}
  bool failing = true;
  Status enqueue_mail(const OutgoingMail& m) override { return inner_.enqueue_mail(m); }
  Result<std::vector<OutgoingMail>> due_mail(int64_t now, int limit) override {
    return inner_.due_mail(now, limit);
  }
  Result<std::vector<OutgoingMail>> claim_mail(int64_t now, int limit, int64_t lease) override {
    return inner_.claim_mail(now, limit, lease);
  }
  Status mark_sent(int64_t id, int64_t now) override {
    if (failing) return make_error(ErrorCode::kUnavailable, "database is locked");
    return inner_.mark_sent(id, now);
  }
  Status mark_failed(int64_t id, int64_t next, const std::string& error) override {
    return inner_.mark_failed(id, next, error);
  }
  Result<std::vector<OutgoingMail>> mail_for(const std::string& to) override {
    return inner_.mail_for(to);
  }
  Result<OutboxSummary> outbox_summary() override { return inner_.outbox_summary(); }

 private:
  MailStore& inner_;
};

TEST_F(MailerTest, AMessageWhoseMarkingFailedIsMarkedLaterNotDeliveredAgain) {
  FlakyMarkStore flaky(*store_);
  FakeTransport transport;
  MailerOptions options;
  options.lease = 5;  // b, claimed with a in the failing pass, is due again 5 s later
  Mailer mailer(flaky, transport, clock_, options);
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("a"))));
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("b"))));
  EXPECT_FALSE(mailer.deliver_due().ok()) << "the store error is reported";
  EXPECT_EQ(transport.delivered(), (std::vector<std::string>{"a"}));
  clock_.advance(5);
  EXPECT_FALSE(mailer.deliver_due().ok()) << "still failing: nothing is delivered meanwhile";
  flaky.failing = false;
  clock_.advance(5);
  EXPECT_EQ(*mailer.deliver_due(), 1);
  EXPECT_EQ(transport.delivered(), (std::vector<std::string>{"a", "b"}))
      << "a was delivered once, then only marked";
  auto all = store_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(all));
  for (const OutgoingMail& m : *all) EXPECT_GT(m.sent_at, 0) << m.dedupe_key;
}

TEST_F(MailerTest, AfterACrashBeforeMarkingTheSameMessageIsDeliveredAgain) {
  OsRandom random;
  auto box = SecretBox::from_key(std::string(32, 'k'));
  ASSERT_TRUE(Ok(box));
  OutgoingMail m = mail("enforce:1:2");
  m.mime =
      *seal_mime(*box, random, "Message-ID: <once@id.example.com>\r\nSubject: x\r\n\r\nsecret\r\n",
                 m.dedupe_key);
  ASSERT_TRUE(Ok(store_->enqueue_mail(m)));
  MailerOptions options;
  options.box = &*box;
  FakeTransport transport;
  {
    // The first process delivers, then dies before recording it.
    FlakyMarkStore dying(*store_);
    EXPECT_FALSE(Mailer(dying, transport, clock_, options).deliver_due().ok());
  }
  // The dead process's claim keeps the message from every other worker until it runs out.
  EXPECT_EQ(*Mailer(*store_, transport, clock_, options).deliver_due(), 0);
  clock_.advance(options.lease);
  EXPECT_EQ(*Mailer(*store_, transport, clock_, options).deliver_due(), 1);
  ASSERT_EQ(transport.mimes().size(), 2u);
  EXPECT_EQ(transport.mimes()[0], transport.mimes()[1])
      << "the same bytes, so the same Message-ID: the recipient can tell it is a copy";
  EXPECT_GT(only_mail().sent_at, 0);
}

// A transport that takes `seconds` of the fake clock per message, as a slow SMTP server does.
class SlowTransport final : public MailTransport {
 public:
  SlowTransport(FakeClock& clock, int64_t seconds) : clock_(clock), seconds_(seconds) {}
  Status deliver(const OutgoingMail& mail) override {
    clock_.advance(seconds_);
    delivered.push_back(mail.dedupe_key);
    return {};
  }
  std::vector<std::string> delivered;

 private:
  FakeClock& clock_;
  const int64_t seconds_;
};

TEST_F(MailerTest, AMessageIsDeliveredOnlyInTheFirstHalfOfItsClaim) {
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("a"))));
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("b"))));
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("c"))));
  MailerOptions options;
  options.lease = 100;
  SlowTransport transport(clock_, 30);
  Mailer mailer(*store_, transport, clock_, options);
  // a and b start within 50 s of the claim; c would start at +60 s, when another node could
  // take it in 40 s while this delivery still runs: it waits for its claim to run out.
  EXPECT_EQ(*mailer.deliver_due(), 2);
  EXPECT_EQ(transport.delivered, (std::vector<std::string>{"a", "b"}));
  clock_.advance(40);  // claimed at t, now t + 100
  EXPECT_EQ(*mailer.deliver_due(), 1);
  EXPECT_EQ(transport.delivered, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(MailerTest, SealedMailIsOpenedForDeliveryOnlyWithItsKey) {
  OsRandom random;
  auto box = SecretBox::from_key(std::string(32, 'k'));
  auto other = SecretBox::from_key(std::string(32, 'o'));
  ASSERT_TRUE(Ok(box));
  ASSERT_TRUE(Ok(other));
  const std::string clear = "Subject: Set up 2FA\r\n\r\nsecret JBSW Y3DP\r\n";
  for (const char* key : {"sealed", "moved"}) {
    OutgoingMail m = mail(key);
    auto sealed = seal_mime(*box, random, clear, "sealed");
    ASSERT_TRUE(Ok(sealed));
    EXPECT_EQ(sealed->find("JBSW"), std::string::npos);
    m.mime = *sealed;  // "moved": sealed for another message
    ASSERT_TRUE(Ok(store_->enqueue_mail(m)));
  }
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("plain"))));

  FakeTransport transport;
  MailerOptions options;
  options.box = &*box;
  Mailer mailer(*store_, transport, clock_, options);
  EXPECT_EQ(*mailer.deliver_due(), 2);
  EXPECT_EQ(transport.delivered(), (std::vector<std::string>{"sealed", "plain"}));
  EXPECT_EQ(transport.mimes()[0], clear);
  auto all = store_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(all));
  EXPECT_EQ((*all)[1].sent_at, 0);  // "moved" is not delivered, and says why
  EXPECT_NE((*all)[1].last_error.find("cannot unseal"), std::string::npos) << (*all)[1].last_error;

  // Under another master key, or without one, nothing sealed goes out.
  OutgoingMail again = mail("again");
  again.mime = *seal_mime(*box, random, clear, "again");
  ASSERT_TRUE(Ok(store_->enqueue_mail(again)));
  MailerOptions wrong;
  wrong.box = &*other;
  FakeTransport none;
  EXPECT_EQ(*Mailer(*store_, none, clock_, wrong).deliver_due(), 0);
  EXPECT_EQ(*Mailer(*store_, none, clock_).deliver_due(), 0);
  EXPECT_EQ(none.calls(), 0);
}

TEST_F(MailerTest, NotYetDueMailWaits) {
  FakeTransport transport;
  Mailer mailer(*store_, transport, clock_);
  OutgoingMail later = mail("later");
  later.next_attempt_at = kNow + 100;
  ASSERT_TRUE(Ok(store_->enqueue_mail(later)));
  EXPECT_EQ(*mailer.deliver_due(), 0);
  EXPECT_EQ(transport.calls(), 0);
  clock_.advance(100);
  EXPECT_EQ(*mailer.deliver_due(), 1);
}

TEST_F(MailerTest, RetriesWithExponentialBackoffCappedAtAnHour) {
  FakeTransport transport(/*failures=*/-1);
  Mailer mailer(*store_, transport, clock_);
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("k"))));
  const std::vector<int64_t> expected_delays = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
  for (size_t i = 0; i < expected_delays.size(); ++i) {
    ASSERT_EQ(*mailer.deliver_due(), 0);
    const OutgoingMail m = only_mail();
    EXPECT_EQ(m.attempts, static_cast<int64_t>(i + 1));
    EXPECT_EQ(m.next_attempt_at - clock_.now(), expected_delays[i]) << "after failure " << i + 1;
    EXPECT_EQ(m.last_error, "connection refused");
    clock_.advance(expected_delays[i] - 1);
    ASSERT_EQ(*mailer.deliver_due(), 0);
    EXPECT_EQ(transport.calls(), static_cast<int>(i + 1)) << "retried before its time";
    clock_.advance(1);
  }
}

TEST_F(MailerTest, SucceedsOnARetryAfterFailures) {
  FakeTransport transport(/*failures=*/2);
  Mailer mailer(*store_, transport, clock_);
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("k"))));
  EXPECT_EQ(*mailer.deliver_due(), 0);
  clock_.advance(30);
  EXPECT_EQ(*mailer.deliver_due(), 0);
  clock_.advance(60);
  EXPECT_EQ(*mailer.deliver_due(), 1);
  const OutgoingMail m = only_mail();
  EXPECT_EQ(m.attempts, 2);
  EXPECT_EQ(m.sent_at, kNow + 90);
  EXPECT_EQ(transport.delivered(), std::vector<std::string>{"k"});
}

TEST_F(MailerTest, GivesUpAfterTheAttemptLimit) {
  FakeTransport transport(/*failures=*/-1);
  Mailer mailer(*store_, transport, clock_);
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("k"))));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(*mailer.deliver_due(), 0);
    clock_.advance(3600);
  }
  const OutgoingMail m = only_mail();
  EXPECT_EQ(m.attempts, 20);
  EXPECT_EQ(m.next_attempt_at, kMailNever);
  EXPECT_EQ(m.sent_at, 0);
  EXPECT_EQ(m.last_error, "gave up after 20 attempts: connection refused");
  clock_.advance(365LL * 24 * 3600);
  EXPECT_EQ(*mailer.deliver_due(), 0);
  EXPECT_EQ(transport.calls(), 20);
}

TEST_F(MailerTest, DeliversMoreThanOneBatchInOnePass) {
  FakeTransport transport;
  MailerOptions options;
  options.batch = 2;
  Mailer mailer(*store_, transport, clock_, options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Ok(store_->enqueue_mail(mail(std::to_string(i)))));
  EXPECT_EQ(*mailer.deliver_due(), 5);
}

TEST_F(MailerTest, AFailingMessageDoesNotHoldBackTheOthers) {
  class PickyTransport final : public MailTransport {
   public:
    Status deliver(const OutgoingMail& m) override {
      if (m.dedupe_key == "bad") return make_error(ErrorCode::kInternal, "550 no such user");
      return {};
    }
  } transport;
  MailerOptions options;
  options.batch = 1;
  Mailer mailer(*store_, transport, clock_, options);
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("bad"))));
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("good"))));
  EXPECT_EQ(*mailer.deliver_due(), 1);
}

TEST_F(MailerTest, BackgroundWorkerDeliversWhenNotified) {
  FakeTransport transport;
  MailerOptions options;
  options.poll = std::chrono::hours(1);  // only notify() can wake it in time
  Mailer mailer(*store_, transport, clock_, options);
  mailer.start();
  mailer.start();  // no-op
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("k"))));
  mailer.notify();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (transport.delivered().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  mailer.stop();
  mailer.stop();  // no-op
  EXPECT_EQ(transport.delivered(), std::vector<std::string>{"k"});
  EXPECT_GT(only_mail().sent_at, 0);
  // Stopped: a pass by hand still works.
  ASSERT_TRUE(Ok(store_->enqueue_mail(mail("k2"))));
  EXPECT_EQ(*mailer.deliver_due(), 1);
}

// ---- FileTransport

TEST(FileTransport, WritesTheMessageToAPrivateEmlFile) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/data/outbox";
  FileTransport transport(dir);
  OutgoingMail m = mail("enforce:1:2:1700000000");
  m.id = 42;
  ASSERT_TRUE(Ok(transport.deliver(m)));
  const auto files = files_with_extension(dir, ".eml");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "42-enforce_1_2_1700000000.eml");
  EXPECT_EQ(read_file(files[0]), m.mime);
  struct stat st {};
  ASSERT_EQ(stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "setup emails carry TOTP secrets";
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1)
      << "no temporary file is left behind";
}

TEST(FileTransport, RedeliveryReplacesTheSameFile) {
  TempDir tmp;
  FileTransport transport(tmp.path());
  OutgoingMail m = mail("k");
  m.id = 7;
  ASSERT_TRUE(Ok(transport.deliver(m)));
  ASSERT_TRUE(Ok(transport.deliver(m)));
  EXPECT_EQ(files_with_extension(tmp.path(), ".eml").size(), 1u);
}

TEST(FileTransport, FileNamesCannotEscapeTheDirectory) {
  OutgoingMail m = mail("../../etc/passwd\r\n");
  m.id = 3;
  EXPECT_EQ(FileTransport::file_name(m), "3-.._.._etc_passwd__.eml");
}

TEST(FileTransport, ReadersNeverSeeAPartialFile) {
  TempDir tmp;
  FileTransport transport(tmp.path());
  const std::string body(512 * 1024, 'x');
  std::atomic<bool> done{false};
  std::atomic<int> seen{0}, partial{0};
  std::thread reader([&] {
    while (!done) {
      for (const auto& path : files_with_extension(tmp.path(), ".eml")) {
        std::error_code ec;
        const auto size = fs::file_size(path, ec);
        if (ec) continue;
        ++seen;
        if (size != body.size()) ++partial;
      }
    }
  });
  for (int i = 1; i <= 20; ++i) {
    OutgoingMail m = mail("k" + std::to_string(i));
    m.id = i;
    m.mime = body;
    ASSERT_TRUE(Ok(transport.deliver(m)));
  }
  done = true;
  reader.join();
  EXPECT_EQ(partial.load(), 0);
  EXPECT_EQ(files_with_extension(tmp.path(), ".eml").size(), 20u);
}

TEST(FileTransport, UnwritableDirectoryIsAnError) {
  TempDir tmp;
  const std::string file = tmp.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  FileTransport transport(file + "/outbox");
  OutgoingMail m = mail("k");
  m.id = 1;
  EXPECT_FALSE(transport.deliver(m).ok());
}

// Sets a file's modification time to `when` (Unix seconds).
void set_mtime(const fs::path& path, int64_t when) {
  const timespec times[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

TEST(FileTransport, PurgeDeletesDeliveredFilesPastTheRetentionOnly) {
  TempDir tmp;
  FileTransport transport(tmp.path(), 7 * 86400);
  for (int id : {1, 2}) {
    OutgoingMail m = mail("k" + std::to_string(id));
    m.id = id;
    ASSERT_TRUE(Ok(transport.deliver(m)));
  }
  set_mtime(tmp.path() + "/1-k1.eml", kNow - 7 * 86400);
  set_mtime(tmp.path() + "/2-k2.eml", kNow - 7 * 86400 + 1);
  std::ofstream(tmp.path() + "/notes.txt") << "not ours";
  set_mtime(tmp.path() + "/notes.txt", kNow - 365 * 86400);
  auto deleted = transport.purge(kNow);
  ASSERT_TRUE(Ok(deleted));
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(fs::exists(tmp.path() + "/1-k1.eml"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/2-k2.eml"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/notes.txt"));
}

TEST(FileTransport, PurgeDeletesWhatACrashLeftHalfWrittenAfterAnHour) {
  TempDir tmp;
  FileTransport keep_forever(tmp.path(), 0);
  OutgoingMail m = mail("k");
  m.id = 1;
  ASSERT_TRUE(Ok(keep_forever.deliver(m)));
  set_mtime(tmp.path() + "/1-k.eml", kNow - 3650 * 86400);
  // What deliver() leaves when the process dies between creating and renaming its file.
  const std::string old_temp = tmp.path() + "/.2-k2.eml.a1B2c3";
  const std::string new_temp = tmp.path() + "/.3-k3.eml.d4E5f6";
  std::ofstream(old_temp) << "From: half a message with a TOTP secret";
  std::ofstream(new_temp) << "From: a delivery still in progress";
  set_mtime(old_temp, kNow - 3600);
  set_mtime(new_temp, kNow - 3599);
  auto deleted = keep_forever.purge(kNow);
  ASSERT_TRUE(Ok(deleted));
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(fs::exists(old_temp));
  EXPECT_TRUE(fs::exists(new_temp));
  EXPECT_TRUE(fs::exists(tmp.path() + "/1-k.eml")) << "retention 0 keeps delivered files";
}

TEST(FileTransport, PurgeOfAMissingDirectoryDeletesNothing) {
  TempDir tmp;
  auto deleted = FileTransport(tmp.path() + "/outbox").purge(kNow);
  ASSERT_TRUE(Ok(deleted));
  EXPECT_EQ(*deleted, 0);
}

// ---- configuration

TEST(MailConfig, DefaultsToFilesInTheDataDirectory) {
  MailConfig config;
  ASSERT_TRUE(Ok(apply_mail_config_json(nlohmann::json::object(), config)));
  EXPECT_FALSE(config.use_smtp);
  EXPECT_EQ(config.smtp.from, "keystep@localhost");
  TempDir tmp;
  EXPECT_EQ(config.outbox_retention_days, 7);
  auto transport = make_mail_transport(config, tmp.path());
  ASSERT_TRUE(dynamic_cast<FileTransport*>(transport.get()) != nullptr);
  OutgoingMail m = mail("k");
  m.id = 1;
  ASSERT_TRUE(Ok(transport->deliver(m)));
  const auto files = files_with_extension(tmp.path() + "/outbox", ".eml");
  ASSERT_EQ(files.size(), 1u);
  set_mtime(files[0], kNow - 7 * 86400);
  EXPECT_EQ(*transport->purge(kNow), 1) << "kept a week";
}

TEST(MailConfig, OutboxRetentionIsConfigurable) {
  MailConfig config;
  ASSERT_TRUE(
      Ok(apply_mail_config_json(nlohmann::json::parse(R"({"outbox_retention_days": 0})"), config)));
  EXPECT_EQ(config.outbox_retention_days, 0);
  TempDir tmp;
  auto transport = make_mail_transport(config, tmp.path());
  OutgoingMail m = mail("k");
  m.id = 1;
  ASSERT_TRUE(Ok(transport->deliver(m)));
  set_mtime(files_with_extension(tmp.path() + "/outbox", ".eml")[0], 0);
  EXPECT_EQ(*transport->purge(kNow), 0) << "0 keeps files for ever";
}

TEST(MailConfig, ReadsSmtpSettings) {
  MailConfig config;
  const auto json = nlohmann::json::parse(R"({
    "from": "Keystep <no-reply@id.example.com>",
    "smtp": {"host": "smtp.example.com", "port": 465, "security": "tls",
             "username": "keystep", "password": "s3cret",
             "connect_timeout_ms": 2000, "timeout_ms": 10000}})");
  ASSERT_TRUE(Ok(apply_mail_config_json(json, config)));
  EXPECT_TRUE(config.use_smtp);
  EXPECT_EQ(config.from, "Keystep <no-reply@id.example.com>");
  EXPECT_EQ(config.smtp.from, "no-reply@id.example.com");
  EXPECT_EQ(config.smtp.host, "smtp.example.com");
  EXPECT_EQ(config.smtp.port, 465);
  EXPECT_EQ(config.smtp.security, "tls");
  EXPECT_EQ(config.smtp.username, "keystep");
  EXPECT_EQ(config.smtp.password, "s3cret");
  EXPECT_EQ(config.smtp.connect_timeout_ms, 2000);
  EXPECT_EQ(config.smtp.timeout_ms, 10000);
  EXPECT_TRUE(dynamic_cast<SmtpTransport*>(make_mail_transport(config, "/nonexistent").get()));
}

TEST(MailConfig, RefusesMistakesNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"form": "a@b.c"})", "mail.form"},
      {R"({"from": "not an address"})", "mail.from"},
      {R"({"from": 5})", "mail.from"},
      {R"({"smtp": {"port": 25}})", "mail.smtp.host"},
      {R"({"smtp": {"host": "h", "port": 0}})", "mail.smtp.port"},
      {R"({"smtp": {"host": "h", "port": "25"}})", "mail.smtp.port"},
      {R"({"smtp": {"host": "h", "security": "ssl"}})", "mail.smtp.security"},
      {R"({"smtp": {"host": "h/x"}})", "mail.smtp.host"},
      {R"({"smtp": {"host": "h", "pasword": "x"}})", "mail.smtp.pasword"},
      {R"({"smtp": {"host": "h", "timeout_ms": 0}})", "mail.smtp.timeout_ms"},
      {R"({"smtp": "h"})", "mail.smtp"},
      {R"({"outbox_retention_days": -1})", "mail.outbox_retention_days"},
      {R"({"outbox_retention_days": "7"})", "mail.outbox_retention_days"},
      {R"([])", "mail"},
  };
  for (const auto& [text, key] : cases) {
    MailConfig config;
    Status s = apply_mail_config_json(nlohmann::json::parse(text), config);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().message.rfind(key + " ", 0), 0u) << s.error().message;
  }
}

// ---- SMTP end to end

// tests/smtp/server.py as a child process on a loopback port.
class SmtpServer {
 public:
  // Starts the server saving into dir; port 0 picks a free one. Fails the test (with the
  // server's own message on stderr) when it does not come up, e.g. without python3-aiosmtpd.
  void start(const std::string& dir, int port = 0, const std::string& auth = "") {
    const char* env_python = std::getenv("KEYSTEP_PYTHON");
    // Debian's interpreter, where apt installs aiosmtpd (a python3 first on PATH may not see it).
    const std::string python = env_python ? env_python : "/usr/bin/python3";
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> args = {python,   KEYSTEP_SMTP_SERVER, "--dir", dir,
                                     "--port", std::to_string(port)};
    if (!auth.empty()) args.insert(args.end(), {"--auth", auth});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      pid_ = 0;
      FAIL() << "cannot run " << python << ": " << std::strerror(rc);
    }
    std::string line;
    pollfd pfd{fds[0], POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      if (poll(&pfd, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (line.rfind("PORT ", 0) != 0) {
      stop();
      FAIL() << "the SMTP test server did not start (" << KEYSTEP_SMTP_SERVER
             << "); it needs Debian's python3-aiosmtpd: apt-get install python3-aiosmtpd "
                "(or tools/install-deps.sh). Its output: "
             << line;
    }
    port_ = std::stoi(line.substr(5));
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  ~SmtpServer() { stop(); }
  int port() const { return port_; }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

SmtpConfig smtp_config(int port) {
  SmtpConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.security = "none";
  c.from = "no-reply@id.example.com";
  c.connect_timeout_ms = 2000;
  c.timeout_ms = 10000;
  return c;
}

std::string setup_message(const std::string& to) {
  auto png = qr_png("otpauth://totp/Harness:" + to + "?secret=JBSWY3DPEHPK3PXP");
  EXPECT_TRUE(Ok(png));
  MailContent c;
  c.from = "Keystep <no-reply@id.example.com>";
  c.to = to;
  c.subject = "Set up two-factor authentication ✓";
  c.text_body = "Secret: JBSWY3DPEHPK3PXP\n.\n..leading dots survive SMTP\n";
  c.html_body = "<img src=\"cid:qr@keystep\">";
  c.inline_images = {{"qr@keystep", png.ok() ? *png : ""}};
  c.date = kNow;
  c.message_id = "<" + std::to_string(std::hash<std::string>{}(to)) + "@id.example.com>";
  auto message = build_message(c);
  EXPECT_TRUE(Ok(message));
  return message.ok() ? *message : "";
}

TEST(SmtpTransport, DeliversTheExactMessageToARealServer) {
  TempDir tmp;
  SmtpServer server;
  ASSERT_NO_FATAL_FAILURE(server.start(tmp.path()));
  SmtpTransport transport(smtp_config(server.port()));
  OutgoingMail m = mail("k", "alice@example.com");
  m.mime = setup_message("alice@example.com");
  ASSERT_TRUE(Ok(transport.deliver(m)));
  const auto files = files_with_extension(tmp.path(), ".eml");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(read_file(files[0]), m.mime);
  const auto envelope = nlohmann::json::parse(read_file(tmp.path() + "/1.json"));
  EXPECT_EQ(envelope["mail_from"], "no-reply@id.example.com");
  EXPECT_EQ(envelope["rcpt_tos"], nlohmann::json::array({"alice@example.com"}));
}

TEST(SmtpTransport, AuthenticatesWithUsernameAndPassword) {
  TempDir tmp;
  SmtpServer server;
  ASSERT_NO_FATAL_FAILURE(server.start(tmp.path(), 0, "keystep:s3cret"));
  SmtpConfig config = smtp_config(server.port());
  SmtpTransport anonymous(config);
  EXPECT_FALSE(anonymous.deliver(mail("k")).ok()) << "the server requires AUTH";
  config.username = "keystep";
  config.password = "s3cret";
  SmtpTransport transport(config);
  ASSERT_TRUE(Ok(transport.deliver(mail("k"))));
  EXPECT_EQ(files_with_extension(tmp.path(), ".eml").size(), 1u);
}

TEST(SmtpTransport, ClosedPortIsUnavailable) {
  TempDir tmp;
  SmtpServer server;
  ASSERT_NO_FATAL_FAILURE(server.start(tmp.path()));
  const int port = server.port();
  server.stop();
  SmtpTransport transport(smtp_config(port));
  Status s = transport.deliver(mail("k"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("smtp://127.0.0.1:" + std::to_string(port)), std::string::npos)
      << s.error().message;
}

TEST(SmtpTransport, StarttlsIsRequiredNotOpportunistic) {
  TempDir tmp;
  SmtpServer server;  // offers no STARTTLS
  ASSERT_NO_FATAL_FAILURE(server.start(tmp.path()));
  SmtpConfig config = smtp_config(server.port());
  config.security = "starttls";
  SmtpTransport transport(config);
  EXPECT_FALSE(transport.deliver(mail("k")).ok());
  EXPECT_TRUE(files_with_extension(tmp.path(), ".eml").empty()) << "sent in clear text";
}

TEST(SmtpMailer, ServerDownThenUpDeliversEveryMessageExactlyOnce) {
  TempDir tmp;
  const std::string received = tmp.path() + "/received";
  const std::string db = tmp.path() + "/keystep.db";
  SmtpServer server;
  ASSERT_NO_FATAL_FAILURE(server.start(received));
  const int port = server.port();
  server.stop();  // SMTP down

  FakeClock clock;
  const std::vector<std::string> members = {"alice@example.com", "bob@example.com",
                                            "carol@example.com"};
  {
    auto store = SqliteStore::open(db);
    ASSERT_TRUE(Ok(store));
    for (const std::string& to : members) {
      OutgoingMail m = mail("enforce:1:" + to + ":" + std::to_string(kNow), to);
      m.mime = setup_message(to);
      ASSERT_TRUE(Ok((*store)->enqueue_mail(m)));
    }
    SmtpTransport transport(smtp_config(port));
    Mailer mailer(**store, transport, clock);
    auto delivered = mailer.deliver_due();
    ASSERT_TRUE(Ok(delivered));
    EXPECT_EQ(*delivered, 0);
    for (const std::string& to : members) {
      const OutgoingMail m = (*(*store)->mail_for(to))[0];
      EXPECT_EQ(m.attempts, 1);
      EXPECT_EQ(m.sent_at, 0);
      EXPECT_EQ(m.next_attempt_at, kNow + 30);
      EXPECT_NE(m.last_error.find("smtp://127.0.0.1"), std::string::npos) << m.last_error;
    }
  }  // the process "restarts": store and mailer are gone, the outbox is on disk

  ASSERT_NO_FATAL_FAILURE(server.start(received, port));  // SMTP up
  auto store = SqliteStore::open(db);
  ASSERT_TRUE(Ok(store));
  SmtpTransport transport(smtp_config(port));
  Mailer mailer(**store, transport, clock);
  EXPECT_EQ(*mailer.deliver_due(), 0) << "not due before its backoff";
  clock.advance(30);
  EXPECT_EQ(*mailer.deliver_due(), 3);
  clock.advance(24 * 3600);
  EXPECT_EQ(*mailer.deliver_due(), 0);
  {
    auto reopened = SqliteStore::open(db);
    ASSERT_TRUE(Ok(reopened));
    Mailer after_restart(**reopened, transport, clock);
    EXPECT_EQ(*after_restart.deliver_due(), 0);
  }

  const auto files = files_with_extension(received, ".eml");
  ASSERT_EQ(files.size(), 3u) << "every message exactly once";
  std::multiset<std::string> recipients;
  for (const auto& f : files) {
    auto envelope = nlohmann::json::parse(read_file(fs::path(f).replace_extension(".json")));
    recipients.insert(envelope["rcpt_tos"][0].get<std::string>());
    const std::string text = read_file(f);
    EXPECT_EQ(text, setup_message(envelope["rcpt_tos"][0].get<std::string>()));
  }
  EXPECT_EQ(recipients, std::multiset<std::string>(members.begin(), members.end()));
}

}  // namespace
}  // namespace keystep
