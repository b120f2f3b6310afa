// scheduler.cpp - see scheduler.hpp.
#include "relay/delivery/scheduler.hpp"

#include <uv.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/dsn/dsn_select.hpp"
#include "relay/model/reason.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::delivery {
namespace {

// Messages handed out at once. Bounds memory (each holds its body) and the rescan cost.
constexpr std::size_t kMaxInFlight = 2000;
constexpr std::uint64_t kTickMs = 1000;

struct IdHash {
  std::size_t operator()(model::QueueId id) const { return std::hash<std::uint64_t>{}(id.value); }
};

}  // namespace

JobPlan plan_jobs(const std::shared_ptr<const model::Envelope>& envelope,
                  const std::shared_ptr<const std::string>& body, std::int64_t now,
                  std::chrono::milliseconds sos_lifetime) {
  JobPlan plan;
  // Key: domain, policy, TLS level -> job index; std::map keeps job order stable.
  std::map<std::tuple<std::string, int, int>, std::size_t> by_key;
  const auto& env = *envelope;
  bool sos_expired = now - env.arrival_us >= sos_lifetime.count() * 1000;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& r = env.recipients[i];
    if (r.state != model::RcptState::Pending) continue;
    std::string domain = smtp::address_domain(r.address);
    auto key = std::make_tuple(domain, static_cast<int>(r.policy), static_cast<int>(r.tls));
    auto [it, inserted] = by_key.emplace(key, plan.jobs.size());
    if (inserted) {
      Job job;
      job.id = env.id;
      job.domain = domain;
      job.policy = r.policy;
      job.tls = r.tls;
      job.policy_reason = r.policy_reason;
      job.envelope = envelope;
      job.body = body;
      job.sos_expired = sos_expired;
      plan.jobs.push_back(std::move(job));
    }
    auto& job = plan.jobs[it->second];
    job.indices.push_back(i);
  }
  plan.nothing_pending = plan.jobs.empty();
  return plan;
}

void apply_outcomes(model::Envelope& env, const JobResult& result, std::int64_t now_us) {
  for (std::size_t k = 0; k < result.indices.size() && k < result.outcomes.size(); ++k) {
    std::size_t i = result.indices[k];
    if (i >= env.recipients.size()) continue;
    auto& r = env.recipients[i];
    const auto& o = result.outcomes[k];
    r.attempts++;
    r.last_status = o.status;
    r.last_reply = o.diagnostic;
    r.remote_mta = o.remote_mta;
    r.last_tls = o.tls;
    r.last_attempt_us = now_us;
    switch (o.verdict) {
      case RcptVerdict::Delivered: r.state = model::RcptState::Delivered; break;
      case RcptVerdict::Failed: r.state = model::RcptState::Failed; break;
      case RcptVerdict::Deferred: r.state = model::RcptState::Pending; break;
    }
  }
}

void schedule_next(model::Envelope& env, std::int64_t now,
                   const std::vector<std::chrono::milliseconds>& retry) {
  env.attempts++;
  bool any_pending = false;
  for (const auto& r : env.recipients) any_pending |= r.state == model::RcptState::Pending;
  // A message with nothing left to try stays stored (its failures are the record the DSN
  // is built from) but is never due again.
  env.next_attempt_us = any_pending ? next_attempt_us(env.attempts, now, retry) : model::kNeverDue;
}

const char* to_string(QueueOp op) {
  switch (op) {
    case QueueOp::Hold: return "hold";
    case QueueOp::Release: return "release";
    case QueueOp::Remove: return "delete";
    case QueueOp::Flush: return "flush";
    case QueueOp::Bounce: return "bounce";
  }
  return "?";
}

