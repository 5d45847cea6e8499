// MailStore conformance (idp/store/mail_store.h), on every backend: the outbox queue,
// deduplication, due order, delivery state and its persistence across restarts.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/test_util.h"

namespace keystep::storetest {
namespace {

using testutil::Fails;
using testutil::Ok;

constexpr int64_t kNow = 1'700'000'000;

OutgoingMail mail(const std::string& key, const std::string& to = "alice@example.com",
                  int64_t due = kNow) {
  OutgoingMail m;
  m.dedupe_key = key;
  m.to = to;
  m.subject = "Set up 2FA";
  m.mime = "Subject: Set up 2FA\r\n\r\nbody of " + key + "\r\n";
  m.created_at = kNow - 5;
  m.next_attempt_at = due;
  return m;
}

std::vector<std::string> keys(const std::vector<OutgoingMail>& mails) {
  std::vector<std::string> out;
  for (const OutgoingMail& m : mails) out.push_back(m.dedupe_key);
  return out;
}

using MailStoreTest = StoreConformanceTest;

TEST_P(MailStoreTest, QueuedMailIsDueWithEveryFieldKept) {
  OutgoingMail queued = mail("enforce:1:2:100");
  queued.attempts = 7;  // ignored: a new message has no history
  queued.sent_at = 99;
  queued.last_error = "ignored";
  ASSERT_TRUE(Ok(mail_->enqueue_mail(queued)));
  auto due = mail_->due_mail(kNow, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u);
  const OutgoingMail& m = (*due)[0];
  EXPECT_GT(m.id, 0);
  EXPECT_EQ(m.dedupe_key, "enforce:1:2:100");
  EXPECT_EQ(m.to, "alice@example.com");
  EXPECT_EQ(m.subject, "Set up 2FA");
  EXPECT_EQ(m.mime, queued.mime);
  EXPECT_EQ(m.created_at, kNow - 5);
  EXPECT_EQ(m.attempts, 0);
  EXPECT_EQ(m.next_attempt_at, kNow);
  EXPECT_EQ(m.sent_at, 0);
  EXPECT_EQ(m.last_error, "");
}

TEST_P(MailStoreTest, DuplicateDedupeKeyIsAlreadyExistsEvenAfterSending) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("k"))));
  OutgoingMail again = mail("k", "mallory@example.com");
  EXPECT_TRUE(Fails(mail_->enqueue_mail(again), ErrorCode::kAlreadyExists));
  auto due = mail_->due_mail(kNow, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u);
  ASSERT_TRUE(Ok(mail_->mark_sent((*due)[0].id, kNow)));
  EXPECT_TRUE(Fails(mail_->enqueue_mail(mail("k")), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(Ok(mail_->due_mail(kNow, 10)) && mail_->due_mail(kNow, 10)->empty());
  EXPECT_TRUE(mail_->mail_for("mallory@example.com")->empty());
}

TEST_P(MailStoreTest, RefusesMailWithoutKeyRecipientOrBody) {
  OutgoingMail m = mail("");
  EXPECT_TRUE(Fails(mail_->enqueue_mail(m), ErrorCode::kInvalidArgument));
  m = mail("k", "");
  EXPECT_TRUE(Fails(mail_->enqueue_mail(m), ErrorCode::kInvalidArgument));
  m = mail("k");
  m.mime.clear();
  EXPECT_TRUE(Fails(mail_->enqueue_mail(m), ErrorCode::kInvalidArgument));
}

TEST_P(MailStoreTest, DueMailIsPendingAndDueOrderedByTimeThenIdAndLimited) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("later", "a@x", kNow + 1))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("b", "a@x", kNow - 10))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("c", "a@x", kNow - 20))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("d", "a@x", kNow - 10))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("sent", "a@x", kNow - 30))));
  auto all = mail_->mail_for("a@x");
  ASSERT_TRUE(Ok(all));
  ASSERT_TRUE(Ok(mail_->mark_sent(all->back().id, kNow)));

  auto due = mail_->due_mail(kNow, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(keys(*due), (std::vector<std::string>{"c", "b", "d"}));
  due = mail_->due_mail(kNow, 2);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(keys(*due), (std::vector<std::string>{"c", "b"}));
  due = mail_->due_mail(kNow + 1, 10);
  ASSERT_TRUE(Ok(due));
  EXPECT_EQ(due->size(), 4u);
}

