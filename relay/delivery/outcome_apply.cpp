// outcome_apply.cpp - see outcome_apply.hpp.
#include "relay/delivery/outcome_apply.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "relay/delivery/outcome.hpp"

namespace secmx::delivery {

void apply_outcomes(model::Envelope& env, const JobResult& result, std::int64_t now_us,
                    std::uint32_t history_limit) {
  const std::size_t limit = std::max<std::uint32_t>(history_limit, 1);
  for (std::size_t k = 0; k < result.indices.size() && k < result.outcomes.size(); ++k) {
    std::size_t i = result.indices[k];
    if (i >= env.recipients.size()) continue;
    auto& r = env.recipients[i];
    const auto& o = result.outcomes[k];
    r.attempts++;
    r.last_status = o.status;
    r.last_reply = o.diagnostic;
    r.remote_mta = o.remote_mta;
    r.last_tls = o.tls;
    r.last_cert_sha256 = o.cert_sha256;
    r.last_dnssec = o.dnssec;
    r.last_attempt_us = now_us;
    // A history longer than the limit (read from the queue after the limit was lowered)
    // shrinks to it here, counted like any other dropped attempt.
    if (r.history.size() >= limit) {
      std::size_t drop = r.history.size() - limit + 1;
      r.history.erase(r.history.begin(), r.history.begin() + static_cast<std::ptrdiff_t>(drop));
      r.history_dropped += static_cast<std::uint32_t>(drop);
    }
    // The reply as the attempt's log line gives it: without the DSN's type tag.
    std::string_view reply = o.diagnostic;
    if (reply.rfind("smtp; ", 0) == 0) reply.remove_prefix(6);
    r.history.push_back(model::Attempt{now_us, o.host, o.address, o.method, o.tls,
                                       o.cert_sha256, o.dnssec, o.status, std::string(reply)});
    switch (o.verdict) {
      case RcptVerdict::Delivered: r.state = model::RcptState::Delivered; break;
      case RcptVerdict::Failed: r.state = model::RcptState::Failed; break;
      case RcptVerdict::Deferred: r.state = model::RcptState::Pending; break;
    }
  }
}

void schedule_next(model::Envelope& env, std::int64_t now,
                   const std::vector<std::chrono::milliseconds>& retry,
                   std::chrono::milliseconds sos_lifetime) {
  env.attempts++;
  bool any_pending = false;
  bool sos_pending = false;
  for (const auto& r : env.recipients) {
    if (r.state != model::RcptState::Pending) continue;
    any_pending = true;
    sos_pending |= r.policy == model::Policy::SOS;
  }
  // A message with nothing left to try stays stored (its failures are the record the DSN
  // is built from) but is never due again.
  if (!any_pending) {
    env.next_attempt_us = model::kNeverDue;
    return;
  }
  env.next_attempt_us = next_attempt_us(env.attempts, now, retry);
  auto sos_end = env.arrival_us +
                 std::chrono::duration_cast<std::chrono::microseconds>(sos_lifetime).count();
  // Only while the end is ahead: past it, the round at the end has been (and a recipient
  // still pending then waits for the ordinary retry, e.g. after a DNS failure).
  if (sos_pending && sos_end > now) env.next_attempt_us = std::min(env.next_attempt_us, sos_end);
}

}  // namespace secmx::delivery