bool apply_op(QueueOp op, model::Envelope& env, std::int64_t now, const std::string& reason) {
  bool any_open = false;
  for (const auto& r : env.recipients) {
    any_open |= r.state == model::RcptState::Pending || r.state == model::RcptState::Held;
  }
  switch (op) {
    case QueueOp::Hold:
      if (!any_open) return false;
      env.held = true;
      return true;
    case QueueOp::Release:
      if (!env.held && std::none_of(env.recipients.begin(), env.recipients.end(), [](const auto& r) {
            return r.state == model::RcptState::Held;
          })) {
        return false;
      }
      env.held = false;
      for (auto& r : env.recipients) {
        if (r.state != model::RcptState::Held) continue;
        // A message held by policy was judged too sensitive to send unprompted; once the
        // operator releases it, it still never crosses the Internet in plaintext.
        r.state = model::RcptState::Pending;
        if (r.policy == model::Policy::HOLD) {
          r.policy = model::Policy::SOS;
          r.tls = model::stronger(r.tls, model::TlsLevel::Encrypt);
          model::Reason why(r.policy_reason);
          why.released = true;
          r.policy_reason = why.to_string();
        }
      }
      env.next_attempt_us = 0;
      return true;
    case QueueOp::Flush:
      if (!any_open || env.held) return false;
      env.next_attempt_us = 0;
      return true;
    case QueueOp::Bounce:
      if (!any_open) return false;
      for (auto& r : env.recipients) {
        if (r.state != model::RcptState::Pending && r.state != model::RcptState::Held) continue;
        r.state = model::RcptState::Failed;
        r.last_status = "5.0.0";
        r.last_reply = reason.empty() ? "message returned to the sender by the relay operator"
                                      : reason;
      }
      env.held = false;
      env.next_attempt_us = model::kNeverDue;
      return true;
    case QueueOp::Remove:
      return true;
  }
  (void)now;
  return false;
}

namespace {

class SchedulerImpl final : public Scheduler {
 public:
  SchedulerImpl(std::shared_ptr<const config::Config> config, queue::Store& store,
                queue::CommitWriter& writer, model::IdGenerator& ids, JobSink& sink)
      : config_(std::move(config)), dsn_options_(dsn::Options::from_config(*config_)),
        store_(store), writer_(writer), ids_(ids), sink_(sink),
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

  void control(QueueOp op, model::QueueId id, OpDone done, std::string reason) override {
    post_op(PendingOp{op, id, {}, false, std::move(done), {}, std::move(reason)});
  }

  void flush_all(std::string domain, CountDone done) override {
    post_op(PendingOp{QueueOp::Flush, {}, std::move(domain), true, {}, std::move(done), {}});
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
    std::string domain;
    bool all = false;
    OpDone done;
    CountDone count_done;  // flush_all
    std::string reason;
    void answer(Status<queue::Error> st) {
      if (done) done(st);
      if (count_done) {
        if (st.ok()) count_done(std::size_t{0}); else count_done(fail(st.error()));
      }
    }
  };

  void post_op(PendingOp op) {
    std::lock_guard lock(mutex_);
    if (closed_ || stopping_) {
      op.answer(fail(queue::Error{queue::Error::Kind::Io, "relay is stopping"}));
      return;
    }
    ops_.push_back(std::move(op));
    uv_async_send(&async_);
  }

  void run_op(PendingOp op) {
    if (op.all) {
      flush_matching(op.domain, std::move(op.count_done));
      return;
    }
    auto it = in_flight_.find(op.id);
    if (it != in_flight_.end()) {
      // Being delivered: act once its outcome is on disk, on the envelope as written.
      it->second.ops.push_back(std::move(op));
      return;
    }
    auto loaded = store_.load(op.id);
    if (!loaded) return op.answer(fail(loaded.error()));
    if (!loaded->has_value()) {
      return op.answer(fail(queue::Error{queue::Error::Kind::NotFound, "no such message"}));
    }
    model::Envelope env = std::move(**loaded);
    const model::Envelope before = env;
    queue::Change change;
    if (op.op == QueueOp::Remove) {
      change.kind = queue::Change::Kind::Remove;
    } else if (!apply_op(op.op, env, unix_now_us(), op.reason)) {
      return op.answer(fail(queue::Error{queue::Error::Kind::Invalid,
                                       std::string("nothing to ") + to_string(op.op)}));
    }
    if (op.op == QueueOp::Bounce) {
      auto body = store_.load_body(op.id);
      if (!body) return op.answer(fail(body.error()));
      change.inserts = dsn::select_dsns(before, env, *body, {}, dsn_options_,
                                        config_->delivery.max_lifetime, ids_, unix_now_us());
      change.kind = queue::Change::Kind::Remove;  // every recipient is final now
    }
    log_->info("{}: {} by the operator", env.id.to_string(), to_string(op.op));
    change.envelope = std::move(env);
    auto done = std::move(op.done);
    writer_.submit_change(std::move(change), [this, done](Status<queue::Error> st) {
      done(std::move(st));
      kick();
    });
  }

