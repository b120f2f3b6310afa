// report_service.cpp - the report run on its own thread and loop; see report_service.hpp.
//
// One Run per (day, domain): read its rows, look up _smtp._tls.D, build and gzip the
// report, start one delivery per rua, and when the last one has its outcome, write the
// sent mark and answer whoever waits (the scheduled pump or a send_now batch). Everything
// below runs on the service's loop thread except the Inbox (any thread) and the free
// functions at the end (the caller's thread).
#include "relay/tlsrpt/report_service.hpp"

#include <pthread.h>
#include <uv.h>

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/dns/resolver.hpp"
#include "relay/model/reason.hpp"
#include "relay/tlsrpt/gzip.hpp"
#include "relay/tlsrpt/report_json.hpp"
#include "relay/tlsrpt/report_mail.hpp"
#include "relay/tlsrpt/report_post.hpp"
#include "relay/tlsrpt/tlsrpt_txt.hpp"

namespace secmx::tlsrpt {

namespace {

constexpr std::uint64_t kTickMs = 60'000;
constexpr std::uint64_t kFirstTickMs = 5'000;  // soon after start, once the relay is up
constexpr std::size_t kPruneBatch = 1000;      // entries per prefix per tick
constexpr std::int64_t kLookupBackoffUs = 15LL * 60 * 1'000'000;
constexpr std::uint32_t kLookupTries = 3;  // temporary DNS failures before giving up a day

// Work handed to the loop thread from elsewhere (send_now, reload, stop, commit
// completions). Shared, so a completion that outlives the service finds it closed.
struct Inbox {
  std::mutex mutex;
  std::vector<std::function<void()>> tasks;
  uv_async_t* async = nullptr;
  bool closed = false;

  bool post(std::function<void()> fn) {
    std::lock_guard lock(mutex);
    if (closed) return false;
    tasks.push_back(std::move(fn));
    uv_async_send(async);
    return true;
  }
};

std::string run_key(const std::string& day, const std::string& domain) {
  return day + "/" + domain;
}

class Service final : public ReportService {
 public:
  explicit Service(ServiceDeps deps)
      : deps_(std::move(deps)), config_(deps_.config), log_(log::logger("tlsrpt")) {}

  ~Service() override { stop(); }

  Status<std::string> begin() {
    std::promise<Status<std::string>> ready;
    auto got = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    auto st = got.get();
    if (!st && thread_.joinable()) thread_.join();
    return st;
  }

  void stop() override {
    inbox_->post([this] { shutdown(); });
    if (thread_.joinable()) thread_.join();
  }

  void reload(std::shared_ptr<const config::Config> config) override {
    inbox_->post([this, config = std::move(config)] {
      config_ = config;
      finished_days_.clear();  // exclusions or the hour may have changed
    });
  }

  void send_now(std::string day, std::optional<std::string> domain, SendDone done) override {
    auto shared_done = std::make_shared<SendDone>(std::move(done));
    bool posted = inbox_->post([this, day, domain, shared_done]() mutable {
      start_now(std::move(day), std::move(domain), std::move(*shared_done));
    });
    if (!posted) (*shared_done)(day, {});
  }

 private:
  struct Rua {
    std::string text;  // as shown and logged: "mailto:..." or the https URI
    tlsrpt::Rua rua;
  };

  struct Run {
    std::string day, domain;
    bool scheduled = true;  // false: send_now (one https try, no backoff)
    std::size_t remaining = 0;
    std::vector<SendOutcome> outcomes;
    std::string report_id;
    std::string gzipped;
    std::function<void(std::vector<SendOutcome>)> done;
  };

  struct Batch {  // one send_now call
    std::string day;
    std::size_t remaining = 0;
    std::map<std::string, std::vector<SendOutcome>> by_domain;  // domain order
    SendDone done;
  };

  struct Delayed {
    uv_timer_t timer{};
    std::function<void()> fn;
    Service* self = nullptr;
  };

  // --- the thread ------------------------------------------------------------------

