// commit_writer.hpp - group commit: one writer thread, one fsync per batch.
//
// Sessions on any thread submit() a message with a completion; the writer thread takes
// everything pending (up to max_batch, optionally waiting commit_interval for more),
// writes it with Store::insert_batch in one transaction, and once that transaction is
// durable (a later commit or a sync, see Store::sync()) runs each completion with that
// message's own outcome. New mail goes first: each round writes every new message
// pending, then at most max_change_batch changes (the rest wait, in order, for the next
// rounds), so however large the write-back (a flush of 100,000 outcomes) a message waits
// behind at most two bounded change transactions - the one being written when it came, and
// the one after it whose commit makes it durable. A completion runs ON THE WRITER THREAD and must only
// hand the result back to its owner (e.g. push to a queue and uv_async_send); it must not
// block. stop() drains what was submitted before it, then joins; submit() after stop()
// completes at once with Error{Io, "shutting down"}. The Store must outlive the writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "queue/store.hpp"

namespace secmx::queue {

struct CommitStats {
  std::uint64_t batches = 0;
  std::uint64_t messages = 0;
  std::uint64_t failures = 0;
  std::uint64_t max_batch_seen = 0;
};

class CommitWriter {
 public:
  using Done = std::function<void(Status<Error>)>;

  struct Options {
    std::size_t max_batch = 512;
    std::chrono::microseconds commit_interval{0};
    // After each commit (new messages or changes), on the writer thread (metrics): its
    // size and the time the write took. Must be cheap and must not throw.
    std::function<void(std::size_t batch, std::chrono::microseconds elapsed)> on_commit;
    // After each commit that appended audit records (with new messages, with changes, or
    // alone), on the writer thread, with the records that committed, in chain order: the
    // stream copy and the metrics. Must not block for long and must not throw.
    std::function<void(std::span<const AuditRecord> records)> on_audit;
    // Changes (submit_change) per transaction, at most (and at most max_batch): what new
    // mail waits for, twice (see above). Small: a transaction of 64 changes (a flush's
    // write-back) put the p99 of accepts during a flush at about twice that of before, one of
    // 16 at 1.5-1.8 times (docs/benchmarks.md); under load each costs about one fdatasync,
    // and 16 per round still outpaces any delivery rate of this relay.
    std::size_t max_change_batch = 16;
  };

  static std::unique_ptr<CommitWriter> start(Store& store, Options options);
  virtual ~CommitWriter() = default;

  virtual void submit(NewMessage message, Done done) = 0;  // thread-safe
  // A change to a stored message (delivery outcomes, hold, delete), batched with other
  // changes into one transaction (Store::apply_batch); same completion rules as submit().
  virtual void submit_change(Change change, Done done) = 0;  // thread-safe
  // Audit records of an event that changes no message (a policy REJECT at the end of
  // DATA), appended with Store::append_audit in the writer's next round; same completion
  // rules as submit().
  virtual void submit_audit(std::vector<AuditRecord> records, Done done) = 0;  // thread-safe
  virtual void stop() = 0;                                 // idempotent
  virtual CommitStats stats() const = 0;                   // thread-safe snapshot
};

}  // namespace secmx::queue
