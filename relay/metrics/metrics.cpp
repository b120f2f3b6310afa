// metrics.cpp - lock-free metric updates and the Prometheus text rendering.
#include "relay/metrics/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace secmx::metrics {

const char* to_string(AuthResult r) {
  static constexpr const char* kNames[kAuthResults] = {"success", "failure", "locked",
                                                       "unavailable"};
  auto i = static_cast<std::size_t>(r);
  return i < kAuthResults ? kNames[i] : "?";
}

namespace {

static_assert(static_cast<std::size_t>(model::Policy::HOLD) == kPolicies - 1);
static_assert(static_cast<std::size_t>(dns::Method::Implicit) == kMethods - 1);
static_assert(static_cast<std::size_t>(tlsrpt::PolicyType::NoPolicyFound) == kTlsPolicyTypes - 1);

constexpr std::array<const char*, kPolicies> kPolicyNames{"BES", "SOS", "HOLD"};
constexpr std::array<const char*, kDeliveryTls> kTlsNames{"none", "encrypt", "verified"};
constexpr std::array<const char*, kDeliveryAuth> kAuthNames{"none", "pkix", "dane", "mta-sts"};
constexpr std::array<const char*, kAuthFailures> kAuthFailureNames{"dane", "mta-sts",
                                                                   "tlsa-lookup"};
constexpr std::array<const char*, kMethods> kMethodNames{"route", "srv",  "mx51966",
                                                         "name",  "mx",   "implicit"};

// Prometheus floats: integers without a fraction, "+Inf" for infinity.
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    // The shortest form that reads back as the same double: 0.0025, not 0.00250000000000000005.
    for (int precision = 15; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
  }
  return buf;
}

