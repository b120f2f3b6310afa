// attempt.cpp - one delivery attempt; see attempt.hpp. Gathers facts, follows decide().
#include "relay/delivery/attempt.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "relay/common/callback_guard.hpp"
#include "relay/common/clock.hpp"
#include "relay/common/log.hpp"
#include "relay/delivery/attempt_log.hpp"
#include "relay/sts/mx_match.hpp"

namespace secmx::delivery {
namespace {

// Whether the host got through the handshake on this connection - its greeting and EHLO
// (or HELO) accepted - whatever happened after. A refused connection, silence, a 4xx or
// 5xx greeting, a refused or dropped EHLO are what Postfix calls "a connection or handshake
// failure" (the negative feedback behind its dead-destination detection): a host that
// greets every connection with 421 is as down for us as one that refuses it. A failure at
// STARTTLS or in the TLS handshake came after EHLO; whether it says anything is for
// note_reach() to judge from the policy.
bool past_handshake(const client::SessionInfo& info) {
  using client::OpenStatus;
  switch (info.status) {
    case OpenStatus::Ok:
    case OpenStatus::TlsFailed: return true;
    case OpenStatus::ConnectFailed: return false;
    case OpenStatus::Refused:
    case OpenStatus::Timeout:
    case OpenStatus::Broken: break;
  }
  return info.stage != "connect" && info.stage != "greeting" && info.stage != "ehlo" &&
         info.stage != "helo";
}

}  // namespace

Attempt::Attempt(AttemptEnv env, Job job, Done done)
    : env_(std::move(env)), job_(std::move(job)), done_(std::move(done)),
      alive_(std::make_shared<bool>(true)) {
  outcomes_.resize(job_.size());
  log_id_ = job_.id.to_string() + ":";
  policy_ = job_.policy;
}

Attempt::~Attempt() {
  *alive_ = false;
  // A client still open belongs to an attempt cut short (shutdown): let the cache QUIT it.
  if (client_ && env_.cache) env_.cache->retire(std::move(client_));
}

const char* Attempt::state_name(State s) {
  switch (s) {
    case State::Idle: return "idle";
    case State::Discovering: return "discovering";
    case State::Connecting: return "connecting";
    case State::Sending: return "sending";
    case State::Done: return "done";
  }
  return "?";
}

void Attempt::enter_state(State next) {
  if (next == state_) return;
  if (env_.log->should_log(spdlog::level::debug)) {
    env_.log->debug("{} event=attempt-state from={} to={} host={}", log_id_,
                    state_name(state_), state_name(next),
                    current_name_.empty() ? "none" : secmx::log::escape(current_name_));
  }
  state_ = next;
}

template <class Fn>
void Attempt::guarded(const char* where, Fn&& fn) {
  common::guard(
      *env_.log, log_id_, where,
      [&] {
        common::inject_fault(where);
        fn();
      },
      [&] { fail(where); });
}

void Attempt::fail(const char* where) {
  if (state_ == State::Done) return;
  Facts f = facts(Stage::Discovery, "internal");
  f.event = Event::Internal;
  std::string error = std::string("exception at ") + where;
  f.error = error;
  Decision d = decide(f);
  internal_ = true;
  release_client(false);
  finish_pending(d.outcome);
  complete();
}

void Attempt::start() {
  guarded("attempt.start", [&] {
    started_us_ = unix_now_us();
    enter_state(State::Discovering);
    std::weak_ptr<bool> alive = alive_;
    env_.discover(job_.domain, [this, alive](dns::DiscoveryResult r) {
      if (alive.expired()) return;
      guarded("attempt.discovered", [&] { on_discovered(std::move(r)); });
    });
  });
}

// As a connection that failed to the destination as a whole: no host is named (the log
// line says relay=none, as Postfix's does), the text is the suspension's.
void Attempt::answer_suspended() {
  guarded("attempt.suspended", [&] {
    started_us_ = unix_now_us();
    Facts f = facts(Stage::Connect, "connect");
    f.event = Event::Lost;
    f.host = job_.domain;
    f.error = env_.suspended;
    f.last_candidate = true;
    finish_pending(decide(f).outcome);
    complete();
  });
}

Facts Attempt::facts(Stage stage, std::string_view step) const {
  Facts f;
  f.stage = stage;
  f.step = step;
  f.policy = policy_;
  f.level = requirement_;
  f.tried = hosts_;
  f.dns_incomplete = !discovery_.complete();
  f.sos_expired = job_.sos_expired;
  f.lifetime_passed = lifetime_passed(job_.envelope->arrival_us, unix_now_us(),
                                      env_.config->delivery.max_lifetime);
  f.domain = job_.domain;
  if (stage != Stage::Discovery && current_ < targets_.size()) {
    f.host = current_name_;
    f.remote = candidate().host;
    f.last_candidate = next_ >= targets_.size();
    f.tls = tls_;
    f.binding = terms_.binding;
  } else {
    f.last_candidate = targets_.empty();
  }
  return f;
}

void Attempt::on_discovered(dns::DiscoveryResult result) {
  discovery_ = std::move(result);
  if (env_.metrics) {
    env_.metrics->dns_lookups.inc();
    if (discovery_.status == dns::DiscoveryStatus::Temporary) env_.metrics->dns_failures.inc();
  }
  policy_ = policy_over_route(job_.policy, job_.policy_reason, discovery_.route_trusted);
  if (policy_ != job_.policy) {
    env_.log->info("{} event=trusted-route domain={} policy={} reason={}", log_id_,
                   secmx::log::escape(job_.domain), model::to_string(policy_),
                   secmx::log::escape(job_.policy_reason));
  }
  requirement_ = requirement_for(policy_, job_.tls, discovery_.route_tls);
  if (discovery_.ok()) {
    for (std::size_t c = 0; c < discovery_.candidates.size(); ++c) {
      for (const auto& a : discovery_.candidates[c].addresses) targets_.push_back(Target{c, a});
    }
  }
  Facts f = facts(Stage::Discovery, "discovery");
  // The DNS's verdict in the classes of a reply: found, temporary, permanent.
  f.code = discovery_.ok() ? 250
           : discovery_.status == dns::DiscoveryStatus::Permanent ? 550 : 450;
  f.enhanced = discovery_.enhanced_code;
  f.text = discovery_.reason;
  Decision d = decide(f);
  if (d.kind != Decision::Kind::Continue) {
    leave_host(d, false);
    return;
  }
  bool from_dns = std::any_of(discovery_.candidates.begin(), discovery_.candidates.end(),
                              [](const dns::Candidate& c) { return c.method != dns::Method::Route; });
  if (!env_.sts_policy || !from_dns) {
    next_target();
    return;
  }
  // The policy binds the hosts the DNS named, so it is known before the first of them.
  std::weak_ptr<bool> alive = alive_;
  env_.sts_policy(job_.domain, [this, alive](sts::StsState state) {
    if (alive.expired()) return;
    guarded("attempt.sts", [&] { on_sts(std::move(state)); });
  });
}

void Attempt::on_sts(sts::StsState state) {
  if (state_ == State::Done) return;
  sts_ = std::move(state);
  if (sts_.failure != sts::StsFailure::None) {
    env_.log->info("{} event=sts-failure domain={} result={} detail={} policy={}", log_id_,
                   secmx::log::escape(job_.domain), sts::to_string(sts_.failure),
                   secmx::log::escape(sts_.detail),
                   sts_.policy ? sts::to_string(sts_.policy->mode) : "none");
    if (!job_.envelope->tls_report) record(sts_failure_result(job_.domain, sts_, unix_now_us()));
  }
  next_target();
}

Admission Attempt::admit() {
  terms_ = host_terms(candidate(), sts_);
  if (terms_.admission == Admission::Open && terms_.sts_testing && !terms_.sts_listed) {
    report_sts_testing("MX host not in the policy");
  }
  return terms_.admission;
}

void Attempt::record_session(const SessionEnd& end) {
  // Checked first: the route and our own reports are the cheap, common no.
  if (job_.envelope->tls_report || candidate().method == dns::Method::Route) return;
  record(session_result(job_.domain, candidate(), targets_[current_].address.to_string(), terms_,
                        sts_, end, unix_now_us()));
}

void Attempt::record(std::optional<tlsrpt::SessionResult> session) {
  if (!session) return;
  if (env_.metrics) {
    env_.metrics->tls_sessions.inc(session->policy.type, metrics::tls_session_result(*session));
  }
  sessions_.push_back(std::move(*session));
}

void Attempt::report_sts_testing(const std::string& reason) {
  env_.log->info("{} event=sts-testing-failure domain={} host={} reason={}", log_id_,
                 secmx::log::escape(job_.domain), secmx::log::escape(current_name_),
                 secmx::log::escape(reason));
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
  if (!pending || state_ == State::Done) {
    complete();
    return;
  }
  if (next_ >= targets_.size()) {
    // decide() ends the attempt at the last host; getting here is a bug of ours.
    Facts f = facts(Stage::Discovery, "discovery");
    f.event = Event::Internal;
    f.error = "no host left to try";
    internal_ = true;
    finish_pending(decide(f).outcome);
    complete();
    return;
  }
  current_ = next_++;
  current_name_ = target_name();
  plaintext_retry_ = false;
  tls_ = TlsObservation{};
  tls_text_ = "none";
  tls_cert_.clear();
  enter_state(State::Connecting);  // from choosing the host on, whether or not it is tried
  Facts admission = facts(Stage::Admission, "admission");
  admission.admission = admit();
  admission.binding = terms_.binding;
  admission.error = candidate().tlsa.detail;
  Decision a = decide(admission);
  if (a.kind != Decision::Kind::Continue) {
    env_.log->info("{} {} not tried: {}", log_id_, secmx::log::escape(current_name_),
                   secmx::log::escape(a.host.detail));
    SessionEnd ruled_out;
    ruled_out.admission = admission.admission;
    record_session(ruled_out);
    leave_host(a, false);
    return;
  }
  // Another message to this host may have left a connection that suits us: one checked
  // against the same terms, whose TLS meets our level and the host's binding.
  const auto& t = targets_[current_];
  auto key = ConnectionCache::key(candidate().host, t.address.to_string(), target_port(), terms_.verify);
  if (auto cached = env_.cache->take(key, requirement_, terms_.binding)) {
    client_ = std::move(cached->client);
    client_->set_log_id(job_.id.to_string());
    tls_ = cached->tls;
    const auto& info = client_->info();
    // By what it is authenticated for this message (MTA-STS now, perhaps PKIX before).
    if (info.tls.active) {
      tls_.auth = auth_of(terms_, info.tls);
      tls_.verified = tls_.auth != TlsAuth::None;
    }
    tls_text_ = info.tls.active ? format_tls(info.tls.protocol, info.tls.cipher, tls_.auth)
                                : "none";
    tls_cert_ = info.tls.active ? info.tls.cert_sha256 : "";
    Decision d = decide(facts(Stage::Session, "ready"));
    note_reach(true, false, d);  // a cached connection: its handshake was done
    if (d.kind == Decision::Kind::Continue) {
      send_on();
      return;
    }
    leave_host(d, false);
    return;
  }
  connect(false);
}

void Attempt::connect(bool plaintext_retry) {
  enter_state(State::Connecting);
  // delays= (c: set-up, d: transfer): a transaction begun on an earlier host that did not
  // take the mail is part of the set-up of the one that does.
  sending_us_ = 0;
  plaintext_retry_ = plaintext_retry;
  tls_ = TlsObservation{};
  tls_.plaintext_retry = plaintext_retry;
  client_ = env_.new_client(job_.id.to_string());  // its lines carry the queue id too
  if (env_.metrics) {
    env_.metrics->outbound_connections.inc();
    // Counted until the connection is gone, wherever the client ends up (the cache).
    client_->set_on_closed([m = env_.metrics] { m->outbound_connections.dec(); });
  }
  sockaddr_storage ss{};
  targets_[current_].address.to_sockaddr(target_port(), ss);
  const std::string& host = candidate().host;
  client_->set_peer_verify(terms_.verify);
  std::weak_ptr<bool> alive = alive_;
  client_->open(reinterpret_cast<const sockaddr*>(&ss), host,
                want_starttls(requirement_, terms_.binding, plaintext_retry),
                env_.cache->take_session(host, terms_.verify),
                [this, alive](client::SessionInfo info) {
                  if (alive.expired()) return;
                  guarded("attempt.opened", [&] { on_open(std::move(info)); });
                });
}

void Attempt::on_open(client::SessionInfo info) {
  using client::OpenStatus;
  Facts f = facts(Stage::Connect, info.stage);
  open_facts(info, terms_, f);
  switch (info.status) {
    case OpenStatus::ConnectFailed:
    case OpenStatus::Timeout:
    case OpenStatus::Broken:
    case OpenStatus::Refused:
      break;
    case OpenStatus::TlsFailed:
      env_.log->info("{} TLS handshake with {} failed: {}", log_id_,
                     secmx::log::escape(current_name_), secmx::log::escape(info.error));
      break;
    case OpenStatus::Ok:
      tls_ = f.tls;
      tls_text_ = info.tls.active ? format_tls(info.tls.protocol, info.tls.cipher, tls_.auth)
                                  : "none";
      tls_cert_ = info.tls.active ? info.tls.cert_sha256 : "";
      if (terms_.sts_testing && terms_.sts_listed && tls_.auth != TlsAuth::MtaSts) {
        report_sts_testing(!info.tls.active ? "no TLS"
                                            : "certificate not valid for the MX host name: " +
                                                  info.tls.verify_error);
      }
      break;
  }
  if ((info.status == OpenStatus::Ok || info.status == OpenStatus::TlsFailed) &&
      !plaintext_retry_) {
    SessionEnd end;
    end.starttls_offered = info.starttls_offered;
    end.tls_attempted = info.tls_attempted;
    end.handshake_failed = info.status == OpenStatus::TlsFailed;
    end.tls_active = info.tls.active;
    end.auth = tls_.auth;
    end.verify_code = info.tls.verify_code;
    end.error = end.handshake_failed ? std::string_view(info.error)
                                     : std::string_view(info.tls.verify_error);
    end.local_ip = info.local_ip;
    end.peer_helo = info.peer_helo;
    record_session(end);
  }
  Decision d = decide(f);
  note_reach(past_handshake(info),
             info.status == OpenStatus::TlsFailed || info.stage == "starttls" || info.stage == "tls",
             d);
  switch (d.kind) {
    case Decision::Kind::Continue:
      if (info.tls.active) {
        env_.cache->remember_session(candidate().host, terms_.verify, client_->tls_session());
      }
      send_on();
      return;
    case Decision::Kind::RetryPlaintext:
      release_client(false);
      connect(true);
      return;
    case Decision::Kind::NextHost:
    case Decision::Kind::Final:
      if (info.status == OpenStatus::Ok) {
        env_.log->info("{} {} skipped for {} policy: {} tls={}{}", log_id_,
                       secmx::log::escape(current_name_), model::to_string(job_.policy),
                       secmx::log::escape(d.host.detail), tls_text_,
                       tls_cert_.empty() ? "" : " cert=sha256:" + tls_cert_);
      }
      leave_host(d, false);
      return;
  }
}

void Attempt::send_on() {
  enter_state(State::Sending);
  sending_us_ = unix_now_us();
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
    guarded("attempt.sent", [&] { on_sent(std::move(r)); });
  });
}

