// audit_service.cpp - see audit_service.hpp.
#include "relay/audit/audit_service.hpp"

#include <pthread.h>

#include "queue/audit_chain.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"

namespace secmx::audit {

namespace {

// Between two prune batches: long enough for the writer to take the write lock.
constexpr auto kPruneYield = std::chrono::milliseconds(5);

}  // namespace

AuditService::AuditService(ServiceOptions options) : options_(std::move(options)) {
  if (options_.prune_batch == 0) options_.prune_batch = 1;
}

AuditService::~AuditService() { stop(); }

std::int64_t AuditService::now() const {
  return options_.now_us ? options_.now_us() : unix_now_us();
}

void AuditService::start() {
  thread_ = std::thread([this] { run(); });
}

void AuditService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  checkpoint();
}

bool AuditService::checkpoint() {
  auto made = options_.store->checkpoint_audit(options_.key, now());
  if (!made) {
    log::logger("audit")->error("event=audit-checkpoint-error error=\"{}\"",
                                made.error().message);
    return false;
  }
  if (!*made) return false;
  auto cp = queue::audit::decode_checkpoint((*made)->stored);
  std::int64_t at = cp ? cp->time_us : now();
  log::logger("audit")->info("event=audit-checkpoint seq={}", (*made)->seq);
  if (options_.on_checkpoint) options_.on_checkpoint(at);
  return true;
}

// Store::prune_audit cuts only at a checkpoint within the records it looks at: when the
// first batch holds none (more records between two checkpoints than a batch), the batch is
// stretched to reach the next checkpoint, if the record it covers is old enough to go.
std::size_t AuditService::stretch_to_checkpoint(std::int64_t before) {
  auto first = options_.store->audit_links(0, 1);
  if (!first || first->empty()) return 0;
  auto cp = options_.store->audit_checkpoints(first->front().seq + 1, 1);
  if (!cp || cp->empty()) return 0;
  auto covered = options_.store->audit_links(cp->front().seq, 1);
  if (!covered || covered->empty()) return 0;
  auto link = queue::audit::decode_link(covered->front().stored);
  if (!link || link->time_us >= before) return 0;
  auto n = options_.store->prune_audit(before, cp->front().seq - first->front().seq + 1);
  return n ? *n : 0;
}

std::size_t AuditService::prune() {
  const std::int64_t before = now() - options_.retention.count();
  std::size_t total = 0;
  for (;;) {
    auto n = options_.store->prune_audit(before, options_.prune_batch);
    if (!n) {
      log::logger("audit")->error("event=audit-prune-error error=\"{}\"", n.error().message);
      break;
    }
    std::size_t removed = *n > 0 ? *n : stretch_to_checkpoint(before);
    if (removed == 0) break;
    total += removed;
    if (options_.on_pruned) options_.on_pruned(removed);
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, kPruneYield, [this] { return stopping_; })) break;
  }
  if (total > 0) log::logger("audit")->info("event=audit-pruned records={}", total);
  return total;
}

void AuditService::run() {
  // Named so that its CPU can be read apart from the other threads (/proc/PID/task).
  pthread_setname_np(pthread_self(), "audit");
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, options_.checkpoint_interval, [this] { return stopping_; })) {
        return;
      }
    }
    checkpoint();
    prune();
  }
}

}  // namespace secmx::audit
