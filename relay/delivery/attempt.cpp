#include "relay/delivery/attempt.hpp"

#include <spdlog/spdlog.h>

#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/attempt_log.hpp"
#include "relay/model/status.hpp"

namespace secmx::delivery {

Attempt::Attempt(AttemptEnv env, Job job, Done done)
    : env_(std::move(env)), job_(std::move(job)), done_(std::move(done)),
      alive_(std::make_shared<bool>(true)) {
  outcomes_.resize(job_.size());
}

Attempt::~Attempt() {
  *alive_ = false;
  // A client still open belongs to an attempt cut short (shutdown): let the cache QUIT it.
  if (client_ && env_.cache) env_.cache->retire(std::move(client_));
}

void Attempt::start() {
  started_us_ = unix_now_us();
  state_ = State::Discovering;
  std::weak_ptr<bool> alive = alive_;
  env_.discovery->discover(job_.domain, [this, alive](dns::DiscoveryResult r) {
    if (alive.expired()) return;
    on_discovered(std::move(r));
  });
}

void Attempt::on_discovered(dns::DiscoveryResult result) {
  discovery_ = std::move(result);
  if (env_.metrics) {
    env_.metrics->dns_lookups.inc();
    if (discovery_.status == dns::DiscoveryStatus::Temporary) env_.metrics->dns_failures.inc();
  }
  if (!discovery_.ok()) {
    RcptOutcome o;
    o.verdict = discovery_.status == dns::DiscoveryStatus::Permanent ? RcptVerdict::Failed
                                                                     : RcptVerdict::Deferred;
    o.status = discovery_.enhanced_code;
    o.diagnostic = discovery_.reason;
    finish_pending(o);
    complete();
    return;
  }
  requirement_ = requirement_for(job_.policy, job_.tls, discovery_.route_tls);
  for (std::size_t c = 0; c < discovery_.candidates.size(); ++c) {
    for (const auto& a : discovery_.candidates[c].addresses) targets_.push_back(Target{c, a});
  }
  next_target();
}

const dns::Candidate& Attempt::candidate() const {
  return discovery_.candidates[targets_[current_].candidate];
}

std::uint16_t Attempt::target_port() const { return candidate().port; }

std::string Attempt::target_name() const {
  return candidate().host + "[" + targets_[current_].address.to_string() + "]:" +
         std::to_string(target_port());
}

void Attempt::next_target() {
  bool pending = false;
  for (const auto& o : outcomes_) pending |= !o.has_value();
  if (!pending) {
    complete();
    return;
  }
  if (next_ >= targets_.size()) {
    bool sos = model::must_encrypt(requirement_);
    bool incomplete = sos ? discovery_.secmx_incomplete || discovery_.mx_incomplete
                          : !discovery_.complete();
    finish_pending(exhausted(sos, hosts_, incomplete, job_.sos_expired));
    complete();
    return;
  }
  current_ = next_++;
  plaintext_retry_ = false;
  tls_text_ = "none";
  // Another message to this host may have left a connection that suits us.
  const auto& t = targets_[current_];
  auto key = ConnectionCache::key(candidate().host, t.address.to_string(), target_port());
  if (auto cached = env_.cache->take(key, requirement_)) {
    tls_ = cached->tls;
    const auto& info = cached->client->info();
    tls_text_ = info.tls.active
                    ? format_tls(info.tls.protocol, info.tls.cipher, info.tls.verified)
                    : "none";
    send_on(std::move(cached->client), tls_);
    return;
  }
  connect(false);
}

void Attempt::connect(bool plaintext_retry) {
  state_ = State::Connecting;
  plaintext_retry_ = plaintext_retry;
  client_ = client::SmtpClient::create(env_.loop, env_.client_options);
  if (env_.metrics) {
    env_.metrics->outbound_connections.inc();
    // Counted until the connection is gone, wherever the client ends up (the cache).
    client_->set_on_closed([m = env_.metrics] { m->outbound_connections.dec(); });
  }
  sockaddr_storage ss{};
  targets_[current_].address.to_sockaddr(target_port(), ss);
  const std::string& host = candidate().host;
  std::weak_ptr<bool> alive = alive_;
  SSL_SESSION* resume = env_.cache->take_session(host);  // open() takes its own reference
  client_->open(reinterpret_cast<const sockaddr*>(&ss), host,
                want_starttls(requirement_, plaintext_retry), resume,
                [this, alive](client::SessionInfo info) {
                  if (alive.expired()) return;
                  on_open(std::move(info));
                });
  if (resume) SSL_SESSION_free(resume);
}

void Attempt::on_open(client::SessionInfo info) {
  using client::OpenStatus;
  switch (info.status) {
    case OpenStatus::ConnectFailed:
    case OpenStatus::Timeout:
    case OpenStatus::Broken:
      skip_host(HostRecord::Kind::Unreachable,
                info.error.empty() ? "connection failed at " + info.stage : info.error);
      return;
    case OpenStatus::Refused: {
      auto kind = info.code >= 500 ? HostRecord::Kind::PermRefused
                                   : HostRecord::Kind::TempRefused;
      skip_host(kind, "refused at " + info.stage + ": " +
                          reply_line(info.code, info.enhanced, info.text));
      return;
    }
    case OpenStatus::TlsFailed: {
      TlsObservation seen;
      seen.starttls_offered = true;
      seen.handshake_attempted = true;
      seen.handshake_ok = false;
      seen.plaintext_retry = plaintext_retry_;
      seen.handshake_error = info.error;
      seen.handshake_cut = info.tls_connection_lost;
      auto d = decide_tls(requirement_, seen);
      env_.log->info("{}: TLS handshake with {} failed: {}", job_.id.to_string(),
                     secmx::log::escape(target_name()),
                     secmx::log::escape(info.error));
      if (d.verdict == TlsVerdict::RetryPlaintext) {
        release_client(false);
        connect(true);
        return;
      }
      skip_host(d.verdict == TlsVerdict::Unreachable ? HostRecord::Kind::Unreachable
                                                     : HostRecord::Kind::NoTls,
                d.reason);
      return;
    }
    case OpenStatus::Ok:
      break;
  }
  TlsObservation seen;
  seen.starttls_offered = info.starttls_offered;
  seen.handshake_attempted = info.tls_attempted;
  seen.handshake_ok = info.tls.active;
  seen.verified = info.tls.verified;
  seen.verify_error = info.tls.verify_error;
  seen.plaintext_retry = plaintext_retry_;
  tls_text_ = info.tls.active ? format_tls(info.tls.protocol, info.tls.cipher, info.tls.verified)
                              : "none";
  auto d = decide_tls(requirement_, seen);
  if (d.verdict != TlsVerdict::Proceed) {
    env_.log->info("{}: {} skipped for {} policy: {}", job_.id.to_string(),
                   secmx::log::escape(target_name()), model::to_string(job_.policy),
                   secmx::log::escape(d.reason));
    skip_host(HostRecord::Kind::NoTls, d.reason);
    return;
  }
  if (info.tls.active) {
    if (SSL_SESSION* s = client_->get1_tls_session()) env_.cache->remember_session(candidate().host, s);
  }
  send_on(std::move(client_), seen);
}

void Attempt::send_on(std::unique_ptr<client::SmtpClient> client, TlsObservation tls) {
  state_ = State::Sending;
  client_ = std::move(client);
  tls_ = tls;
  sending_.clear();
  sending_k_.clear();
  for (std::size_t k = 0; k < job_.size(); ++k) {
    if (outcomes_[k]) continue;
    sending_.push_back(&job_.recipient(k));
    sending_k_.push_back(k);
  }
  client::MessageSpec spec;
  spec.envelope = job_.envelope.get();
  spec.recipients = sending_;
  spec.body = job_.body.get();
  std::weak_ptr<bool> alive = alive_;
  client_->send(spec, [this, alive](client::MessageResult r) {
    if (alive.expired()) return;
    on_sent(std::move(r));
  });
}

void Attempt::on_sent(client::MessageResult r) {
  using client::SendStatus;
  const std::string remote = candidate().host;
  switch (r.status) {
    case SendStatus::Done:
      for (std::size_t i = 0; i < sending_k_.size() && i < r.rcpts.size(); ++i) {
        const auto& rc = r.rcpts[i];
        auto o = classify_reply(rc.code, rc.enhanced, rc.text, remote);
        // NOTIFY went no further than us when the peer had no DSN: "relayed" (RFC 3464).
        o.relayed = !client_->info().ext.dsn;
        set_outcome(sending_k_[i], std::move(o));
      }
      // A reply missing for a recipient would be a client bug; never let it pass as sent.
      for (std::size_t i = r.rcpts.size(); i < sending_k_.size(); ++i) {
        set_outcome(sending_k_[i], classify_reply(451, "4.3.0", "no reply for recipient", remote));
      }
      release_client(r.connection_usable);
      next_target();
      return;
    case SendStatus::Rejected:
      if (r.stage == "local" || r.code >= 500) {
        // Our own check (size, SMTPUTF8) or a 5xx to MAIL: final for every recipient.
        RcptOutcome o = classify_reply(r.code, r.enhanced, r.text, r.stage == "local" ? "" : remote);
        if (r.stage == "local") o.diagnostic = "x-secmx; " + reply_line(r.code, r.enhanced, r.text) +
                                               " (at " + target_name() + ")";
        for (std::size_t k : sending_k_) set_outcome(k, o);
        release_client(r.connection_usable);
        next_target();
        return;
      }
      release_client(r.connection_usable);
      hosts_.push_back(HostRecord{HostRecord::Kind::TempRefused, target_name(),
                                  "refused at " + r.stage + ": " +
                                      reply_line(r.code, r.enhanced, r.text)});
      next_target();
      return;
    case SendStatus::Broken:
    case SendStatus::Timeout:
      release_client(false);
      hosts_.push_back(HostRecord{HostRecord::Kind::Unreachable, target_name(),
                                  (r.status == SendStatus::Timeout ? "timeout during " : "connection lost during ") +
                                      r.stage + (r.text.empty() ? "" : ": " + r.text)});
      next_target();
      return;
  }
}

void Attempt::skip_host(HostRecord::Kind kind, std::string detail) {
  release_client(false);
  hosts_.push_back(HostRecord{kind, target_name(), std::move(detail)});
  next_target();
}

void Attempt::release_client(bool reusable) {
  if (!client_) return;
  if (reusable && !targets_.empty()) {
    auto key = ConnectionCache::key(candidate().host, targets_[current_].address.to_string(),
                                    target_port());
    env_.cache->put(key, CachedConnection{std::move(client_), tls_, {}});
  } else {
    env_.cache->retire(std::move(client_));
  }
}

void Attempt::finish_pending(const RcptOutcome& outcome) {
  for (std::size_t k = 0; k < outcomes_.size(); ++k) {
    if (!outcomes_[k]) set_outcome(k, outcome);
  }
}

void Attempt::set_outcome(std::size_t k, RcptOutcome o) {
  auto now = unix_now_us();
  o = apply_lifetime(std::move(o), job_.envelope->arrival_us, now,
                     env_.config->delivery.max_lifetime);
  AttemptLine line;
  line.queue_id = job_.id.to_string();
  line.recipient = job_.recipient(k).address;
  bool reached = state_ == State::Sending && !targets_.empty();
  line.relay = reached ? target_name() : (!hosts_.empty() ? hosts_.back().host : "none");
  line.policy = model::to_string(job_.policy);
  line.reason = job_.policy_reason;
  if (!targets_.empty() && (reached || !hosts_.empty())) line.method = dns::to_string(candidate().method);
  line.tls = reached ? tls_text_ : "none";
  o.tls = line.tls;
  line.delay_s = static_cast<double>(now - job_.envelope->arrival_us) / 1e6;
  line.attempts = job_.recipient(k).attempts + 1;
  line.dsn = o.status;
  line.status = to_string(o.verdict);
  // The log shows the remote reply as Postfix does; "smtp; " is the DSN's type tag.
  line.detail = o.diagnostic.rfind("smtp; ", 0) == 0 ? o.diagnostic.substr(6) : o.diagnostic;
  env_.log->info("{}", format_attempt(line));
  if (auto* m = env_.metrics) {
    auto policy = job_.policy;
    switch (o.verdict) {
      case RcptVerdict::Delivered: {
        m->delivered.inc(policy);
        auto tls = tls_.handshake_ok ? (tls_.verified ? metrics::DeliveryTls::Verified
                                                      : metrics::DeliveryTls::Encrypt)
                                     : metrics::DeliveryTls::None;
        if (reached) m->deliveries.inc(tls, candidate().method);
        m->delivery_latency.observe(line.delay_s);
        break;
      }
      case RcptVerdict::Deferred: m->deferred.inc(policy); break;
      case RcptVerdict::Failed:
        m->bounced.inc(policy);
        if (model::Status::parse(o.status) == model::kEncryptionNeeded) m->sos_bounces.inc();
        break;
    }
  }
  outcomes_[k] = std::move(o);
}

void Attempt::complete() {
  if (state_ == State::Done) return;
  state_ = State::Done;
  release_client(false);
  JobResult result;
  result.id = job_.id;
  result.generation = job_.generation;
  result.indices = job_.indices;
  for (auto& o : outcomes_) result.outcomes.push_back(o ? *o : RcptOutcome{});
  // The owner must free the attempt later from the loop, not inside this call stack.
  auto done = std::move(done_);
  done(this, std::move(result));
}

}  // namespace secmx::delivery
