// config_reload.cpp - which settings a running relay can take over on SIGHUP.
//
// Everything that is read afresh per session, per message or per attempt reloads: relay
// networks (a listener's own too), listener auth and sender_login, the senders file,
// limits, timeouts, STARTTLS certificate, policy rules, routes, retry schedule, DSN
// options, delivery pause. What was used to build long-lived resources at start-up (a
// listener's address and how TLS starts on it among them)
// cannot change under them: the listening sockets, the LMDB environment and its writer,
// the worker threads with their resolvers and connection caches, the connection budget,
// the privilege drop, the log sink, the audit trail's key, checkpoints and stream. Postfix draws the same line (inet_interfaces and
// queue_directory need a restart, everything else a reload).
#include "relay/config/config.hpp"

namespace secmx::config {

namespace {

template <class T>
void keep(std::vector<std::string>& changed, const char* name, const T& running, T& next) {
  if (!(running == next)) {
    changed.emplace_back(name);
    next = running;
  }
}

bool same_sockets(const std::vector<Listener>& a, const std::vector<Listener>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].address == b[i].address) || a[i].tls != b[i].tls) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
  std::vector<std::string> changed;
  keep(changed, "user", running.user, next.user);
  keep(changed, "group", running.group, next.group);
  // A listener's socket and how TLS starts on it are fixed at start-up; its auth,
  // relay_networks and sender_login are read per session and reload. Sessions find their
  // listener by position, so the list keeps its order unless a restart changes it.
  if (!same_sockets(running.smtp.listeners, next.smtp.listeners)) {
    changed.emplace_back("smtp.listen");
    next.smtp.listeners = running.smtp.listeners;
  }
  keep(changed, "queue.path", running.queue.path, next.queue.path);
  keep(changed, "queue.map_size", running.queue.map_size, next.queue.map_size);
  keep(changed, "queue.commit_interval", running.queue.commit_interval, next.queue.commit_interval);
  keep(changed, "queue.max_batch", running.queue.max_batch, next.queue.max_batch);
  keep(changed, "dns.servers", running.dns.servers, next.dns.servers);
  keep(changed, "dns.dnssec", running.dns.dnssec, next.dns.dnssec);
  keep(changed, "delivery.workers", running.delivery.workers, next.delivery.workers);
  keep(changed, "delivery.max_connections", running.delivery.max_connections,
       next.delivery.max_connections);
  keep(changed, "delivery.connection_cache_time", running.delivery.connection_cache_time,
       next.delivery.connection_cache_time);
  keep(changed, "mta_sts.refresh_interval", running.mta_sts.refresh_interval,
       next.mta_sts.refresh_interval);
  keep(changed, "admin.listen", running.admin.listen, next.admin.listen);
  keep(changed, "log.file", running.log.file, next.log.file);
  keep(changed, "log.format", running.log.format, next.log.format);
  // The audit trail's key, its checkpoint thread and its stream file are set up at start-up;
  // turning it on or off in a running relay would leave a chain without checkpoints or a
  // gap nobody asked for.
  keep(changed, "audit.enabled", running.audit.enabled, next.audit.enabled);
  keep(changed, "audit.key_file", running.audit.key_file, next.audit.key_file);
  keep(changed, "audit.retention", running.audit.retention, next.audit.retention);
  keep(changed, "audit.checkpoint_interval", running.audit.checkpoint_interval,
       next.audit.checkpoint_interval);
  keep(changed, "audit.stream_file", running.audit.stream_file, next.audit.stream_file);
  return changed;
}

}  // namespace secmx::config
