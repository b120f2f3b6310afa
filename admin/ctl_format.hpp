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
std::string format_message(const nlohmann::json& detail);       // GET /queue/{id}
std::string format_stats(const nlohmann::json& stats);
std::string format_route(const nlohmann::json& route);
std::string format_policy_test(const nlohmann::json& answer);

// "42s", "5m", "3h", "2d": a compact age.
std::string format_age(std::int64_t seconds);

}  // namespace secmx::admin
