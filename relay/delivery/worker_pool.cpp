#include "relay/delivery/worker_pool.hpp"

#include <pthread.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/attempt.hpp"
#include "relay/delivery/dead_destinations.hpp"
#include "relay/delivery/decide.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/sts/sts_fetch.hpp"
#include "relay/sts/sts_source.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx::delivery {
namespace {

// Attempts in flight across all workers; each holds at most one connection.
class ConnectionBudget {
 public:
  explicit ConnectionBudget(std::uint32_t limit) : limit_(limit) {}
  bool try_acquire() {
    auto n = used_.load(std::memory_order_relaxed);
    while (n < limit_) {
      if (used_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
  void release() { used_.fetch_sub(1, std::memory_order_acq_rel); }

 private:
  std::uint32_t limit_;
  std::atomic<std::uint32_t> used_{0};
};

client::ClientOptions client_options(const config::Config& cfg,
                                     std::shared_ptr<tls::TlsContext> tls) {
  client::ClientOptions o;
  o.helo_name = cfg.hostname;
  o.tls = std::move(tls);
  o.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.delivery.connect_timeout);
  auto cmd = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.delivery.command_timeout);
  // RFC 5321 4.5.3.2 gives separate values; one operator knob scales them together.
  o.greeting_timeout = cmd;
  o.command_timeout = cmd;
  o.data_init_timeout = std::min(cmd, std::chrono::milliseconds(120000));
  o.data_block_timeout = std::min(cmd, std::chrono::milliseconds(180000));
  o.data_done_timeout = std::max(cmd, std::min(cmd * 2, std::chrono::milliseconds(600000)));
  o.quit_timeout = std::min(cmd, std::chrono::milliseconds(60000));
  return o;
}

sts::FetchOptions sts_fetch_options(const config::Config& cfg) {
  sts::FetchOptions o;
  o.ca_file = cfg.delivery.ca_file;
  o.ca_system = cfg.delivery.ca_system;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.mta_sts.fetch_timeout);
  o.max_bytes = static_cast<std::size_t>(cfg.mta_sts.max_policy_size);
  return o;
}

// The worker a domain's jobs (and its MTA-STS work) go to.
std::size_t owner_of(const std::string& domain, std::size_t workers) {
  return std::hash<std::string>{}(domain) % workers;
}

// How long a dead destination is left alone: the first retry interval, after which its
// messages come round again anyway.
std::uint64_t suspend_ms(const config::Config& cfg) {
  if (cfg.delivery.retry.empty()) return 60000;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.delivery.retry.front()).count();
  return static_cast<std::uint64_t>(std::max<std::int64_t>(1, ms));
}

// How long a destination's record of failures is kept without a new one, and how often
// the records are swept.
constexpr std::uint64_t kDeadIdleMs = 3600 * 1000;
constexpr std::uint64_t kDeadSweepMs = 60 * 1000;

// Cached policies each worker re-checks per refresh round, at most.
constexpr std::size_t kStsRefreshBatch = 100;

class Worker {
 public:
  Worker(std::uint32_t index, std::uint32_t count, std::shared_ptr<const config::Config> config,
         std::shared_ptr<tls::TlsContext> tls, ConnectionBudget& budget,
         WorkerPool::Report& report, metrics::RelayMetrics* metrics, sts::StsCache& sts_cache)
      : index_(index), count_(count), log_id_("worker=" + std::to_string(index)),
        config_(std::move(config)), client_options_(client_options(*config_, std::move(tls))),
        budget_(budget), report_(report), metrics_(metrics), sts_cache_(sts_cache),
        log_(log::logger("delivery")),
        dead_(config_->delivery.destination_concurrency, suspend_ms(*config_)) {}

  ~Worker() { stop(); }

  // Starts the thread; returns once the loop and resolver are ready (or failed).
  Status<std::string> start() {
    std::promise<Status<std::string>> ready;
    auto fut = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    auto st = fut.get();
    if (!st.ok() && thread_.joinable()) thread_.join();
    return st;
  }

