// mx_match.hpp - which MX hosts an MTA-STS policy lets mail go to (RFC 8461 §4.1).
//
// Pure. A pattern is a host name, or "*." and a domain: the wildcard stands for exactly
// one leftmost label, so "*.example.com" matches "mx1.example.com" but neither
// "example.com" nor "a.b.example.com". Comparison ignores ASCII case and one final dot on
// either side. A pattern or host that is not a valid host name matches nothing, so a
// malformed input can only narrow what enforce allows, never widen it.
#pragma once

#include <string_view>

#include "relay/sts/sts_policy.hpp"

namespace secmx::sts {

bool mx_matches(std::string_view pattern, std::string_view mx_host);

// Mode None constrains nothing: true. Enforce and Testing: some mx pattern matches (with
// Testing the caller delivers anyway and records the mismatch).
bool policy_allows(const StsPolicy& policy, std::string_view mx_host);

}  // namespace secmx::sts
