// scheduler_cursor_test.cpp - the scheduler's due cursor: a wake reads the schedule index
// after the last entry it handed out, in bounded batches, so its cost does not grow with
// a deferred backlog or with the messages in flight; what lands before the cursor (new
// mail, a flush) is still picked up at once; a flush of a domain is written in batches.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "relay/delivery/scheduler.hpp"
#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery {
namespace {

using namespace std::chrono_literals;
using test::answer;
using test::eventually;
using test::message;
using test::now_us;
using test::rcpt;

constexpr std::size_t kScanBatch = 256;    // scheduler.cpp
constexpr std::size_t kMaxInFlight = 2000;  // scheduler.cpp

class SchedulerCursorTest : public test::SchedulerFixture {
 protected:
  // Messages [first, first + n) to `domain`, due at `due_us`, inserted in large batches.
  void fill(std::uint64_t first, std::size_t n, const std::string& domain, std::int64_t due_us) {
    std::vector<queue::NewMessage> batch;
    auto flush = [&] {
      auto st = store_->insert_batch(batch);
      for (const auto& s : st) ASSERT_TRUE(s.ok());
      batch.clear();
    };
    for (std::size_t i = 0; i < n; ++i) {
      auto m = message(first + i, {rcpt("r@" + domain)});
      m.envelope.next_attempt_us = due_us;
      batch.push_back(std::move(m));
      if (batch.size() == 1000) flush();
    }
    if (!batch.empty()) flush();
  }

  Result<std::size_t, queue::Error> flush(const std::string& domain) {
    std::promise<Result<std::size_t, queue::Error>> p;
    auto f = p.get_future();
    scheduler_->flush_all(domain, [&](Result<std::size_t, queue::Error> n) { p.set_value(n); });
    EXPECT_EQ(f.wait_for(30s), std::future_status::ready);
    return f.get();
  }