  void run(std::promise<Status<std::string>>& ready) {
    // Named so that its CPU can be read apart from the other threads (/proc/PID/task).
    pthread_setname_np(pthread_self(), "tlsrpt");
    uv_loop_init(&loop_);
    auto resolver = dns::AresResolver::create(&loop_, dns::ResolverOptions::from_config(*config_));
    if (!resolver) {
      uv_loop_close(&loop_);
      {
        std::lock_guard lock(inbox_->mutex);
        inbox_->closed = true;
      }
      ready.set_value(fail("DNS resolver: " + resolver.error()));
      return;
    }
    resolver_ = std::move(*resolver);
    poster_ = std::make_unique<ReportPoster>(&loop_, *resolver_);
    uv_async_init(&loop_, &async_, &Service::on_async);
    async_.data = this;
    inbox_->async = &async_;
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    uv_timer_start(&tick_, &Service::on_tick, kFirstTickMs, kTickMs);
    ready.set_value(Ok());
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  template <class Fn>
  void guarded(const char* where, Fn&& fn) {
    common::guard(*log_, "service=tlsrpt", where, std::forward<Fn>(fn), [] {});
  }

  static void on_async(uv_async_t* a) {
    auto* self = static_cast<Service*>(a->data);
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(self->inbox_->mutex);
      tasks.swap(self->inbox_->tasks);
    }
    for (auto& t : tasks) {
      if (self->shut_down_) break;
      self->guarded("tlsrpt.task", t);
    }
  }

  static void on_tick(uv_timer_t* t) {
    auto* self = static_cast<Service*>(t->data);
    self->guarded("tlsrpt.tick", [self] { self->tick(); });
  }

