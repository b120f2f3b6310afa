// ctl_audit.hpp - secmxctl's output for `audit search|report|verify`: the admin API's audit
// JSON (relay/audit/audit_query.hpp, audit_report.hpp, audit_verify.hpp) as a table, JSON
// lines or CSV (RFC 4180) for export, the report as text an auditor reads, and the verify
// result. Pure (JSON in, text out); no I/O. Control characters a sender put in a field never
// reach the terminal: tables and text show them as '?'; CSV and JSON keep the data.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace secmx::admin {

// Search output; `records` is the API's array of {"seq", "record"}.
std::string format_audit_table(const nlohmann::json& records);
std::string audit_table_footer(std::size_t count);
// One line per record: the record with its "seq".
std::string format_audit_jsonl(const nlohmann::json& records);
// The CSV header line and the rows (CRLF line ends, fields quoted when they need it).
std::string audit_csv_header();
std::string format_audit_csv(const nlohmann::json& records);
// One RFC 4180 field: quoted (inner quotes doubled) when it holds a comma, quote, CR or LF.
std::string csv_field(const std::string& value);

std::string format_audit_report(const nlohmann::json& report);

// "verified: ..." or "BROKEN at record N: what", the range and the checkpoints.
std::string format_audit_verify(const nlohmann::json& result);
// secmxctl audit verify's exit code: 0 clean, 1 a break was found.
int audit_verify_exit(const nlohmann::json& result);

}  // namespace secmx::admin