  void flush_matching(const std::string& domain, CountDone done) {
    std::vector<queue::Change> changes;
    model::QueueId after{};
    auto now = unix_now_us();
    for (;;) {
      auto page = store_.list(after, 1000);
      if (!page) return done(fail(page.error()));
      if (page->empty()) break;
      for (auto& env : *page) {
        after = env.id;
        if (in_flight_.count(env.id)) continue;
        bool match = domain.empty();
        for (const auto& r : env.recipients) {
          match |= r.state == model::RcptState::Pending &&
                   smtp::address_domain(r.address) == domain;
        }
        if (!match || !apply_op(QueueOp::Flush, env, now)) continue;
        queue::Change c;
        c.envelope = std::move(env);
        changes.push_back(std::move(c));
      }
    }
    log_->info("flush of {} message(s){} by the operator", changes.size(),
               domain.empty() ? "" : " for " + log::escape(domain, 100));
    std::size_t count = changes.size();
    if (changes.empty()) {
      done(count);
      kick();
      return;
    }
    auto remaining = std::make_shared<std::size_t>(changes.size());
    auto first_error = std::make_shared<std::optional<queue::Error>>();
    auto lock = std::make_shared<std::mutex>();
    for (auto& c : changes) {
      writer_.submit_change(std::move(c), [this, remaining, first_error, lock, done, count](Status<queue::Error> st) {
        bool last;
        {
          std::lock_guard g(*lock);
          if (!st.ok() && !*first_error && st.error().kind != queue::Error::Kind::NotFound) {
            *first_error = st.error();
          }
          last = --*remaining == 0;
        }
        if (!last) return;
        if (*first_error) done(fail(**first_error)); else done(count);
        kick();
      });
    }
  }

  struct InFlight {
    std::shared_ptr<model::Envelope> envelope;  // the scheduler's working copy
    std::shared_ptr<const model::Envelope> before;  // as stored when handed out
    std::shared_ptr<const std::string> body;
    std::vector<std::size_t> relayed;  // delivered to peers without DSN
    std::uint64_t generation = 0;
    std::size_t jobs_out = 0;
    bool writing = false;
    std::vector<PendingOp> ops;  // operator actions waiting for the outcome to be written
  };

  void run() {
    uv_timer_start(&timer_, &SchedulerImpl::on_timer, 0, kTickMs);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  static void on_timer(uv_timer_t* t) { static_cast<SchedulerImpl*>(t->data)->scan(); }

  static void on_async(uv_async_t* a) {
    auto* self = static_cast<SchedulerImpl*>(a->data);
    self->drain();
  }

  void drain() {
    std::vector<JobResult> results;
    std::vector<std::pair<model::QueueId, bool>> written;
    std::vector<PendingOp> ops;
    std::shared_ptr<const config::Config> reloaded;
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      reloaded.swap(reloaded_);
      results.swap(results_);
      written.swap(written_);
      ops.swap(ops_);
      stopping = stopping_;
    }
    if (reloaded) {
      config_ = std::move(reloaded);
      dsn_options_ = dsn::Options::from_config(*config_);
    }
    for (auto& op : ops) run_op(std::move(op));
    for (auto& r : results) on_result(std::move(r));
    bool freed = !written.empty();
    for (auto& [id, ok] : written) on_written(id, ok);
    if (stopping) {
      // Jobs still out are simply forgotten: their messages stay due in the store and
      // the next start delivers them (at worst twice, as the queue promise allows).
      for (auto& [id, f] : in_flight_) {
        for (auto& op : f.ops) {
          op.answer(fail(queue::Error{queue::Error::Kind::Io, "relay is stopping"}));
        }
      }
      std::lock_guard lock(mutex_);
      closed_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
      return;
    }
    // Capacity freed or new mail: look for more at once rather than at the next tick,
    // once per wake-up however many results it brought.
    if (kicked_.exchange(false, std::memory_order_relaxed) || freed) scan();
  }

