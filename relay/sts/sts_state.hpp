// sts_state.hpp - what delivery learns about a recipient domain's MTA-STS policy
// (RFC 8461) before it picks hosts: the policy in force, if any, and what went wrong on
// the way, for the log and TLS reporting (RFC 8460 §4.3 result types).
//
// A plain value. Whoever looks policies up (the TXT record, the HTTPS fetch, the durable
// cache) produces it; delivery only reads it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "relay/sts/sts_policy.hpp"

namespace secmx::sts {

// Why the latest lookup gave no fresh policy, as RFC 8460 names it.
enum class StsFailure {
  None,
  FetchError,    // "sts-policy-fetch-error": TXT says there is one, HTTPS did not give it
  Invalid,       // "sts-policy-invalid": the body is not a valid policy
  WebPki,        // "sts-webpki-invalid": the policy host's certificate is not valid
};
const char* to_string(StsFailure f);  // the RFC 8460 result type, "" for None

struct StsState {
  // The policy in force: fresh, or cached and not past max_age (a failed refresh keeps the
  // cached one, RFC 8461 §5.1). nullopt: the domain has none (or MTA-STS is off).
  std::optional<StsPolicy> policy;
  std::string id;            // the `id` of the TXT record the policy goes with
  bool from_cache = false;   // served from the cache without a fetch this time
  std::int64_t fetched_us = 0;  // when the policy in force was fetched
  StsFailure failure = StsFailure::None;
  std::string detail;        // words for the failure, for logs ("" when none)

  bool enforce() const { return policy && policy->mode == Mode::Enforce; }
  bool testing() const { return policy && policy->mode == Mode::Testing; }
};

}  // namespace secmx::sts