  void shutdown() {
    shut_down_ = true;
    {
      std::lock_guard lock(inbox_->mutex);
      inbox_->closed = true;
      inbox_->tasks.clear();
    }
    // Whoever waits on send_now gets what is known; the rest is cut off.
    std::vector<std::unique_ptr<Run>> waiting;
    for (auto& [key, run] : runs_) {
      if (!run->scheduled && run->done) waiting.push_back(std::move(run));
    }
    runs_.clear();
    for (auto& run : waiting) run->done(std::move(run->outcomes));
    for (Delayed* d : delayed_) {
      uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
               [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
    }
    delayed_.clear();
    poster_.reset();  // POSTs in flight are cut off; the loop runs until they return
    resolver_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }

  // fn() after `delay` on the loop, unless the service shuts down first.
  void after(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto* d = new Delayed;
    d->fn = std::move(fn);
    d->self = this;
    d->timer.data = d;
    uv_timer_init(&loop_, &d->timer);
    delayed_.insert(d);
    uv_timer_start(
        &d->timer,
        [](uv_timer_t* t) {
          auto* d = static_cast<Delayed*>(t->data);
          Service* self = d->self;
          auto fn = std::move(d->fn);
          self->delayed_.erase(d);
          uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
                   [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
          self->guarded("tlsrpt.delayed", fn);
        },
        static_cast<std::uint64_t>(delay.count()), 0);
  }

  // --- the daily run -----------------------------------------------------------------

  void tick() {
    const auto now = unix_now_us();
    prune(now);
    const auto& t = config_->tlsrpt;
    if (!t.enabled) return;
    if (pending_.empty()) {
      for (const auto& day : due_days(now, t.report_hour, t.retention_days)) plan_day(day, now);
    }
    pump();
  }

  // Queues the day's domains that still need their report; remembers a day with none.
  void plan_day(const std::string& day, std::int64_t now) {
    if (finished_days_.count(day) != 0) return;
    auto rows = store_entries(day_prefix(day));
    auto marks = store_entries(sent_prefix(day));
    if (!rows || !marks) return;  // logged; the next tick tries again
    std::vector<std::string> counted;
    for (const auto& e : *rows) {
      if (auto d = decode_tally(e)) counted.push_back(d->domain);
    }
    std::sort(counted.begin(), counted.end());
    counted.erase(std::unique(counted.begin(), counted.end()), counted.end());
    std::set<std::string> sent;
    const std::string prefix = sent_prefix(day);
    for (const auto& e : *marks) {
      if (auto d = sent_domain(e.key, prefix)) sent.insert(*d);
    }
    bool waiting = false;
    for (auto& domain : due_domains(counted, sent, config_->tlsrpt)) {
      std::string key = run_key(day, domain);
      if (runs_.count(key) != 0) {
        waiting = true;
        continue;
      }
      if (auto b = backoff_.find(key); b != backoff_.end() && b->second.next_us > now) {
        waiting = true;
        continue;
      }
      pending_.emplace_back(day, std::move(domain));
      waiting = true;
    }
    if (!waiting) finished_days_.insert(day);
  }

  void pump() {
    while (!pending_.empty() && scheduled_runs_ < kMaxRuns) {
      auto [day, domain] = std::move(pending_.front());
      pending_.pop_front();
      if (runs_.count(run_key(day, domain)) != 0) continue;
      ++scheduled_runs_;
      start_run(day, domain, true, [this](std::vector<SendOutcome>) {
        --scheduled_runs_;
        pump();
      });
    }
  }

  void prune(std::int64_t now) {
    const std::string oldest = oldest_kept_day(now, config_->tlsrpt.retention_days);
    for (const char* p : {"r", "s"}) {
      auto n = deps_.store->erase_counters_below(p, std::string(p) + oldest, kPruneBatch);
      if (!n) {
        if (!prune_error_logged_) {
          log_->warn("event=tlsrpt-prune-failed reason={}", log::escape(n.error().message));
          prune_error_logged_ = true;
        }
        return;
      }
      prune_error_logged_ = false;
      if (*n > 0) log_->debug("event=tlsrpt-pruned prefix={} before={} entries={}", p, oldest, *n);
    }
  }

  Result<std::vector<queue::CounterEntry>, std::string> store_entries(const std::string& prefix) {
    auto got = deps_.store->counters(prefix, kMaxRows);
    if (!got) {
      log_->warn("event=tlsrpt-store-failed prefix={} reason={}", log::escape(prefix),
                 log::escape(got.error().message));
      return fail(got.error().message);
    }
    return std::move(*got);
  }

  // --- send now ------------------------------------------------------------------------

  void start_now(std::string day, std::optional<std::string> domain, SendDone done) {
    if (day.empty()) day = day_offset(utc_day(unix_now_us()), -1);
    std::vector<std::string> domains;
    if (domain) {
      if (!config_->tlsrpt.excluded(*domain)) domains.push_back(*domain);
    } else if (auto rows = read_rows(*deps_.store, day, "")) {
      for (auto& d : counted_domains(*rows)) {
        if (!config_->tlsrpt.excluded(d)) domains.push_back(std::move(d));
      }
    } else {
      SendOutcome o{day, "", "", SendResult::Failed, "store: " + rows.error(), "", 0};
      done(day, {o});
      return;
    }
    if (domains.empty()) {
      done(day, {});
      return;
    }
    auto batch = std::make_shared<Batch>();
    batch->day = day;
    batch->remaining = domains.size();
    batch->done = std::move(done);
    for (const auto& d : domains) {
      start_run(day, d, false, [batch, d](std::vector<SendOutcome> outcomes) {
        batch->by_domain[d] = std::move(outcomes);
        if (--batch->remaining > 0) return;
        std::vector<SendOutcome> all;
        for (auto& [name, list] : batch->by_domain) {
          for (auto& o : list) all.push_back(std::move(o));
        }
        batch->done(batch->day, std::move(all));
      });
    }
  }

  // --- one (day, domain) ---------------------------------------------------------------

  void start_run(const std::string& day, const std::string& domain, bool scheduled,
                 std::function<void(std::vector<SendOutcome>)> done) {
    std::string key = run_key(day, domain) + (scheduled ? "" : "#now" + std::to_string(++now_seq_));
    auto run = std::make_unique<Run>();
    run->day = day;
    run->domain = domain;
    run->scheduled = scheduled;
    run->done = std::move(done);
    Run* r = run.get();
    runs_[key] = std::move(run);

    auto rows = read_rows(*deps_.store, day, domain);
    if (!rows || rows->empty()) {
      // Nothing counted (or unreadable): nothing to send and no mark to set.
      if (!rows) r->outcomes.push_back({day, domain, "", SendResult::Failed, "store: " + rows.error(), "", 0});
      return finish(key, false);
    }
    auto meta = report_meta(config_->tlsrpt);
    meta.report_id = report_id(day, domain, meta.submitter);
    r->report_id = meta.report_id;
    r->gzipped = gzip(build_report(meta, day, domain, tallies_of(*rows)));

    resolver_->lookup_txt(tlsrpt_name(domain), [this, key](dns::TxtAnswer a) {
      guarded("tlsrpt.txt", [&] { looked_up(key, a); });
    });
  }

  void looked_up(const std::string& key, const dns::TxtAnswer& a) {
    auto it = runs_.find(key);
    if (it == runs_.end()) return;
    Run& r = *it->second;
    const std::string name = tlsrpt_name(r.domain);
    if (a.status == dns::LookupStatus::Temporary) {
      no_record(r, "lookup of " + name + " failed (" + a.error + ")");
      // A scheduled run tries again later, a few times; the operator's run is final.
      bool final = !r.scheduled;
      if (r.scheduled) {
        auto& b = backoff_[run_key(r.day, r.domain)];
        b.next_us = unix_now_us() + kLookupBackoffUs;
        final = ++b.tries >= kLookupTries;
      }
      return finish(key, final);
    }
    if (!a.ok()) {
      no_record(r, "no TXT record at " + name);
      return finish(key, true);
    }
    std::vector<std::string> texts;
    for (const auto& rec : a.records) {
      std::string joined;
      for (const auto& s : rec.strings) joined += s;
      texts.push_back(std::move(joined));
    }
    auto record = select_tlsrpt_record(texts);
    if (!record) {
      no_record(r, record.error());
      return finish(key, true);
    }
    r.remaining = record->rua.size();
    for (const auto& rua : record->rua) {
      Rua target{rua.kind == tlsrpt::Rua::Kind::Mailto ? "mailto:" + rua.target : rua.target, rua};
      if (rua.kind == tlsrpt::Rua::Kind::Mailto) {
        send_mail(key, target);
      } else {
        send_post(key, target, 1);
      }
    }
    if (r.remaining == 0) finish(key, true);
  }

  void no_record(Run& r, std::string why) {
    outcome(r, SendOutcome{r.day, r.domain, "", SendResult::NoRecord, std::move(why), "", 0});
  }

  void outcome(Run& r, SendOutcome o) {
    if (o.result == SendResult::Sent) {
      log_->info("{}", log_fields(o));
    } else {
      log_->warn("{}", log_fields(o));
    }
    if (deps_.on_result) deps_.on_result(o.result);
    r.outcomes.push_back(std::move(o));
  }

  void rua_done(const std::string& key, SendOutcome o) {
    auto it = runs_.find(key);
    if (it == runs_.end()) return;
    outcome(*it->second, std::move(o));
    if (--it->second->remaining == 0) finish(key, true);
  }

  void send_mail(const std::string& key, const Rua& target) {
    Run& r = *runs_.at(key);
    const auto& cfg = *config_;
    const auto now = unix_now_us();
    ReportMail mail;
    mail.from = cfg.tlsrpt.from;
    mail.to = target.rua.target;
    mail.domain = r.domain;
    mail.submitter = submitter_of(cfg.tlsrpt.from);
    mail.report_id = r.report_id;
    mail.day = r.day;
    mail.gzipped_json = r.gzipped;
    mail.now_us = now;
    mail.message_id_host = cfg.hostname;

    queue::NewMessage msg;
    msg.body = build_report_mail(mail);
    auto& env = msg.envelope;
    env.id = deps_.ids->next();
    env.arrival_us = now;
    env.sender = cfg.tlsrpt.from;
    env.tls_report = true;  // its own delivery is never counted: no report about reports
    env.body_size = msg.body.size();
    model::Recipient rcpt;
    rcpt.address = target.rua.target;
    // A report that cannot be delivered is logged by delivery like any message; a bounce
    // to `from` (often a no-reply address) would tell nobody more.
    rcpt.notify = model::kNotifyNever;
    rcpt.policy = model::Policy::BES;
    rcpt.policy_reason = model::Reason("tlsrpt").to_string();
    env.recipients.push_back(std::move(rcpt));
    const std::string id = env.id.to_string();

    SendOutcome o{r.day, r.domain, target.text, SendResult::Sent, "", id, 0};
    deps_.writer->submit(std::move(msg), [inbox = inbox_, this, key, o,
                                          kick = deps_.kick](Status<queue::Error> st) mutable {
      // On the writer thread: hand the answer back, nothing more.
      if (st && kick) kick();
      if (!st) {
        o.result = SendResult::Failed;
        o.detail = "not queued: " + st.error().message;
        o.queue_id.clear();
      }
      inbox->post([this, key, o = std::move(o)]() mutable { rua_done(key, std::move(o)); });
    });
  }

  void send_post(const std::string& key, const Rua& target, std::uint32_t try_no) {
    if (posts_in_flight_ >= kMaxPosts) {
      post_queue_.push_back([this, key, target, try_no] { send_post(key, target, try_no); });
      return;
    }
    auto it = runs_.find(key);
    if (it == runs_.end()) return;
    Run& r = *it->second;
    sts::HttpsOptions options;
    options.ca_file = config_->delivery.ca_file;
    options.ca_system = config_->delivery.ca_system;
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_->tlsrpt.https_timeout);
    ++posts_in_flight_;
    poster_->post(target.text, r.gzipped, options,
                  [this, key, target, try_no](Result<int, std::string> res) {
                    --posts_in_flight_;
                    guarded("tlsrpt.post", [&] { posted(key, target, try_no, std::move(res)); });
                    next_post();
                  });
  }

  void next_post() {
    if (post_queue_.empty() || posts_in_flight_ >= kMaxPosts) return;
    auto fn = std::move(post_queue_.front());
    post_queue_.pop_front();
    fn();
  }

  void posted(const std::string& key, const Rua& target, std::uint32_t try_no,
              Result<int, std::string> res) {
    auto it = runs_.find(key);
    if (it == runs_.end()) return;
    Run& r = *it->second;
    if (res) {
      return rua_done(key, {r.day, r.domain, target.text, SendResult::Sent, "", "", *res});
    }
    const std::uint32_t tries = r.scheduled ? config_->tlsrpt.https_retries : 1;
    if (auto wait = retry_delay(try_no, tries)) {
      log_->info("event=tlsrpt-retry day={} domain={} rua={} try={} next_in={}s reason={}", r.day,
                 log::escape(r.domain, 255), log::escape(target.text, 300), try_no, wait->count(),
                 log::escape(res.error()));
      after(*wait, [this, key, target, try_no] { send_post(key, target, try_no + 1); });
      return;
    }
    std::string why = res.error();
    if (tries > 1) why += " (" + std::to_string(tries) + " tries)";
    rua_done(key, {r.day, r.domain, target.text, SendResult::Failed, why, "", 0});
  }

  // The run is over: set the sent mark (`mark`) and answer.
  void finish(const std::string& key, bool mark) {
    auto it = runs_.find(key);
    if (it == runs_.end()) return;
    std::unique_ptr<Run> run = std::move(it->second);
    runs_.erase(it);
    if (mark) {
      backoff_.erase(run_key(run->day, run->domain));
      queue::CounterAdd add{sent_key(run->day, run->domain), "", 1};
      if (auto st = deps_.store->add_counters({&add, 1}); !st) {
        log_->warn("event=tlsrpt-mark-failed day={} domain={} reason={}", run->day,
                   log::escape(run->domain, 255), log::escape(st.error().message));
      }
    }
    if (run->done) run->done(std::move(run->outcomes));
  }

  struct Backoff {
    std::int64_t next_us = 0;
    std::uint32_t tries = 0;
  };

  ServiceDeps deps_;
  std::shared_ptr<const config::Config> config_;  // loop thread only (reload posts)
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::thread thread_;

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t tick_{};
  std::unique_ptr<dns::AresResolver> resolver_;
  std::unique_ptr<ReportPoster> poster_;
  bool shut_down_ = false;
  bool prune_error_logged_ = false;

  std::map<std::string, std::unique_ptr<Run>> runs_;
  std::deque<std::pair<std::string, std::string>> pending_;  // (day, domain), scheduled
  std::size_t scheduled_runs_ = 0;
  std::uint64_t now_seq_ = 0;
  std::set<std::string> finished_days_;  // nothing left to send: not read again
  std::unordered_map<std::string, Backoff> backoff_;  // temporary DNS failures
  std::size_t posts_in_flight_ = 0;
  std::deque<std::function<void()>> post_queue_;
  std::set<Delayed*> delayed_;
};

}  // namespace

Result<std::unique_ptr<ReportService>, std::string> ReportService::start(ServiceDeps deps) {
  if (!deps.config || !deps.store || !deps.writer || !deps.ids) {
    return fail(std::string("tlsrpt: config, store, writer and ids are required"));
  }
  auto s = std::make_unique<Service>(std::move(deps));
  if (auto st = s->begin(); !st) return fail(st.error());
  return std::unique_ptr<ReportService>(std::move(s));
}

Result<std::vector<DecodedTally>, std::string> read_rows(queue::Store& store, const std::string& day,
                                                         const std::string& domain) {
  auto entries =
      store.counters(domain.empty() ? day_prefix(day) : domain_prefix(day, domain), kMaxRows);
  if (!entries) return fail(entries.error().message);
  std::vector<DecodedTally> out;
  out.reserve(entries->size());
  for (const auto& e : *entries) {
    auto d = decode_tally(e);
    if (!d) continue;  // a row we cannot read is left out rather than misreported
    if (!domain.empty() && d->domain != domain) continue;
    out.push_back(std::move(*d));
  }
  return out;
}

std::vector<Tally> tallies_of(const std::vector<DecodedTally>& rows) {
  std::vector<Tally> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.tally);
  return out;
}

Result<std::optional<std::string>, std::string> report_for(queue::Store& store,
                                                           const config::Config& config,
                                                           const std::string& day,
                                                           const std::string& domain) {
  auto rows = read_rows(store, day, domain);
  if (!rows) return fail(rows.error());
  if (rows->empty()) return std::optional<std::string>();
  auto meta = report_meta(config.tlsrpt);
  meta.report_id = report_id(day, domain, meta.submitter);
  return std::optional<std::string>(build_report(meta, day, domain, tallies_of(*rows)));
}

}  // namespace secmx::tlsrpt
