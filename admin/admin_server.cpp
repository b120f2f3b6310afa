// admin_server.cpp - routes of the admin HTTP API on cpp-httplib.
//
// Requests reach cpp-httplib only once admin/bounded_http_server has framed them within
// the limits (413/414/431/... otherwise). The pre-routing step checks the token (/api/),
// then asks admin/api_routes for the endpoint (404, or 405 with Allow); every request that
// passes goes to dispatch(). Each handler runs on one of httplib's request threads, reads
// what it needs (Store read transactions, metric atomics, the current config and policy
// engine under a short lock) and answers JSON. Errors are {"error": "<words>", "code":
// "<kind>"} with the matching HTTP status; see docs/admin.md.
//
// Logging: anything taken from a request (path, method, id, domain, reason, an error that
// quotes them) goes through log::escape() with a length cap.
#include "admin/admin_server.hpp"

#include <arpa/inet.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "admin/admin_token.hpp"
#include "admin/api_routes.hpp"
#include "admin/bounded_http_server.hpp"
#include "admin/policy_probe.hpp"
#include "admin/queue_view.hpp"
#include "admin/sts_view.hpp"
#include "admin/tlsrpt_view.hpp"
#ifdef SECMX_HAVE_ROUTE_PROBE
#include "admin/route_probe.hpp"
#endif
#include "relay/audit/audit_query.hpp"
#include "relay/audit/audit_record.hpp"
#include "relay/audit/audit_report.hpp"
#include "relay/audit/audit_verify.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"

