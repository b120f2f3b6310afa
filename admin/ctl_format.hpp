// ctl_format.hpp - secmxctl's human-readable output: the admin API's JSON as aligned
// tables and key/value blocks. Pure functions (JSON in, text out); no I/O.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace secmx::admin {

// Columns padded to their widest cell; the last column is not padded.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

std::string format_queue_list(const nlohmann::json& messages);  // array of summaries
// GET /queue/{id}: the message, a row per recipient, then each tried recipient's attempts
// (one line each, oldest first, and how many older ones were not kept).
std::string format_message(const nlohmann::json& detail);
std::string format_stats(const nlohmann::json& stats);
// `secmxctl route`: discovery, the hosts and what delivery would do per policy; verbose
// adds the discovery trace and each host's own verdicts.
std::string format_route(const nlohmann::json& route, bool verbose = false);
// The route's last lines: one verdict per policy ("SOS encrypt: would bounce 5.7.10: ...").
std::string format_route_verdicts(const nlohmann::json& route);
// secmxctl route's exit code (docs/admin.md): 0 when discovery found hosts, else the two
// below, so that scripts can tell a domain that bounces from a DNS that did not answer.
inline constexpr int kRouteExitPermanent = 7;  // NXDOMAIN, null MX, no address
inline constexpr int kRouteExitTemporary = 8;  // SERVFAIL, timeout
int route_exit_code(const nlohmann::json& route);

// `secmxctl policy test`: the classification (from a rule engine) and one row per recipient.
std::string format_policy_test(const nlohmann::json& answer);

// POST /api/v1/reload: applied (warnings, then one line), and refused (the file:line
// errors, then why).
std::string format_reload(const nlohmann::json& answer);
std::string format_reload_refused(const nlohmann::json& answer);

// "42s", "5m", "3h", "2d": a compact age.
std::string format_age(std::int64_t seconds);

}  // namespace secmx::admin
