// config_paths.cpp - the list of path keys (see config_paths.hpp).
#include "relay/config/config_paths.hpp"

namespace secmx::config {
namespace {

// The one list, for both constnesses.
template <class C, class F>
void each_path(C& cfg, F&& f) {
  f("smtp.tls_cert", cfg.smtp.tls_cert);
  f("smtp.tls_key", cfg.smtp.tls_key);
  f("smtp.tls_ecdsa_cert", cfg.smtp.tls.ecdsa_cert);
  f("smtp.tls_ecdsa_key", cfg.smtp.tls.ecdsa_key);
  f("queue.path", cfg.queue.path);
  f("delivery.ca_file", cfg.delivery.ca_file);
  f("admin.token_file", cfg.admin.token_file);
  f("admin.tokens_file", cfg.admin.tokens_file);
  f("log.file", cfg.log.file);
  f("smtp.auth.users_file", cfg.smtp.auth.users_file);
  f("smtp.auth.senders_file", cfg.smtp.sender_login.senders_file);
  f("audit.key_file", cfg.audit.key_file);
  f("audit.stream_file", cfg.audit.stream_file);
}

}  // namespace

std::vector<PathSetting> path_settings(Config& cfg) {
  std::vector<PathSetting> out;
  each_path(cfg, [&out](std::string_view key, std::string& value) {
    out.push_back({key, &value});
  });
  return out;
}

std::vector<std::pair<std::string_view, std::string>> path_settings(const Config& cfg) {
  std::vector<std::pair<std::string_view, std::string>> out;
  each_path(cfg, [&out](std::string_view key, const std::string& value) {
    out.emplace_back(key, value);
  });
  return out;
}

}  // namespace secmx::config
