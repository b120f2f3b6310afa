// audit_service.hpp - the audit trail's background work: a keyed checkpoint of the chain's
// head every audit.checkpoint_interval and one at stop(), and pruning of records older
// than audit.retention in bounded batches (a batch is prune_batch records, or - when more
// records than that lie between two checkpoints - up to the next checkpoint).
//
// Runs on its own thread, never on an SMTP loop or the commit writer: each checkpoint and
// each prune batch is one short LMDB write transaction (Store::checkpoint_audit,
// Store::prune_audit), and the thread yields between batches so that the writer's group
// commits go on between them - pruning a large backlog never stalls acceptance. Errors are
// logged and tried again at the next round. start() and stop() from one thread; the
// observers run on the service's thread and must be cheap.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "queue/store.hpp"

namespace secmx::audit {

struct ServiceOptions {
  queue::Store* store = nullptr;
  std::string key;  // audit_key.hpp
  std::chrono::milliseconds checkpoint_interval{std::chrono::minutes(5)};
  std::chrono::microseconds retention{std::chrono::hours(24 * 400)};
  std::size_t prune_batch = 1000;  // records per transaction
  std::function<std::int64_t()> now_us;  // the clock; unset: the system clock
  std::function<void(std::int64_t time_us)> on_checkpoint;  // a checkpoint was written
  std::function<void(std::size_t n)> on_pruned;             // a batch of n records went
};

class AuditService {
 public:
  explicit AuditService(ServiceOptions options);
  ~AuditService();  // stop()
  AuditService(const AuditService&) = delete;
  AuditService& operator=(const AuditService&) = delete;

  void start();
  // Ends the thread, then writes the shutdown checkpoint (after the commit writer has
  // drained, so that it covers every record). Idempotent.
  void stop();

  // One round's two halves, on the calling thread (the thread calls them; tests too).
  // checkpoint(): true when a checkpoint was written (false: nothing new to cover, or an
  // error, logged). prune(): records removed, batch after batch until none can go (or
  // stop() is called).
  bool checkpoint();
  std::size_t prune();

 private:
  void run();
  std::int64_t now() const;
  std::size_t stretch_to_checkpoint(std::int64_t before);

  ServiceOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace secmx::audit
