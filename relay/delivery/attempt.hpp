// attempt.hpp - one delivery attempt of one Job: discovery, then the candidate hosts in
// order until every recipient has an outcome (DESIGN §4).
//
// The attempt gathers facts and does what decide() (decide.hpp) answers; it chooses no
// verdict, status or host record itself. Its states, each entered through enter_state()
// (logged at debug with the queue id):
//
//   Idle -> Discovering -> Connecting -> Sending -> Done
//                             ^  |  ^       |
//                             |  +--+       |  plaintext retry (BES) on the same host
//                             +-------------+  next host (skipped, unreachable, 4xx)
//
// A target is one address of one candidate host. What happened at each is kept as a
// HostRecord; after the last one decide() turns the records into the outcome of the
// recipients still pending (for SOS: 5.7.10 naming every host, or a deferral while some
// host may yet answer). A cached connection that suits the TLS level skips Connecting.
//
// Authenticated TLS (DESIGN §10): after discovery the attempt asks for the recipient
// domain's MTA-STS policy (AttemptEnv::sts_policy, when set; still Discovering), then per
// target works out what binds the host (Facts::binding: usable TLSA records -> Dane, else
// an enforce policy -> MtaSts, else unusable-only TLSA -> Encrypt) and whether it may be
// tried at all (Facts::admission: a failed TLSA lookup, an MX host the enforce policy does
// not list), tells the client what to check (SmtpClient::set_peer_verify: the TLSA records
// and the names {TLSA base, host}, or the host name for PKIX) and records by what the
// session was authenticated (TlsObservation::auth). MTA-STS binds every candidate that
// came from the domain's DNS - MX, implicit MX, and the SecMX SRV, MX 51966 and secmx.D
// ones too: RFC 8461 speaks of MX hosts, but letting a SecMX answer from the same
// unauthenticated DNS past an enforce policy would let a forged answer undo it. A
// [[route]] is the operator's and bypasses MTA-STS (DANE still applies when its host has
// TLSA records). A testing policy changes nothing but is reported in the log
// ("event=sts-testing-failure").
//
// TLS reporting (RFC 8460): when a session to a host ends - the handshake done or failed,
// the host found without STARTTLS, or ruled out by its receiver's policy - and when the
// domain's MTA-STS policy lookup failed, the attempt records a tlsrpt::SessionResult
// (tlsrpt_session.hpp decides what it is, and what is not counted: [[route]] hosts, a
// cached connection, the BES plaintext retry) and counts it in secmx_tls_sessions_total;
// the JobResult carries them to the scheduler. Nothing for our own reports
// (Envelope::tls_report).
//
// Reachability (JobResult::reach, for the worker's dead-destination throttle): the attempt
// says what it saw itself, not what the outcome implies. A host answered when it got through
// the handshake - its greeting and EHLO (or HELO) accepted; a 4xx to MAIL or RCPT or a
// connection lost in the transaction are answers too. A refused or timed-out connection, a
// 4xx/5xx greeting, a refused or dropped EHLO are not (Postfix's "connection or handshake
// failure": a host that greets every connection with 421 is down for us). Yes: a host
// answered or took the mail. No: hosts were tried and none answered. Unknown otherwise: answered as suspended, the lookup failed or named no host to
// try (TLSA lookups included), our own failure - and when the only hosts that answered were
// left for their TLS (at STARTTLS or the handshake, or a session without the TLS that SOS or
// the receiver's DANE or MTA-STS policy requires): such a host is up, but it could not take
// this mail, so neither a suspension nor its end rests on it.
//
// Failure: every callback into the attempt (and start()) runs under common::guard(): an
// exception is logged as "<queue id>: event=exception where=attempt.<step> ...", the
// recipients still pending are deferred (decide() with an Internal event: 4.3.0), and the
// attempt completes; the worker and every other attempt go on. The same step names are
// the fault-injection points (SECMX_TEST_INJECT_THROW=attempt.opened:1).
//
// Thread affinity: the worker loop's thread. The attempt calls `done` exactly once, from
// a libuv callback, or from start() only when start() itself failed; the owner frees it
// after that, never inside the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/client/smtp_client.hpp"
#include "relay/config/config.hpp"
#include "relay/delivery/connection_cache.hpp"
#include "relay/delivery/decide.hpp"
#include "relay/delivery/host_terms.hpp"
#include "relay/delivery/job.hpp"
#include "relay/delivery/outcome.hpp"
#include "relay/delivery/tlsrpt_session.hpp"
#include "relay/dns/discovery.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/sts/sts_state.hpp"

namespace spdlog {
class logger;
}