namespace secmx::admin {

namespace {

using nlohmann::json;
using metrics::DeliveryTls;
using metrics::kMethods;
using metrics::PolicyCounter;

constexpr std::size_t kRequestThreads = 4;
constexpr HttpLimits kLimits{};  // 64 KiB bodies, 4 KiB request line, 64 header lines, ...
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

void answer(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void error(httplib::Response& res, int status, const std::string& code, const std::string& text) {
  answer(res, status, json{{"error", text}, {"code", code}});
}

void op_error(httplib::Response& res, const OpError& e) {
  switch (e.kind) {
    case OpError::Kind::NotFound: return error(res, 404, "not_found", e.message);
    case OpError::Kind::Busy: return error(res, 409, "busy", e.message);
    case OpError::Kind::Conflict: return error(res, 409, "conflict", e.message);
    case OpError::Kind::Error: return error(res, 500, "error", e.message);
  }
}

bool is_loopback(const std::string& host) {
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return host == "::1";
}

class AdminServerImpl final : public AdminServer {
 public:
  AdminServerImpl(AdminDeps deps, AdminSts sts, AdminTlsRpt tlsrpt)
      : deps_(std::move(deps)),
        sts_(std::move(sts)),
        tlsrpt_(std::move(tlsrpt)),
        log_(log::logger("admin")),
        svr_(kLimits, [out = log_](const std::string& peer, const FrameError& e) {
          out->warn("refused a request from [{}]: {} {}", log::escape(peer, 64), e.status, e.text);
        }) {
    load_token(*deps_.config);
  }

  ~AdminServerImpl() override { stop(); }

  Status<std::string> bind() {
    const auto& ep = deps_.config->admin.listen;
    svr_.new_task_queue = [] { return new httplib::ThreadPool(kRequestThreads); };
    svr_.set_keep_alive_timeout(2);
    svr_.set_keep_alive_max_count(100);
    svr_.set_read_timeout(10, 0);
    svr_.set_write_timeout(10, 0);
    svr_.set_payload_max_length(kLimits.max_body);  // a second guard; framing enforces it
    if (ep.host.find(':') != std::string::npos) svr_.set_address_family(AF_INET6);
    routes();
    if (ep.port == 0) {
      int p = svr_.bind_to_any_port(ep.host);
      if (p <= 0) return fail(ep.to_string() + ": cannot bind");
      port_ = static_cast<std::uint16_t>(p);
    } else {
      if (!svr_.bind_to_port(ep.host, ep.port)) return fail(ep.to_string() + ": cannot bind");
      port_ = ep.port;
    }
    if (!is_loopback(ep.host)) {
      log_->warn("admin API listening on non-loopback address {}: protect it", ep.host);
    }
    thread_ = std::thread([this] {
      // Named (and so are the request threads it starts, which inherit the name) so that
      // the admin API's CPU can be read apart from the relay's other threads.
      pthread_setname_np(pthread_self(), "admin");
      svr_.listen_after_bind();
    });
    // httplib's stop() is a no-op until the accept loop runs: wait for it (bounded), so
    // that a stop() right after start() cannot leave the accept thread behind.
    for (int i = 0; i < 2000 && !svr_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    config::Endpoint shown{ep.host, port_};
    log_->info("admin API listening on {}", shown.to_string());
    return Ok{};
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    cancel_.store(true);
    svr_.stop();
    if (thread_.joinable()) thread_.join();
    log_->info("admin API stopped");
  }

  std::uint16_t port() const override { return port_; }

  void update(std::shared_ptr<const config::Config> config,
              std::shared_ptr<const policy::PolicyEngine> policy) override {
    load_token(*config);
    std::lock_guard lock(mutex_);
    deps_.config = std::move(config);
    if (policy) deps_.policy = std::move(policy);
  }

 private:
  // The operators' tokens: token_file's as "admin", tokens_file's by name (the config
  // has parsed and checked tokens_file; a reload re-reads both).
  void load_token(const config::Config& cfg) {
    auto tokens = std::make_shared<const TokenSet>(TokenSet::from_config(cfg.admin));
    std::lock_guard lock(mutex_);
    if (!tokens->empty()) {
      if (!tokens->token_file_problem().empty()) {
        log_->warn("admin token file {}: operator admin cannot log in; {} named operators can",
                   tokens->token_file_problem(), tokens->size());
      }
      token_ = std::move(tokens);
      token_problem_.clear();
    } else {
      token_.reset();
      token_problem_ = "admin API disabled: token file " + tokens->token_file_problem();
      log_->error("{} (every /api/ request answers 503)", token_problem_);
    }
  }

  std::shared_ptr<const config::Config> config() {
    std::lock_guard lock(mutex_);
    return deps_.config;
  }

  // --- routing -------------------------------------------------------------------

  void routes() {
    svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return httplib::Server::HandlerResponse::Handled;
      auto m = match_route(req.method, req.path);
      if (m.kind == RouteMatch::Kind::NotFound) {
        error(res, 404, "no_such_endpoint", "no such endpoint: " + log::escape(req.path, 100));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (m.kind == RouteMatch::Kind::MethodNotAllowed) {
        res.set_header("Allow", m.allow);
        error(res, 405, "method_not_allowed",
              log::escape(req.method, 20) + " not allowed here; allowed: " + m.allow);
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;  // on to dispatch()
    });
    svr_.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request&, httplib::Response& res) {
          // Our handlers always set a body; an empty one means httplib itself refused.
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          error(res, res.status, "bad_request", "HTTP " + std::to_string(res.status));
          return httplib::Server::HandlerResponse::Handled;
        }));
    svr_.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          log_->error("{} {}: {}", log::escape(req.method, 20), log::escape(req.path, 100),
                      log::escape(what));
          error(res, 500, "error", "internal error: " + what);
        });