  void dispatch(Job job) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    incoming_.push_back(std::move(job));
    uv_async_send(&async_);
  }

  void wake() {
    std::lock_guard lock(mutex_);
    if (!closed_) uv_async_send(&async_);
  }

  // Runs fn on the worker's loop thread (dropped once the worker stops).
  void post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (closed_ || stopping_) return;
    tasks_.push_back(std::move(fn));
    uv_async_send(&async_);
  }

  void sts_refresh(const std::string& domain, std::function<void(sts::StsState)> done) {
    post([this, domain, done = std::move(done)]() mutable {
      if (sts_) sts_->refresh(domain, std::move(done));
    });
  }

  void reload(std::shared_ptr<const config::Config> config, std::shared_ptr<tls::TlsContext> tls) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    reloaded_ = Reloaded{std::move(config), std::move(tls)};
    uv_async_send(&async_);
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_ && !closed_) {
        stopping_ = true;
        uv_async_send(&async_);
      }
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Destination {
    std::deque<Job> jobs;
    std::uint32_t active = 0;
  };

  void run(std::promise<Status<std::string>>& ready) {
    // Named so that its CPU can be read apart from the other threads (/proc/PID/task).
    pthread_setname_np(pthread_self(), "delivery");
    uv_loop_init(&loop_);
    auto resolver = dns::AresResolver::create(&loop_, dns::ResolverOptions::from_config(*config_));
    if (!resolver) {
      uv_loop_close(&loop_);
      {
        std::lock_guard lock(mutex_);
        closed_ = true;
      }
      ready.set_value(fail("DNS resolver: " + resolver.error()));
      return;
    }
    resolver_ = std::move(*resolver);
    discovery_ = std::make_unique<dns::Discovery>(*resolver_, dns::DiscoveryOptions::from_config(*config_));
    // Room for every connection a destination may have open: when a burst of attempts to
    // one destination ends together, each connection can carry the next message instead
    // of being closed and opened again (with a TLS handshake).
    cache_ = std::make_unique<ConnectionCache>(
        &loop_, std::chrono::duration_cast<std::chrono::milliseconds>(config_->delivery.connection_cache_time),
        std::max<std::size_t>(4, config_->delivery.destination_concurrency));
    uv_async_init(&loop_, &async_, &Worker::on_async);
    async_.data = this;
    uv_timer_init(&loop_, &timer_);
    timer_.data = this;
    // Picks up jobs that waited for the global connection budget another worker freed.
    uv_timer_start(&timer_, &Worker::on_timer, 200, 200);
    uv_timer_init(&loop_, &reaper_);
    reaper_.data = this;
    sts_fetcher_ = std::make_unique<sts::PolicyFetcher>(
        &loop_, *resolver_, [this] { return sts_fetch_options(*config_); });
    sts_ = std::make_unique<sts::StsSource>(*resolver_, sts_cache_, sts_fetcher_->as_function());
    uv_timer_init(&loop_, &sts_timer_);
    sts_timer_.data = this;
    auto every = std::max<std::uint64_t>(
        1000, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             config_->mta_sts.refresh_interval)
                                             .count()));
    uv_timer_start(&sts_timer_, &Worker::on_sts_timer, every, every);
    ready.set_value(Ok());
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  // The loop's callbacks. A failure in one is logged and the loop goes on: the next
  // wake-up or tick starts over from the worker's state.
  template <class Fn>
  void guarded(const char* where, Fn&& fn) {
    common::guard(
        *log_, log_id_, where,
        [&] {
          common::inject_fault(where);
          fn();
        },
        [] {});
  }
  static void on_async(uv_async_t* a) {
    auto* self = static_cast<Worker*>(a->data);
    self->guarded("worker.drain", [self] { self->drain(); });
  }
  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<Worker*>(t->data);
    self->guarded("worker.pump", [self] { self->pump(); });
  }
  static void on_sts_timer(uv_timer_t* t) {
    auto* self = static_cast<Worker*>(t->data);
    self->guarded("worker.sts_refresh", [self] { self->sts_refresh_round(); });
  }
  void sts_refresh_round() {
    if (!config_->mta_sts.enabled || !sts_) return;
    auto interval = std::chrono::duration_cast<std::chrono::seconds>(config_->mta_sts.refresh_interval);
    std::size_t n = sts_->refresh_round(
        [this](const std::string& d) { return owner_of(d, count_) == index_; }, kStsRefreshBatch,
        interval);
    if (n > 0) log_->debug("{} sts refresh round: {} domains re-checked", log_id_, n);
  }
  static void on_reap(uv_timer_t* t) {
    auto* self = static_cast<Worker*>(t->data);
    self->guarded("worker.reap", [self] {
      self->finished_.clear();
      self->pump();
    });
  }

  void drain() {
    std::vector<Job> jobs;
    std::vector<std::function<void()>> tasks;
    bool stopping;
    std::optional<Reloaded> reloaded;
    {
      std::lock_guard lock(mutex_);
      jobs.swap(incoming_);
      tasks.swap(tasks_);
      stopping = stopping_;
      reloaded.swap(reloaded_);
    }
    if (stopping) {
      shutdown();
      return;
    }
    if (reloaded) {
      config_ = std::move(reloaded->config);
      client_options_ = client_options(*config_, std::move(reloaded->tls));
      dead_.configure(config_->delivery.destination_concurrency, suspend_ms(*config_));
      discovery_->set_options(dns::DiscoveryOptions::from_config(*config_));
    }
    for (auto& task : tasks) task();
    for (auto& job : jobs) {
      auto& d = destinations_[job.domain];
      d.jobs.push_back(std::move(job));
    }
    pump();
  }

  // Start every job the limits allow, one domain after another so that one busy domain
  // does not starve the rest.
  // A suspended destination's jobs are answered first, without a connection or a place in
  // the limits; once its suspension ends, one probe at a time.
  void pump() {
    if (shutting_down_) return;
    std::uint64_t now = uv_now(&loop_);
    if (now >= last_sweep_ms_ + kDeadSweepMs) {
      dead_.sweep(now, kDeadIdleMs);
      last_sweep_ms_ = now;
    }
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = destinations_.begin(); it != destinations_.end();) {
        auto& d = it->second;
        auto admit = dead_.admit(it->first, now);
        if (admit == DeadDestinations::Admit::Suspended) answer_suspended(it->first, d);
        std::uint32_t limit = admit == DeadDestinations::Admit::Open
                                  ? config_->delivery.destination_concurrency
                                  : 1;
        if (!d.jobs.empty() && d.active < limit && budget_.try_acquire()) {
          Job job = std::move(d.jobs.front());
          d.jobs.pop_front();
          d.active++;
          begin(std::move(job));
          progress = true;
        }
        if (d.jobs.empty() && d.active == 0) {
          it = destinations_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  // Every job of the suspended destination that may wait is answered now; the others keep
  // their real attempt, within the probe's limit of one (must_attempt_while_suspended()).
  void answer_suspended(const std::string& domain, Destination& d) {
    std::string why = "delivery temporarily suspended: " + dead_.reason(domain);
    auto now_us = unix_now_us();
    std::deque<Job> keep;
    while (!d.jobs.empty()) {
      Job job = std::move(d.jobs.front());
      d.jobs.pop_front();
      if (must_attempt_while_suspended(job.policy, job.sos_expired, job.envelope->arrival_us,
                                       now_us, config_->delivery.max_lifetime)) {
        keep.push_back(std::move(job));
      } else {
        begin(std::move(job), why);
      }
    }
    d.jobs.swap(keep);
  }

  void begin(Job job, std::string suspended = {}) {
    AttemptEnv env;
    env.suspended = std::move(suspended);
    env.config = config_;
    env.discover = [d = discovery_.get()](const std::string& domain, dns::Discovery::Callback cb) {
      d->discover(domain, std::move(cb));
    };
    env.new_client = [loop = &loop_, options = client_options_](const std::string& log_id) {
      client::ClientOptions o = options;
      o.log_id = log_id;
      return client::SmtpClient::create(loop, std::move(o));
    };
    if (config_->mta_sts.enabled) {
      env.sts_policy = [s = sts_.get()](const std::string& domain,
                                        std::function<void(sts::StsState)> cb) {
        s->policy_for(domain, std::move(cb));
      };
    }
    env.cache = cache_.get();
    env.log = log_;
    env.metrics = metrics_;
    auto attempt = std::make_unique<Attempt>(std::move(env), std::move(job),
                                             [this](Attempt* a, JobResult r) { on_done(a, std::move(r)); });
    Attempt* raw = attempt.get();
    attempts_.emplace(raw, std::move(attempt));
    if (raw->suspended()) {
      raw->answer_suspended();
    } else {
      raw->start();
    }
  }

  void on_done(Attempt* a, JobResult result) {
    auto it = attempts_.find(a);
    if (it == attempts_.end()) return;
    if (!a->suspended()) {
      const std::string& domain = a->job().domain;
      auto d = destinations_.find(domain);
      if (d != destinations_.end() && d->second.active > 0) d->second.active--;
      budget_.release();
      note_reach(domain, result);
    }
    finished_.push_back(std::move(it->second));
    attempts_.erase(it);
    uv_timer_start(&reaper_, &Worker::on_reap, 0, 0);
    report_(std::move(result));
  }

  // What the attempt saw of its destination (JobResult::reach, attempt.hpp) feeds the
  // throttle; an attempt that says nothing leaves it as it is.
  void note_reach(const std::string& domain, const JobResult& result) {
    Reach reach = result.reach;
    if (reach == Reach::Unknown) return;
    std::uint64_t now = uv_now(&loop_);
    bool was_dead = dead_.admit(domain, now) != DeadDestinations::Admit::Open;
    const std::string& failure = result.unreached;
    if (dead_.record(domain, reach == Reach::Yes, failure, now)) {
      log_->warn("{} event=destination-suspended domain={} for={}s reason={}", log_id_,
                 log::escape(domain), suspend_ms(*config_) / 1000, log::escape(failure));
    } else if (was_dead && reach == Reach::Yes) {
      log_->info("{} event=destination-resumed domain={}", log_id_, log::escape(domain));
    }
  }

  void shutdown() {
    shutting_down_ = true;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    // In-flight attempts are abandoned: their messages are still due in the queue.
    for (std::size_t i = 0; i < attempts_.size(); ++i) budget_.release();
    attempts_.clear();
    finished_.clear();
    cache_.reset();
    discovery_.reset();
    sts_.reset();
    sts_fetcher_.reset();  // fetches in flight are cut off; the loop runs until they return
    resolver_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sts_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
  }

  std::uint32_t index_;
  std::uint32_t count_;
  std::string log_id_;  // "worker=<n>"
  std::shared_ptr<const config::Config> config_;
  client::ClientOptions client_options_;  // the same for every attempt of this worker
  ConnectionBudget& budget_;
  WorkerPool::Report& report_;
  metrics::RelayMetrics* metrics_;
  sts::StsCache& sts_cache_;
  std::shared_ptr<spdlog::logger> log_;

  uv_loop_t loop_{};
  uv_timer_t sts_timer_{};
  uv_async_t async_{};
  uv_timer_t timer_{};
  uv_timer_t reaper_{};
  std::thread thread_;

  struct Reloaded {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<tls::TlsContext> tls;
  };

  std::mutex mutex_;
  std::vector<Job> incoming_;
  std::vector<std::function<void()>> tasks_;  // post(): run on the loop
  std::optional<Reloaded> reloaded_;  // guarded by mutex_; applied on the loop thread
  bool stopping_ = false;
  bool closed_ = false;
  bool shutting_down_ = false;

  std::unique_ptr<dns::AresResolver> resolver_;
  std::unique_ptr<dns::Discovery> discovery_;
  std::unique_ptr<sts::PolicyFetcher> sts_fetcher_;
  std::unique_ptr<sts::StsSource> sts_;
  std::unique_ptr<ConnectionCache> cache_;
  std::map<std::string, Destination> destinations_;
  DeadDestinations dead_;
  std::uint64_t last_sweep_ms_ = 0;
  std::unordered_map<Attempt*, std::unique_ptr<Attempt>> attempts_;
  std::vector<std::unique_ptr<Attempt>> finished_;
};

class WorkerPoolImpl final : public WorkerPool {
 public:
  WorkerPoolImpl(std::shared_ptr<const config::Config> config, Report report,
                 metrics::RelayMetrics* metrics)
      : config_(std::move(config)), report_(std::move(report)), metrics_(metrics),
        budget_(config_->delivery.max_connections), sts_cache_(open_sts_store(*config_)) {}

  ~WorkerPoolImpl() override { stop(); }

  Status<std::string> start() {
    auto tls = tls::TlsContext::create_client(config_->delivery.client_tls());
    if (!tls) return fail("TLS client context: " + tls.error().message);
    for (std::uint32_t i = 0; i < config_->delivery.workers; ++i) {
      auto w = std::make_unique<Worker>(i, config_->delivery.workers, config_, *tls, budget_,
                                        report_, metrics_, sts_cache_);
      auto st = w->start();
      if (!st.ok()) return st;
      workers_.push_back(std::move(w));
    }
    return Ok();
  }

  void dispatch(Job job) override {
    if (workers_.empty()) return;
    workers_[owner_of(job.domain, workers_.size())]->dispatch(std::move(job));
  }

  void stop() override {
    for (auto& w : workers_) w->stop();
  }

  void reload(std::shared_ptr<const config::Config> config,
              std::shared_ptr<tls::TlsContext> client_tls) override {
    for (auto& w : workers_) w->reload(config, client_tls);
  }

  sts::StsCache& sts_cache() override { return sts_cache_; }

  void sts_refresh(const std::string& domain, std::function<void(sts::StsState)> done) override {
    if (workers_.empty()) return;
    std::string d = dns::normalize_name(domain);
    workers_[owner_of(d, workers_.size())]->sts_refresh(d, std::move(done));
  }

 private:
  // A store that cannot be opened leaves a cache in memory: policies are then fetched
  // again after a restart, nothing worse.
  static std::unique_ptr<queue::StsStore> open_sts_store(const config::Config& cfg) {
    std::string path = queue::sts_store_path(cfg.queue.path);
    auto store = queue::StsStore::open(path);
    if (!store) {
      log::logger("sts")->error("cannot open the MTA-STS cache {}: {} (policies kept in memory only)",
                                path, store.error().message);
      return nullptr;
    }
    return std::move(*store);
  }

  std::shared_ptr<const config::Config> config_;
  Report report_;
  metrics::RelayMetrics* metrics_;
  ConnectionBudget budget_;
  sts::StsCache sts_cache_;  // before the workers: they use it until they stop
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace

Result<std::unique_ptr<WorkerPool>, std::string> WorkerPool::start(
    std::shared_ptr<const config::Config> config, Report report, metrics::RelayMetrics* metrics) {
  auto pool = std::make_unique<WorkerPoolImpl>(std::move(config), std::move(report), metrics);
  auto st = pool->start();
  if (!st.ok()) return fail(st.error());
  return std::unique_ptr<WorkerPool>(std::move(pool));
}

}  // namespace secmx::delivery
