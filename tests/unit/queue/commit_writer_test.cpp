// Group commit: concurrent submitters all get their own answer, batching happens, stop()
// drains, and per-message failures reach exactly the message they belong to.
#include "queue/commit_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {

using namespace std::chrono_literals;
using test::make_body;
using test::make_message;
using test::TempDir;

constexpr auto kTimeout = 60s;

// Counts completions; wait_for(n) blocks (bounded) until n have arrived.
class Completions {
 public:
  CommitWriter::Done done_for(std::size_t index) {
    return [this, index](Status<Error> s) {
      std::lock_guard lock(mutex_);
      results_.emplace_back(index, std::move(s));
      cv_.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kTimeout, [&] { return results_.size() >= n; });
  }
  std::vector<std::pair<std::size_t, Status<Error>>> results() {
    std::lock_guard lock(mutex_);
    return results_;
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return results_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<std::size_t, Status<Error>>> results_;
};

std::unique_ptr<Store> open_store(const std::string& path) {
  auto r = open_lmdb_store(StoreOptions{path, 256ull << 20});
  if (!r.ok()) ADD_FAILURE() << r.error().message;
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(CommitWriterTest, ConcurrentSubmittersAreBatchedAndAllStored) {
  TempDir dir;
  auto store = open_store(dir.sub("q"));
  ASSERT_NE(store, nullptr);
  auto writer = CommitWriter::start(*store, {});
  IdGenerator ids(store->last_id());

  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  constexpr std::size_t kTotal = kThreads * kPerThread;
  Completions completions;
  std::vector<std::vector<QueueId>> submitted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        QueueId id = ids.next();
        submitted[static_cast<std::size_t>(t)].push_back(id);
        writer->submit(make_message(id, make_body(id, 1024)),
                       completions.done_for(static_cast<std::size_t>(t * kPerThread + i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(completions.wait_for(kTotal)) << "only " << completions.count() << " completions";

  auto results = completions.results();
  ASSERT_EQ(results.size(), kTotal);
  std::vector<bool> seen(kTotal, false);
  for (const auto& [index, status] : results) {
    EXPECT_TRUE(status.ok()) << status.error().message;
    EXPECT_FALSE(seen[index]) << "completion ran twice";
    seen[index] = true;
  }
  auto stats = writer->stats();
  EXPECT_EQ(stats.messages, kTotal);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_LT(stats.batches, kTotal) << "no batching happened";
  EXPECT_GT(stats.max_batch_seen, 1u);
  EXPECT_LE(stats.max_batch_seen, CommitWriter::Options{}.max_batch);
  std::printf("[ batching ] %zu messages in %llu batches (largest %llu)\n", kTotal,
              static_cast<unsigned long long>(stats.batches),
              static_cast<unsigned long long>(stats.max_batch_seen));

  writer->stop();
  EXPECT_EQ(store->stats()->messages, kTotal);
  for (const auto& per_thread : submitted) {
    for (QueueId id : per_thread) {
      auto body = store->load_body(id);
      ASSERT_TRUE(body.ok()) << id.to_string();
      EXPECT_EQ(*body, make_body(id, 1024));
    }
  }
}

TEST(CommitWriterTest, StopDrainsWhatWasSubmitted) {
  TempDir dir;
  auto store = open_store(dir.sub("q"));
  ASSERT_NE(store, nullptr);
  auto writer = CommitWriter::start(*store, {.max_batch = 16, .commit_interval = {}, .on_commit = {}, .on_audit = {}});
  Completions completions;
  constexpr std::size_t kCount = 300;
  for (std::size_t i = 1; i <= kCount; ++i)
    writer->submit(make_message(QueueId{i}, "body"), completions.done_for(i));
  writer->stop();
  // No waiting: stop() returns only after every completion ran.
  EXPECT_EQ(completions.count(), kCount);
  for (const auto& [index, status] : completions.results()) EXPECT_TRUE(status.ok()) << index;
  EXPECT_EQ(store->stats()->messages, kCount);
  EXPECT_LE(writer->stats().max_batch_seen, 16u);
}

TEST(CommitWriterTest, SubmitAfterStopFailsAtOnceAndStopIsIdempotent) {
  TempDir dir;
  auto store = open_store(dir.sub("q"));
  ASSERT_NE(store, nullptr);
  auto writer = CommitWriter::start(*store, {});
  writer->stop();
  writer->stop();
  bool called = false;
  writer->submit(make_message(QueueId{1}, "late"), [&](Status<Error> s) {
    called = true;
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, Error::Kind::Io);
    EXPECT_EQ(s.error().message, "shutting down");
  });
  EXPECT_TRUE(called) << "must complete synchronously";
  EXPECT_FALSE(store->load(QueueId{1})->has_value());
}

// A store whose answers the test scripts: every id divisible by 3 is refused as Full, and
// the first call can be held until the test releases it.
class ScriptedStore final : public Store {
 public:
  std::vector<Status<Error>> insert_batch(std::span<NewMessage> batch) override {
    {
      std::unique_lock lock(mutex_);
      sizes_.push_back(batch.size());
      in_first_call_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, kTimeout, [&] { return !hold_first_; });
    }
    {
      std::lock_guard lock(mutex_);
      events_.push_back("commit");
      commits_++;
    }
    std::vector<Status<Error>> out;
    for (const auto& m : batch) {
      if (m.envelope.id.value % 3 == 0) {
        out.emplace_back(fail(Error{Error::Kind::Full, "full " + m.envelope.id.to_string()}));
      } else {
        out.emplace_back(Ok{});
      }
    }
    return out;
  }
  void hold_first() { hold_first_ = true; }
  bool wait_until_inside() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kTimeout, [&] { return in_first_call_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_first_ = false;
    cv_.notify_all();
  }
  std::vector<std::size_t> sizes() {
    std::lock_guard lock(mutex_);
    return sizes_;
  }

  Result<std::optional<Envelope>, Error> load(QueueId) override {
    return std::optional<Envelope>{};
  }
  Result<std::string, Error> load_body(QueueId) override {
    return fail(Error{Error::Kind::NotFound, ""});
  }
  Status<Error> update(const Envelope&) override { return Ok{}; }
  Status<Error> add_counters(std::span<const CounterAdd>) override { return Ok{}; }
  Result<std::vector<CounterEntry>, Error> counters(std::string_view, std::size_t) override {
    return std::vector<CounterEntry>{};
  }
  Result<std::size_t, Error> erase_counters_below(std::string_view, std::string_view,
                                                  std::size_t) override {
    return std::size_t{0};
  }
  Status<Error> remove(QueueId) override { return Ok{}; }
  // Records "apply:N" and counts as a synced commit, as insert_batch does; the first call
  // can be held (hold_first_apply) so that work piles up behind it.
  std::vector<Status<Error>> apply_batch(std::span<const Change> changes) override {
    {
      std::unique_lock lock(mutex_);
      in_first_apply_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, kTimeout, [&] { return !hold_first_apply_; });
      events_.push_back("apply:" + std::to_string(changes.size()));
      commits_++;
    }
    return std::vector<Status<Error>>(changes.size(), Status<Error>(Ok{}));
  }
  void hold_first_apply() { hold_first_apply_ = true; }
  bool wait_until_inside_apply() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kTimeout, [&] { return in_first_apply_; });
  }
  void release_apply() {
    std::lock_guard lock(mutex_);
    hold_first_apply_ = false;
    cv_.notify_all();
  }
  Result<std::vector<ScheduleEntry>, Error> scheduled(std::optional<ScheduleEntry>,
                                                      std::size_t) override {
    return std::vector<ScheduleEntry>{};
  }
  Result<std::vector<Envelope>, Error> list(QueueId, std::size_t) override {
    return std::vector<Envelope>{};
  }
  Result<StoreStats, Error> stats() override { return StoreStats{}; }
  QueueId last_id() override { return {}; }
  Status<Error> append_audit(std::span<const AuditRecord>) override { return Ok{}; }
  Result<std::vector<AuditEntry>, Error> audit_links(std::uint64_t, std::size_t) override {
    return std::vector<AuditEntry>{};
  }
  Result<std::vector<AuditEntry>, Error> audit_checkpoints(std::uint64_t, std::size_t) override {
    return std::vector<AuditEntry>{};
  }
  Result<std::optional<AuditEntry>, Error> checkpoint_audit(std::string_view,
                                                            std::int64_t) override {
    return std::optional<AuditEntry>{};
  }
  Result<std::size_t, Error> prune_audit(std::int64_t, std::size_t) override {
    return std::size_t{0};
  }
  std::uint64_t synced_commits() const override {
    std::lock_guard lock(mutex_);
    return commits_;
  }
  Status<Error> sync() override {
    std::lock_guard lock(mutex_);
    events_.push_back("sync");
    return Ok{};
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;  // "commit" / "sync", in order
  std::uint64_t commits_ = 0;
  std::condition_variable cv_;
  bool hold_first_ = false;
  bool in_first_call_ = false;
  bool hold_first_apply_ = false;
  bool in_first_apply_ = false;
  std::vector<std::size_t> sizes_;
};

TEST(CommitWriterTest, EachCompletionGetsItsOwnStatusAndBatchesAreCapped) {
  ScriptedStore store;
  store.hold_first();
  auto writer = CommitWriter::start(store, {.max_batch = 8, .commit_interval = {}, .on_commit = {}, .on_audit = {}});
  Completions completions;
  writer->submit(make_message(QueueId{1}, "b"), completions.done_for(1));
  ASSERT_TRUE(store.wait_until_inside());
  // While the writer is busy, 50 more pile up; they must go in batches of at most 8.
  for (std::size_t i = 2; i <= 51; ++i)
    writer->submit(make_message(QueueId{i}, "b"), completions.done_for(i));
  store.release();
  ASSERT_TRUE(completions.wait_for(51));

  for (const auto& [index, status] : completions.results()) {
    if (index % 3 == 0) {
      ASSERT_FALSE(status.ok()) << index;
      EXPECT_EQ(status.error().kind, Error::Kind::Full);
      EXPECT_NE(status.error().message.find(QueueId{index}.to_string()), std::string::npos);
    } else {
      EXPECT_TRUE(status.ok()) << index;
    }
  }
  auto sizes = store.sizes();
  ASSERT_EQ(sizes.front(), 1u);
  std::size_t total = 0;
  for (std::size_t n : sizes) {
    EXPECT_LE(n, 8u);
    total += n;
  }
  EXPECT_EQ(total, 51u);
  auto stats = writer->stats();
  EXPECT_EQ(stats.messages, 51u);
  EXPECT_EQ(stats.failures, 17u);  // 3, 6, ..., 51
  EXPECT_EQ(stats.batches, sizes.size());
  EXPECT_EQ(stats.max_batch_seen, 8u);
  writer->stop();
}

// A 250 may only follow a sync that came after the message's commit: the next batch's
// commit when there is one (one fdatasync per batch under load), else an explicit sync.
TEST(CommitWriterTest, AnswersWaitForALaterSyncOfTheFile) {
  ScriptedStore store;
  store.hold_first();
  auto writer = CommitWriter::start(store, {});
  std::mutex mutex;
  std::map<std::size_t, std::vector<std::string>> seen;  // index -> store events at answer
  std::condition_variable cv;
  auto done_for = [&](std::size_t index) {
    return [&, index](Status<Error> st) {
      EXPECT_TRUE(st.ok());
      std::lock_guard lock(mutex);
      seen[index] = store.events();
      cv.notify_all();
    };
  };
  writer->submit(make_message(QueueId{1}, "b"), done_for(1));
  ASSERT_TRUE(store.wait_until_inside());
  writer->submit(make_message(QueueId{2}, "b"), done_for(2));  // waits for the next batch
  store.release();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, kTimeout, [&] { return seen.size() == 2; }));
  }
  // Message 1 was answered after batch 2's commit synced the file, without a sync call.
  EXPECT_EQ(seen[1], (std::vector<std::string>{"commit", "commit"}));
  // Message 2 had no later batch: the writer synced explicitly before answering.
  EXPECT_EQ(seen[2], (std::vector<std::string>{"commit", "commit", "sync"}));

  // Alone: commit, sync, answer.
  writer->submit(make_message(QueueId{4}, "b"), done_for(4));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, kTimeout, [&] { return seen.size() == 3; }));
  }
  EXPECT_EQ(seen[4], (std::vector<std::string>{"commit", "commit", "sync", "commit", "sync"}));
  writer->stop();
}

