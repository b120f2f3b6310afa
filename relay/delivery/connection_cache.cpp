// connection_cache.cpp - idle connections and TLS sessions; see connection_cache.hpp.
#include "relay/delivery/connection_cache.hpp"

#include <algorithm>

#include "relay/common/callback_guard.hpp"
#include "relay/common/log.hpp"
#include "relay/tls/peer_verify.hpp"

namespace secmx::delivery {
namespace {

std::string session_key(const std::string& host, const tls::PeerVerify& verify) {
  return host + "|" + tls::verify_key(verify);
}

}  // namespace

ConnectionCache::ConnectionCache(uv_loop_t* loop, std::chrono::milliseconds idle_time,
                                 std::size_t per_key)
    : loop_(loop), idle_time_(idle_time), per_key_(per_key), log_(log::logger("delivery")) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, &ConnectionCache::on_timer, 500, 500);
}

ConnectionCache::~ConnectionCache() { close_all(); }

std::string ConnectionCache::key(const std::string& host, const std::string& ip,
                                 std::uint16_t port, const tls::PeerVerify& verify) {
  return host + "|" + ip + "|" + std::to_string(port) + "|" + tls::verify_key(verify);
}

void ConnectionCache::put(const std::string& key, CachedConnection conn) {
  if (!conn.client || !conn.client->usable() || idle_time_.count() == 0 || !timer_) {
    retire(std::move(conn.client));
    return;
  }
  auto& list = idle_[key];
  if (list.size() >= per_key_) {
    retire(std::move(conn.client));
    return;
  }
  list.push_back(Entry{std::move(conn), std::chrono::steady_clock::now() + idle_time_});
}

std::optional<CachedConnection> ConnectionCache::take(const std::string& key,
                                                      model::TlsLevel requirement,
                                                      Binding binding) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return std::nullopt;
  auto& list = it->second;
  for (auto e = list.begin(); e != list.end(); ++e) {
    if (!e->conn.client->usable()) continue;
    // The connection was judged under its first attempt's requirement; this attempt may
    // ask for more (an SOS message after a BES one to the same host, a domain with an
    // MTA-STS policy after one without on a shared MX).
    if (decide_tls(requirement, binding, e->conn.tls).verdict != TlsVerdict::Proceed) continue;
    CachedConnection out = std::move(e->conn);
    list.erase(e);
    if (list.empty()) idle_.erase(it);
    return out;
  }
  return std::nullopt;
}

tls::SslSessionPtr ConnectionCache::take_session(const std::string& host,
                                                 const tls::PeerVerify& verify) {
  auto it = sessions_.find(session_key(host, verify));
  if (it == sessions_.end()) return nullptr;
  tls::SslSessionPtr s;
  if (!it->second.empty()) {
    // Newest first: the most recent ticket is the least likely to have expired.
    s = std::move(it->second.back());
    it->second.pop_back();
  }
  if (it->second.empty()) sessions_.erase(it);
  return s;
}

void ConnectionCache::remember_session(const std::string& host, const tls::PeerVerify& verify,
                                       tls::SslSessionPtr session) {
  if (!session || !SSL_SESSION_is_resumable(session.get())) return;
  // As many as a destination may use at once, so that a burst of parallel connections
  // resumes rather than each doing a full handshake.
  constexpr std::size_t kSessionsPerHost = 32;
  auto& list = sessions_[session_key(host, verify)];
  list.push_back(std::move(session));
  if (list.size() > kSessionsPerHost) list.pop_front();
}

void ConnectionCache::close_all() {
  sweep(true);
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

void ConnectionCache::on_timer(uv_timer_t* t) {
  auto* self = static_cast<ConnectionCache*>(t->data);
  // A failed sweep is logged; the next tick tries again.
  common::guard(*self->log_, "connection-cache", "cache.sweep",
                [self] { self->sweep(false); }, [] {});
}

void ConnectionCache::sweep(bool all) {
  auto now = std::chrono::steady_clock::now();
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    for (auto e = list.begin(); e != list.end();) {
      if (all || now >= e->expires || !e->conn.client->usable()) {
        retire(std::move(e->conn.client));
        e = list.erase(e);
      } else {
        ++e;
      }
    }
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
  // Forget clients whose connection is gone.
  std::erase_if(closing_, [](const Closing& c) { return *c.closed; });
}

void ConnectionCache::retire(std::unique_ptr<client::SmtpClient> client) {
  if (!client) return;
  auto closed = std::make_shared<bool>(false);
  // quit() reports when the connection is gone (its on_closed belongs to the attempt's
  // connection count).
  client->quit([closed] { *closed = true; });
  // Freed by a later sweep once its connection is gone, never inside its own callback.
  closing_.push_back(Closing{std::move(client), std::move(closed)});
}

}  // namespace secmx::delivery