TEST_P(MailStoreTest, MarkSentKeepsTheFirstTimeAndUnknownIdIsNotFound) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("k"))));
  const int64_t id = (*mail_->due_mail(kNow, 1))[0].id;
  ASSERT_TRUE(Ok(mail_->mark_sent(id, kNow + 1)));
  ASSERT_TRUE(Ok(mail_->mark_sent(id, kNow + 2)));
  EXPECT_EQ((*mail_->mail_for("alice@example.com"))[0].sent_at, kNow + 1);
  EXPECT_TRUE(Fails(mail_->mark_sent(id + 100, kNow), ErrorCode::kNotFound));
}

TEST_P(MailStoreTest, MarkFailedCountsAttemptsAndPostponesUntilSent) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("k"))));
  const int64_t id = (*mail_->due_mail(kNow, 1))[0].id;
  ASSERT_TRUE(Ok(mail_->mark_failed(id, kNow + 30, "connection refused")));
  ASSERT_TRUE(Ok(mail_->mark_failed(id, kNow + 60, "timed out")));
  EXPECT_TRUE(mail_->due_mail(kNow + 59, 10)->empty());
  auto due = mail_->due_mail(kNow + 60, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 2);
  EXPECT_EQ((*due)[0].next_attempt_at, kNow + 60);
  EXPECT_EQ((*due)[0].last_error, "timed out");

  ASSERT_TRUE(Ok(mail_->mark_failed(id, kMailNever, "gave up")));
  EXPECT_TRUE(mail_->due_mail(kMailNever - 1, 10)->empty());
  ASSERT_TRUE(Ok(mail_->mark_sent(id, kNow + 61)));
  EXPECT_TRUE(Fails(mail_->mark_failed(id, kNow + 90, "late"), ErrorCode::kConflict));
  const OutgoingMail after = (*mail_->mail_for("alice@example.com"))[0];
  EXPECT_EQ(after.attempts, 3);
  EXPECT_EQ(after.last_error, "gave up");
  EXPECT_TRUE(Fails(mail_->mark_failed(id + 100, kNow, "x"), ErrorCode::kNotFound));
}

TEST_P(MailStoreTest, MailForListsOneRecipientOldestFirst) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("1", "bob@example.com"))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("2", "alice@example.com"))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("3", "bob@example.com"))));
  auto bob = mail_->mail_for("bob@example.com");
  ASSERT_TRUE(Ok(bob));
  EXPECT_EQ(keys(*bob), (std::vector<std::string>{"1", "3"}));
  EXPECT_TRUE(mail_->mail_for("nobody@example.com")->empty());
}

TEST_P(MailStoreTest, DeliveryStateSurvivesReopening) {
  int64_t failed_id = 0;
  {
    ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("failing"))));
    ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("delivered"))));
    auto due = mail_->due_mail(kNow, 10);
    ASSERT_TRUE(Ok(due));
    ASSERT_EQ(due->size(), 2u);
    failed_id = (*due)[0].id;
    ASSERT_TRUE(Ok(mail_->mark_failed(failed_id, kNow + 30, "smtp down")));
    ASSERT_TRUE(Ok(mail_->mark_sent((*due)[1].id, kNow)));
  }
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_TRUE(mail_->due_mail(kNow + 29, 10)->empty());
  auto due = mail_->due_mail(kNow + 30, 10);
  ASSERT_TRUE(Ok(due));
  ASSERT_EQ(due->size(), 1u) << "the delivered message is never due again";
  EXPECT_EQ((*due)[0].id, failed_id);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_error, "smtp down");
  EXPECT_TRUE(Fails(mail_->enqueue_mail(mail("delivered")), ErrorCode::kAlreadyExists));
}

TEST_P(MailStoreTest, RacingEnqueuesOfOneKeyThroughTwoConnectionsQueueOneMessage) {
  auto second = connect();
  ASSERT_NE(second, nullptr);
  std::atomic<int> queued{0}, duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    MailStore& store = i % 2 ? *mail_ : second->mail();
    threads.emplace_back([&store, &queued, &duplicates] {
      for (int k = 0; k < 10; ++k) {
        Status s = store.enqueue_mail(mail("key-" + std::to_string(k)));
        if (s)
          ++queued;
        else if (s.error().code == ErrorCode::kAlreadyExists)
          ++duplicates;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(queued.load(), 10);
  EXPECT_EQ(duplicates.load(), 70);
  EXPECT_EQ(mail_->mail_for("alice@example.com")->size(), 10u);
}

TEST_P(MailStoreTest, SentMailIsPurgedAfterTheRetentionPendingMailNever) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("sent"))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("pending"))));
  const auto all = mail_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(all));
  ASSERT_TRUE(Ok(mail_->mark_sent((*all)[0].id, kNow)));
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + kSentMailRetention - 1)));
  EXPECT_EQ(mail_->mail_for("alice@example.com")->size(), 2u);
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + kSentMailRetention)));
  const auto left = mail_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(left));
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].dedupe_key, "pending");
}