namespace secmx::delivery {

// What an attempt borrows from its worker.
struct AttemptEnv {
  std::shared_ptr<const config::Config> config;  // as of the attempt's start (reloads)
  // The attempt's two seams to the world, so that it can be driven by scripted input
  // without sockets (tests/unit/delivery/attempt_test.cpp): discovery of the receivers
  // (the callback runs later, from the loop), and a new SMTP client whose log lines carry
  // `log_id`. The worker passes dns::Discovery and client::SmtpClient::create.
  std::function<void(const std::string& domain, dns::Discovery::Callback cb)> discover;
  std::function<std::unique_ptr<client::SmtpClient>(const std::string& log_id)> new_client;
  // The recipient domain's MTA-STS policy (the callback runs later, from the loop). Empty
  // when MTA-STS is off ([mta_sts] enabled = false): no domain has a policy then.
  std::function<void(const std::string& domain, std::function<void(sts::StsState)> cb)>
      sts_policy;
  ConnectionCache* cache = nullptr;
  std::shared_ptr<spdlog::logger> log;
  secmx::metrics::RelayMetrics* metrics = nullptr;  // null: nothing counted
  // Non-empty: the destination is suspended (dead_destinations.hpp) and this is why; the
  // attempt neither looks up nor connects, and decide() answers its recipients as after a
  // connection that failed, with this text ("delivery temporarily suspended: ...").
  std::string suspended{};
};

class Attempt {
 public:
  using Done = std::function<void(Attempt*, JobResult)>;
  Attempt(AttemptEnv env, Job job, Done done);
  ~Attempt();
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  void start();
  // Instead of start() when AttemptEnv::suspended is set: no lookup, no connection; the
  // recipients get decide()'s answer to a destination that could not be reached, and
  // `done` runs before this returns.
  void answer_suspended();
  const Job& job() const { return job_; }
  // Answered without connecting: its destination is suspended (AttemptEnv::suspended).
  bool suspended() const { return !env_.suspended.empty(); }

 private:
  struct Target {
    std::size_t candidate = 0;
    dns::IpAddress address;
  };
  enum class State { Idle, Discovering, Connecting, Sending, Done };
  static const char* state_name(State s);

  void enter_state(State next);
  // Runs `fn` as the callback step `where`; an exception fails the attempt cleanly.
  template <class Fn>
  void guarded(const char* where, Fn&& fn);
  void fail(const char* where);
  void on_discovered(dns::DiscoveryResult result);
  void on_sts(sts::StsState state);
  void next_target();
  // The receiver's terms for the current target (terms_), and whether to try it.
  Admission admit();
  void report_sts_testing(const std::string& reason);
  // TLS reporting: a session to the current target ended as `end`.
  void record_session(const SessionEnd& end);
  void record(std::optional<tlsrpt::SessionResult> session);
  void connect(bool plaintext_retry);
  void on_open(client::SessionInfo info);
  void send_on();
  void on_sent(client::MessageResult result);
  // After a decision about the whole host (NextHost, or Final for every pending one).
  void leave_host(const Decision& d, bool reusable);
  void release_client(bool reusable);
  void finish_pending(const RcptOutcome& outcome);
  void set_outcome(std::size_t k, RcptOutcome outcome);
  void complete();
  // A host's opening ended as `d`: what it shows of the destination (JobResult::reach).
  // `handshake`: the greeting and EHLO were accepted; `at_tls`: it ended at STARTTLS or the
  // TLS handshake.
  void note_reach(bool handshake, bool at_tls, const Decision& d);
  Reach reach() const;

  // The facts that hold for the whole attempt and the current host.
  Facts facts(Stage stage, std::string_view step) const;
  std::string target_name() const;  // "host[ip]:port"
  std::uint16_t target_port() const;
  const dns::Candidate& candidate() const;

  AttemptEnv env_;
  Job job_;
  Done done_;
  State state_ = State::Idle;
  std::int64_t started_us_ = 0;
  std::int64_t sending_us_ = 0;  // the transaction began (0: it never did); for delays=

  dns::DiscoveryResult discovery_;
  model::TlsLevel requirement_ = model::TlsLevel::None;
  model::Policy policy_ = model::Policy::BES;  // job_.policy, over the route (decide.hpp)
  sts::StsState sts_;             // the domain's MTA-STS policy (none until asked)
  HostTerms terms_;               // what the current target's DANE / MTA-STS ask
  std::vector<Target> targets_;
  std::size_t next_ = 0;  // next target to try
  std::size_t current_ = 0;
  bool plaintext_retry_ = false;
  std::string current_name_;  // target_name() of the current target
  std::string log_id_;        // "<queue id>:", the prefix of the attempt's log lines
  std::vector<HostRecord> hosts_;

  std::unique_ptr<client::SmtpClient> client_;
  TlsObservation tls_;
  std::string tls_text_ = "none";
  std::string tls_cert_;  // the peer certificate's SHA-256 (hex) when tls_text_ is TLS
  std::vector<const model::Recipient*> sending_;  // recipients in the current transaction
  std::vector<std::size_t> sending_k_;

  std::vector<std::optional<RcptOutcome>> outcomes_;  // per job recipient
  std::vector<tlsrpt::SessionResult> sessions_;       // for TLS reporting (JobResult)
  std::shared_ptr<bool> alive_;                       // guards callbacks after destruction
  bool counted_connection_ = false;                   // client_ counts in outbound_connections
  // Reachability as seen (reach()): some host answered and was not left for its TLS; some
  // answered and was; some was tried and never answered; our own failure ended the attempt.
  bool answered_ = false;
  bool left_for_tls_ = false;
  bool silent_ = false;
  bool internal_ = false;
};

}  // namespace secmx::delivery