class Writer {
 public:
  void header(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: already formatted as `a="x",b="y"` (our label values never need escaping).
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void counter(const char* name, const char* help, const Counter& c) {
    header(name, "counter", help);
    sample(name, "", std::to_string(c.value()));
  }
  void gauge(const char* name, const char* help, const Gauge& g) {
    header(name, "gauge", help);
    sample(name, "", std::to_string(g.value()));
  }
  void by_policy(const char* name, const char* help, const PolicyCounter& c) {
    header(name, "counter", help);
    for (std::size_t i = 0; i < kPolicies; ++i) {
      sample(name, std::string("policy=\"") + kPolicyNames[i] + "\"",
             std::to_string(c.value(static_cast<model::Policy>(i))));
    }
  }
  // A counter family over one enum-valued label: `label="<name_of(e)>"` for each of the
  // n values of E, in order.
  template <class E, class NameOf, class ValueOf>
  void by_enum(const char* name, const char* help, const char* label, std::size_t n,
               NameOf name_of, ValueOf value_of) {
    header(name, "counter", help);
    for (std::size_t i = 0; i < n; ++i) {
      auto e = static_cast<E>(i);
      sample(name, std::string(label) + "=\"" + std::string(name_of(e)) + "\"",
             std::to_string(value_of(e)));
    }
  }
  void histogram(const char* name, const char* help, const Histogram& h) {
    header(name, "histogram", help);
    auto s = h.snapshot();
    std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < s.bounds.size(); ++i) {
      sample(bucket, "le=\"" + number(s.bounds[i]) + "\"", std::to_string(s.cumulative[i]));
    }
    sample(bucket, "le=\"+Inf\"", std::to_string(s.count));
    sample(std::string(name) + "_sum", "", number(s.sum));
    sample(std::string(name) + "_count", "", std::to_string(s.count));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::size_t tls_session_result(const tlsrpt::SessionResult& session) {
  return session.failure ? 1 + static_cast<std::size_t>(session.failure->result) : 0;
}

const char* to_string(DeliveryTls t) {
  auto i = static_cast<std::size_t>(t);
  return i < kDeliveryTls ? kTlsNames[i] : "?";
}

const char* to_string(DeliveryAuth a) {
  auto i = static_cast<std::size_t>(a);
  return i < kDeliveryAuth ? kAuthNames[i] : "?";
}

const char* to_string(AuthFailure f) {
  auto i = static_cast<std::size_t>(f);
  return i < kAuthFailures ? kAuthFailureNames[i] : "?";
}

const char* to_string(ReportResult r) {
  static constexpr const char* kNames[kReportResults] = {"sent", "failed", "no-record"};
  auto i = static_cast<std::size_t>(r);
  return i < kReportResults ? kNames[i] : "?";
}

namespace {

// The one index of a (tls, auth, method) triple; kNoIndex for values out of range.
constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
std::size_t delivery_index(DeliveryTls tls, DeliveryAuth auth, dns::Method method) {
  auto t = static_cast<std::size_t>(tls), a = static_cast<std::size_t>(auth),
       m = static_cast<std::size_t>(method);
  if (t >= kDeliveryTls || a >= kDeliveryAuth || m >= kMethods) return kNoIndex;
  return (t * kDeliveryAuth + a) * kMethods + m;
}

}  // namespace

void DeliveryCounter::inc(DeliveryTls tls, DeliveryAuth auth, dns::Method method,
                          std::uint64_t n) {
  if (tls != DeliveryTls::Verified) {
    auth = DeliveryAuth::None;
  } else if (auth == DeliveryAuth::None) {
    auth = DeliveryAuth::Pkix;
  }
  std::size_t i = delivery_index(tls, auth, method);
  if (i != kNoIndex) v_[i].fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t DeliveryCounter::value(DeliveryTls tls, DeliveryAuth auth,
                                     dns::Method method) const {
  std::size_t i = delivery_index(tls, auth, method);
  return i == kNoIndex ? 0 : v_[i].load(std::memory_order_relaxed);
}

std::uint64_t DeliveryCounter::value(DeliveryTls tls, dns::Method method) const {
  std::uint64_t n = 0;
  for (std::size_t a = 0; a < kDeliveryAuth; ++a) {
    n += value(tls, static_cast<DeliveryAuth>(a), method);
  }
  return n;
}

std::uint64_t DeliveryCounter::value(DeliveryAuth auth) const {
  std::uint64_t n = 0;
  for (std::size_t t = 0; t < kDeliveryTls; ++t) {
    for (std::size_t m = 0; m < kMethods; ++m) {
      n += value(static_cast<DeliveryTls>(t), auth, static_cast<dns::Method>(m));
    }
  }
  return n;
}

Histogram::Histogram(std::initializer_list<double> bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  // Buckets are stored per interval and summed at render time, so an observation
  // touches one bucket only.
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the sum of the buckets, so that +Inf and _count always agree even
  // while observations race with the scrape.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::function<void(std::size_t, std::chrono::microseconds)> RelayMetrics::commit_observer() {
  return [this](std::size_t batch, std::chrono::microseconds elapsed) {
    commit_batch_size.observe(static_cast<double>(batch));
    commit_latency.observe(static_cast<double>(elapsed.count()) / 1e6);
  };
}

std::string RelayMetrics::render() const {
  Writer w;
  w.counter("secmx_messages_received_total", "Messages accepted and queued (250 sent).",
            messages_received);
  w.by_policy("secmx_recipients_received_total",
              "Recipients of queued messages, by the sending policy chosen for them.", received);
  w.by_policy("secmx_recipients_delivered_total", "Recipients delivered, by policy.", delivered);
  w.by_policy("secmx_recipients_deferred_total",
              "Delivery attempts that left a recipient deferred, by policy.", deferred);
  w.by_policy("secmx_recipients_bounced_total",
              "Recipients failed permanently (a DSN is due), by policy: by a delivery attempt, "
              "at the end of the SOS lifetime, or by the operator (queue bounce).",
              bounced);
  w.counter("secmx_sos_bounces_total",
            "Recipients under the SOS policy failed with 5.7.10: no receiver could take them "
            "over TLS (at an attempt, or at the end of the SOS lifetime). Operator bounces "
            "and other failures of SOS mail are not counted here.",
            sos_bounces);
  w.counter("secmx_dsn_held_total",
            "Reports (mail from <>) that could not be delivered and had no one to go to "
            "(no dsn.postmaster): kept held in the queue for the operator.",
            dsn_held);

  const char* deliveries_name = "secmx_deliveries_total";
  w.header(deliveries_name, "counter",
           "Recipients delivered, by the TLS protection used, how the receiver was "
           "authenticated (dane, mta-sts, pkix, none) and how it was found.");
  // Only the pairs that can happen: an AUTH goes with verified TLS, none with the others.
  for (std::size_t t = 0; t < kDeliveryTls; ++t) {
    auto tls = static_cast<DeliveryTls>(t);
    for (std::size_t a = 0; a < kDeliveryAuth; ++a) {
      auto auth = static_cast<DeliveryAuth>(a);
      if ((tls == DeliveryTls::Verified) == (auth == DeliveryAuth::None)) continue;
      for (std::size_t m = 0; m < kMethods; ++m) {
        w.sample(deliveries_name,
                 std::string("tls=\"") + kTlsNames[t] + "\",auth=\"" + kAuthNames[a] +
                     "\",method=\"" + kMethodNames[m] + "\"",
                 std::to_string(deliveries.value(tls, auth, static_cast<dns::Method>(m))));
      }
    }
  }
  w.by_enum<AuthFailure>(
      "secmx_tls_auth_failures_total",
      "Hosts that did not meet their receiver's authentication requirement, by type: "
      "DANE certificate mismatch, MTA-STS policy not met, TLSA lookup failed.",
      "type", kAuthFailures,
      [](AuthFailure f) { return kAuthFailureNames[static_cast<std::size_t>(f)]; },
      [this](AuthFailure f) { return tls_auth_failures.value(f); });

  const char* sessions_name = "secmx_tls_sessions_total";
  w.header(sessions_name, "counter",
           "TLS sessions to receiving hosts as TLS reporting (RFC 8460) counts them, by the "
           "policy type that bound them and the result (success or the RFC's result type).");
  for (std::size_t p = 0; p < kTlsPolicyTypes; ++p) {
    auto policy = static_cast<tlsrpt::PolicyType>(p);
    for (std::size_t r = 0; r < kTlsSessionResults; ++r) {
      const char* result =
          r == 0 ? "success" : tlsrpt::to_string(static_cast<tlsrpt::ResultType>(r - 1));
      w.sample(sessions_name,
               std::string("policy=\"") + tlsrpt::to_string(policy) + "\",result=\"" + result +
                   "\"",
               std::to_string(tls_sessions.value(policy, r)));
    }
  }

  w.by_enum<policy::MarkingProblem>(
      "secmx_markings_invalid_total",
      "Protective markings that were invalid or unreadable, by the rule broken; the "
      "message took policy.unknown_marking.",
      "reason", policy::kMarkingProblems,
      [](policy::MarkingProblem p) { return policy::to_string(p); },
      [this](policy::MarkingProblem p) { return markings_invalid.value(p); });
  w.by_enum<AuthResult>(
      "secmx_smtp_auth_total",
      "SMTP AUTH logins by result: success, failure (535), locked (454, too many "
      "failures for the address or user), unavailable (454, too many checks waiting).",
      "result", kAuthResults, [](AuthResult r) { return to_string(r); },
      [this](AuthResult r) { return smtp_auth.value(r); });
  w.by_enum<ReportResult>(
      "secmx_tlsrpt_reports_total",
      "TLS reports (RFC 8460) by outcome: sent or failed per report address, no-record "
      "per domain without a usable _smtp._tls record.",
      "result", kReportResults, [](ReportResult r) { return to_string(r); },
      [this](ReportResult r) { return tlsrpt_reports.value(r); });

  w.gauge("secmx_queue_messages", "Messages in the queue.", queue_messages);
  w.gauge("secmx_queue_held_messages", "Messages in the queue on hold.", queue_held);
  w.gauge("secmx_queue_oldest_message_age_seconds",
          "Age of the oldest message in the queue (0 when empty).", queue_oldest_age_seconds);
  w.gauge("secmx_inbound_connections", "Open inbound SMTP connections.", inbound_connections);
  w.gauge("secmx_outbound_connections", "Open outbound SMTP connections.", outbound_connections);
  w.counter("secmx_dns_lookups_total", "DNS lookups made.", dns_lookups);
  w.counter("secmx_dns_failures_total", "DNS lookups that failed temporarily.", dns_failures);
  w.counter("secmx_config_reloads_total", "Configuration reloads (SIGHUP) put in force.",
            config_reloads);
  w.counter("secmx_config_reload_failures_total",
            "Configuration reloads refused (the running configuration stayed).",
            config_reload_failures);
  w.counter("secmx_audit_records_total", "Audit records committed.", audit_records);
  w.counter("secmx_audit_checkpoints_total", "Audit chain checkpoints written.",
            audit_checkpoints);
  w.counter("secmx_audit_pruned_total", "Audit records removed after audit.retention.",
            audit_pruned);
  w.gauge("secmx_audit_last_checkpoint_timestamp_seconds",
          "When the newest audit checkpoint was written (Unix time; 0: none yet).",
          audit_last_checkpoint);
  w.histogram("secmx_commit_batch_size",
              "Messages (or delivery outcomes) per group commit.", commit_batch_size);
  w.histogram("secmx_commit_latency_seconds", "Time to write and fsync one group commit.",
              commit_latency);
  w.histogram("secmx_delivery_latency_seconds",
              "Time from arrival to delivery, per delivered recipient.", delivery_latency);
  return w.take();
}

}  // namespace secmx::metrics
