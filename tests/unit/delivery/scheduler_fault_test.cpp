// scheduler_fault_test.cpp - the exception rule at the scheduler's callback boundaries: a
// throw while handling one message's result (injected through SECMX_TEST_INJECT_THROW) is
// caught, that message stays queued as it was and is delivered in a later round, and every
// other message goes on. ctest runs each test in its own process, so the variable set here
// is the one the injection point reads first.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery {
namespace {

using namespace std::chrono_literals;
using test::answer;
using test::eventually;
using test::message;
using test::rcpt;

using SchedulerFaultTest = test::SchedulerFixture;

TEST_F(SchedulerFaultTest, AThrowOnAResultLeavesTheMessageQueuedForTheNextRound) {
  ASSERT_EQ(setenv("SECMX_TEST_INJECT_THROW", "scheduler.result:1", 1), 0);
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->delivery.retry = {std::chrono::seconds(1)};
  config_ = cfg;
  insert(message(1, {rcpt("a@one.example")}));
  insert(message(2, {rcpt("b@two.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(2));
  auto jobs = sink_.jobs();
  const Job& first = jobs[0].id == model::QueueId{1} ? jobs[0] : jobs[1];
  const Job& second = jobs[0].id == model::QueueId{1} ? jobs[1] : jobs[0];

  // The first result handled throws: message 1's round ends without writing anything.
  auto thrown_at = std::chrono::steady_clock::now();
  scheduler_->post_result(answer(first, RcptVerdict::Delivered, "2.0.0"));
  ASSERT_TRUE(eventually([&] { return scheduler_->stats().in_flight == 1; }));
  auto kept = load(1);
  ASSERT_TRUE(kept.has_value()) << "the message stays queued";
  EXPECT_EQ(kept->attempts, 0u);
  EXPECT_EQ(kept->recipients[0].state, model::RcptState::Pending);

  // The scheduler goes on: message 2's result is written as usual.
  scheduler_->post_result(answer(second, RcptVerdict::Delivered, "2.0.0"));
  ASSERT_TRUE(eventually([&] { return !load(2).has_value(); }));

  // Message 1 is handed out again at its next retry time (1 s here), in a new round - not at
  // once. Timed from the throw, not from here: on a loaded machine the steps above can take
  // longer than the retry time.
  ASSERT_TRUE(sink_.wait_for(3, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - thrown_at, 900ms) << "not at once";
  auto again = sink_.jobs()[2];
  EXPECT_EQ(again.id, model::QueueId{1});
  EXPECT_NE(again.generation, first.generation);
  scheduler_->post_result(answer(again, RcptVerdict::Delivered, "2.0.0"));
  ASSERT_TRUE(eventually([&] { return !load(1).has_value(); })) << "delivered on the next round";
  EXPECT_TRUE(eventually([&] { return scheduler_->stats().in_flight == 0; }));
}

}  // namespace
}  // namespace secmx::delivery
