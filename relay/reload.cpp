#include "relay/reload.hpp"

#include <fmt/format.h>

#include "relay/audit/audit_record.hpp"
#include "relay/audit/operator_records.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/policy/rule_engine.hpp"

namespace secmx {

Result<PreparedReload, std::vector<std::string>> prepare_reload(const std::string& path,
                                                                 const config::Config& running) {
  auto loaded = config::load_config(path);
  if (!loaded) {
    std::vector<std::string> lines;
    for (const auto& issue : loaded.error()) lines.push_back(issue.to_string());
    return fail(std::move(lines));
  }
  PreparedReload r;
  r.restart_only = config::keep_restart_only(running, *loaded);
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded));

  auto engine = policy::RuleEngine::create(cfg->policy);
  if (!engine) return fail(std::vector<std::string>{path + ": policy: " + engine.error()});
  r.policy = std::move(*engine);

  if (!cfg->smtp.tls_cert.empty()) {
    auto ctx = tls::TlsContext::create_server(cfg->smtp.tls_cert, cfg->smtp.tls_key,
                                                cfg->smtp.tls);
    if (!ctx) return fail(std::vector<std::string>{path + ": smtp.tls_cert: " + ctx.error().message});
    r.server_tls = std::move(*ctx);
  }
  auto client = tls::TlsContext::create_client(cfg->delivery.client_tls());
  if (!client) {
    return fail(std::vector<std::string>{path + ": delivery.ca_file: " + client.error().message});
  }
  r.client_tls = std::move(*client);
  r.config = std::move(cfg);
  return r;
}

std::string describe(const config::Config& config) {
  // auth_users: how many the users file holds now (SIGHUP reads it again with the rest).
  return fmt::format("rules={} routes={} starttls={} auth_users={} pause={} tlsrpt={} log_level={}",
                     config.policy.rules.size(), config.routes.size(),
                     config.smtp.tls_cert.empty() ? "off" : "on", config.smtp.auth.users.size(),
                     config.delivery.pause ? "on" : "off", config.tlsrpt.enabled ? "on" : "off",
                     config.log.level);
}

namespace {

// One record on its way to the store through libuv's thread pool.
struct RecordWork {
  uv_work_t req{};
  queue::Store* store = nullptr;
  queue::AuditRecord record;
  std::string failure;  // set by the pool thread, read back on the loop
};

}  // namespace

void record_reload(uv_loop_t* loop, queue::Store& store, const ReloadRequester& by,
                   const ReloadOutcome& outcome) {
  auto now = unix_now_us();
  auto work = std::make_unique<RecordWork>();
  work->store = &store;
  work->record = audit::reload_record(now, {by.name, by.client}, "config", outcome.applied,
                                      outcome.errors);
  work->req.data = work.get();
  int rc = uv_queue_work(
      loop, &work->req,
      [](uv_work_t* req) {
        auto* w = static_cast<RecordWork*>(req->data);
        if (auto st = w->store->append_audit({&w->record, 1}); !st) w->failure = st.error().message;
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<RecordWork> w(static_cast<RecordWork*>(req->data));
        if (!w->failure.empty()) {
          log::logger("main")->error("reload: audit record not written: {}", w->failure);
        }
      });
  if (rc != 0) {
    log::logger("main")->error("reload: audit record not written: {}", uv_strerror(rc));
    return;
  }
  work.release();  // owned by the request until its after-work callback
}

Status<std::string> ReloadRequests::start(uv_loop_t* loop, Apply apply, Record record) {
  apply_ = std::move(apply);
  record_ = std::move(record);
  if (int rc = uv_async_init(loop, &async_, on_async); rc != 0) {
    return fail(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  async_.data = this;
  std::lock_guard lock(mutex_);
  open_ = true;
  return Ok{};
}

void ReloadRequests::request(ReloadRequester by, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (open_) {
      waiting_.push_back(Waiting{std::move(by), std::move(done)});
      // Under the lock: close() cannot close the handle between the check and the send.
      uv_async_send(&async_);
      return;
    }
  }
  done(refused("the relay is not accepting reloads (starting or stopping)"));
}

void ReloadRequests::close() {
  std::vector<Waiting> waiting;
  {
    std::lock_guard lock(mutex_);
    if (!open_) return;
    open_ = false;
    waiting.swap(waiting_);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  for (auto& w : waiting) w.done(refused("the relay is stopping"));
}

void ReloadRequests::on_async(uv_async_t* handle) {
  auto* self = static_cast<ReloadRequests*>(handle->data);
  std::vector<Waiting> waiting;
  {
    std::lock_guard lock(self->mutex_);
    waiting.swap(self->waiting_);
  }
  if (waiting.empty()) return;
  ReloadOutcome outcome = self->apply_();
  // Requests that shared this reload each asked for it: each gets its own record (the
  // admin server logs each one's line).
  for (auto& w : waiting) {
    if (self->record_) self->record_(w.by, outcome);
    w.done(outcome);
  }
}

ReloadOutcome ReloadRequests::refused(const std::string& why) {
  ReloadOutcome o;
  o.errors.push_back(why);
  return o;
}

}  // namespace secmx
