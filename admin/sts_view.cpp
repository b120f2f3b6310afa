// sts_view.cpp - JSON shapes of the MTA-STS admin endpoints; see sts_view.hpp.
#include "admin/sts_view.hpp"

#include "admin/queue_view.hpp"
#include "relay/common/hostname.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::admin {

using nlohmann::json;

std::optional<std::string> sts_domain(const std::string& arg) {
  std::string d = dns::normalize_name(arg);
  if (!valid_hostname(d)) return std::nullopt;
  return d;
}

json sts_json(const std::string& domain, bool enabled,
              const std::optional<sts::CachedPolicy>& policy,
              const std::optional<sts::LastFailure>& failure, std::int64_t now_us) {
  json out{{"domain", domain}, {"enabled", enabled}, {"policy", nullptr},
           {"last_failure", nullptr}};
  if (policy) {
    out["policy"] = json{{"mode", to_string(policy->policy.mode)},
                         {"mx", policy->policy.mx},
                         {"max_age", policy->policy.max_age.count()},
                         {"id", policy->id},
                         {"fetched_at", iso_time(policy->fetched_us)},
                         {"age_seconds", (now_us - policy->fetched_us) / 1000000},
                         {"expires_at", iso_time(policy->expires_us())},
                         {"expired", policy->expired(now_us)},
                         {"text", policy->policy.text}};
  }
  if (failure) {
    out["last_failure"] = json{{"result", to_string(failure->failure)},
                               {"detail", failure->detail},
                               {"at", iso_time(failure->at_us)}};
  }
  return out;
}

json sts_state_json(const sts::StsState& state) {
  std::string result;
  if (state.failure != sts::StsFailure::None) {
    result = to_string(state.failure);
  } else if (!state.policy) {
    result = "none";
  } else {
    result = state.from_cache ? "cached" : "fetched";
  }
  return json{{"result", result}, {"detail", state.detail}};
}

}  // namespace secmx::admin