// A change to message `id` (the envelope is all the scripted store looks at).
Change change_of(QueueId id) {
  Change c;
  c.envelope.id = id;
  return c;
}

// The changes the store applied, over all its transactions, each of which must hold at
// most `bound` of them.
std::size_t changes_applied(const std::vector<std::string>& events, std::size_t bound) {
  std::size_t applied = 0;
  for (const auto& e : events) {
    if (e.rfind("apply:", 0) != 0) continue;
    std::size_t n = std::stoul(e.substr(6));
    EXPECT_LE(n, bound) << e;
    applied += n;
  }
  return applied;
}

// A write-back of many changes (a flush's outcomes) must not hold up new mail: a message
// submitted behind 100 changes is written before all but the change transaction already
// under way, and answered once the next bounded change transaction has synced it - not
// after the 100. The bound is the default one, 16: with 64 the p99 of accepts during a
// flush of 100,000 was about 2.5x that of before, with 16 1.7x (docs/benchmarks.md).
TEST(CommitWriterTest, NewMailGoesBeforeAChangeBacklogAndChangeBatchesAreBounded) {
  ScriptedStore store;
  store.hold_first_apply();
  auto writer = CommitWriter::start(store, CommitWriter::Options{});
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> at_answer;  // store events when the message was answered
  std::vector<std::size_t> change_order;
  auto change_for = [](std::size_t i) { return change_of(QueueId{1000 + i}); };
  auto change_done = [&](std::size_t i) {
    return [&, i](Status<Error> st) {
      EXPECT_TRUE(st.ok());
      std::lock_guard lock(mutex);
      change_order.push_back(i);
      cv.notify_all();
    };
  };
  writer->submit_change(change_for(0), change_done(0));
  ASSERT_TRUE(store.wait_until_inside_apply());
  for (std::size_t i = 1; i <= 100; ++i) writer->submit_change(change_for(i), change_done(i));
  writer->submit(make_message(QueueId{1}, "b"), [&](Status<Error> st) {
    EXPECT_TRUE(st.ok());
    std::lock_guard lock(mutex);
    at_answer = store.events();
    cv.notify_all();
  });
  store.release_apply();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, kTimeout,
                            [&] { return !at_answer.empty() && change_order.size() == 101; }));
  }
  // The change under way, the message, then one bounded change transaction that syncs it.
  EXPECT_EQ(at_answer, (std::vector<std::string>{"apply:1", "commit", "apply:16"}));
  EXPECT_EQ(changes_applied(store.events(), 16), 101u);
  // Changes keep their order: what waits is written before what came after it.
  std::lock_guard lock(mutex);
  for (std::size_t i = 0; i < change_order.size(); ++i) EXPECT_EQ(change_order[i], i);
  writer->stop();
}

