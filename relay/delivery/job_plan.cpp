// job_plan.cpp - see job_plan.hpp.
#include "relay/delivery/job_plan.hpp"

#include <map>
#include <tuple>

#include "relay/smtp/params.hpp"

namespace secmx::delivery {

JobPlan plan_jobs(const std::shared_ptr<const model::Envelope>& envelope,
                  const std::shared_ptr<const std::string>& body, std::int64_t now,
                  std::chrono::milliseconds sos_lifetime) {
  JobPlan plan;
  // Key: domain, policy, TLS level -> job index; std::map keeps job order stable.
  std::map<std::tuple<std::string, int, int>, std::size_t> by_key;
  const auto& env = *envelope;
  bool sos_expired = now - env.arrival_us >= sos_lifetime.count() * 1000;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& r = env.recipients[i];
    if (r.state != model::RcptState::Pending) continue;
    std::string domain = smtp::address_domain(r.address);
    auto key = std::make_tuple(domain, static_cast<int>(r.policy), static_cast<int>(r.tls));
    auto [it, inserted] = by_key.emplace(key, plan.jobs.size());
    if (inserted) {
      Job job;
      job.id = env.id;
      job.domain = domain;
      job.policy = r.policy;
      job.tls = r.tls;
      job.policy_reason = r.policy_reason;
      job.envelope = envelope;
      job.body = body;
      job.sos_expired = sos_expired;
      plan.jobs.push_back(std::move(job));
    }
    auto& job = plan.jobs[it->second];
    job.indices.push_back(i);
  }
  plan.nothing_pending = plan.jobs.empty();
  return plan;
}

}  // namespace secmx::delivery
