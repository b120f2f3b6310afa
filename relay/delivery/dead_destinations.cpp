// dead_destinations.cpp - see dead_destinations.hpp.
#include "relay/delivery/dead_destinations.hpp"

#include <algorithm>

namespace secmx::delivery {

DeadDestinations::DeadDestinations(std::uint32_t cohort, std::uint64_t suspend_ms)
    : cohort_(std::max<std::uint32_t>(1, cohort)), suspend_ms_(suspend_ms) {}

void DeadDestinations::configure(std::uint32_t cohort, std::uint64_t suspend_ms) {
  cohort_ = std::max<std::uint32_t>(1, cohort);
  suspend_ms_ = suspend_ms;
}

DeadDestinations::Admit DeadDestinations::admit(const std::string& domain,
                                                std::uint64_t now_ms) const {
  auto it = state_.find(domain);
  if (it == state_.end() || it->second.failures < cohort_) return Admit::Open;
  return now_ms < it->second.until_ms ? Admit::Suspended : Admit::Probe;
}

const std::string& DeadDestinations::reason(const std::string& domain) const {
  static const std::string none;
  auto it = state_.find(domain);
  return it == state_.end() ? none : it->second.reason;
}

bool DeadDestinations::record(const std::string& domain, bool reached,
                              const std::string& failure, std::uint64_t now_ms) {
  if (reached) {
    state_.erase(domain);
    return false;
  }
  State& s = state_[domain];
  s.failures++;
  s.last_ms = now_ms;
  s.reason = failure;
  // Attempts already under way when the destination was suspended end while it is: they
  // must not stretch the suspension, only a failed probe after it starts a new one.
  if (s.failures < cohort_ || now_ms < s.until_ms) return false;
  s.until_ms = now_ms + suspend_ms_;
  return true;
}

void DeadDestinations::sweep(std::uint64_t now_ms, std::uint64_t idle_ms) {
  for (auto it = state_.begin(); it != state_.end();) {
    bool idle = now_ms >= it->second.last_ms + idle_ms && now_ms >= it->second.until_ms;
    it = idle ? state_.erase(it) : std::next(it);
  }
}

}  // namespace secmx::delivery
