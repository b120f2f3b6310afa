// sts_policy.hpp - the MTA-STS policy a domain serves at
// https://mta-sts.D/.well-known/mta-sts.txt (RFC 8461 §3.2), read strictly.
//
// Pure: the caller fetches the body (and enforces its own size and time limits, §3.3);
// this reads it. The grammar, in short:
//   sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
//                       [sts-policy-term]                 ; term = LF / CRLF
//   field             = name ":" *WSP value               ; name as sts-ext-name
//   version: STSv1    mode: enforce / testing / none      max_age: 1*10DIGIT
//   mx: ["*."] Domain                                     ; one or more, unless mode none
//   extension value   = vchar [*(SP / vchar) vchar]       ; vchar: %x21-7E or UTF-8
// So: no blank lines, no space before a name or before ":", names and keyword values are
// case-sensitive ("Mode: enforce" is an unknown field), fields in any order. Unknown
// fields are ignored, but must be well-formed. Of a repeated version, mode or max_age
// the first counts and the others only have to be well-formed (§3.2, last paragraph);
// every mx counts. max_age is at most 31557600 (one year, §3.2): a larger value is
// refused, not clamped, since the domain wrote what the RFC does not allow. One leniency:
// an mx domain may end in a dot (an absolute name is the same host; refusing it would
// drop protection the domain asked for).
//
// Failure: a one-line reason naming the line ("line 3: max_age must be ..."), never
// quoting the body, so it can go to logs and TLS-RPT reports as it is. Per §3.3 an
// invalid policy counts as no policy fetched.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"

namespace secmx::sts {

// §3.3: "a maximum of 64 KiB"; the fetch stops there, the parser checks it again.
inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024;
inline constexpr std::chrono::seconds kMaxMaxAge{31557600};

enum class Mode { Enforce, Testing, None };
const char* to_string(Mode m);  // "enforce", "testing", "none"

struct StsPolicy {
  Mode mode = Mode::None;
  std::chrono::seconds max_age{0};  // 0..kMaxMaxAge: how long the policy may be cached
  // Lower case, no final dot, in the order served; a wildcard keeps its "*." prefix.
  // Never empty unless mode is None.
  std::vector<std::string> mx;
  std::string text;  // the body as served, for TLS-RPT's policy-string (RFC 8460 §4.3)
};

Result<StsPolicy, std::string> parse_sts_policy(std::string_view body);

// The policy written back in the RFC's order (version, mode, mx..., max_age), CRLF lines.
// parse_sts_policy() reads it back to the same mode, max_age and mx.
std::string canonical_text(const StsPolicy& policy);

}  // namespace secmx::sts
