// scheduler.cpp - the scheduler's loop (see scheduler.hpp): its thread, the in-flight
// table, scans, results, write-backs, and where operator actions and flushes enter.
//
// Everything here runs on the scheduler's thread except the public entry points (which
// only queue work under mutex_ and wake the loop) and the commit answers (writer thread,
// same). The decisions are elsewhere: what jobs a message makes (job_plan), what an
// outcome does to the envelope (outcome_apply), which DSNs it calls for (dsn_select),
// what an operator action does (operator_action, queue_flush).
#include "relay/delivery/scheduler.hpp"

#include <pthread.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "relay/audit/outcome_records.hpp"
#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/common/log_lines.hpp"
#include "relay/delivery/attempt_log.hpp"
#include "relay/delivery/job_plan.hpp"
#include "relay/delivery/outcome.hpp"
#include "relay/delivery/outcome_apply.hpp"
#include "relay/delivery/queue_flush.hpp"
#include "relay/delivery/tlsrpt_session.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/dsn/dsn_hold.hpp"
#include "relay/dsn/dsn_select.hpp"
#include "relay/model/status.hpp"

namespace secmx::delivery {
namespace {

// Messages handed out at once. Bounds memory (each holds its body).
constexpr std::size_t kMaxInFlight = 2000;
// Schedule index entries read per scan: the loop wakes itself for the next batch, so
// results and actions never wait behind a large backlog that came due at once.
constexpr std::size_t kScanBatch = 256;
constexpr std::uint64_t kTickMs = 1000;
// Flush candidates handled per wake-up: each is one record read and one change submitted,
// so results and scans wait at most that long behind a large flush.
constexpr std::size_t kFlushBatch = 256;
// The id of log lines that concern the loop, not one message.
constexpr const char* kLoopId = "loop=scheduler";

struct IdHash {
  std::size_t operator()(model::QueueId id) const { return std::hash<std::uint64_t>{}(id.value); }
};

// A message's log lines start "<QUEUEID>:" (the Postfix form).
std::string id_field(model::QueueId id) { return id.to_string() + ":"; }

queue::Error stopping_error() { return queue::Error{queue::Error::Kind::Io, "relay is stopping"}; }

class SchedulerImpl final : public Scheduler {
 public:
  SchedulerImpl(std::shared_ptr<const config::Config> config, queue::Store& store,
                queue::CommitWriter& writer, model::IdGenerator& ids, JobSink& sink,
                metrics::RelayMetrics* metrics)
      : config_(std::move(config)), dsn_options_(dsn::Options::from_config(*config_)),
        store_(store), writer_(writer), ids_(ids), sink_(sink), metrics_(metrics),
        log_(log::logger("scheduler")) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &SchedulerImpl::on_async);
    async_.data = this;
    uv_timer_init(&loop_, &timer_);
    timer_.data = this;
    thread_ = std::thread([this] { run(); });
  }

  ~SchedulerImpl() override { stop(); }

  void kick() override {
    // What a kick announces (new mail, a released or flushed message, a report) sorts
    // before the due cursor: the next scan starts again from the first due entry.
    kicked_.store(true, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (!closed_) uv_async_send(&async_);
  }

  void reload(std::shared_ptr<const config::Config> config) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    reloaded_ = std::move(config);
    kicked_.store(true, std::memory_order_relaxed);
    uv_async_send(&async_);
  }