// Changes left for later rounds are still the writer's to write: stop() answers every one,
// each in a bounded transaction, none twice.
TEST(CommitWriterTest, StopWritesTheChangesLeftForLaterRounds) {
  ScriptedStore store;
  store.hold_first_apply();
  auto writer = CommitWriter::start(store, {.max_batch = 512, .commit_interval = {}, .on_commit = {},
                                            .on_audit = {}, .max_change_batch = 16});
  Completions completions;
  for (std::size_t i = 0; i < 200; ++i) writer->submit_change(change_of(QueueId{i + 1}), completions.done_for(i));
  ASSERT_TRUE(store.wait_until_inside_apply());
  std::thread stopper([&] { writer->stop(); });
  store.release_apply();
  stopper.join();
  EXPECT_EQ(completions.count(), 200u) << "stop() returned with every change answered";
  std::set<std::size_t> answered;
  for (const auto& [index, status] : completions.results()) {
    EXPECT_TRUE(status.ok()) << index;
    answered.insert(index);
  }
  EXPECT_EQ(answered.size(), 200u);
  EXPECT_EQ(changes_applied(store.events(), 16), 200u);
}

TEST(CommitWriterTest, CommitIntervalGathersUntilTheBatchIsFull) {
  ScriptedStore store;
  // A long interval that only a full batch can cut short: if the writer waited it out the
  // completions would not arrive within the test's bound below.
  auto writer =
      CommitWriter::start(store, {.max_batch = 10, .commit_interval = std::chrono::minutes(10), .on_commit = {}, .on_audit = {}});
  Completions completions;
  for (std::size_t i = 1; i <= 10; ++i)
    writer->submit(make_message(QueueId{i * 3 + 1}, "b"), completions.done_for(i));
  ASSERT_TRUE(completions.wait_for(10));
  EXPECT_EQ(store.sizes(), std::vector<std::size_t>{10});
  EXPECT_EQ(writer->stats().batches, 1u);

  // stop() also cuts the interval short and drains.
  writer->submit(make_message(QueueId{100}, "b"), completions.done_for(11));
  writer->stop();
  EXPECT_EQ(completions.count(), 11u);
}