  void scan() {
    // Paused: mail waits in the queue (like Postfix's defer_transports); nothing is lost.
    if (config_->delivery.pause) return;
    if (in_flight_.size() >= kMaxInFlight) return;
    auto now = unix_now_us();
    // In-flight messages are still due in the index: asking for kMaxInFlight sees past
    // every one of them to the free capacity.
    auto due = store_.due(now, kMaxInFlight);
    if (!due) {
      log_->error("queue scan failed: {}", due.error().message);
      return;
    }
    for (auto id : *due) {
      if (in_flight_.size() >= kMaxInFlight) break;
      if (in_flight_.count(id)) continue;
      start_message(id, now);
    }
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
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
    auto env = std::make_shared<model::Envelope>(std::move(**loaded));
    auto shared_body = std::make_shared<const std::string>(std::move(*body));
    auto snapshot = std::make_shared<const model::Envelope>(*env);
    auto plan = plan_jobs(snapshot, shared_body, now, config_->delivery.sos_lifetime);
    InFlight& f = in_flight_[id];
    f.envelope = env;
    f.before = snapshot;
    f.body = shared_body;
    f.generation = ++generation_;
    if (plan.nothing_pending) {
      // Due but nothing to do (e.g. written before a crash): park it as never due.
      finish_message(id, f);
      return;
    }
    f.jobs_out = plan.jobs.size();
    for (auto& job : plan.jobs) {
      job.generation = f.generation;
      sink_.dispatch(std::move(job));
    }
  }

  void on_result(JobResult result) {
    auto it = in_flight_.find(result.id);
    if (it == in_flight_.end() || it->second.generation != result.generation) return;
    InFlight& f = it->second;
    for (std::size_t k = 0; k < result.outcomes.size() && k < result.indices.size(); ++k) {
      if (result.outcomes[k].relayed) f.relayed.push_back(result.indices[k]);
    }
    apply_outcomes(*f.envelope, result, unix_now_us());
    if (--f.jobs_out == 0) finish_message(result.id, f);
  }

  void finish_message(model::QueueId id, InFlight& f) {
    auto now = unix_now_us();
    schedule_next(*f.envelope, now, config_->delivery.retry);
    queue::Change change;
    // DSNs go into the transaction that makes their recipients final: never lost, never
    // sent twice.
    change.inserts = dsn::select_dsns(*f.before, *f.envelope, *f.body, f.relayed, dsn_options_,
                                      config_->delivery.max_lifetime, ids_, now);
    bool open = false;
    for (const auto& r : f.envelope->recipients) {
      open |= r.state == model::RcptState::Pending || r.state == model::RcptState::Held;
    }
    change.envelope = *f.envelope;
    // Every recipient final and reported: the message has nothing left to do (Postfix
    // removes it too; the DSN carries what the sender needs).
    if (!open) change.kind = queue::Change::Kind::Remove;
    f.writing = true;
    writer_.submit_change(std::move(change), [this, id](Status<queue::Error> st) {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      written_.emplace_back(id, st.ok());
      uv_async_send(&async_);
    });
  }

  void on_written(model::QueueId id, bool ok) {
    if (!ok) log_->error("{}: outcome not stored; it will be tried again", id.to_string());
    std::vector<PendingOp> ops;
    if (auto it = in_flight_.find(id); it != in_flight_.end()) ops = std::move(it->second.ops);
    in_flight_.erase(id);
    for (auto& op : ops) run_op(std::move(op));
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
  }

  std::shared_ptr<const config::Config> config_;
  dsn::Options dsn_options_;
  queue::Store& store_;
  queue::CommitWriter& writer_;
  model::IdGenerator& ids_;
  JobSink& sink_;
  std::shared_ptr<spdlog::logger> log_;

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t timer_{};
  std::thread thread_;

  std::mutex mutex_;
  std::vector<JobResult> results_;
  std::vector<std::pair<model::QueueId, bool>> written_;
  std::vector<PendingOp> ops_;
  std::shared_ptr<const config::Config> reloaded_;  // a reload not yet applied
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> kicked_{false};

  std::unordered_map<model::QueueId, InFlight, IdHash> in_flight_;
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> in_flight_count_{0};
};

}  // namespace

std::unique_ptr<Scheduler> Scheduler::start(std::shared_ptr<const config::Config> config,
                                            queue::Store& store, queue::CommitWriter& writer,
                                            model::IdGenerator& ids, JobSink& sink) {
  return std::make_unique<SchedulerImpl>(std::move(config), store, writer, ids, sink);
}

}  // namespace secmx::delivery
