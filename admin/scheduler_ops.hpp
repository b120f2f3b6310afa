// scheduler_ops.hpp - QueueOps over the delivery scheduler: the admin API's queue
// mutations, made synchronous for the admin request threads.
//
// Each call posts the operation to the scheduler (Scheduler::control / flush_all, which
// run it on the scheduler thread, after the outcome of a delivery attempt in progress has
// been written) and waits for its answer, at most `timeout`. A call that times out
// answers Busy: the operation stays queued in the scheduler and still happens when the
// attempt in progress ends. Thread-safe; the Scheduler must outlive this object, and
// answers that arrive after a timeout only touch state shared with the scheduler.
#pragma once

#include <chrono>

#include "admin/queue_ops.hpp"
#include "relay/delivery/scheduler.hpp"

namespace secmx::admin {

class SchedulerQueueOps final : public QueueOps {
 public:
  explicit SchedulerQueueOps(delivery::Scheduler& scheduler,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : scheduler_(scheduler), timeout_(timeout) {}

  OpStatus hold(model::QueueId id, const Operator& by) override;
  OpStatus release(model::QueueId id, const Operator& by) override;
  OpStatus flush(model::QueueId id, const Operator& by) override;
  Result<std::size_t, OpError> flush_all(std::optional<std::string> domain,
                                         const Operator& by) override;
  OpStatus remove(model::QueueId id, const Operator& by) override;
  OpStatus bounce(model::QueueId id, std::string reason, const Operator& by) override;

 private:
  OpStatus control(delivery::QueueOp op, model::QueueId id, const Operator& by,
                   std::string reason = {});

  delivery::Scheduler& scheduler_;
  std::chrono::milliseconds timeout_;
};

// queue::Error from the scheduler -> the admin's error kinds (pure; tested).
OpError to_op_error(const queue::Error& e);

}  // namespace secmx::admin
