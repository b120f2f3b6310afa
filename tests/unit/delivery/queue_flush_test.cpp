// queue_flush_test.cpp - flush by the schedule index: a flush looks only at messages that
// are not held (and reads the record of only those it cannot judge from the index), the
// scheduler's loop reads only the messages it makes due, and the answer counts them as
// before (held, finished and in-flight messages are not counted).
#include "relay/delivery/queue_flush.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "queue/audit_chain.hpp"
#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery {
namespace {

using namespace std::chrono_literals;
using test::message;
using test::now_us;
using test::rcpt;

constexpr std::uint64_t kHeldFrom = 100, kHeldCount = 40;
constexpr std::uint64_t kDoneFrom = 200, kDoneCount = 40;
constexpr std::uint64_t kOtherFrom = 300, kOtherCount = 10;
constexpr std::uint64_t kTargetFrom = 400, kTargetCount = 3;
constexpr std::uint64_t kPolicyHeldOnly = 500;

class QueueFlushTest : public test::SchedulerFixture {
 protected:
  // A queue that is mostly held or finished messages, a few pending ones not due for an
  // hour, and one whose only open recipient is held by policy.
  void fill() {
    auto later = now_us() + 3'600'000'000LL;
    for (std::uint64_t i = 0; i < kHeldCount; ++i) {
      auto m = message(kHeldFrom + i, {rcpt("h@target.example")});
      m.envelope.held = true;
      insert(std::move(m));
    }
    for (std::uint64_t i = 0; i < kDoneCount; ++i) {
      auto m = message(kDoneFrom + i,
                       {rcpt("d@target.example", model::Policy::BES, model::RcptState::Delivered),
                        rcpt("f@target.example", model::Policy::BES, model::RcptState::Failed)});
      m.envelope.next_attempt_us = model::kNeverDue;
      insert(std::move(m));
    }
    for (std::uint64_t i = 0; i < kOtherCount; ++i) {
      auto m = message(kOtherFrom + i, {rcpt("o@other.example")});
      m.envelope.next_attempt_us = later;
      insert(std::move(m));
    }
    for (std::uint64_t i = 0; i < kTargetCount; ++i) {
      auto m = message(kTargetFrom + i, {rcpt("t@target.example"), rcpt("o@other.example")});
      m.envelope.next_attempt_us = later;
      insert(std::move(m));
    }
    auto m = message(kPolicyHeldOnly,
                     {rcpt("d@target.example", model::Policy::BES, model::RcptState::Delivered),
                      rcpt("p@target.example", model::Policy::HOLD, model::RcptState::Held)});
    m.envelope.next_attempt_us = model::kNeverDue;
    insert(std::move(m));
    store_->reset_counts();
  }

  std::size_t held_loads() const {
    std::size_t n = 0;
    for (std::uint64_t i = 0; i < kHeldCount; ++i) {
      n += store_->loads_of(model::QueueId{kHeldFrom + i});
    }
    return n;
  }

  Result<std::size_t, queue::Error> flush(const std::string& domain) {
    std::promise<Result<std::size_t, queue::Error>> p;
    auto f = p.get_future();
    scheduler_->flush_all(domain, [&](Result<std::size_t, queue::Error> n) { p.set_value(n); });
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  }
};

std::set<std::uint64_t> values(const std::vector<model::QueueId>& ids) {
  std::set<std::uint64_t> out;
  for (auto id : ids) out.insert(id.value);
  return out;
}

TEST_F(QueueFlushTest, CandidatesComeFromTheIndexWithoutReadingHeldOrPendingRecords) {
  fill();
  auto all = flush_candidates(*store_, "");
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::set<std::uint64_t> want;
  for (std::uint64_t i = 0; i < kOtherCount; ++i) want.insert(kOtherFrom + i);
  for (std::uint64_t i = 0; i < kTargetCount; ++i) want.insert(kTargetFrom + i);
  want.insert(kPolicyHeldOnly);
  EXPECT_EQ(values(*all), want);
  EXPECT_EQ(all->size(), want.size()) << "each once";
  EXPECT_EQ(held_loads(), 0u) << "a held message is not in the index";
  for (std::uint64_t i = 0; i < kOtherCount; ++i) {
    EXPECT_EQ(store_->loads_of(model::QueueId{kOtherFrom + i}), 0u)
        << "a pending entry needs no record to be flushed";
  }

  store_->reset_counts();
  auto target = flush_candidates(*store_, "target.example");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(values(*target),
            (std::set<std::uint64_t>{kTargetFrom, kTargetFrom + 1, kTargetFrom + 2}));
  EXPECT_EQ(held_loads(), 0u);
}

TEST_F(QueueFlushTest, TheLoopReadsOnlyWhatItMakesDueAndCountsAsBefore) {
  fill();
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->delivery.pause = true;  // nothing is handed out: every load is the flush's
  config_ = cfg;
  start();
  const auto self = std::this_thread::get_id();

  auto n = flush("target.example");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, kTargetCount);
  EXPECT_EQ(store_->loads_not_on(self), kTargetCount) << "the loop read only what it made due";
  EXPECT_EQ(held_loads(), 0u);
  for (std::uint64_t i = 0; i < kTargetCount; ++i) {
    EXPECT_EQ(load(kTargetFrom + i)->next_attempt_us, 0);
  }
  EXPECT_GT(load(kOtherFrom)->next_attempt_us, now_us()) << "another domain is not flushed";