TEST(CommitWriterTest, ThrowingCompletionDoesNotStopTheWriter) {
  ScriptedStore store;
  auto writer = CommitWriter::start(store, {});
  Completions completions;
  writer->submit(make_message(QueueId{1}, "b"),
                 [](Status<Error>) { throw std::runtime_error("owner gone"); });
  writer->submit(make_message(QueueId{2}, "b"), completions.done_for(2));
  ASSERT_TRUE(completions.wait_for(1));
  writer->submit(make_message(QueueId{4}, "b"), completions.done_for(4));
  ASSERT_TRUE(completions.wait_for(2));
  writer->stop();
  EXPECT_EQ(writer->stats().messages, 3u);
}

// Prints the rate of the real path (8 submitters, group commit, fsync) for the lead's notes.
TEST(CommitWriterRate, Prints4KiBMessagesFrom8Threads) {
  TempDir dir;
  auto store = open_store(dir.sub("q"));
  ASSERT_NE(store, nullptr);
  auto writer = CommitWriter::start(*store, {});
  IdGenerator ids(store->last_id());
  constexpr int kThreads = 8, kPerThread = 1000;
  Completions completions;
  std::string body = make_body(QueueId{1}, 4096);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        writer->submit(make_message(ids.next(), body),
                       completions.done_for(static_cast<std::size_t>(t * kPerThread + i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(completions.wait_for(kThreads * kPerThread));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto stats = writer->stats();
  std::printf(
      "[ rate     ] %d msgs of 4 KiB via CommitWriter from %d threads: %.3f s, %.0f msg/s, %llu "
      "batches\n",
      kThreads * kPerThread, kThreads, secs, kThreads * kPerThread / secs,
      static_cast<unsigned long long>(stats.batches));
  EXPECT_EQ(stats.failures, 0u);
  writer->stop();
}

}  // namespace
}  // namespace secmx::queue