    // Every method the pre-routing step lets through lands here (HEAD as GET).
    auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
      auto m = match_route(req.method, req.path);
      if (m.kind != RouteMatch::Kind::Found) return error(res, 404, "no_such_endpoint", "no such endpoint");
      // Who asks, for the log lines and audit records of what changes state: the token is
      // matched again (cheap), the set having possibly been reloaded since pre-routing.
      auto who = authorize(req, res);
      if (!who) return;
      const Operator& by = *who;
      switch (m.endpoint) {
        case Endpoint::Healthz: return healthz(req, res);
        case Endpoint::Metrics: return metrics(req, res);
        case Endpoint::Stats: return stats(req, res);
        case Endpoint::QueueList: return list(req, res);
        case Endpoint::QueueFlush: return flush_all(req, res, by);
        case Endpoint::QueueShow: return show(m.arg, res);
        case Endpoint::QueueDelete: return mutate(req, res, m.arg, "delete", by);
        case Endpoint::QueueOp: return mutate(req, res, m.arg, m.op, by);
        case Endpoint::Route: return route(m.arg, res);
        case Endpoint::PolicyTest: return policy_test(req, res);
        case Endpoint::StsShow: return sts_show(m.arg, res);
        case Endpoint::StsPurge: return sts_purge(m.arg, res, by);
        case Endpoint::StsFetch: return sts_fetch(m.arg, res, by);
        case Endpoint::TlsRptList: return tlsrpt_list(req, res);
        case Endpoint::TlsRptReport: return tlsrpt_report(req, res);
        case Endpoint::TlsRptSend: return tlsrpt_send(req, res, by);
        case Endpoint::Reload: return reload(res, by);
        case Endpoint::AuditSearch: return audit_search(req, res);
        case Endpoint::AuditReport: return audit_report(req, res);
        case Endpoint::AuditVerify: return audit_verify(req, res);
      }
    };
    svr_.Get(".*", dispatch);
    svr_.Post(".*", dispatch);
    svr_.Delete(".*", dispatch);
  }

  // The operator the request's bearer token names; outside /api/ nobody (an empty name).
  // nullopt: refused, `res` holds the answer (401, or 503 without tokens).
  std::optional<Operator> authorize(const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/api/", 0) != 0) return Operator{"", req.remote_addr};
    std::shared_ptr<const TokenSet> token;
    std::string problem;
    {
      std::lock_guard lock(mutex_);
      token = token_;
      problem = token_problem_;
    }
    if (!token) {
      error(res, 503, "no_token", problem);
      return std::nullopt;
    }
    auto name = token->match_header(req.get_header_value("Authorization"));
    if (!name) {
      log_->warn("401 {} {} from [{}]", log::escape(req.method, 20), log::escape(req.path, 100),
                 log::escape(req.remote_addr, 64));
      res.set_header("WWW-Authenticate", "Bearer realm=\"secmx-relay\"");
      error(res, 401, "unauthorized", "missing or wrong bearer token");
      return std::nullopt;
    }
    return Operator{std::move(*name), req.remote_addr};
  }

  // "operator=alice client=[127.0.0.1]", for the line of every action.
  static std::string who(const Operator& by) {
    return "operator=" + log::escape(by.name, 64) + " client=[" + log::escape(by.client, 64) + "]";
  }

  // --- handlers ------------------------------------------------------------------

  void healthz(const httplib::Request&, httplib::Response& res) {
    auto st = deps_.store->stats();
    bool listeners = !deps_.listeners_up || deps_.listeners_up();
    json body{{"status", st && listeners ? "ok" : "down"},
              {"queue", st ? "ok" : "error: " + st.error().message},
              {"listeners", listeners ? "ok" : "down"}};
    answer(res, st && listeners ? 200 : 503, body);
  }

  void refresh_queue_gauges() {
    auto st = deps_.store->stats();
    if (!st) return;
    deps_.metrics->queue_messages.set(static_cast<std::int64_t>(st->messages));
    deps_.metrics->queue_held.set(static_cast<std::int64_t>(st->held));
    deps_.metrics->queue_oldest_age_seconds.set(
        st->oldest_arrival_us == 0 ? 0 : std::max<std::int64_t>(0, (unix_now_us() - st->oldest_arrival_us) / 1000000));
  }

  void metrics(const httplib::Request&, httplib::Response& res) {
    refresh_queue_gauges();
    res.status = 200;
    res.set_content(deps_.metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
  }

  void stats(const httplib::Request&, httplib::Response& res) {
    auto st = deps_.store->stats();
    if (!st) return error(res, 500, "store", st.error().message);
    refresh_queue_gauges();
    const auto& m = *deps_.metrics;
    auto by_policy = [](const PolicyCounter& c) {
      json j;
      for (auto p : {model::Policy::BES, model::Policy::SOS, model::Policy::HOLD}) {
        j[to_string(p)] = c.value(p);
      }
      return j;
    };
    json deliveries;
    for (auto t : {DeliveryTls::None, DeliveryTls::Encrypt, DeliveryTls::Verified}) {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < kMethods; ++i) n += m.deliveries.value(t, static_cast<dns::Method>(i));
      deliveries[to_string(t)] = n;
    }
    answer(res, 200,
           json{{"queue",
                 {{"messages", st->messages},
                  {"held", st->held},
                  {"oldest_arrival", st->oldest_arrival_us ? json(iso_time(st->oldest_arrival_us)) : json(nullptr)},
                  {"oldest_age_seconds", m.queue_oldest_age_seconds.value()}}},
                {"messages_received", m.messages_received.value()},
                {"received", by_policy(m.received)},
                {"delivered", by_policy(m.delivered)},
                {"deferred", by_policy(m.deferred)},
                {"bounced", by_policy(m.bounced)},
                {"sos_bounces", m.sos_bounces.value()},
                {"deliveries_by_tls", deliveries},
                {"connections",
                 {{"inbound", m.inbound_connections.value()},
                  {"outbound", m.outbound_connections.value()}}},
                {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::steady_clock::now() - started_)
                                       .count()}});
  }

  void list(const httplib::Request& req, httplib::Response& res) {
    auto filter = QueueFilter::parse(req.params);
    if (!filter) return error(res, 400, "bad_request", filter.error());
    model::QueueId after{};
    if (req.has_param("after") && !req.get_param_value("after").empty()) {
      auto id = model::QueueId::parse(req.get_param_value("after"));
      if (!id) return error(res, 400, "bad_request", "after: expected a queue id (16 hex digits)");
      after = *id;
    }
    std::size_t limit = kDefaultLimit;
    if (req.has_param("limit")) {
      try {
        auto n = std::stoul(req.get_param_value("limit"));
        if (n == 0 || n > kMaxLimit) throw std::out_of_range("limit");
        limit = n;
      } catch (const std::exception&) {
        return error(res, 400, "bad_request", "limit: expected 1.." + std::to_string(kMaxLimit));
      }
    }
    auto now = unix_now_us();
    auto page = list_page(*deps_.store, *filter, after, limit, now);
    if (!page) return error(res, 500, "store", page.error().message);
    json items = json::array();
    for (const auto& env : page->items) items.push_back(summary_json(env, now));
    answer(res, 200,
           json{{"messages", std::move(items)},
                {"next", page->next ? json(page->next->to_string()) : json(nullptr)}});
  }

  std::optional<model::QueueId> id_param(const std::string& arg, httplib::Response& res) {
    auto id = model::QueueId::parse(arg);
    if (!id) error(res, 400, "bad_request", "not a queue id: " + log::escape(arg, 40));
    return id;
  }

  void show(const std::string& arg, httplib::Response& res) {
    auto id = id_param(arg, res);
    if (!id) return;
    auto env = deps_.store->load(*id);
    if (!env) return error(res, 500, "store", env.error().message);
    if (!*env) return error(res, 404, "not_found", "no message " + id->to_string() + " in the queue");
    answer(res, 200, detail_json(**env, unix_now_us()));
  }

  void mutate(const httplib::Request& req, httplib::Response& res, const std::string& arg,
              const std::string& op, const Operator& by) {
    auto id = id_param(arg, res);
    if (!id) return;
    if (!deps_.ops) return error(res, 503, "unavailable", "queue operations are not available");
    OpStatus st = Ok{};
    if (op == "hold") st = deps_.ops->hold(*id, by);
    else if (op == "release") st = deps_.ops->release(*id, by);
    else if (op == "flush") st = deps_.ops->flush(*id, by);
    else if (op == "delete") st = deps_.ops->remove(*id, by);
    else if (op == "bounce") {
      std::string reason;
      if (!req.body.empty()) {
        auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
          return error(res, 400, "bad_request", "body: expected a JSON object");
        }
        if (auto it = body.find("reason"); it != body.end() && it->is_string()) reason = *it;
      }
      st = deps_.ops->bounce(*id, reason, by);
    }
    log_->info("{}: {} {}: {}", id->to_string(), op, who(by),
               st ? "ok" : log::escape(st.error().message));
    if (!st) return op_error(res, st.error());
    json body{{"id", id->to_string()}, {"operation", op}, {"result", "ok"}};
    if (op != "delete") {
      // What the operation left behind, read back from the store.
      auto env = deps_.store->load(*id);
      if (env && *env) body["message"] = detail_json(**env, unix_now_us());
    }
    answer(res, 200, body);
  }

  void flush_all(const httplib::Request& req, httplib::Response& res, const Operator& by) {
    if (!deps_.ops) return error(res, 503, "unavailable", "queue operations are not available");
    std::optional<std::string> domain;
    if (req.has_param("domain")) domain = req.get_param_value("domain");
    if (!req.body.empty()) {
      auto body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) {
        return error(res, 400, "bad_request", "body: expected a JSON object");
      }
      if (auto it = body.find("domain"); it != body.end() && it->is_string()) domain = it->get<std::string>();
    }
    if (domain && domain->empty()) domain.reset();
    auto n = deps_.ops->flush_all(domain, by);
    log_->info("flush {} {}: {}", domain ? "domain=" + log::escape(*domain, 100) : "all", who(by),
               n ? std::to_string(*n) + " messages" : log::escape(n.error().message));
    // The audit record of the flush is the scheduler's to write, once its count is known and
    // whether or not this wait ran out (delivery/queue_flush.hpp).
    if (!n) return op_error(res, n.error());
    answer(res, 200, json{{"operation", "flush"},
                          {"domain", domain ? json(*domain) : json(nullptr)},
                          {"messages", *n}});
  }

  void route(const std::string& domain, httplib::Response& res) {
#ifdef SECMX_HAVE_ROUTE_PROBE
    auto cfg = config();
    auto result = probe_route(*cfg, domain, cancel_, {}, cfg->mta_sts.enabled ? sts_.cache : nullptr);
    if (!result) return error(res, 500, "error", result.error());
    answer(res, 200, *result);
#else
    error(res, 501, "unavailable", "route probe not built: the SMTP client library is missing");
    (void)domain;
#endif
  }

  void policy_test(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const policy::PolicyEngine> engine;
    {
      std::lock_guard lock(mutex_);
      engine = deps_.policy;
    }
    if (!engine) return error(res, 503, "unavailable", "no policy engine");
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return error(res, 400, "bad_request", "body: expected JSON");
    auto out = admin::policy_test(*engine, body);
    if (!out) return error(res, 400, "bad_request", out.error());
    answer(res, 200, *out);
  }

  // The daemon's own reload (SIGHUP's), run on its main loop; refused with the file:line
  // errors (422), the running configuration staying in force.
  void reload(httplib::Response& res, const Operator& by) {
    if (!deps_.reload) return error(res, 503, "unavailable", "reload is not available");
    auto done = std::make_shared<std::promise<ReloadAnswer>>();
    auto got = done->get_future();
    deps_.reload(by, [done](ReloadAnswer a) { done->set_value(std::move(a)); });
    // Reading the file and loading certificates takes well under this; a shutdown does
    // not wait for it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (got.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (cancel_.load() || std::chrono::steady_clock::now() >= deadline) {
        return error(res, 504, "timeout", "the relay did not reload in time");
      }
    }
    ReloadAnswer a = got.get();
    log_->info("reload {}: {}", who(by),
               a.applied ? "applied" : "refused, " + std::to_string(a.errors.size()) + " errors");
    if (!a.applied) {
      // Without a file the daemon did not get as far as reading it (starting, stopping).
      std::string why = a.file + " has errors; the running configuration stays in force";
      if (a.file.empty()) why = a.errors.empty() ? std::string("refused") : a.errors.front();
      return answer(res, 422, json{{"error", why}, {"code", "reload_refused"}, {"file", a.file},
                                   {"errors", a.errors}});
    }
    answer(res, 200, json{{"applied", true}, {"file", a.file}, {"summary", a.summary},
                          {"warnings", a.warnings}});
  }

  // --- audit trail ---------------------------------------------------------------------

  // from/to of the report and verify endpoints (any other parameter is refused).
  std::optional<audit::Filter> audit_range(const httplib::Request& req, httplib::Response& res) {
    for (const auto& [name, value] : req.params) {
      if (name != "from" && name != "to") {
        error(res, 400, "bad_request",
              "unknown parameter '" + log::escape(name, 40) + "': expected from or to");
        return std::nullopt;
      }
    }
    auto f = audit::parse_filter(req.params);
    if (!f) {
      error(res, 400, "bad_request", log::escape(f.error(), 200));
      return std::nullopt;
    }
    return std::move(*f);
  }

  void audit_search(const httplib::Request& req, httplib::Response& res) {
    auto filter = audit::parse_filter(req.params, {"after", "limit"});
    if (!filter) return error(res, 400, "bad_request", log::escape(filter.error(), 200));
    std::uint64_t after = 0;
    std::size_t limit = kDefaultLimit;
    try {
      if (req.has_param("after") && !req.get_param_value("after").empty()) {
        const auto& v = req.get_param_value("after");
        std::size_t used = 0;
        after = std::stoull(v, &used);
        if (used != v.size() || v.front() == '-') throw std::invalid_argument("after");
      }
    } catch (const std::exception&) {
      return error(res, 400, "bad_request", "after: expected the seq of a record (the previous page's next)");
    }
    try {
      if (req.has_param("limit")) {
        const auto& v = req.get_param_value("limit");
        std::size_t used = 0;
        limit = std::stoul(v, &used);
        if (used != v.size() || limit == 0 || limit > kMaxLimit) throw std::out_of_range("limit");
      }
    } catch (const std::exception&) {
      return error(res, 400, "bad_request", "limit: expected 1.." + std::to_string(kMaxLimit));
    }
    auto page = audit::query_page(*deps_.store, *filter, after, limit);
    if (!page) return error(res, 500, "store", page.error().message);
    json records = json::array();
    for (auto& [seq, payload] : page->records) {
      auto record = json::parse(payload, nullptr, false);
      records.push_back({{"seq", seq}, {"record", record.is_discarded() ? json(payload) : std::move(record)}});
    }
    answer(res, 200, json{{"records", std::move(records)},
                          {"next", page->next ? json(*page->next) : json(nullptr)}});
  }

  void audit_report(const httplib::Request& req, httplib::Response& res) {
    auto range = audit_range(req, res);
    if (!range) return;
    auto report = audit::build_report(*deps_.store, range->from_us, range->to_us);
    if (!report) return error(res, 500, "store", report.error().message);
    answer(res, 200, audit::report_json(*report));
  }

  // 200 with "ok" false when the chain is broken: the verification itself worked.
  void audit_verify(const httplib::Request& req, httplib::Response& res) {
    auto range = audit_range(req, res);
    if (!range) return;
    auto key = audit::read_key_file(config()->audit.key_file);
    if (!key) return error(res, 500, "key", key.error());
    auto report = audit::verify(*deps_.store, *key, range->from_us, range->to_us);
    if (!report) return error(res, 500, "store", report.error().message);
    log_->info("audit verify by [{}]: records={} checkpoints={} {}", log::escape(req.remote_addr, 64),
               report->records, report->checkpoints,
               report->ok() ? std::string("ok")
                            : "break seq=" + std::to_string(report->first_break->seq) + ": " +
                                  report->first_break->what);
    answer(res, 200, audit::verify_json(*report));
  }

  // --- MTA-STS ---------------------------------------------------------------------

  std::optional<std::string> sts_arg(const std::string& arg, httplib::Response& res) {
    if (!sts_.cache) {
      error(res, 503, "unavailable", "the MTA-STS cache is not available");
      return std::nullopt;
    }
    auto d = sts_domain(arg);
    if (!d) error(res, 400, "bad_request", "not a domain: " + log::escape(arg, 100));
    return d;
  }

  json sts_view(const std::string& domain) {
    return sts_json(domain, config()->mta_sts.enabled, sts_.cache->get(domain),
                    sts_.cache->last_failure(domain), unix_now_us());
  }

  void sts_show(const std::string& arg, httplib::Response& res) {
    auto d = sts_arg(arg, res);
    if (!d) return;
    json body = sts_view(*d);
    if (body["policy"].is_null() && body["last_failure"].is_null()) {
      return error(res, 404, "not_found", "no MTA-STS policy cached for " + *d);
    }
    answer(res, 200, body);
  }

  void sts_purge(const std::string& arg, httplib::Response& res, const Operator& by) {
    auto d = sts_arg(arg, res);
    if (!d) return;
    bool had = sts_.cache->remove(*d);
    log_->info("sts purge domain={} {}: {}", log::escape(*d), who(by),
               had ? "removed" : "nothing cached");
    if (!had) return error(res, 404, "not_found", "no MTA-STS policy cached for " + *d);
    answer(res, 200, json{{"domain", *d}, {"operation", "purge"}, {"result", "ok"}});
  }

  void sts_fetch(const std::string& arg, httplib::Response& res, const Operator& by) {
    auto d = sts_arg(arg, res);
    if (!d) return;
    auto cfg = config();
    if (!cfg->mta_sts.enabled) {
      return error(res, 409, "conflict", "MTA-STS is disabled ([mta_sts] enabled = false)");
    }
    if (!sts_.refresh) return error(res, 503, "unavailable", "delivery workers not running");
    auto done = std::make_shared<std::promise<sts::StsState>>();
    auto got = done->get_future();
    sts_.refresh(*d, [done](sts::StsState s) { done->set_value(std::move(s)); });
    // The fetch has its own limit; DNS and the worker's queue get some room beside it.
    // A shutdown (stop()) does not wait for it.
    auto deadline = std::chrono::steady_clock::now() + cfg->mta_sts.fetch_timeout +
                    std::chrono::seconds(15);
    while (got.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (cancel_.load() || std::chrono::steady_clock::now() >= deadline) {
        return error(res, 504, "timeout", "no answer for " + *d + " in time");
      }
    }
    sts::StsState state = got.get();
    json body = sts_view(*d);
    body["fetch"] = sts_state_json(state);
    log_->info("sts fetch domain={} {}: {}", log::escape(*d), who(by),
               body["fetch"]["result"].get<std::string>());
    answer(res, 200, body);
  }

  // --- TLS reporting ------------------------------------------------------------------

  // The "day" parameter (or body field): a date, or `fallback` when absent or empty.
  std::optional<std::string> day_arg(const std::string& given, const std::string& fallback,
                                     httplib::Response& res) {
    if (given.empty()) return fallback;
    auto d = tlsrpt_day(given);
    if (!d) error(res, 400, "bad_request", "day: expected YYYY-MM-DD, got " + log::escape(given, 40));
    return d;
  }

  void tlsrpt_list(const httplib::Request& req, httplib::Response& res) {
    if (!tlsrpt_.rows) return error(res, 503, "unavailable", "TLS reporting is not available");
    auto day = day_arg(req.get_param_value("day"), tlsrpt::utc_day(unix_now_us()), res);
    if (!day) return;
    auto rows = tlsrpt_.rows(*day);
    if (!rows) return error(res, 500, "store", rows.error());
    answer(res, 200, tlsrpt_list_json(*day, *rows));
  }

  void tlsrpt_report(const httplib::Request& req, httplib::Response& res) {
    if (!tlsrpt_.report) return error(res, 503, "unavailable", "TLS reporting is not available");
    auto day = day_arg(req.get_param_value("day"), tlsrpt::utc_day(unix_now_us()), res);
    if (!day) return;
    auto domain = sts_domain(req.get_param_value("domain"));
    if (!domain) {
      return error(res, 400, "bad_request",
                   "domain: not a domain: " + log::escape(req.get_param_value("domain"), 100));
    }
    auto report = tlsrpt_.report(*config(), *day, *domain);
    if (!report) return error(res, 500, "store", report.error());
    if (!*report) {
      return error(res, 404, "not_found", "no sessions counted for " + *domain + " on " + *day);
    }
    auto body = json::parse(**report, nullptr, false);
    if (body.is_discarded()) return error(res, 500, "error", "the report is not valid JSON");
    answer(res, 200, body);
  }

  void tlsrpt_send(const httplib::Request& req, httplib::Response& res, const Operator& by) {
    if (!tlsrpt_.send) return error(res, 503, "unavailable", "TLS reporting is not available");
    auto cfg = config();
    if (!cfg->tlsrpt.enabled) {
      return error(res, 409, "conflict", "TLS reporting is disabled ([tlsrpt] enabled = false)");
    }
    std::string given_day, given_domain;
    if (!req.body.empty()) {
      auto body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) {
        return error(res, 400, "bad_request", "body: expected a JSON object");
      }
      if (auto it = body.find("day"); it != body.end() && it->is_string()) given_day = *it;
      if (auto it = body.find("domain"); it != body.end() && it->is_string()) given_domain = *it;
    }
    // "" lets the service take yesterday by its own clock.
    auto day = day_arg(given_day, "", res);
    if (!day) return;
    std::optional<std::string> domain;
    if (!given_domain.empty()) {
      domain = sts_domain(given_domain);
      if (!domain) {
        return error(res, 400, "bad_request", "domain: not a domain: " + log::escape(given_domain, 100));
      }
    }
    struct Answer {
      std::string day;
      std::vector<tlsrpt::SendOutcome> outcomes;
    };
    auto done = std::make_shared<std::promise<Answer>>();
    auto got = done->get_future();
    tlsrpt_.send(*day, domain, [done](std::string d, std::vector<tlsrpt::SendOutcome> o) {
      done->set_value(Answer{std::move(d), std::move(o)});
    });
    // One POST try per https address plus DNS; a shutdown does not wait for it.
    auto deadline = std::chrono::steady_clock::now() + cfg->tlsrpt.https_timeout +
                    std::chrono::seconds(30);
    while (got.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (cancel_.load() || std::chrono::steady_clock::now() >= deadline) {
        return error(res, 504, "timeout", "the reports were not all sent in time");
      }
    }
    Answer a = got.get();
    log_->info("tlsrpt send day={} domain={} {}: {} outcomes", a.day,
               domain ? log::escape(*domain) : std::string("all"), who(by),
               a.outcomes.size());
    answer(res, 200, tlsrpt_send_json(a.day, a.outcomes));
  }

  AdminDeps deps_;
  AdminSts sts_;
  AdminTlsRpt tlsrpt_;
  std::shared_ptr<spdlog::logger> log_;
  BoundedHttpServer svr_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> cancel_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  std::mutex mutex_;  // guards token_, token_problem_, deps_.config, deps_.policy
  std::shared_ptr<const TokenSet> token_;
  std::string token_problem_;
};

}  // namespace

Result<std::unique_ptr<AdminServer>, std::string> AdminServer::start(AdminDeps deps,
                                                                    AdminSts sts,
                                                                    AdminTlsRpt tlsrpt) {
  if (!deps.config || !deps.store || !deps.metrics) {
    return fail(std::string("admin server: config, store and metrics are required"));
  }
  auto server = std::make_unique<AdminServerImpl>(std::move(deps), std::move(sts),
                                                  std::move(tlsrpt));
  if (auto st = server->bind(); !st) return fail(st.error());
  return std::unique_ptr<AdminServer>(std::move(server));
}

}  // namespace secmx::admin