void Attempt::on_sent(client::MessageResult r) {
  using client::SendStatus;
  switch (r.status) {
    case SendStatus::Done: {
      // The transaction ran: each recipient has its own reply (code 0: none came).
      Facts f = facts(r.stage == "rcpt" ? Stage::Rcpt : Stage::Data, r.stage);
      f.peer_dsn = client_->info().ext.dsn;
      std::optional<HostRecord> left;
      for (std::size_t i = 0; i < sending_k_.size(); ++i) {
        const client::RcptResult none;
        const auto& rc = i < r.rcpts.size() ? r.rcpts[i] : none;
        f.code = rc.code;
        f.enhanced = rc.enhanced;
        f.text = rc.text;
        Decision d = decide(f);
        if (d.kind == Decision::Kind::Final) set_outcome(sending_k_[i], d.outcome);
        if (!d.host.host.empty()) left = d.host;
      }
      release_client(r.connection_usable && !left);
      if (left) hosts_.push_back(std::move(*left));
      next_target();
      return;
    }
    case SendStatus::Rejected: {
      // Our own check of the message, or the peer refused the transaction as a whole.
      Facts f = facts(r.stage == "local" ? Stage::Local : Stage::Mail, r.stage);
      f.code = r.code;
      f.enhanced = r.enhanced;
      f.text = r.text;
      leave_host(decide(f), r.connection_usable);
      return;
    }
    case SendStatus::Broken:
    case SendStatus::Timeout: {
      Stage stage = stage_of(r.stage, Stage::Data);
      // The transaction had started: a word of the opening means its end.
      if (stage < Stage::Mail) stage = Stage::Data;
      Facts f = facts(stage, r.stage);
      f.event = r.status == SendStatus::Timeout ? Event::Timeout : Event::Lost;
      f.error = r.text;
      leave_host(decide(f), false);
      return;
    }
  }
}

