// smtp_server.cpp - see smtp_server.hpp.
#include "relay/server/smtp_server.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "relay/common/callback_guard.hpp"
#include "relay/common/log.hpp"
#include "relay/server/session_transport.hpp"
#include "relay/server/smtp_session.hpp"

namespace secmx::server {
namespace {
std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::logger("smtpd");
  return l;
}
}  // namespace

// A listening socket; freed in its close callback.
struct SmtpServer::Listener {
  uv_tcp_t tcp{};
  SmtpServer* server = nullptr;
  std::string name;
  std::size_t index = 0;  // in [smtp] listeners: what its sessions look their settings up by
};

SmtpServer::SmtpServer(uv_loop_t* loop, ServerDeps deps)
    : loop_(loop), deps_(std::move(deps)), auth_(loop) {
  uv_async_init(loop_, &async_, &SmtpServer::on_async);
  async_.data = this;
}

SmtpServer::~SmtpServer() = default;

Status<std::string> SmtpServer::listen() {
  const auto& listeners = deps_.config->smtp.listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    const config::Endpoint& ep = listeners[i].address;
    sockaddr_storage addr{};
    int rc = ep.host.find(':') != std::string::npos
                 ? uv_ip6_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(&addr))
                 : uv_ip4_addr(ep.host.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc != 0) return fail(ep.to_string() + ": " + uv_strerror(rc));
    auto* l = new Listener;
    l->server = this;
    l->name = ep.to_string();
    l->index = i;
    uv_tcp_init(loop_, &l->tcp);
    l->tcp.data = l;
    listeners_.push_back(l);
    rc = uv_tcp_bind(&l->tcp, reinterpret_cast<sockaddr*>(&addr), 0);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp), 1024, &SmtpServer::on_connection);
    }
    if (rc != 0) return fail(ep.to_string() + ": " + uv_strerror(rc));
    logger()->info("listening on {} tls={} auth={}", l->name, config::to_string(listeners[i].tls),
                   config::to_string(listeners[i].auth));
  }
  return Ok{};
}

void SmtpServer::on_connection(uv_stream_t* stream, int status) {
  auto* l = static_cast<Listener*>(stream->data);
  SmtpServer* self = l->server;
  if (status < 0) {
    logger()->warn("accept on {}: {}", l->name, uv_strerror(status));
    return;
  }
  const auto id = self->next_session_id_++;
  common::guard(*logger(), "S" + std::to_string(id), "accept",
                [&] { self->accept_session(stream, l->index, id); },
                [&] { self->fail_session(id); });
}

void SmtpServer::accept_session(uv_stream_t* listener, std::size_t index, std::uint64_t id) {
  auto transport = std::make_unique<ConnectionTransport>(loop_);
  const int accepted = transport->accept(listener);
  auto owned = std::make_unique<SmtpSession>(*this, id, std::move(transport), index);
  SmtpSession& session = *owned;
  sessions_.emplace(id, std::move(owned));
  if (deps_.metrics) deps_.metrics->inbound_connections.inc();
  if (accepted != 0) {
    session.abort();
    return;
  }
  counters_.connections++;
  const auto& cfg = deps_.config->smtp;
  auto& per_client = per_client_[session.peer_ip()];
  ++per_client;
  smtp::Reply refusal;
  const smtp::Reply* refuse = nullptr;
  if (shutting_down_) {
    refusal = {421, "4.3.2", deps_.config->hostname + " Service shutting down"};
    refuse = &refusal;
  } else if (sessions_.size() > cfg.max_connections) {
    refusal = {421, "4.7.0", deps_.config->hostname + " Error: too many connections"};
    refuse = &refusal;
  } else if (per_client > cfg.max_connections_per_client) {
    refusal = {421, "4.7.0", deps_.config->hostname +
                                 " Error: too many connections from your address"};
    refuse = &refusal;
  }
  session.start(refuse);
}

void SmtpServer::fail_session(std::uint64_t id) {
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second->fail();
}

void SmtpServer::session_closed(SmtpSession& session) {
  auto it = per_client_.find(session.peer_ip());
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  // Freed as this returns: session_closed() is the session's last call.
  auto owned = sessions_.extract(session.id());
  if (!owned.empty() && deps_.metrics) deps_.metrics->inbound_connections.dec();
}

