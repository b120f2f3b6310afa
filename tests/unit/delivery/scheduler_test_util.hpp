// scheduler_test_util.hpp - what the scheduler's tests share: messages, a job sink that
// records what it is given, a store that counts its reads, and a fixture with a real LMDB
// store and commit writer.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "relay/delivery/scheduler.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::delivery::test {

using namespace std::chrono_literals;

inline std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline model::Recipient rcpt(const std::string& addr, model::Policy p = model::Policy::BES,
                             model::RcptState st = model::RcptState::Pending) {
  model::Recipient r;
  r.address = addr;
  r.policy = p;
  r.state = st;
  r.policy_reason = "default";
  return r;
}

inline queue::NewMessage message(std::uint64_t id, std::vector<model::Recipient> rcpts) {
  queue::NewMessage m;
  m.envelope.id = model::QueueId{id};
  m.envelope.arrival_us = now_us();
  m.envelope.sender = "s@agency.example";
  m.envelope.recipients = std::move(rcpts);
  m.body = "Subject: t\r\n\r\nbody\r\n";
  m.envelope.body_size = m.body.size();
  return m;
}

class RecordingSink : public JobSink {
 public:
  void dispatch(Job job) override {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    cv_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 5000ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return jobs_.size() >= n; });
  }
  std::vector<Job> jobs() {
    std::lock_guard lock(mutex_);
    return jobs_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
};

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

inline JobResult answer(const Job& job, RcptVerdict v, const std::string& status) {
  JobResult r;
  r.id = job.id;
  r.generation = job.generation;
  r.indices = job.indices;
  for (std::size_t i = 0; i < job.indices.size(); ++i) {
    RcptOutcome o;
    o.verdict = v;
    o.status = status;
    o.diagnostic = "smtp; test";
    r.outcomes.push_back(o);
  }
  return r;
}

// The LMDB store, with every load() counted by the thread that made it and by message.
class CountingStore final : public queue::Store {
 public:
  explicit CountingStore(std::unique_ptr<queue::Store> inner) : inner_(std::move(inner)) {}

