// tlsrpt_view.hpp - the admin API's JSON for TLS reporting (/api/v1/tlsrpt, .../send;
// docs/tlsrpt.md): a day's counts per policy domain, and what a send did.
//
// Pure: decoded rows and outcomes in, JSON out. Thread-agnostic.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/tlsrpt/report_plan.hpp"
#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::admin {

// A "day" parameter: "YYYY-MM-DD" that is a date, or nullopt.
std::optional<std::string> tlsrpt_day(const std::string& arg);

// {"day": D, "domains": [{"domain", "success", "failure", "results": {"<result-type>": n}}]},
// domains sorted, each once; result types with a count only.
nlohmann::json tlsrpt_list_json(const std::string& day,
                                const std::vector<tlsrpt::DecodedTally>& rows);

// {"day": D, "sent": [{"domain", "rua" (null for no record), "ok", "detail",
//  "queue_id" (mail), "status" (https answer)}]}
nlohmann::json tlsrpt_send_json(const std::string& day,
                                const std::vector<tlsrpt::SendOutcome>& outcomes);

}  // namespace secmx::admin