  void post_result(JobResult result) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    results_.push_back(std::move(result));
    uv_async_send(&async_);
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        stopping_ = true;
        if (!closed_) uv_async_send(&async_);
      }
    }
    if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
  }

  void control(QueueOp op, model::QueueId id, OpDone done, std::string reason,
               Operator by) override {
    PendingOp pending{op, id, std::move(done), std::move(reason), std::move(by)};
    {
      std::lock_guard lock(mutex_);
      if (!closed_ && !stopping_) {
        ops_.push_back(std::move(pending));
        uv_async_send(&async_);
        return;
      }
    }
    pending.answer(fail(stopping_error()));
  }

  void flush_all(std::string domain, CountDone done, Operator by) override {
    if (accepting_stopped()) return done(fail(stopping_error()));
    // The reading, on the caller's thread: the loop only writes (queue_flush.hpp).
    auto candidates = flush_candidates(store_, domain);
    if (!candidates) return done(fail(candidates.error()));
    log_->info("event=flush domain={} candidates={} operator={} client=[{}]",
               domain.empty() ? std::string("all") : log::escape(domain, 100), candidates->size(),
               log::escape(by.name, 64), log::escape(by.client, 64));
    // Each written batch kicks the loop: its messages, due at once, sort before the due
    // cursor, and the next batch goes out.
    auto run = std::make_unique<FlushRun>(std::move(domain), std::move(*candidates),
                                          std::move(done), [this] { kick(); }, log_, std::move(by));
    {
      std::lock_guard lock(mutex_);
      if (!closed_ && !stopping_) {
        flushes_posted_.push_back(std::move(run));
        uv_async_send(&async_);
        return;
      }
    }
    run->abandon(stopping_error());
  }

  SchedulerStats stats() const override {
    SchedulerStats s;
    s.in_flight = in_flight_count_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct PendingOp {
    QueueOp op = QueueOp::Flush;
    model::QueueId id{};
    OpDone done;
    std::string reason;
    Operator by;
    void answer(Status<queue::Error> st) {
      if (done) done(std::move(st));
    }
  };

  struct InFlight {
    std::shared_ptr<model::Envelope> envelope;  // the scheduler's working copy
    std::shared_ptr<const model::Envelope> before;  // as stored when handed out
    std::shared_ptr<const std::string> body;
    std::vector<std::size_t> relayed;  // delivered to peers without DSN
    std::vector<queue::CounterAdd> counters;  // TLS-RPT counts of its jobs' sessions
    std::uint64_t generation = 0;
    std::size_t jobs_out = 0;
    bool writing = false;
    bool abandoned = false;  // this round threw: nothing is written; see abandon()
    bool report_held = false;  // a report with no one to tell is held in this write
    bool removing = false;     // this write removes the message
    bool inserting = false;    // this write queues new messages (DSNs), due at once
    std::vector<PendingOp> ops;  // operator actions waiting for the outcome to be written
  };

  bool accepting_stopped() {
    std::lock_guard lock(mutex_);
    return closed_ || stopping_;
  }

  void run() {
    // Named so that its CPU can be read apart from the other threads (/proc/PID/task).
    pthread_setname_np(pthread_self(), "scheduler");
    uv_timer_start(&timer_, &SchedulerImpl::on_timer, 0, kTickMs);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  // The libuv callbacks: nothing may unwind into libuv. Each message is guarded on its own
  // below; these outer guards are for what concerns no one message.
  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<SchedulerImpl*>(t->data);
    common::guard(*self->log_, kLoopId, "scheduler.timer", [self] { self->scan(); }, [] {});
  }

  static void on_async(uv_async_t* a) {
    auto* self = static_cast<SchedulerImpl*>(a->data);
    common::guard(*self->log_, kLoopId, "scheduler.wakeup", [self] { self->drain(); }, [] {});
  }

  void drain() {
    std::vector<JobResult> results;
    std::vector<std::pair<model::QueueId, bool>> written;
    std::vector<PendingOp> ops;
    std::vector<std::unique_ptr<FlushRun>> flushes;
    std::shared_ptr<const config::Config> reloaded;
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      reloaded.swap(reloaded_);
      results.swap(results_);
      written.swap(written_);
      ops.swap(ops_);
      flushes.swap(flushes_posted_);
      stopping = stopping_;
    }
    if (reloaded) {
      common::guard(*log_, kLoopId, "scheduler.reload", [&] {
        dsn_options_ = dsn::Options::from_config(*reloaded);
        config_ = std::move(reloaded);
      }, [] {});
    }
    for (auto& run : flushes) flushes_.push_back(std::move(run));
    for (auto& op : ops) {
      common::guard(*log_, id_field(op.id), "scheduler.action", [&] { run_op(op); }, [&] {
        op.answer(fail(queue::Error{queue::Error::Kind::Io, "internal error; nothing changed"}));
      });
    }
    for (auto& r : results) {
      auto id = r.id;
      common::guard(*log_, id_field(id), "scheduler.result", [&] { on_result(std::move(r)); },
                    [&] { abandon(id); });
    }
    bool freed = !written.empty();
    for (auto& [id, ok] : written) {
      auto wid = id;
      common::guard(*log_, id_field(wid), "scheduler.written", [&] { on_written(wid, ok); },
                    [&] { in_flight_.erase(wid); });
    }
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
    if (stopping) {
      shut_down();
      return;
    }
    step_flush();
    // Capacity freed, new mail or more of a backlog: look for more at once rather than at
    // the next tick, once per wake-up however many results it brought.
    bool kicked = kicked_.exchange(false, std::memory_order_relaxed);
    if (kicked) rewind();
    bool more = std::exchange(more_due_, false);
    if (kicked || freed || more) scan();
  }

  void shut_down() {
    // Jobs still out are simply forgotten: their messages stay due in the store and
    // the next start delivers them (at worst twice, as the queue promise allows).
    for (auto& [id, f] : in_flight_) {
      for (auto& op : f.ops) op.answer(fail(stopping_error()));
    }
    for (auto& run : flushes_) run->abandon(stopping_error());
    flushes_.clear();
    std::lock_guard lock(mutex_);
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }

  // One batch of the oldest flush per wake-up; the loop wakes itself for the next one, so
  // results, actions and scans go on in between.
  void step_flush() {
    if (flushes_.empty()) return;
    FlushRun& run = *flushes_.front();
    bool over = true;
    auto busy = [this](model::QueueId id) { return in_flight_.count(id) > 0; };
    common::guard(*log_, kLoopId, "scheduler.flush",
                  [&] { over = run.step(store_, writer_, busy, kFlushBatch, config_->audit.enabled); },
                  [&] { run.abandon(queue::Error{queue::Error::Kind::Io, "internal error"}); });
    if (over) flushes_.pop_front();
    // A run waiting for its batch to be written is woken by that write (FlushRun's written).
    if (!flushes_.empty() && !flushes_.front()->waiting()) uv_async_send(&async_);
  }

  void run_op(PendingOp& op) {
    auto it = in_flight_.find(op.id);
    if (it != in_flight_.end()) {
      // Being delivered: act once its outcome is on disk, on the envelope as written.
      it->second.ops.push_back(std::move(op));
      return;
    }
    ActionContext ctx{store_, writer_, ids_, dsn_options_, config_->delivery.max_lifetime,
                      log_,   metrics_, config_->audit.enabled};
    // A copy of `done`: if run_action throws before answering, the guard still can.
    run_action(op.op, op.id, op.reason, op.by, ctx, op.done, [this] { kick(); });
    op.done = nullptr;
  }

  // The next scan reads the schedule index from its first entry again: something sorts
  // before the due cursor now (see scan()).
  void rewind() {
    due_cursor_.reset();
    passing_ = true;
  }

  // Reads the schedule index after the due cursor - the last entry handed out - so a wake
  // costs what became due since, however large the queue and however many messages are in
  // flight: those sort before the cursor. A message whose outcome is written gets a later
  // key and comes round again by itself; whatever lands before the cursor instead (new
  // mail and DSNs at time 0, a flush, a release, a failed write, the end of a cooling
  // period) rewinds it.
  //
  // A read takes as many entries as there are free slots - except after a rewind, while
  // it passes over messages in flight (passing_): then it reads full batches, or passing a
  // flush's 2,000 in flight a free slot's worth at a time would cost a wake per few
  // entries, hundreds for each kick. When the slots run out part-way through a batch, the
  // cursor stays at the last entry handed out or passed, and the rest is read again later.
  void scan() {
    // Paused: mail waits in the queue (like Postfix's defer_transports); nothing is lost.
    if (config_->delivery.pause) return;
    if (in_flight_.size() >= kMaxInFlight) return;
    auto now = unix_now_us();
    if (std::erase_if(cooling_, [now](const auto& c) { return c.second <= now; }) > 0) rewind();
    std::size_t free = kMaxInFlight - in_flight_.size();
    std::size_t limit = passing_ ? kScanBatch : std::min(kScanBatch, free);
    auto due = store_.due_after(due_cursor_, now, limit);
    if (!due) {
      log_->error("queue scan failed: {}", due.error().message);
      return;
    }
    passing_ = false;
    for (const auto& entry : *due) {
      auto id = entry.id;
      // Only after a rewind: in flight, or waiting out a round that threw.
      bool passed = in_flight_.count(id) || cooling_.count(id);
      if (!passed && in_flight_.size() >= kMaxInFlight) break;
      due_cursor_ = entry;
      if (passed) {
        passing_ = true;
        continue;
      }
      common::guard(*log_, id_field(id), "scheduler.start", [&] { start_message(id, now); },
                    [&] { abandon(id); });
    }
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
    if (due->size() == limit && in_flight_.size() < kMaxInFlight) {
      more_due_ = true;  // a full batch: more may be due; the loop yields, then reads on
      uv_async_send(&async_);
    }
  }

  void start_message(model::QueueId id, std::int64_t now) {
    auto loaded = store_.load(id);
    if (!loaded || !loaded->has_value()) {
      if (!loaded) log_->error("{}: cannot load: {}", id.to_string(), loaded.error().message);
      return;
    }
    auto body = store_.load_body(id);
    if (!body) {
      log_->error("{}: cannot load body: {}", id.to_string(), body.error().message);
      return;
    }
    InFlight& f = in_flight_[id];
    f.generation = ++generation_;
    f.envelope = std::make_shared<model::Envelope>(std::move(**loaded));
    f.before = std::make_shared<const model::Envelope>(*f.envelope);
    f.body = std::make_shared<const std::string>(std::move(*body));
    auto plan = plan_jobs(f.before, f.body, now, config_->delivery.sos_lifetime);
    if (plan.nothing_pending) {
      // Due but nothing to do (e.g. written before a crash): park it as never due.
      finish_message(id, f);
      return;
    }
    for (auto& job : plan.jobs) {
      job.generation = f.generation;
      // Counted before it leaves: a job out that is not counted could let the message be
      // handed out twice; one counted that never left only keeps it in flight.
      ++f.jobs_out;
      sink_.dispatch(std::move(job));
    }
  }

  void on_result(JobResult result) {
    auto it = in_flight_.find(result.id);
    if (it == in_flight_.end() || it->second.generation != result.generation) return;
    InFlight& f = it->second;
    if (f.jobs_out > 0) --f.jobs_out;  // first: this job is back whatever happens below
    if (f.abandoned) {
      if (f.jobs_out == 0 && !f.writing) release(result.id);
      return;
    }
    common::inject_fault("scheduler.result");
    for (std::size_t k = 0; k < result.outcomes.size() && k < result.indices.size(); ++k) {
      if (result.outcomes[k].relayed) f.relayed.push_back(result.indices[k]);
    }
    apply_outcomes(*f.envelope, result, unix_now_us(), config_->delivery.attempt_history);
    // Our own reports are never counted (no report about reports), whatever a job says.
    if (!f.before->tls_report) add_session_counts(*config_, result.sessions, f.counters);
    if (f.jobs_out == 0) finish_message(result.id, f);
  }

  void finish_message(model::QueueId id, InFlight& f) {
    auto now = unix_now_us();
    schedule_next(*f.envelope, now, config_->delivery.retry, config_->delivery.sos_lifetime);
    // A report nobody would hear of is kept, held, before select_dsns() could drop it.
    if (auto held = dsn::hold_unreported(*f.before, *f.envelope, dsn_options_)) {
      f.report_held = true;
      log_->warn("{}: event=dsn-held nrcpt={} to=<{}> status={} reason={}", id.to_string(),
                 held->recipients, log::escape(held->address), log::escape(held->status),
                 log::escape(held->reason));
    }
    queue::Change change;
    // DSNs go into the transaction that makes their recipients final: never lost, never
    // sent twice.
    std::vector<dsn::Selected> reported;
    change.inserts = dsn::select_dsns(*f.before, *f.envelope, *f.body, f.relayed, dsn_options_,
                                      config_->delivery.max_lifetime, ids_, now, &reported);
    // The audit trail's records of this round commit with it: each final outcome with its
    // deciding attempt and the DSN that reports it, and each DSN.
    if (config_->audit.enabled) {
      change.audit = audit::write_back_records(*f.before, *f.envelope,
                                               audit::dsns_queued(change.inserts, reported), "delivery",
                                               now);
    }
    bool open = false;
    for (const auto& r : f.envelope->recipients) open |= model::is_open(r);
    change.envelope = *f.envelope;
    // The sessions' counts commit with the outcomes they came with, or not at all.
    change.counters = std::move(f.counters);
    // Every recipient final and reported: the message has nothing left to do (Postfix
    // removes it too; the DSN carries what the sender needs).
    if (!open) change.kind = queue::Change::Kind::Remove;
    f.removing = !open;
    f.inserting = !change.inserts.empty();
    writer_.submit_change(std::move(change), [this, id](Status<queue::Error> st) {
      // On the writer's thread: only hand the answer to the loop.
      common::guard(*log_, id_field(id), "scheduler.commit", [&] {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        written_.emplace_back(id, st.ok());
        uv_async_send(&async_);
      }, [] {});
    });
    f.writing = true;
  }

  void on_written(model::QueueId id, bool ok) {
    if (!ok) log_->error("{}: outcome not stored; it will be tried again", id.to_string());
    if (auto it = in_flight_.find(id); it != in_flight_.end()) {
      const InFlight& f = it->second;
      // Not written, it keeps the key it was handed out with; written, it may be due
      // before the cursor; its DSNs are due at once. Any of these rewinds the cursor.
      bool behind = !ok || f.inserting;
      if (ok && !f.removing && f.envelope) {
        behind |= before_cursor(queue::ScheduleEntry{f.envelope->next_attempt_us, id});
      }
      if (behind) rewind();
    }
    if (auto it = in_flight_.find(id); ok && it != in_flight_.end() && it->second.removing) {
      log_->info("{}", log::removed_line(id.to_string()));
    }
    if (auto it = in_flight_.find(id); ok && metrics_ && it != in_flight_.end() &&
                                       it->second.report_held) {
      metrics_->dsn_held.inc();
    }
    release(id);
  }

  bool before_cursor(const queue::ScheduleEntry& e) const {
    if (!due_cursor_) return false;
    if (e.next_attempt_us != due_cursor_->next_attempt_us) {
      return e.next_attempt_us < due_cursor_->next_attempt_us;
    }
    return e.id.value <= due_cursor_->id.value;
  }

  // The message leaves the in-flight table; actions that waited for it run now, on the
  // envelope as stored.
  void release(model::QueueId id) {
    std::vector<PendingOp> ops;
    if (auto it = in_flight_.find(id); it != in_flight_.end()) ops = std::move(it->second.ops);
    in_flight_.erase(id);
    for (auto& op : ops) {
      common::guard(*log_, id_field(id), "scheduler.action", [&] { run_op(op); }, [&] {
        op.answer(fail(queue::Error{queue::Error::Kind::Io, "internal error; nothing changed"}));
      });
    }
  }

  // This round of the message threw: nothing of it is written, so the store still holds
  // the message as it was, still due. It leaves the in-flight table once none of its jobs is
  // out (a worker still holding it must not meet a second one), and is not handed out again
  // before the retry time its next attempt would have: at once could resend what its
  // recipients got already, again and again, if it throws every time.
  void abandon(model::QueueId id) {
    auto it = in_flight_.find(id);
    std::uint32_t attempts = 0;
    if (it != in_flight_.end() && it->second.before) attempts = it->second.before->attempts;
    auto now = unix_now_us();
    auto not_before = next_attempt_us(attempts + 1, now, config_->delivery.retry);
    cooling_[id] = not_before;
    log_->warn("{}: event=round_abandoned queued=yes next_try_in={}s", id.to_string(),
               (not_before - now) / 1'000'000);
    if (it == in_flight_.end()) return;  // it threw before it was handed out
    InFlight& f = it->second;
    f.abandoned = true;
    if (f.jobs_out == 0 && !f.writing) release(id);
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
  }

  std::shared_ptr<const config::Config> config_;
  dsn::Options dsn_options_;
  queue::Store& store_;
  queue::CommitWriter& writer_;
  model::IdGenerator& ids_;
  JobSink& sink_;
  metrics::RelayMetrics* metrics_;  // may be null
  std::shared_ptr<spdlog::logger> log_;

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t timer_{};
  std::thread thread_;

  std::mutex mutex_;
  std::vector<JobResult> results_;
  std::vector<std::pair<model::QueueId, bool>> written_;
  std::vector<PendingOp> ops_;
  std::vector<std::unique_ptr<FlushRun>> flushes_posted_;
  std::shared_ptr<const config::Config> reloaded_;  // a reload not yet applied
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> kicked_{false};

  // Loop thread only.
  std::unordered_map<model::QueueId, InFlight, IdHash> in_flight_;
  std::unordered_map<model::QueueId, std::int64_t, IdHash> cooling_;  // abandoned: not before
  std::deque<std::unique_ptr<FlushRun>> flushes_;
  std::optional<queue::ScheduleEntry> due_cursor_;  // the last index entry scan() read
  bool more_due_ = false;  // the last scan read a full batch
  bool passing_ = false;   // rewound, or the last scan passed over messages in flight
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> in_flight_count_{0};
};

}  // namespace

std::unique_ptr<Scheduler> Scheduler::start(std::shared_ptr<const config::Config> config,
                                            queue::Store& store, queue::CommitWriter& writer,
                                            model::IdGenerator& ids, JobSink& sink,
                                            metrics::RelayMetrics* metrics) {
  return std::make_unique<SchedulerImpl>(std::move(config), store, writer, ids, sink, metrics);
}

}  // namespace secmx::delivery
