// job_plan.hpp - planning: a stored message's pending recipients as jobs for the workers.
//
// Pure; any thread. One job per (domain, policy, TLS level), so that each job is one
// destination under one rule; recipients that are final or held are left out. The jobs
// share the envelope snapshot and the body read-only (see job.hpp).
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
  bool nothing_pending = false;  // every recipient is final or held
};

// `sos_lifetime`: once the message is that old, its jobs say sos_expired: the attempt is
// the last one for its SOS recipients, and decide() fails whom it cannot deliver (no more
// deferring). Job::generation is left 0 for the scheduler to set.
JobPlan plan_jobs(const std::shared_ptr<const model::Envelope>& envelope,
                  const std::shared_ptr<const std::string>& body, std::int64_t now_us,
                  std::chrono::milliseconds sos_lifetime);

}  // namespace secmx::delivery
