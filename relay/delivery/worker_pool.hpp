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
// Failure: each worker's libuv callbacks run under common::guard(); an exception there is
// logged ("worker=<n> event=exception where=worker.<step> ...") and the loop goes on. An
// exception inside an attempt is the attempt's own (attempt.hpp): its recipients are
// deferred and the job is reported like any other.
#pragma once

#include <functional>
#include <memory>

#include "relay/config/config.hpp"
#include "relay/delivery/scheduler.hpp"
#include "relay/metrics/metrics.hpp"
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
};

}  // namespace secmx::delivery