  // Loads made on threads other than `thread` (e.g. the test's own: the scheduler's loop).
  std::size_t loads_not_on(std::thread::id thread) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [t, count] : by_thread_) n += t == thread ? 0 : count;
    return n;
  }
  std::size_t loads_of(model::QueueId id) const {
    std::lock_guard lock(mutex_);
    auto it = by_id_.find(id.value);
    return it == by_id_.end() ? 0 : it->second;
  }
  void reset_counts() {
    std::lock_guard lock(mutex_);
    by_thread_.clear();
    by_id_.clear();
    index_reads_ = 0;
    index_calls_ = 0;
    max_index_call_ = 0;
    max_change_batch_ = 0;
  }

  Result<std::optional<model::Envelope>, queue::Error> load(model::QueueId id) override {
    {
      std::lock_guard lock(mutex_);
      ++by_thread_[std::this_thread::get_id()];
      ++by_id_[id.value];
    }
    return inner_->load(id);
  }
  std::vector<Status<queue::Error>> insert_batch(std::span<queue::NewMessage> b) override {
    return inner_->insert_batch(b);
  }
  Result<std::string, queue::Error> load_body(model::QueueId id) override {
    return inner_->load_body(id);
  }
  Status<queue::Error> update(const model::Envelope& e) override { return inner_->update(e); }
  Status<queue::Error> remove(model::QueueId id) override { return inner_->remove(id); }
  std::vector<Status<queue::Error>> apply_batch(std::span<const queue::Change> c) override {
    {
      std::lock_guard lock(mutex_);
      max_change_batch_ = std::max(max_change_batch_, c.size());
    }
    return inner_->apply_batch(c);
  }
  // The most changes written in one transaction.
  std::size_t max_change_batch() const {
    std::lock_guard lock(mutex_);
    return max_change_batch_;
  }
  // Calls of due_after() and scheduled(): each one read transaction, one wake of a scan.
  std::size_t index_calls() const {
    std::lock_guard lock(mutex_);
    return index_calls_;
  }
  // The most index entries one call answered.
  std::size_t max_index_call() const {
    std::lock_guard lock(mutex_);
    return max_index_call_;
  }
  Status<queue::Error> add_counters(std::span<const queue::CounterAdd> a) override {
    return inner_->add_counters(a);
  }
  Result<std::vector<queue::CounterEntry>, queue::Error> counters(std::string_view p,
                                                                  std::size_t n) override {
    return inner_->counters(p, n);
  }
  Result<std::size_t, queue::Error> erase_counters_below(std::string_view p, std::string_view b,
                                                         std::size_t n) override {
    return inner_->erase_counters_below(p, b, n);
  }
  Result<std::vector<queue::ScheduleEntry>, queue::Error> scheduled(
      std::optional<queue::ScheduleEntry> after, std::size_t limit) override {
    auto r = inner_->scheduled(after, limit);
    if (r) count_index(r->size());
    return r;
  }
  Result<std::vector<queue::ScheduleEntry>, queue::Error> due_after(
      std::optional<queue::ScheduleEntry> after, std::int64_t now, std::size_t limit) override {
    auto r = inner_->due_after(after, now, limit);
    if (r) count_index(r->size());
    return r;
  }
  // Schedule index entries answered by due_after() and scheduled(): what a scan
  // read of the index (the LMDB store reads at most one more than it answers).
  std::size_t index_reads() const {
    std::lock_guard lock(mutex_);
    return index_reads_;
  }
  Result<std::vector<model::Envelope>, queue::Error> list(model::QueueId after,
                                                         std::size_t limit) override {
    return inner_->list(after, limit);
  }
  Result<queue::StoreStats, queue::Error> stats() override { return inner_->stats(); }
  model::QueueId last_id() override { return inner_->last_id(); }
  Status<queue::Error> append_audit(std::span<const queue::AuditRecord> r) override {
    return inner_->append_audit(r);
  }
  Result<std::vector<queue::AuditEntry>, queue::Error> audit_links(std::uint64_t from,
                                                                   std::size_t n) override {
    return inner_->audit_links(from, n);
  }
  Result<std::vector<queue::AuditEntry>, queue::Error> audit_checkpoints(std::uint64_t from,
                                                                         std::size_t n) override {
    return inner_->audit_checkpoints(from, n);
  }
  Result<std::optional<queue::AuditEntry>, queue::Error> checkpoint_audit(std::string_view key,
                                                                          std::int64_t now) override {
    return inner_->checkpoint_audit(key, now);
  }
  Result<std::size_t, queue::Error> prune_audit(std::int64_t before, std::size_t n) override {
    return inner_->prune_audit(before, n);
  }
  std::uint64_t synced_commits() const override { return inner_->synced_commits(); }
  Status<queue::Error> sync() override { return inner_->sync(); }

 private:
  void count_index(std::size_t n) {
    std::lock_guard lock(mutex_);
    index_reads_ += n;
    ++index_calls_;
    max_index_call_ = std::max(max_index_call_, n);
  }

  std::unique_ptr<queue::Store> inner_;
  mutable std::mutex mutex_;
  std::size_t index_reads_ = 0;
  std::size_t index_calls_ = 0;
  std::size_t max_index_call_ = 0;
  std::size_t max_change_batch_ = 0;
  std::map<std::thread::id, std::size_t> by_thread_;
  std::map<std::uint64_t, std::size_t> by_id_;
};

// A real store and commit writer; the test starts the scheduler (after adjusting config_).
class SchedulerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = queue::open_lmdb_store({dir_.sub("q"), 64ull << 20});
    ASSERT_TRUE(s.ok());
    store_ = std::make_unique<CountingStore>(std::move(*s));
    writer_ = queue::CommitWriter::start(*store_, {});
    auto cfg = std::make_shared<config::Config>();
    cfg->delivery.retry = {std::chrono::minutes(10)};
    config_ = cfg;
  }
  void TearDown() override {
    if (scheduler_) scheduler_->stop();
    writer_->stop();
  }
  void start() {
    scheduler_ = Scheduler::start(config_, *store_, *writer_, ids_, sink_, &metrics_);
  }
  void insert(queue::NewMessage m) {
    std::vector<queue::NewMessage> batch;
    batch.push_back(std::move(m));
    auto st = store_->insert_batch(batch);
    ASSERT_TRUE(st[0].ok());
  }
  std::optional<model::Envelope> load(std::uint64_t id) {
    auto r = store_->load(model::QueueId{id});
    return r.ok() ? *r : std::nullopt;
  }

  queue::test::TempDir dir_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<queue::CommitWriter> writer_;
  std::shared_ptr<const config::Config> config_;
  model::IdGenerator ids_{model::QueueId{1000}};
  RecordingSink sink_;
  metrics::RelayMetrics metrics_;  // before scheduler_: outlives it
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace secmx::delivery::test
