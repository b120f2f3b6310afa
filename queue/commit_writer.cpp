// commit_writer.cpp - group commit of new messages and changes (contract in
// commit_writer.hpp).
//
// One writer thread owns every insert_batch call (so Store::synced_commits() counts its
// commits exactly); submitters only touch the pending
// vectors under mutex_. The pending vectors are swapped out whole so that submitters wait
// for the lock only as long as a push_back, and their capacity is reused batch after batch.
// A completion that throws is logged and does not take the writer down. If insert_batch
// itself throws (out of memory), every message of that batch fails with Io.
#include "queue/commit_writer.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "relay/common/log.hpp"

namespace secmx::queue {
namespace {

class CommitWriterImpl final : public CommitWriter {
 public:
  CommitWriterImpl(Store& store, Options options)
      : store_(store), options_(options), log_(log::logger("queue")) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    thread_ = std::thread([this] { run(); });
  }
  ~CommitWriterImpl() override { stop(); }

  void submit(NewMessage message, Done done) override {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        pending_.push_back(std::move(message));
        pending_done_.push_back(std::move(done));
        if (pending_.size() == 1 || pending_.size() >= options_.max_batch) wake_.notify_one();
        return;
      }
    }
    done(fail(Error{Error::Kind::Io, "shutting down"}));
  }

  void submit_change(Change change, Done done) override {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        pending_changes_.push_back(std::move(change));
        pending_change_done_.push_back(std::move(done));
        if (pending_.empty() && pending_changes_.size() == 1) wake_.notify_one();
        return;
      }
    }
    done(fail(Error{Error::Kind::Io, "shutting down"}));
  }

  void submit_audit(std::vector<AuditRecord> records, Done done) override {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        pending_audit_.push_back(std::move(records));
        pending_audit_done_.push_back(std::move(done));
        if (pending_.empty() && pending_changes_.empty() && pending_audit_.size() == 1) {
          wake_.notify_one();
        }
        return;
      }
    }
    done(fail(Error{Error::Kind::Io, "shutting down"}));
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    // A completion calling stop() cannot join its own thread; the loop ends by itself.
    if (std::this_thread::get_id() == writer_id_.load()) return;
    std::lock_guard join_lock(join_mutex_);
    if (thread_.joinable()) thread_.join();
  }

  CommitStats stats() const override {
    CommitStats s;
    s.batches = batches_.load(std::memory_order_relaxed);
    s.messages = messages_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    s.max_batch_seen = max_batch_seen_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // What a submitter is told, once it may be told.
  struct Answer {
    QueueId id;
    Done done;
    Status<Error> result;
    std::uint64_t mark = 0;  // Store::synced_commits() right after its commit
  };

  // Answers wait until their commit record is durable (store.hpp, sync()): until a later
  // commit has synced the file, or - when no other work is waiting to do it - an explicit
  // sync. Under load a later commit is that sync, so each batch costs one fdatasync; a
  // lone batch costs its commit's and the sync's, as LMDB's default would.
  //
  // Each round writes the new messages first, then one transaction of the oldest changes
  // taken (max_change_batch), then any standalone audit records. Changes not written yet
  // stay in `changes`, oldest first, and go before any submitted after them.
  void run() {
    // Named so that its CPU can be read apart from the other threads (/proc/PID/task).
    pthread_setname_np(pthread_self(), "queue-writer");
    writer_id_.store(std::this_thread::get_id());
    std::size_t change_batch = std::max<std::size_t>(
        1, std::min(options_.max_batch, options_.max_change_batch));
    std::vector<NewMessage> messages;
    std::vector<Done> dones;
    std::vector<Change> changes;
    std::vector<Done> change_dones;
    std::size_t change_next = 0;  // changes[change_next..] are taken and not yet written
    std::vector<std::vector<AuditRecord>> audits;
    std::vector<Done> audit_dones;
    std::vector<Answer> unsynced;  // committed, in commit order; not yet known durable
    for (;;) {
      bool work;
      {
        std::unique_lock lock(mutex_);
        auto has_work = [&] {
          return !pending_.empty() || change_next < changes.size() ||
                 !pending_changes_.empty() || !pending_audit_.empty();
        };
        if (unsynced.empty()) wake_.wait(lock, [&] { return has_work() || stopping_; });
        work = has_work();
        if (!work && unsynced.empty()) break;  // stopping, all done
        if (work && options_.commit_interval.count() > 0 &&
            pending_.size() < options_.max_batch && change_next == changes.size() &&
            !stopping_) {
          // Trade a little latency for fewer fsyncs when traffic is light (a backlog of
          // changes left from the last round is not light).
          wake_.wait_for(lock, options_.commit_interval,
                         [&] { return pending_.size() >= options_.max_batch || stopping_; });
        }
        messages.swap(pending_);
        dones.swap(pending_done_);
        if (change_next == changes.size()) {
          changes.clear();
          change_dones.clear();
          change_next = 0;
          changes.swap(pending_changes_);
          change_dones.swap(pending_change_done_);
        }
        audits.swap(pending_audit_);
        audit_dones.swap(pending_audit_done_);
      }
      if (!work) {
        // Nobody else will sync the file soon: do it, then answer.
        sync_and_answer(unsynced);
        continue;
      }
      // Each answer notes synced_commits() right after its own commit: it is durable once
      // the count has grown past that.
      auto stamp = [&](std::size_t from) {
        std::uint64_t mark = store_.synced_commits();
        for (std::size_t i = from; i < unsynced.size(); ++i) unsynced[i].mark = mark;
      };
      for (std::size_t first = 0; first < messages.size(); first += options_.max_batch) {
        std::size_t n = std::min(options_.max_batch, messages.size() - first);
        std::size_t from = unsynced.size();
        commit(std::span<NewMessage>(messages).subspan(first, n),
               std::span<Done>(dones).subspan(first, n), unsynced);
        stamp(from);
      }
      messages.clear();
      dones.clear();
      if (change_next < changes.size()) {
        std::size_t n = std::min(change_batch, changes.size() - change_next);
        std::size_t from = unsynced.size();
        apply(std::span<const Change>(changes).subspan(change_next, n),
              std::span<Done>(change_dones).subspan(change_next, n), unsynced);
        stamp(from);
        change_next += n;
      }
      if (!audits.empty()) {
        std::size_t from = unsynced.size();
        append(audits, audit_dones, unsynced);
        stamp(from);
      }
      audits.clear();
      audit_dones.clear();
      // Answer those whose commit a later commit of the file has synced since.
      std::uint64_t synced = store_.synced_commits();
      std::size_t durable = 0;
      while (durable < unsynced.size() && unsynced[durable].mark < synced) ++durable;
      answer(unsynced, durable);
    }
  }

  // Syncs the file, then answers everything committed so far (with the sync's error if
  // it failed: what was committed is then not known to be durable).
  void sync_and_answer(std::vector<Answer>& unsynced) {
    auto synced = store_.sync();
    if (!synced) {
      log_->error("queue sync failed: {}", synced.error().message);
      for (auto& a : unsynced) {
        if (a.result.ok()) a.result = fail(synced.error());
      }
    }
    answer(unsynced, unsynced.size());
  }

  // Runs the first `n` answers' completions and drops them.
  void answer(std::vector<Answer>& answers, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto& a = answers[i];
      if (!a.done) continue;
      try {
        a.done(std::move(a.result));
      } catch (const std::exception& e) {
        log_->error("{} completion threw: {}", a.id.to_string(), e.what());
      } catch (...) {
        log_->error("{} completion threw", a.id.to_string());
      }
    }
    answers.erase(answers.begin(), answers.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // One store write: its per-item results (all Io if it threw or miscounted), the time
  // it took, and the on_commit report every commit makes.
  template <class Write>
  std::vector<Status<Error>> write(const char* what, std::size_t n, Write&& call,
                                   std::chrono::microseconds& elapsed) {
    auto started = std::chrono::steady_clock::now();
    std::vector<Status<Error>> results;
    try {
      results = call();
    } catch (const std::exception& e) {
      log_->error("{} threw: {}", what, e.what());
    }
    if (results.size() != n) {
      results.assign(n, Status<Error>(fail(Error{Error::Kind::Io, "queue store failure"})));
    }
    elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    if (options_.on_commit) options_.on_commit(n, elapsed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    return results;
  }

  void commit(std::span<NewMessage> batch, std::span<Done> dones, std::vector<Answer>& out) {
    std::chrono::microseconds elapsed{};
    auto results = write("insert_batch", batch.size(),
                         [&] { return store_.insert_batch(batch); }, elapsed);

    std::uint64_t failed = 0;
    for (const auto& r : results) failed += r.ok() ? 0 : 1;
    messages_.fetch_add(batch.size(), std::memory_order_relaxed);
    failures_.fetch_add(failed, std::memory_order_relaxed);
    std::uint64_t seen = max_batch_seen_.load(std::memory_order_relaxed);
    while (batch.size() > seen && !max_batch_seen_.compare_exchange_weak(seen, batch.size())) {
    }
    log_->debug("commit batch n={} failed={} us={}", batch.size(), failed, elapsed.count());
    if (failed > 0) {
      // One line per batch: a full disk at thousands of messages a second must not also
      // flood the log. Each refused message is logged by its session with its reply.
      std::size_t first = 0;
      while (results[first].ok()) ++first;
      log_->warn("commit batch n={} failed={} first={} error=\"{}\"", batch.size(), failed,
                 batch[first].envelope.id.to_string(), results[first].error().message);
      for (std::size_t i = first; i < results.size(); ++i) {
        if (!results[i].ok()) {
          log_->debug("{} not queued: {}", batch[i].envelope.id.to_string(),
                      results[i].error().message);
        }
      }
    }
    if (options_.on_audit) {
      std::vector<AuditRecord> committed;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (results[i].ok()) committed.insert(committed.end(), batch[i].audit.begin(), batch[i].audit.end());
      }
      report_audit(committed);
    }
    for (std::size_t i = 0; i < dones.size(); ++i) {
      out.push_back(Answer{batch[i].envelope.id, std::move(dones[i]), std::move(results[i])});
    }
  }

  void apply(std::span<const Change> batch, std::span<Done> dones, std::vector<Answer>& out) {
    std::chrono::microseconds elapsed{};
    auto results = write("apply_batch", batch.size(),
                         [&] { return store_.apply_batch(batch); }, elapsed);
    std::uint64_t queued = 0;  // DSNs queued with their outcomes are messages too
    std::vector<AuditRecord> committed;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!results[i].ok()) continue;
      queued += batch[i].inserts.size();
      if (!options_.on_audit) continue;
      // The chain's order within one transaction: the records of the messages a change
      // inserts, then the change's own (lmdb_store.cpp apply_in).
      for (const auto& m : batch[i].inserts) {
        committed.insert(committed.end(), m.audit.begin(), m.audit.end());
      }
      committed.insert(committed.end(), batch[i].audit.begin(), batch[i].audit.end());
    }
    messages_.fetch_add(queued, std::memory_order_relaxed);
    report_audit(committed);
    for (std::size_t i = 0; i < dones.size(); ++i) {
      if (!results[i].ok()) {
        log_->warn("{} change not stored: {}", batch[i].envelope.id.to_string(),
                   results[i].error().message);
      }
      out.push_back(Answer{batch[i].envelope.id, std::move(dones[i]), std::move(results[i])});
    }
  }

  // Standalone audit records, every submission in one transaction; when that cannot
  // commit, each submission on its own, so that one bad record refuses only its own.
  void append(std::vector<std::vector<AuditRecord>>& audits, std::span<Done> dones,
              std::vector<Answer>& out) {
    std::vector<AuditRecord> all;
    for (const auto& a : audits) all.insert(all.end(), a.begin(), a.end());
    std::chrono::microseconds elapsed{};
    auto together = write("append_audit", 1, [&] {
      return std::vector<Status<Error>>{store_.append_audit(all)};
    }, elapsed);
    std::vector<Status<Error>> results;
    if (together[0].ok()) {
      results.assign(audits.size(), Status<Error>(Ok{}));
      report_audit(all);
    } else {
      for (const auto& a : audits) {
        auto one = write("append_audit", 1, [&] {
          return std::vector<Status<Error>>{store_.append_audit(a)};
        }, elapsed);
        if (one[0].ok()) {
          report_audit(a);
        } else {
          log_->warn("audit records not stored: {}", one[0].error().message);
        }
        results.push_back(std::move(one[0]));
      }
    }
    for (std::size_t i = 0; i < dones.size(); ++i) {
      out.push_back(Answer{QueueId{}, std::move(dones[i]), std::move(results[i])});
    }
  }

  void report_audit(std::span<const AuditRecord> records) {
    if (!options_.on_audit || records.empty()) return;
    try {
      options_.on_audit(records);
    } catch (const std::exception& e) {
      log_->error("audit observer threw: {}", e.what());
    }
  }

  Store& store_;
  Options options_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<NewMessage> pending_;
  std::vector<Done> pending_done_;
  std::vector<Change> pending_changes_;
  std::vector<Done> pending_change_done_;
  std::vector<std::vector<AuditRecord>> pending_audit_;
  std::vector<Done> pending_audit_done_;
  bool stopping_ = false;

  std::mutex join_mutex_;
  std::thread thread_;
  std::atomic<std::thread::id> writer_id_{};

  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> max_batch_seen_{0};
};

}  // namespace

std::unique_ptr<CommitWriter> CommitWriter::start(Store& store, Options options) {
  return std::make_unique<CommitWriterImpl>(store, options);
}

}  // namespace secmx::queue
