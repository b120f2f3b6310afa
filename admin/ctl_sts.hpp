// ctl_sts.hpp - secmxctl's text for `sts show|fetch|purge`: the admin API's MTA-STS JSON
// (admin/sts_view.hpp) as a key/value block. Pure (JSON in, text out); no I/O.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace secmx::admin {

std::string format_sts(const nlohmann::json& sts);

}  // namespace secmx::admin
