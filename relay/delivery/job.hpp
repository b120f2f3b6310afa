// job.hpp - the unit of work between the scheduler and the delivery workers.
//
// A Job is one message's pending recipients for one destination domain under one policy
// and TLS level; the scheduler builds it from the stored envelope and owns the envelope
// while the job is out. The worker answers with one outcome per recipient. Plain values;
// the body is shared read-only between the jobs of one message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "relay/delivery/outcome.hpp"
#include "relay/model/envelope.hpp"
#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::delivery {

struct Job {
  model::QueueId id{};
  std::uint64_t generation = 0;              // which scheduling round of the message
  std::string domain;                        // lower-case recipient domain
  model::Policy policy = model::Policy::BES;
  model::TlsLevel tls = model::TlsLevel::None;
  std::string policy_reason;
  std::vector<std::size_t> indices;          // into envelope->recipients
  std::shared_ptr<const model::Envelope> envelope;  // as handed out; read-only
  std::shared_ptr<const std::string> body;
  bool sos_expired = false;                  // SOS lifetime passed: no more deferring

  std::size_t size() const { return indices.size(); }
  const model::Recipient& recipient(std::size_t k) const {
    return envelope->recipients[indices[k]];
  }
};

// Whether an attempt found its destination reachable, as the attempt saw it first-hand
// (attempt.hpp); the worker's dead-destination throttle (dead_destinations.hpp) reads it.
enum class Reach {
  Unknown,  // says nothing: not tried (suspended, lookup failed, no host could be tried),
            // our own failure, or the hosts that answered were all left for their TLS
  No,       // hosts were tried and not one got through the greeting and EHLO (refused,
            // silent, 4xx/5xx greeting, EHLO refused or dropped: a handshake failure)
  Yes,      // a host got through the handshake (whatever it said after) or took the mail
};
inline const char* to_string(Reach r) {
  switch (r) {
    case Reach::Unknown: return "unknown";
    case Reach::No: return "no";
    case Reach::Yes: return "yes";
  }
  return "?";
}

struct JobResult {
  model::QueueId id{};
  std::uint64_t generation = 0;
  std::vector<std::size_t> indices;
  std::vector<RcptOutcome> outcomes;  // one per index
  // TLS-RPT (RFC 8460): every session the attempt had or ruled out, under the policy that
  // bound it; the scheduler commits their counts with the outcomes. Empty for our own
  // reports (Envelope::tls_report) and [[route]] deliveries.
  std::vector<tlsrpt::SessionResult> sessions;
  Reach reach = Reach::Unknown;
  // Reach::No: what the hosts showed ("host[ip]:port: connection refused; ..."), the reason
  // a suspension gives.
  std::string unreached;
};

}  // namespace secmx::delivery