TEST_P(MailStoreTest, OutboxSummaryCountsMessagesByState) {
  auto empty = mail_->outbox_summary();
  ASSERT_TRUE(Ok(empty));
  EXPECT_EQ(empty->sent + empty->pending + empty->given_up, 0);
  EXPECT_EQ(empty->oldest_pending_created_at, 0);
  OutgoingMail older = mail("older");
  older.created_at = kNow - 50;
  ASSERT_TRUE(Ok(mail_->enqueue_mail(older)));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("pending"))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("sent"))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("given up"))));
  const auto all = mail_->mail_for("alice@example.com");
  ASSERT_TRUE(Ok(all));
  ASSERT_TRUE(Ok(mail_->mark_sent((*all)[2].id, kNow)));
  ASSERT_TRUE(Ok(mail_->mark_failed((*all)[3].id, kMailNever, "gave up")));
  ASSERT_TRUE(Ok(mail_->mark_failed((*all)[0].id, kNow + 60, "retry later")));
  auto summary = mail_->outbox_summary();
  ASSERT_TRUE(Ok(summary));
  EXPECT_EQ(summary->sent, 1);
  EXPECT_EQ(summary->pending, 2);  // a message waiting for its retry is pending
  EXPECT_EQ(summary->given_up, 1);
  EXPECT_EQ(summary->oldest_pending_created_at, kNow - 50);
  ASSERT_TRUE(Ok(store_->purge_expired(kNow + kSentMailRetention)));
  summary = mail_->outbox_summary();
  ASSERT_TRUE(Ok(summary));
  EXPECT_EQ(summary->sent, 0);
  EXPECT_EQ(summary->pending, 2);
  EXPECT_EQ(summary->given_up, 1);
}

TEST_P(MailStoreTest, AClaimTakesDueMailUntilItsLeaseRunsOut) {
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("b", "a@x", kNow - 10))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("later", "a@x", kNow + 1))));
  ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("a", "a@x", kNow - 20))));
  EXPECT_TRUE(Fails(mail_->claim_mail(kNow, 10, 0), ErrorCode::kInvalidArgument));
  auto claimed = mail_->claim_mail(kNow, 10, 300);
  ASSERT_TRUE(Ok(claimed));
  ASSERT_EQ(keys(*claimed), (std::vector<std::string>{"b", "a"}));  // by id
  EXPECT_EQ((*claimed)[0].next_attempt_at, kNow + 300);
  EXPECT_EQ((*claimed)[0].attempts, 0);
  // Held: another worker (another connection, another node) gets only what is left.
  auto other = connect();
  ASSERT_NE(other, nullptr);
  auto later = other->mail().claim_mail(kNow + 1, 10, 300);
  ASSERT_TRUE(Ok(later));
  EXPECT_EQ(keys(*later), (std::vector<std::string>{"later"}));
  ASSERT_TRUE(Ok(other->mail().mark_sent((*later)[0].id, kNow + 2)));
  EXPECT_TRUE(other->mail().claim_mail(kNow + 299, 10, 300)->empty());
  // The first worker finishes one and died with the other: that one is due again after
  // the lease, the finished one never.
  ASSERT_TRUE(Ok(mail_->mark_sent((*claimed)[0].id, kNow + 1)));
  auto again = other->mail().claim_mail(kNow + 300, 10, 300);
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(keys(*again), (std::vector<std::string>{"a"}));
  // mark_failed ends a claim with the retry time it sets.
  ASSERT_TRUE(Ok(other->mail().mark_failed((*again)[0].id, kNow + 310, "refused")));
  EXPECT_EQ(keys(*mail_->claim_mail(kNow + 310, 10, 300)), (std::vector<std::string>{"a"}));
}

TEST_P(MailStoreTest, ConcurrentClaimsThroughSeparateConnectionsNeverShareAMessage) {
  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE(Ok(mail_->enqueue_mail(mail("m" + std::to_string(i)))));
  const std::vector<int64_t> all = claim_from_connections(
      4, [](StoreConnection& c) { return c.mail().claim_mail(kNow, 3, 300); });
  EXPECT_EQ(all.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a message claimed twice";
}

STORE_CONFORMANCE_SUITE(MailStoreTest);

}  // namespace
}  // namespace keystep::storetest
