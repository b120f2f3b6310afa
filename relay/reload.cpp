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

}  // namespace secmx
