// report_json.hpp - the RFC 8460 §4 report: one policy domain, one UTC day, as JSON.
//
// build_report() groups the day's rows by PolicyKey as reported (domain in lower case, no
// text for no-policy-found) - one "policies" entry each, in the
// order first seen, with summary counts and the failure-details of that policy, rows with
// equal FailureDetails summed into one) and fills in the report's own fields. The result
// validates against the RFC's JSON schema (§4.4): members in the RFC's order, date-range
// start 00:00:00Z and end 23:59:59Z of the day, counts as integers (sums saturate), empty
// optional strings and arrays left out (a no-policy-found policy has no policy-string nor
// mx-host), text that is not UTF-8 replaced by U+FFFD. Rows of another policy domain than
// `domain` (compared case-insensitively) are skipped; no rows give "policies": [].
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::tlsrpt {

struct ReportMeta {
  std::string organization;  // "organization-name"
  std::string contact;       // "contact-info" (an address or URI)
  std::string submitter;     // our domain, the TLS-Report-Submitter (the `from` domain)
  std::string report_id;     // unique per report; see report_id()
};

// "<day>T00:00:00Z_<domain>@<submitter>", unique per (day, domain, submitter).
std::string report_id(const std::string& day, const std::string& domain,
                      const std::string& submitter);

// The report as JSON text (compact, UTF-8). `day`: a valid "YYYY-MM-DD" (day_start_us).
std::string build_report(const ReportMeta& meta, const std::string& day,
                         const std::string& domain, const std::vector<Tally>& rows);

}  // namespace secmx::tlsrpt