void Attempt::leave_host(const Decision& d, bool reusable) {
  release_client(reusable);
  if (env_.metrics && !d.host.host.empty()) {
    // A host that did not meet its receiver's terms, counted by whose terms they were.
    if (terms_.admission == Admission::TlsaFailed) {
      env_.metrics->tls_auth_failures.inc(metrics::AuthFailure::TlsaLookup);
    } else if (d.host.kind == HostRecord::Kind::AuthFailed) {
      env_.metrics->tls_auth_failures.inc(terms_.binding == Binding::Dane
                                              ? metrics::AuthFailure::Dane
                                              : metrics::AuthFailure::MtaSts);
    }
  }
  if (!d.host.host.empty()) hosts_.push_back(d.host);
  if (d.kind == Decision::Kind::Final) finish_pending(d.outcome);
  next_target();
}

void Attempt::release_client(bool reusable) {
  if (!client_) return;
  if (reusable && !targets_.empty()) {
    auto key = ConnectionCache::key(candidate().host, targets_[current_].address.to_string(),
                                    target_port(), terms_.verify);
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
  AttemptLine line;
  line.queue_id = job_.id.to_string();
  line.recipient = job_.recipient(k).address;
  bool reached = state_ == State::Sending && !targets_.empty();
  line.relay = reached ? target_name() : (!hosts_.empty() ? hosts_.back().host : "none");
  line.policy = model::to_string(job_.policy);
  line.reason = job_.policy_reason;
  if (!targets_.empty() && (reached || !hosts_.empty())) {
    const dns::Candidate& c = candidate();
    line.method = dns::to_string(c.method);
    line.dnssec = dnssec_status(discovery_.dnssec, c.name_secure, c.addresses_secure);
    const dns::IpAddress& ip = targets_[current_].address;
    std::string port = ":" + std::to_string(target_port());
    o.host = c.host;
    o.address = ip.family == AF_INET6 ? "[" + ip.to_string() + "]" + port : ip.to_string() + port;
    o.method = line.method;
  }
  // The evidence is the deciding host's: the one the mail went over, or the last host tried
  // when it had TLS but did not take the mail (its certificate matters most when it did
  // not meet its DANE or MTA-STS terms: it may be the attacker's).
  bool decided_here = reached || (!targets_.empty() && !hosts_.empty() &&
                                  hosts_.back().host == current_name_ && tls_.handshake_ok);
  line.tls = decided_here ? tls_text_ : "none";
  if (decided_here) line.cert_sha256 = tls_cert_;
  o.tls = line.tls;
  o.cert_sha256 = line.cert_sha256;
  o.dnssec = line.dnssec;
  line.delay_s = static_cast<double>(now - job_.envelope->arrival_us) / 1e6;
  auto set_up_until = sending_us_ != 0 ? sending_us_ : now;
  line.queue_wait_s = static_cast<double>(started_us_ - job_.envelope->arrival_us) / 1e6;
  line.setup_s = static_cast<double>(set_up_until - started_us_) / 1e6;
  line.transfer_s = static_cast<double>(now - set_up_until) / 1e6;
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
        auto auth = tls_.auth == TlsAuth::Dane     ? metrics::DeliveryAuth::Dane
                    : tls_.auth == TlsAuth::MtaSts ? metrics::DeliveryAuth::MtaSts
                    : tls_.auth == TlsAuth::Pkix   ? metrics::DeliveryAuth::Pkix
                                                   : metrics::DeliveryAuth::None;
        if (reached) m->deliveries.inc(tls, auth, candidate().method);
        m->delivery_latency.observe(line.delay_s);
        break;
      }
      case RcptVerdict::Deferred: m->deferred.inc(policy); break;
      case RcptVerdict::Failed:
        m->bounced.inc(policy);
        if (policy == model::Policy::SOS && is_sos_bounce(o)) m->sos_bounces.inc();
        break;
    }
  }
  outcomes_[k] = std::move(o);
}

