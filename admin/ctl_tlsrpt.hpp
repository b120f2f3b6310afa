// ctl_tlsrpt.hpp - secmxctl's text for `tlsrpt list|send`: the admin API's TLS reporting
// JSON (admin/tlsrpt_view.hpp) as one line per domain or per report address (the lines
// docs/tlsrpt.md shows). Pure (JSON in, text out); no I/O.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace secmx::admin {

// "<domain> success=<n> failure=<n> [<result-type>=<n> ...]" per domain, or
// "no sessions counted on <day>".
std::string format_tlsrpt_list(const nlohmann::json& list);

// Per outcome: "<domain> <rua> sent queue_id=<ID>" / "... sent status=<n>" /
// "<domain> <rua> failed: <why>" / "<domain> no TLSRPT record: <why>". Nothing sent:
// "no sessions counted on <day>" (or "... for <domain> on <day>" when one was asked for).
std::string format_tlsrpt_send(const nlohmann::json& sent, const std::string& domain = "");

// Did any report fail (or any domain lack a record)? secmxctl then exits 1.
bool tlsrpt_send_failed(const nlohmann::json& sent);

}  // namespace secmx::admin
