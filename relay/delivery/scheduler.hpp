// scheduler.hpp - picks due messages from the queue and hands them to delivery workers.
//
// Runs its own thread and libuv loop. It reads the queue's schedule index (cost follows
// what is due, not the queue size), keeps every message it has handed out in an
// in-flight table so that no two workers ever hold the same message, splits each
// message's pending recipients into jobs per (domain, policy, TLS level), and when all
// jobs of a message are back writes the outcomes, with the DSNs they call for
// (dsn/dsn_select.hpp), in one change through the group-commit writer. Only after that
// commit does the message leave the in-flight table, so a rescan can never see a stale
// envelope. kick() (any thread) makes it look at once, e.g. when
// new mail was queued. stop(): no new work; waits for jobs out (bounded), then returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "relay/config/config.hpp"
#include "relay/delivery/job.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::delivery {

// Where jobs go: the worker pool. Called on the scheduler thread; must not block.
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void dispatch(Job job) = 0;
};

// Operator actions on one message (admin API). They run on the scheduler thread; a
// message being delivered is changed only after its outcome has been written.
enum class QueueOp { Hold, Release, Remove, Flush, Bounce };
const char* to_string(QueueOp op);
using OpDone = std::function<void(Status<queue::Error>)>;

// Outcome counts are in metrics::RelayMetrics (counted where they happen, in the attempt).
struct SchedulerStats {
  std::uint64_t in_flight = 0;  // messages handed out and not yet written back
};

class Scheduler {
 public:
  // `ids`: the generator the SMTP server uses too; DSNs get their queue ids from it.
  static std::unique_ptr<Scheduler> start(std::shared_ptr<const config::Config> config,
                                          queue::Store& store, queue::CommitWriter& writer,
                                          model::IdGenerator& ids, JobSink& sink);
  virtual ~Scheduler() = default;
  virtual void kick() = 0;                          // thread-safe
  // SIGHUP: retry schedule, lifetimes, DSN options and pause from `config`, from the
  // next scan on; a reload that lifts `pause` starts delivery at once. Thread-safe.
  virtual void reload(std::shared_ptr<const config::Config> config) = 0;
  virtual void post_result(JobResult result) = 0;   // thread-safe (workers)
  virtual void stop() = 0;
  virtual SchedulerStats stats() const = 0;         // thread-safe
  // Operator actions (thread-safe; `done` is called on the scheduler thread).
  // `reason`: for Bounce, the words the DSN and the log give ("" for the default).
  virtual void control(QueueOp op, model::QueueId id, OpDone done, std::string reason = {}) = 0;
  // Make every message with a pending recipient (in `domain`, if given) due now; answers
  // how many were made due.
  using CountDone = std::function<void(Result<std::size_t, queue::Error>)>;
  virtual void flush_all(std::string domain, CountDone done) = 0;
};

// What an operator action does to a stored envelope (pure; Remove is not one of these).
// Returns false when the action does not apply (e.g. release of a message not held).
bool apply_op(QueueOp op, model::Envelope& envelope, std::int64_t now_us,
              const std::string& reason = {});

// Pure helpers, tested on their own.
struct JobPlan {
  std::vector<Job> jobs;
  bool nothing_pending = false;  // every recipient is final or held
};
JobPlan plan_jobs(const std::shared_ptr<const model::Envelope>& envelope,
                  const std::shared_ptr<const std::string>& body, std::int64_t now_us,
                  std::chrono::milliseconds sos_lifetime);

// Apply a worker's outcomes to the envelope: recipient states, attempts, last status.
void apply_outcomes(model::Envelope& envelope, const JobResult& result, std::int64_t now_us);

// After all jobs: next attempt time for the deferred recipients (or "never" when none).
void schedule_next(model::Envelope& envelope, std::int64_t now_us,
                   const std::vector<std::chrono::milliseconds>& retry);

}  // namespace secmx::delivery
