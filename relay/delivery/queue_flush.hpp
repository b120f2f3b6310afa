// queue_flush.hpp - flush of the whole queue or of one domain (admin API), by the schedule
// index rather than by reading every message.
//
// Why this shape: the store's schedule index already lists every message that is not
// held, by due time, so a flush never looks at a held message, and "flush all" needs no
// message record to find its candidates (an entry not at kNeverDue has a pending
// recipient; only the few at kNeverDue - nothing pending, perhaps a recipient held by
// policy - are read to see whether one is still open). A flush of one domain must read
// each candidate's recipients; an index by domain would have to be kept in step with
// every change of every message for an operator action that is rare, so instead
// flush_candidates() reads them on the caller's thread (an admin thread: LMDB readers
// run beside the writer and the scheduler, from a snapshot) and the scheduler's loop never
// walks the queue.
//
// The loop then only writes: FlushRun::step() takes the candidates in bounded batches
// (other work runs between batches; a batch is submitted only once the one before is
// written, so new mail never queues behind a whole flush in the commit writer, whose
// queue it shares), skips those in flight, loads each one afresh - the
// caller's read may be stale by then - and, if a flush still applies (flush_wanted), makes
// it due now through the commit writer. The answer is the number made due, given once
// every write is back, exactly as before: messages in flight, held or with nothing open
// are not counted; a write error other than "gone meanwhile" fails the answer.
//
// The audit trail's "operator" record of the flush (audit/operator_records.hpp: who, the
// domain, how many were made due) is submitted through the commit writer once every write is
// back, and the answer waits for it: the record exists whether or not the caller (the admin
// API, which waits 10 s) is still waiting, and is never written for a flush that failed.
//
// Thread affinity: flush_candidates() on any thread but a libuv loop's; a FlushRun lives
// on the scheduler's loop; its answer runs on the writer's thread (or on the loop when
// nothing was written).
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "queue/commit_writer.hpp"
#include "queue/store.hpp"
#include "relay/delivery/operator_action.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::delivery {

using FlushDone = std::function<void(Result<std::size_t, queue::Error>)>;

// The ids a flush of `domain` ("" = all) should look at, in due order, each once.
Result<std::vector<model::QueueId>, queue::Error> flush_candidates(queue::Store& store,
                                                                  const std::string& domain);

class FlushRun {
 public:
  // `done` is answered once. `written` (thread-safe, e.g. Scheduler::kick) runs each time a
  // batch is written: with candidates left, the owner calls step() again then; after the
  // last batch it runs after `done`. `by`: who asked, for the audit record.
  FlushRun(std::string domain, std::vector<model::QueueId> candidates, FlushDone done,
           std::function<void()> written, std::shared_ptr<spdlog::logger> log, Operator by = {});

  // Handles up to `batch` more candidates; `in_flight` says which messages a worker holds.
  // Does nothing while writes of the batch before are out (waiting()). Returns true once
  // every candidate is handled (the run is then over for the loop). `audit`: the audit
  // trail is on (config audit.enabled, read on the loop): the record is written.
  bool step(queue::Store& store, queue::CommitWriter& writer,
            const std::function<bool(model::QueueId)>& in_flight, std::size_t batch,
            bool audit = false);

  // Ends the run early (the relay stops, or step() threw): answers `error` unless the
  // answer was given already. Writes already submitted complete on their own.
  void abandon(queue::Error error);

  // Writes of the last batch are still out: step() would do nothing.
  bool waiting() const;

 private:
  struct Tally;  // shared with the commit answers

  std::vector<model::QueueId> candidates_;
  std::size_t next_ = 0;
  std::shared_ptr<Tally> tally_;
};

}  // namespace secmx::delivery
