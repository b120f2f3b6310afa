// worker_pool.hpp - the delivery workers: N libuv loops on their own threads.
//
// The scheduler dispatches jobs here (JobSink). A job goes to the worker chosen by its
// destination domain, so all mail for one domain meets in one loop: that worker alone
// enforces the per-destination concurrency limit and reuses connections to the domain's
// hosts. A global limit bounds attempts (each holds at most one connection) across all
// workers. Each worker has its own c-ares resolver and discovery cache, its own
// connection cache, and shares the client TLS context.
//
// Thread affinity: dispatch() from the scheduler thread; results go back through the
// `report` callback, called on worker threads. stop() from the owner thread: no new
// attempts, in-flight ones are abandoned (their messages stay due in the queue).
//
// Dead destinations (dead_destinations.hpp, after Postfix's qmgr): a worker that sees a
// cohort of attempts in a row reach no host of a domain answers the domain's next jobs as
// deferred without connecting, for the first retry interval, then probes one at a time.
//
// MTA-STS: every worker has its own sts::StsSource (over its resolver, fetching on its
// loop's thread pool) and all share one sts::StsCache, durable beside the queue
// (<queue.path>/mta-sts.mdb). An attempt gets AttemptEnv::sts_policy when [mta_sts] is
// enabled; its callback runs on the attempt's worker thread. Each worker re-checks, every
// mta_sts.refresh_interval, the cached policies of the domains it owns (the same hash as
// dispatch), a bounded number per round.
//
// Failure: each worker's libuv callbacks run under common::guard(); an exception there is
// logged ("worker=<n> event=exception where=worker.<step> ...") and the loop goes on. An
// exception inside an attempt is the attempt's own (attempt.hpp): its recipients are
// deferred and the job is reported like any other.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "relay/config/config.hpp"
#include "relay/delivery/scheduler.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/sts/sts_cache.hpp"
#include "relay/sts/sts_state.hpp"
#include "relay/tls/tls_context.hpp"

namespace secmx::delivery {

class WorkerPool : public JobSink {
 public:
  using Report = std::function<void(JobResult)>;
  // Fails (with words) when the TLS client context or a resolver cannot be set up.
  // metrics: may be null; must outlive the pool.
  static Result<std::unique_ptr<WorkerPool>, std::string> start(
      std::shared_ptr<const config::Config> config, Report report,
      metrics::RelayMetrics* metrics = nullptr);
  ~WorkerPool() override = default;
  virtual void stop() = 0;
  // SIGHUP: attempts started from now on use `config` (routes, discovery methods, timeouts,
  // destination limit, HELO name) and `client_tls` (a CA file read afresh); attempts in
  // flight finish with what they started with. Thread-safe.
  virtual void reload(std::shared_ptr<const config::Config> config,
                      std::shared_ptr<tls::TlsContext> client_tls) = 0;

  // The MTA-STS policy cache all workers share (thread-safe; lives as long as the pool).
  virtual sts::StsCache& sts_cache() = 0;
  // Look `domain`'s policy up now and fetch it even if the id is unchanged, on the worker
  // that owns the domain; `done` runs on that worker's thread (never, once stop() began).
  virtual void sts_refresh(const std::string& domain, std::function<void(sts::StsState)> done) = 0;
};

}  // namespace secmx::delivery