  store_->reset_counts();
  n = flush("");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kOtherCount + kTargetCount + 1) << "pending ones, and the one held by policy";
  EXPECT_EQ(store_->loads_not_on(self), kOtherCount + kTargetCount + 1);
  EXPECT_EQ(held_loads(), 0u);
  EXPECT_EQ(load(kOtherFrom)->next_attempt_us, 0);
  EXPECT_EQ(load(kPolicyHeldOnly)->next_attempt_us, 0);
  EXPECT_EQ(load(kDoneFrom)->next_attempt_us, model::kNeverDue) << "nothing open: not flushed";
  EXPECT_TRUE(load(kHeldFrom)->held);

  n = flush("nowhere.example");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

// The flush is one "operator" record in the audit trail, written by the scheduler before the
// flush is answered - so it is there even when the admin API has stopped waiting - and none
// with the audit trail off.
TEST_F(QueueFlushTest, TheFlushIsOneAuditRecordWrittenBeforeItsAnswer) {
  fill();
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->delivery.pause = true;
  cfg->audit.enabled = true;
  config_ = cfg;
  start();
  auto records = [&] {
    auto links = store_->audit_links(0, 100);
    EXPECT_TRUE(links.ok());
    return links.ok() ? links->size() : 0u;
  };
  std::promise<std::pair<Result<std::size_t, queue::Error>, std::size_t>> p;
  auto f = p.get_future();
  scheduler_->flush_all("target.example",
                        [&](Result<std::size_t, queue::Error> n) { p.set_value({n, records()}); },
                        Operator{"alice", "127.0.0.1"});
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto [n, at_answer] = f.get();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, kTargetCount);
  ASSERT_EQ(at_answer, 1u) << "the record is stored before the answer";
  auto link = queue::audit::decode_link(store_->audit_links(0, 1)->front().stored);
  ASSERT_TRUE(link.ok()) << link.error();
  auto record = nlohmann::json::parse(link->payload);
  EXPECT_EQ(record["event"], "operator");
  EXPECT_EQ(record["action"], "flush");
  EXPECT_EQ(record["operator"], "alice");
  EXPECT_EQ(record["client"], "127.0.0.1");
  EXPECT_EQ(record["domain"], "target.example");
  EXPECT_EQ(record["messages"], kTargetCount);
  EXPECT_EQ(record["queue_id"], "");

  auto off = std::make_shared<config::Config>(*cfg);
  off->audit.enabled = false;
  scheduler_->reload(off);
  auto again = flush("target.example");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(records(), 1u) << "no record with the audit trail off";
}

TEST_F(QueueFlushTest, AMessageInFlightIsNotCounted) {
  insert(message(1, {rcpt("a@one.example")}));
  auto later = message(2, {rcpt("b@one.example")});
  later.envelope.next_attempt_us = now_us() + 3'600'000'000LL;
  insert(std::move(later));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  EXPECT_EQ(sink_.jobs()[0].id, model::QueueId{1});
  auto n = flush("");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u) << "message 1 is being delivered; message 2 is made due";
  ASSERT_TRUE(sink_.wait_for(2)) << "and handed out at once";
}

}  // namespace
}  // namespace secmx::delivery
