// metrics.hpp - the relay's Prometheus metrics: counters, gauges and histograms with
// fixed label sets, and RelayMetrics, the one struct that names every metric we export.
//
// Thread affinity: any thread. Every update (inc, add, set, observe) is a relaxed atomic
// operation - no lock and no allocation - so the SMTP loops, the commit writer and the
// delivery workers call them on their hot paths. Labels are enums known at compile time,
// so a metric never grows new series at run time. render() takes a consistent-enough
// snapshot (each value read atomically, not all of them at one instant) and is only
// called by the admin server when /metrics is scraped.
//
// Lifetime: one RelayMetrics per process, created by main before any thread that updates
// it and destroyed after they have all stopped.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "relay/dns/candidates.hpp"
#include "relay/model/envelope.hpp"
#include "relay/policy/marking.hpp"
#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::metrics {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { add(-1); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Fixed upper bounds, ascending; the +Inf bucket is implicit.
class Histogram {
 public:
  explicit Histogram(std::initializer_list<double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// One counter per value of an enum label (values 0 .. N-1).
template <class E, std::size_t N>
class CounterBy {
 public:
  void inc(E e, std::uint64_t n = 1) {
    auto i = static_cast<std::size_t>(e);
    if (i < N) v_[i].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value(E e) const {
    auto i = static_cast<std::size_t>(e);
    return i < N ? v_[i].load(std::memory_order_relaxed) : 0;
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (const auto& c : v_) t += c.load(std::memory_order_relaxed);
    return t;
  }

 private:
  std::array<std::atomic<std::uint64_t>, N> v_{};
};

// One counter per pair of enum label values.
template <class E1, std::size_t N1, class E2, std::size_t N2>
class CounterBy2 {
 public:
  void inc(E1 a, E2 b, std::uint64_t n = 1) {
    auto i = static_cast<std::size_t>(a), j = static_cast<std::size_t>(b);
    if (i < N1 && j < N2) v_[i * N2 + j].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value(E1 a, E2 b) const {
    auto i = static_cast<std::size_t>(a), j = static_cast<std::size_t>(b);
    return i < N1 && j < N2 ? v_[i * N2 + j].load(std::memory_order_relaxed) : 0;
  }

 private:
  std::array<std::atomic<std::uint64_t>, N1 * N2> v_{};
};

// What protected a delivery: nothing, TLS without an authenticated peer, or TLS with a
// peer authenticated (by DeliveryAuth).
enum class DeliveryTls { None = 0, Encrypt = 1, Verified = 2 };
// How the peer was authenticated: the AUTH word of the delivery log's tls= field.
enum class DeliveryAuth { None = 0, Pkix = 1, Dane = 2, MtaSts = 3 };
// Why a receiver's own authentication requirement was not met (DESIGN §10): a DANE
// certificate mismatch, an MTA-STS policy not met (MX not listed, no valid certificate for
// the name, no TLS), a TLSA lookup that failed for a secure name.
enum class AuthFailure { Dane = 0, MtaSts = 1, TlsaLookup = 2 };

// What became of a TLS report (RFC 8460): per rua it was handed to, or per domain without
// a usable _smtp._tls record.
enum class ReportResult { Sent = 0, Failed = 1, NoRecord = 2 };

// What became of an SMTP AUTH login (relay/server/auth_service.hpp): accepted, refused
// (535), refused because the address or user is locked out (454), or not checked
// because too many checks were waiting (454).
enum class AuthResult { Success = 0, Failure = 1, Locked = 2, Unavailable = 3 };
inline constexpr std::size_t kAuthResults = 4;

inline constexpr std::size_t kPolicies = 3;  // model::Policy: BES, SOS, HOLD
inline constexpr std::size_t kDeliveryTls = 3;
inline constexpr std::size_t kDeliveryAuth = 4;
inline constexpr std::size_t kAuthFailures = 3;
inline constexpr std::size_t kReportResults = 3;
inline constexpr std::size_t kMethods = 6;   // dns::Method: route srv mx51966 name mx implicit

using PolicyCounter = CounterBy<model::Policy, kPolicies>;

// TLS sessions as TLS reporting (RFC 8460) sees them: by policy type, and by result -
// index 0 for success, 1 + tlsrpt::ResultType for a failure (tls_session_result()).
inline constexpr std::size_t kTlsPolicyTypes = 3;  // sts, tlsa, no-policy-found
inline constexpr std::size_t kTlsSessionResults = 1 + tlsrpt::kResultTypes;
using TlsSessionCounter =
    CounterBy2<tlsrpt::PolicyType, kTlsPolicyTypes, std::size_t, kTlsSessionResults>;
std::size_t tls_session_result(const tlsrpt::SessionResult& session);

// Delivered recipients by protection, authentication and discovery method. An AUTH only
// goes with verified TLS: with None or Encrypt it is counted as none, and Verified without
// one as pkix (what verified meant before DANE and MTA-STS), so every delivery is counted
// once under a pair that can happen.
class DeliveryCounter {
 public:
  void inc(DeliveryTls tls, DeliveryAuth auth, dns::Method method, std::uint64_t n = 1);
  std::uint64_t value(DeliveryTls tls, DeliveryAuth auth, dns::Method method) const;
  std::uint64_t value(DeliveryTls tls, dns::Method method) const;  // over every AUTH
  std::uint64_t value(DeliveryAuth auth) const;                    // over everything else

 private:
  std::array<std::atomic<std::uint64_t>, kDeliveryTls * kDeliveryAuth * kMethods> v_{};
};

// Every metric the relay exports. Members are public so that callers write
// `metrics.received.inc(model::Policy::SOS)`; names and help texts are in render().
struct RelayMetrics {
  // Inbound (relay/server): counted per recipient once its message is committed.
  Counter messages_received;      // messages acknowledged with 250
  PolicyCounter received;         // recipients, by the policy chosen for them
  Gauge inbound_connections;      // open SMTP sessions
  // Protective markings the policy could not accept (invalid EPMS, unreadable), one per
  // marking, by the rule broken; such mail took policy.unknown_marking.
  CounterBy<policy::MarkingProblem, policy::kMarkingProblems> markings_invalid;
  // SMTP AUTH logins, by result: smtp_auth.inc(AuthResult::Failure).
  CounterBy<AuthResult, kAuthResults> smtp_auth;

  // Outcomes (relay/delivery), per recipient and attempt.
  PolicyCounter delivered;
  PolicyCounter deferred;
  PolicyCounter bounced;          // failed permanently (a DSN is due): by an attempt, at the
                                  // end of the SOS lifetime, or by an operator's bounce
  Counter sos_bounces;            // recipients under SOS failed 5.7.10 (no receiver took them
                                  // over TLS), at an attempt or at the end of the SOS lifetime
  Counter dsn_held;               // reports from <> kept held: undeliverable, and no one to
                                  // tell (relay/dsn/dsn_hold.hpp); counted once written
  DeliveryCounter deliveries;     // delivered recipients
  // Receivers' authentication requirements not met, per attempt and host: the attempt
  // calls tls_auth_failures.inc(AuthFailure::Dane) where the host fails.
  CounterBy<AuthFailure, kAuthFailures> tls_auth_failures;
  Gauge outbound_connections;     // open SMTP client connections
  // Every session the attempt records for TLS reporting, whether or not reports are sent:
  // tls_sessions.inc(session.policy.type, tls_session_result(session)).
  TlsSessionCounter tls_sessions;
  Histogram delivery_latency{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600};
                                  // seconds from arrival to delivered

  // TLS reports sent (relay/tlsrpt's report service, through main).
  CounterBy<ReportResult, kReportResults> tlsrpt_reports;

  // DNS (relay/dns).
  Counter dns_lookups;
  Counter dns_failures;           // temporary failures (timeouts, SERVFAIL, ...)

  // SIGHUP reloads of the configuration file.
  Counter config_reloads;
  Counter config_reload_failures;  // refused: the running configuration stayed

  // The audit trail (relay/audit): records committed, checkpoints written, records pruned
  // by retention, and when the newest checkpoint was written (Unix seconds, 0: none yet).
  Counter audit_records;
  Counter audit_checkpoints;
  Counter audit_pruned;
  Gauge audit_last_checkpoint;

  // Group commit (queue/commit_writer).
  Histogram commit_batch_size{1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  Histogram commit_latency{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

  // Queue: refreshed from Store::stats() by the admin server at every scrape.
  Gauge queue_messages;
  Gauge queue_held;
  Gauge queue_oldest_age_seconds;

  // For CommitWriter::Options::on_commit: feeds commit_batch_size and commit_latency.
  std::function<void(std::size_t, std::chrono::microseconds)> commit_observer();

  // Prometheus text exposition format 0.0.4.
  std::string render() const;
};

const char* to_string(DeliveryTls t);   // "none", "encrypt", "verified"
const char* to_string(DeliveryAuth a);  // "none", "pkix", "dane", "mta-sts"
const char* to_string(AuthFailure f);   // "dane", "mta-sts", "tlsa-lookup"
const char* to_string(ReportResult r);  // "sent", "failed", "no-record"
const char* to_string(AuthResult r);    // "success", "failure", "locked", "unavailable"

}  // namespace secmx::metrics