void Attempt::note_reach(bool handshake, bool at_tls, const Decision& d) {
  if (!handshake) {
    silent_ = true;
    return;
  }
  bool left = d.kind == Decision::Kind::NextHost || d.kind == Decision::Kind::Final;
  bool for_tls = left && (d.host.kind == HostRecord::Kind::NoTls ||
                          d.host.kind == HostRecord::Kind::AuthFailed ||
                          (at_tls && tls_required(policy_, requirement_, terms_.binding)));
  (for_tls ? left_for_tls_ : answered_) = true;
}

Reach Attempt::reach() const {
  if (suspended()) return Reach::Unknown;  // never a fact about the destination
  bool delivered = std::any_of(outcomes_.begin(), outcomes_.end(), [](const auto& o) {
    return o && o->verdict == RcptVerdict::Delivered;
  });
  if (delivered || answered_) return Reach::Yes;
  if (internal_ || left_for_tls_ || !silent_) return Reach::Unknown;
  return Reach::No;
}

void Attempt::complete() {
  if (state_ == State::Done) return;
  enter_state(State::Done);
  release_client(false);
  JobResult result;
  result.id = job_.id;
  result.generation = job_.generation;
  result.indices = job_.indices;
  for (auto& o : outcomes_) result.outcomes.push_back(o ? *o : RcptOutcome{});
  result.sessions = std::move(sessions_);
  result.reach = reach();
  if (result.reach == Reach::No) result.unreached = host_list(hosts_);
  // The owner must free the attempt later from the loop, not inside this call stack.
  auto done = std::move(done_);
  done(this, std::move(result));
}

}  // namespace secmx::delivery
