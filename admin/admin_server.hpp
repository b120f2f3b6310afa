// admin_server.hpp - the admin HTTP plane: JSON API under /api/v1/, Prometheus text at
// /metrics, /healthz.
//
// Thread affinity: start() spawns the server's own threads (one accept thread and a
// small pool of request threads, cpp-httplib); nothing here runs on an SMTP or delivery
// loop. Reads go to the Store's LMDB read transactions; mutations go to QueueOps (the
// scheduler); metrics are atomics. So a slow or hostile admin client can never slow the
// SMTP data path, only other admin clients.
//
// Authentication: every /api/ request needs "Authorization: Bearer <token>" matching
// admin.token_file (the operator "admin") or one of admin.tokens_file's named operators
// (401 otherwise); the operator's name goes with every action into its log line and audit
// record. /healthz and /metrics need no token: they say nothing
// about message content and the listener is loopback by default (a non-loopback listen
// address is logged as a warning). When the token file is missing or empty the server
// still starts - the relay must not lose its health check over it - but every /api/
// request answers 503 naming the problem, and start-up logs it as an error.
//
// Lifetime: the Store, QueueOps and RelayMetrics must outlive the server. stop() is
// idempotent and bounded: it closes the listener, lets requests in progress finish (a
// route probe is cancelled) and joins the threads; the destructor calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/queue_ops.hpp"
#include "queue/store.hpp"
#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/policy/policy_engine.hpp"
#include "relay/sts/sts_cache.hpp"
#include "relay/sts/sts_state.hpp"
#include "relay/tlsrpt/report_plan.hpp"
#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::admin {

// What a reload asked for through POST /api/v1/reload did (relay/reload.hpp).
struct ReloadAnswer {
  bool applied = false;
  std::string file;
  std::vector<std::string> errors;    // refused: "file:line: message"
  std::vector<std::string> warnings;  // applied
  std::string summary;                // applied: "rules=3 routes=2 ..."
};

struct AdminDeps {
  std::shared_ptr<const config::Config> config;   // admin.listen, admin.token_file, dns
  queue::Store* store = nullptr;                   // required
  QueueOps* ops = nullptr;                         // null: mutations answer 503
  secmx::metrics::RelayMetrics* metrics = nullptr;                 // required
  std::shared_ptr<const policy::PolicyEngine> policy;  // null: policy test answers 503
  // /healthz: are the SMTP listeners up? Called from admin threads: must be thread-safe.
  // Null: assumed up.
  std::function<bool()> listeners_up;
  // POST /api/v1/reload: reload the config file as SIGHUP does, for `by` (logged and
  // audited); `done` may run on any thread. Null: the endpoint answers 503.
  std::function<void(const Operator& by, std::function<void(ReloadAnswer)> done)> reload{};
};

// MTA-STS for /api/v1/sts: the policy cache (show, purge; must outlive the server) and
// "fetch now" (its callback may run on any thread). Null cache: those endpoints answer 503.
struct AdminSts {
  sts::StsCache* cache = nullptr;
  std::function<void(const std::string& domain, std::function<void(sts::StsState)> done)> refresh;
};

// TLS reporting for /api/v1/tlsrpt (relay/tlsrpt/report_service.hpp): a day's rows, the
// report JSON for a day and domain (nullopt: nothing counted), and "send now". All may be
// called from any admin thread; send's done may run on any thread. A null function: that
// endpoint answers 503.
struct AdminTlsRpt {
  std::function<Result<std::vector<tlsrpt::DecodedTally>, std::string>(const std::string& day)> rows;
  std::function<Result<std::optional<std::string>, std::string>(
      const config::Config& config, const std::string& day, const std::string& domain)>
      report;  // `config`: the admin server's current one (organization, contact, from)
  using SendDone = std::function<void(std::string day, std::vector<tlsrpt::SendOutcome>)>;
  std::function<void(std::string day, std::optional<std::string> domain, SendDone done)> send;
};

class AdminServer {
 public:
  // Binds admin.listen (port 0: any free port, see port()) and starts serving.
  // Error: "127.0.0.1:8025: cannot bind" (the caller decides whether that is fatal).
  static Result<std::unique_ptr<AdminServer>, std::string> start(AdminDeps deps,
                                                                 AdminSts sts = {},
                                                                 AdminTlsRpt tlsrpt = {});

  virtual ~AdminServer() = default;
  virtual void stop() = 0;
  virtual std::uint16_t port() const = 0;

  // After a reload: the new config (token re-read from its token_file, route probe
  // options) and policy engine. Thread-safe; requests in progress keep the old ones.
  virtual void update(std::shared_ptr<const config::Config> config,
                      std::shared_ptr<const policy::PolicyEngine> policy) = 0;
};

}  // namespace secmx::admin
