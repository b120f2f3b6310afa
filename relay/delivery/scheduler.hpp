// scheduler.hpp - picks due messages from the queue and hands them to delivery workers.
//
// Runs its own thread and libuv loop. It reads the queue's schedule index on from a due
// cursor, the last entry it handed out, in bounded batches (cost follows what became due,
// not the queue size nor the messages in flight; see scan() in scheduler.cpp), keeps every message it has handed out in an
// in-flight table so that no two workers ever hold the same message, splits each
// message's pending recipients into jobs (job_plan.hpp), and when all jobs of a message
// are back applies their outcomes (outcome_apply.hpp) and writes them, with the DSNs they
// call for (dsn/dsn_select.hpp), in one change through the group-commit writer. Only after
// that commit does the message leave the in-flight table, so a rescan can never see a
// stale envelope. Operator actions (operator_action.hpp, queue_flush.hpp) run on the same
// loop, so they never change a message under a worker. kick() (any thread) makes it look
// at once, e.g. when new mail was queued. stop(): no new work; waits for jobs out
// (bounded), then returns.
//
// Failure: every libuv callback of the loop, and every commit answer, enters through
// common::guard. An exception while handling one message is logged with its queue id and
// ends that round of the message cleanly: nothing of it is written, it stays queued as it
// was, and it is handed out again at its next retry time (not at once, so that a message
// that throws every time is not retried in a loop). The process and every other message
// go on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "relay/config/config.hpp"
#include "relay/delivery/job.hpp"
#include "relay/delivery/operator_action.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::delivery {

// Where jobs go: the worker pool. Called on the scheduler thread; must not block.
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void dispatch(Job job) = 0;
};

// Outcome counts are in metrics::RelayMetrics (counted where they happen, in the attempt).
struct SchedulerStats {
  std::uint64_t in_flight = 0;  // messages handed out and not yet written back
};

class Scheduler {
 public:
  // `ids`: the generator the SMTP server uses too; DSNs get their queue ids from it.
  // `metrics` (may be null; outlives the scheduler): what the scheduler counts itself,
  // the reports it holds (dsn_held).
  static std::unique_ptr<Scheduler> start(std::shared_ptr<const config::Config> config,
                                          queue::Store& store, queue::CommitWriter& writer,
                                          model::IdGenerator& ids, JobSink& sink,
                                          metrics::RelayMetrics* metrics = nullptr);
  virtual ~Scheduler() = default;
  virtual void kick() = 0;                          // thread-safe
  // SIGHUP: retry schedule, lifetimes, DSN options and pause from `config`, from the
  // next scan on; a reload that lifts `pause` starts delivery at once. Thread-safe.
  virtual void reload(std::shared_ptr<const config::Config> config) = 0;
  virtual void post_result(JobResult result) = 0;   // thread-safe (workers)
  virtual void stop() = 0;
  virtual SchedulerStats stats() const = 0;         // thread-safe
  // Operator actions (thread-safe; `done` is called on the scheduler or the writer thread).
  // A message being delivered is changed only after its outcome has been written.
  // `reason`: for Bounce, the words the DSN and the log give ("" for the default). `by`:
  // who asked, for the log and the audit trail (operator_action.hpp).
  virtual void control(QueueOp op, model::QueueId id, OpDone done, std::string reason = {},
                       Operator by = {}) = 0;
  // Make every message with a pending recipient (in `domain`, if given) due now; answers
  // how many were made due. Reads the schedule index (and, for a domain, the candidates'
  // records) on the calling thread - an admin thread, never a libuv loop - and leaves only
  // the writing to the scheduler's loop (queue_flush.hpp). `by`: who asked, for the log.
  using CountDone = std::function<void(Result<std::size_t, queue::Error>)>;
  virtual void flush_all(std::string domain, CountDone done, Operator by = {}) = 0;
};

}  // namespace secmx::delivery
