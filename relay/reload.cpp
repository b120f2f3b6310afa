#include "relay/reload.hpp"

#include <fmt/format.h>

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

Status<std::string> ReloadRequests::start(uv_loop_t* loop, Apply apply) {
  apply_ = std::move(apply);
  if (int rc = uv_async_init(loop, &async_, on_async); rc != 0) {
    return fail(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  async_.data = this;
  std::lock_guard lock(mutex_);
  open_ = true;
  return Ok{};
}

void ReloadRequests::request(Done done) {
  {
    std::lock_guard lock(mutex_);
    if (open_) {
      waiting_.push_back(std::move(done));
      // Under the lock: close() cannot close the handle between the check and the send.
      uv_async_send(&async_);
      return;
    }
  }
  done(refused("the relay is not accepting reloads (starting or stopping)"));
}

void ReloadRequests::close() {
  std::vector<Done> waiting;
  {
    std::lock_guard lock(mutex_);
    if (!open_) return;
    open_ = false;
    waiting.swap(waiting_);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  for (auto& done : waiting) done(refused("the relay is stopping"));
}

void ReloadRequests::on_async(uv_async_t* handle) {
  auto* self = static_cast<ReloadRequests*>(handle->data);
  std::vector<Done> waiting;
  {
    std::lock_guard lock(self->mutex_);
    waiting.swap(self->waiting_);
  }
  if (waiting.empty()) return;
  ReloadOutcome outcome = self->apply_();
  for (auto& done : waiting) done(outcome);
}

ReloadOutcome ReloadRequests::refused(const std::string& why) {
  ReloadOutcome o;
  o.errors.push_back(why);
  return o;
}

}  // namespace secmx
