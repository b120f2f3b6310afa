// sts_view.hpp - the admin API's JSON for a domain's MTA-STS policy (GET, DELETE and POST
// .../fetch under /api/v1/sts/{domain}; docs/admin.md).
//
// Pure: the cached policy and the last failure in, JSON out; every time is passed in so
// that tests are deterministic. Thread-agnostic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "relay/sts/sts_cache.hpp"
#include "relay/sts/sts_state.hpp"

namespace secmx::admin {

// The domain as the cache keys it (lower case, no final dot), or nullopt when it is not a
// host name.
std::optional<std::string> sts_domain(const std::string& arg);

// {"domain", "enabled", "policy": {mode, mx, max_age, id, fetched_at, age_seconds,
//  expires_at, expired, text} | null, "last_failure": {result, detail, at} | null}
nlohmann::json sts_json(const std::string& domain, bool enabled,
                        const std::optional<sts::CachedPolicy>& policy,
                        const std::optional<sts::LastFailure>& failure, std::int64_t now_us);

// What one lookup gave: {"result": "fetched" | "cached" | "none" | <RFC 8460 result type>,
// "detail"}.
nlohmann::json sts_state_json(const sts::StsState& state);

}  // namespace secmx::admin
