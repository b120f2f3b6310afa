// job_plan.hpp - planning: a stored message's pending recipients as jobs for the workers.
//
// Pure; any thread. One job per (domain, policy, TLS level), so that each job is one
// destination under one rule; recipients that are final or held are left out, and so are
// SOS recipients whose SOS lifetime is over and whose last attempt already says how they
// end (outcome_apply.hpp sos_expiry()): another attempt would only make them later. The
// jobs share the envelope snapshot and the body read-only (see job.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "relay/delivery/job.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::delivery {

struct JobPlan {
  std::vector<Job> jobs;         // in the order of their first recipient
  // Recipients (indices into the envelope's) that fail now, without an attempt: past the
  // SOS lifetime, with sos_expiry() an outcome. The caller applies it (expire_sos()).
  std::vector<std::size_t> expired;
  bool nothing_pending = false;  // every recipient is final or held
};

// `sos_lifetime`: once the message is that old, its jobs say sos_expired (no more
// deferring of SOS recipients), and SOS recipients sos_expiry() decides are `expired`. Job::generation is left 0 for the scheduler to set.
JobPlan plan_jobs(const std::shared_ptr<const model::Envelope>& envelope,
                  const std::shared_ptr<const std::string>& body, std::int64_t now_us,
                  std::chrono::milliseconds sos_lifetime);

}  // namespace secmx::delivery
