// scheduler_ops_test.cpp - the synchronous QueueOps adapter over a fake scheduler that
// answers at once, late, or with errors.
#include "admin/scheduler_ops.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace secmx::admin {
namespace {

using delivery::QueueOp;

class FakeScheduler : public delivery::Scheduler {
 public:
  std::optional<queue::Error> error;       // answer with this instead of Ok
  bool answer_late = false;                // answer from another thread after 300 ms
  std::vector<std::thread> late;
  QueueOp last_op{};
  std::string last_reason, last_domain, last_by;

  ~FakeScheduler() override {
    for (auto& t : late) t.join();
  }
  void kick() override {}
  void reload(std::shared_ptr<const config::Config>) override {}
  void post_result(delivery::JobResult) override {}
  void stop() override {}
  delivery::SchedulerStats stats() const override { return {}; }
  void control(QueueOp op, model::QueueId, delivery::OpDone done, std::string reason,
               delivery::Operator by) override {
    last_op = op;
    last_by = by.name + "@" + by.client;
    last_reason = reason;
    Status<queue::Error> st = error ? Status<queue::Error>(fail(*error)) : Status<queue::Error>(Ok{});
    if (answer_late) {
      late.emplace_back([done, st] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        done(st);
      });
    } else {
      done(st);
    }
  }
  void flush_all(std::string domain, CountDone done, delivery::Operator by) override {
    last_domain = domain;
    last_by = by.name + "@" + by.client;
    done(std::size_t{5});
  }
};

const Operator kBy{"alice", "127.0.0.1"};

TEST(SchedulerOps, ForwardsOperations) {
  FakeScheduler s;
  SchedulerQueueOps ops(s);
  model::QueueId id{42};
  EXPECT_TRUE(ops.hold(id, kBy).ok());
  EXPECT_EQ(s.last_op, QueueOp::Hold);
  EXPECT_TRUE(ops.release(id, kBy).ok());
  EXPECT_EQ(s.last_op, QueueOp::Release);
  EXPECT_TRUE(ops.remove(id, kBy).ok());
  EXPECT_EQ(s.last_op, QueueOp::Remove);
  EXPECT_TRUE(ops.bounce(id, "why", kBy).ok());
  EXPECT_EQ(s.last_op, QueueOp::Bounce);
  EXPECT_EQ(s.last_reason, "why");
  EXPECT_EQ(s.last_by, "alice@127.0.0.1");
  auto n = ops.flush_all("d.example", Operator{"bob", "::1"});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(s.last_domain, "d.example");
  EXPECT_EQ(s.last_by, "bob@::1");
  ASSERT_TRUE(ops.flush_all(std::nullopt, kBy).ok());
  EXPECT_EQ(s.last_domain, "");
}

TEST(SchedulerOps, MapsErrors) {
  FakeScheduler s;
  SchedulerQueueOps ops(s);
  s.error = queue::Error{queue::Error::Kind::NotFound, "no such message"};
  auto st = ops.flush(model::QueueId{1}, kBy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, OpError::Kind::NotFound);
  s.error = queue::Error{queue::Error::Kind::Invalid, "nothing to release"};
  st = ops.release(model::QueueId{1}, kBy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, OpError::Kind::Conflict);
  EXPECT_EQ(st.error().message, "nothing to release");
  s.error = queue::Error{queue::Error::Kind::Io, "disk"};
  EXPECT_EQ(ops.hold(model::QueueId{1}, kBy).error().kind, OpError::Kind::Error);
}

TEST(SchedulerOps, SlowAnswerIsBusyAndTheLateAnswerIsHarmless) {
  FakeScheduler s;
  s.answer_late = true;
  SchedulerQueueOps ops(s, std::chrono::milliseconds(50));
  auto st = ops.hold(model::QueueId{1}, kBy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, OpError::Kind::Busy);
  // The fake's destructor joins the late answer: it must find its promise still alive.
}

}  // namespace
}  // namespace secmx::admin