void SmtpServer::authenticate(std::uint64_t session_id, std::string user,
                              std::string password) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  std::string address = it->second->peer_ip();
  // Found again by id: a session that has gone by the time the answer comes gets none.
  auth_.check(deps_.config->smtp.auth, std::move(address), std::move(user), std::move(password),
              [this, session_id](AuthOutcome outcome) {
                auto found = sessions_.find(session_id);
                if (found != sessions_.end()) found->second->on_auth_result(outcome);
              });
}

void SmtpServer::reload(std::shared_ptr<const config::Config> config,
                        std::shared_ptr<const policy::PolicyEngine> policy,
                        std::shared_ptr<tls::TlsContext> tls) {
  deps_.config = std::move(config);
  deps_.policy = std::move(policy);
  deps_.tls = std::move(tls);
}

void SmtpServer::submit(std::uint64_t session_id, queue::NewMessage message,
                        std::vector<log::Line> queued_lines) {
  // Recipients per policy, counted once the message is on disk.
  std::array<std::uint32_t, metrics::kPolicies> per_policy{};
  for (const auto& r : message.envelope.recipients) {
    auto i = static_cast<std::size_t>(r.policy);
    if (i < per_policy.size()) ++per_policy[i];
  }
  auto id = message.envelope.id;
  deps_.writer->submit(std::move(message), [this, session_id, per_policy, id,
                                            lines = std::move(queued_lines)](Status<queue::Error> st) {
    // On the writer thread: an exception must not reach it (it would end the process).
    common::guard(*logger(), id.to_string() + ":", "commit-done", [&] {
      // The message lines first, so that it precedes anything logged about the message
      // afterwards (the 250, the delivery the scheduler starts at once).
      if (st.ok()) {
        log::write(lines);
      } else {
        logger()->error("{}: not queued: {}", id.to_string(), st.error().message);
      }
      if (st.ok() && deps_.metrics) {
        deps_.metrics->messages_received.inc();
        for (std::size_t i = 0; i < per_policy.size(); ++i) {
          if (per_policy[i]) deps_.metrics->received.inc(static_cast<model::Policy>(i), per_policy[i]);
        }
      }
      post_commit_result(session_id, std::move(st));
    }, [] {});
  });
}

void SmtpServer::post_commit_result(std::uint64_t session_id, Status<queue::Error> result) {
  {
    std::lock_guard lock(results_mutex_);
    if (!async_closed_) {
      results_.emplace_back(session_id, std::move(result));
      uv_async_send(&async_);  // coalesced by libuv: one wake-up serves a whole batch
      return;
    }
  }
  // Shutting down: the sessions are gone, but new mail on disk still tells the scheduler.
  if (result.ok() && deps_.on_queued) deps_.on_queued();
}

void SmtpServer::on_async(uv_async_t* handle) {
  // Each session's on_committed() guards itself; this catches what is left (the swap).
  common::guard(*logger(), "server", "commit-answers",
                [&] { static_cast<SmtpServer*>(handle->data)->deliver_commit_results(); }, [] {});
}

void SmtpServer::deliver_commit_results() {
  results_swap_.clear();
  {
    std::lock_guard lock(results_mutex_);
    results_swap_.swap(results_);
  }
  // New mail on disk: the scheduler looks at once instead of at its next tick - once per
  // wake-up of this loop, however many messages it brings. Kicked from the writer thread
  // for each message, the scheduler's loop woke about once per message (0.86 per message
  // at 20 sessions, bench/accept.sh), with nothing to do for all but the first. The
  // queued lines were logged before the results were posted, so they still precede
  // whatever the scheduler logs about the messages.
  if (deps_.on_queued &&
      std::any_of(results_swap_.begin(), results_swap_.end(),
                  [](const auto& r) { return r.second.ok(); })) {
    deps_.on_queued();
  }
  for (auto& [id, result] : results_swap_) {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) it->second->on_committed(std::move(result));
  }
  results_swap_.clear();
}

void SmtpServer::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto* l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp),
             [](uv_handle_t* h) { delete static_cast<Listener*>(h->data); });
  }
  listeners_.clear();
  auth_.shutdown();
  // Collect first: closing may erase from sessions_.
  std::vector<SmtpSession*> all;
  all.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) all.push_back(s.get());
  for (auto* s : all) s->close_for_shutdown();
  bool stored = false;
  {
    std::lock_guard lock(results_mutex_);
    async_closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    // Answers posted but never handed out: their sessions are going, but what they
    // stored is new mail all the same.
    stored = std::any_of(results_.begin(), results_.end(),
                         [](const auto& r) { return r.second.ok(); });
  }
  if (stored && deps_.on_queued) deps_.on_queued();
}

}  // namespace secmx::server
