// scheduler_ops.cpp - synchronous QueueOps over the scheduler's asynchronous control().
#include "admin/scheduler_ops.hpp"

#include <future>
#include <memory>

namespace secmx::admin {

namespace {

delivery::Operator to_delivery(const Operator& by) { return {by.name, by.client}; }

OpError timed_out(std::chrono::milliseconds timeout) {
  return OpError{OpError::Kind::Busy,
                 "no answer within " + std::to_string(timeout.count() / 1000) +
                     " s: the message is in a delivery attempt; the operation is queued and "
                     "applies when the attempt ends"};
}

}  // namespace

OpError to_op_error(const queue::Error& e) {
  switch (e.kind) {
    case queue::Error::Kind::NotFound: return OpError{OpError::Kind::NotFound, "no such message in the queue"};
    case queue::Error::Kind::Invalid: return OpError{OpError::Kind::Conflict, e.message};
    default: return OpError{OpError::Kind::Error, e.message};
  }
}

OpStatus SchedulerQueueOps::control(delivery::QueueOp op, model::QueueId id, const Operator& by,
                                    std::string reason) {
  // Shared with the scheduler's callback, which may run after we stopped waiting.
  auto promise = std::make_shared<std::promise<Status<queue::Error>>>();
  auto answer = promise->get_future();
  scheduler_.control(
      op, id, [promise](Status<queue::Error> st) { promise->set_value(std::move(st)); },
      std::move(reason), to_delivery(by));
  if (answer.wait_for(timeout_) != std::future_status::ready) return fail(timed_out(timeout_));
  auto st = answer.get();
  if (!st) return fail(to_op_error(st.error()));
  return Ok{};
}

OpStatus SchedulerQueueOps::hold(model::QueueId id, const Operator& by) {
  return control(delivery::QueueOp::Hold, id, by);
}
OpStatus SchedulerQueueOps::release(model::QueueId id, const Operator& by) {
  return control(delivery::QueueOp::Release, id, by);
}
OpStatus SchedulerQueueOps::flush(model::QueueId id, const Operator& by) {
  return control(delivery::QueueOp::Flush, id, by);
}
OpStatus SchedulerQueueOps::remove(model::QueueId id, const Operator& by) {
  return control(delivery::QueueOp::Remove, id, by);
}
OpStatus SchedulerQueueOps::bounce(model::QueueId id, std::string reason, const Operator& by) {
  return control(delivery::QueueOp::Bounce, id, by, std::move(reason));
}

Result<std::size_t, OpError> SchedulerQueueOps::flush_all(std::optional<std::string> domain,
                                                          const Operator& by) {
  auto promise = std::make_shared<std::promise<Result<std::size_t, queue::Error>>>();
  auto answer = promise->get_future();
  scheduler_.flush_all(domain.value_or(std::string()),
                       [promise](Result<std::size_t, queue::Error> n) { promise->set_value(std::move(n)); },
                       to_delivery(by));
  if (answer.wait_for(timeout_) != std::future_status::ready) return fail(timed_out(timeout_));
  auto n = answer.get();
  if (!n) return fail(to_op_error(n.error()));
  return *n;
}

}  // namespace secmx::admin