  std::int64_t in_an_hour() const { return now_us() + 3'600'000'000LL; }
};

// A backlog that came due all at once (the partner is back): each read is one bounded
// batch, and handing out the backlog reads each entry about once, not once per wake.
TEST_F(SchedulerCursorTest, ABacklogThatCameDueIsReadInBoundedBatchesEachEntryOnce) {
  constexpr std::size_t kBacklog = 3000;
  fill(1, kBacklog, "back.example", now_us() - 1'000'000);
  store_->reset_counts();
  start();
  ASSERT_TRUE(sink_.wait_for(kMaxInFlight, 10s));
  EXPECT_LE(store_->max_index_call(), kScanBatch) << "one wake reads one bounded batch";
  ASSERT_TRUE(eventually([&] { return scheduler_->stats().in_flight == kMaxInFlight; }));
  // Capacity frees up as outcomes are written: the rest is handed out, never a message
  // twice, and what is in flight is not read again.
  for (const auto& job : sink_.jobs()) {
    scheduler_->post_result(answer(job, RcptVerdict::Deferred, "4.4.1"));
  }
  ASSERT_TRUE(sink_.wait_for(kBacklog, 10s));
  std::set<std::uint64_t> ids;
  for (const auto& job : sink_.jobs()) ids.insert(job.id.value);
  EXPECT_EQ(ids.size(), kBacklog) << "each message handed out once";
  EXPECT_LE(store_->index_reads(), kBacklog + 16)
      << "each index entry read about once, however many wakes it took";
}

// Messages in flight are still due in the index; a wake for a written outcome or the
// timer reads none of them again.
TEST_F(SchedulerCursorTest, MessagesInFlightAreNotReadAgain) {
  constexpr std::size_t kOut = 1000;
  fill(1, kOut, "slow.example", 0);
  fill(100'000, 20'000, "down.example", in_an_hour());  // a partner down
  start();
  ASSERT_TRUE(sink_.wait_for(kOut, 10s));
  auto jobs = sink_.jobs();
  store_->reset_counts();
  // Ten outcomes come back, one by one: each written outcome wakes a scan.
  for (std::size_t i = 0; i < 10; ++i) {
    scheduler_->post_result(answer(jobs[i], RcptVerdict::Deferred, "4.4.1"));
    ASSERT_TRUE(eventually([&] { return scheduler_->stats().in_flight == kOut - i - 1; }));
  }
  std::this_thread::sleep_for(1200ms);  // at least one timer tick too
  EXPECT_LE(store_->index_reads(), 4u)
      << "in-flight and deferred entries are before and after the cursor: none is read";
  EXPECT_FALSE(sink_.wait_for(kOut + 1, 10ms)) << "nothing handed out twice";
}

// New mail sorts before the cursor (due at once, time 0): the kick that announces it
// rewinds, and it goes out at once beside a large deferred backlog, reading no more than
// the messages due now.
TEST_F(SchedulerCursorTest, NewMailGoesOutAtOnceBesideALargeDeferredBacklog) {
  fill(1, 50'000, "down.example", in_an_hour());
  fill(60'000, 5, "late.example", now_us() - 1);  // retries due now: the cursor moves past 0
  start();
  ASSERT_TRUE(sink_.wait_for(5));
  store_->reset_counts();
  std::promise<bool> queued;
  writer_->submit(message(70'000, {rcpt("a@healthy.example")}),
                  [&](Status<queue::Error> st) { queued.set_value(st.ok()); });
  ASSERT_TRUE(queued.get_future().get());
  scheduler_->kick();  // as the SMTP server does once the message is queued
  ASSERT_TRUE(sink_.wait_for(6, 2s)) << "handed out at once, not at the next retry time";
  EXPECT_EQ(sink_.jobs().back().id, model::QueueId{70'000});
  EXPECT_LE(store_->index_reads(), 5u + 1u + 4u)
      << "the rescan reads what is due now, never the 50,000 deferred";
}

// A kick rewinds the cursor to the first due entry; with nearly every slot taken (a flush
// in progress) the rescan passes over the messages in flight in full batches, not a free
// slot's worth per wake, and still reaches what is due behind them.
TEST_F(SchedulerCursorTest, ARewindPassesMessagesInFlightInFullBatches) {
  constexpr std::size_t kOut = kMaxInFlight - 10;
  fill(1, kOut, "flushed.example", now_us() - 1'000'000);
  start();
  ASSERT_TRUE(sink_.wait_for(kOut, 10s));
  ASSERT_TRUE(eventually([&] { return scheduler_->stats().in_flight == kOut; }));
  store_->reset_counts();
  fill(5'000, 1, "late.example", now_us() - 1);  // due behind every message in flight
  scheduler_->kick();
  ASSERT_TRUE(sink_.wait_for(kOut + 1, 10s)) << "what is due behind them is reached";
  EXPECT_EQ(sink_.jobs().back().id, model::QueueId{5'000});
  EXPECT_LE(store_->index_calls(), kOut / kScanBatch + 3)
      << "the in-flight entries are passed " << kScanBatch << " at a time";
  EXPECT_FALSE(sink_.wait_for(kOut + 2, 10ms)) << "nothing handed out twice";
}

// A flush of a domain with many messages: written in batches of at most kFlushBatch, one
// batch in the writer at a time, every message made due and handed out.
TEST_F(SchedulerCursorTest, FlushOfADomainIsWrittenInBatches) {
  constexpr std::size_t kDomain = 3000;
  fill(1, kDomain, "down.example", in_an_hour());
  fill(10'000, 500, "other.example", in_an_hour());
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->delivery.pause = true;  // nothing is handed out: every change written is the flush's
  config_ = cfg;
  start();
  store_->reset_counts();
  auto n = flush("down.example");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, kDomain);
  EXPECT_LE(store_->max_change_batch(), 256u) << "one bounded batch per transaction";
  EXPECT_EQ(load(1)->next_attempt_us, 0);
  EXPECT_EQ(load(kDomain)->next_attempt_us, 0);
  EXPECT_GT(load(10'000)->next_attempt_us, now_us()) << "another domain is not flushed";
}

// Flushed messages sort before the cursor; they go out as the flush writes them.
TEST_F(SchedulerCursorTest, FlushedMessagesGoOutAtOnce) {
  fill(1, 600, "down.example", in_an_hour());
  fill(1000, 3, "late.example", now_us() - 1);
  start();
  ASSERT_TRUE(sink_.wait_for(3));
  auto n = flush("down.example");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 600u);
  ASSERT_TRUE(sink_.wait_for(603, 10s));
}

}  // namespace
}  // namespace secmx::delivery
