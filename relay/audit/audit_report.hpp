// audit_report.hpp - the auditor's report over a time range (GET /api/v1/audit/report,
// `secmxctl audit report`): counts of final outcomes by classification x policy x outcome
// x TLS authentication, and the lists that need a person's attention - SOS or REQUIRETLS
// mail delivered without authenticated TLS, markings that could not be read, operator
// releases of mail held by policy.
//
// One pass over the records in [from, to) (found by binary search on time), reading each
// record's fields without building a JSON tree (audit_scan.hpp); each list keeps at most
// `list_limit` entries and counts the rest. Reads the Store: call from an admin or worker
// thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "queue/store.hpp"
#include "relay/common/result.hpp"

namespace secmx::audit {

struct Report {
  std::optional<std::int64_t> from_us, to_us;
  std::uint64_t records = 0;     // records in the range
  std::uint64_t outcomes = 0;    // of which final outcomes
  std::uint64_t unparsable = 0;  // records that are not JSON objects (audit verify says why)
  // (classification, policy, outcome, auth) -> outcome records
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t> counts;

  struct Entry {
    std::uint64_t seq = 0;
    std::int64_t time_us = 0;
    std::string queue_id, message_id, sender, classification;
  };
  // Delivered outcomes of SOS recipients or REQUIRETLS messages whose TLS was not
  // authenticated (auth "none").
  struct Unauthenticated : Entry {
    std::string recipient, policy, tls, auth;
    bool requiretls = false;
  };
  // Accept/reject records whose classification is "unknown": each marking with its error.
  struct UnreadableMarking : Entry {
    std::string event, source, text, error;
  };
  // Operator releases of recipients held by policy (HOLD).
  struct HoldRelease : Entry {
    std::string operator_name;
    std::vector<std::string> recipients;
  };
  std::vector<Unauthenticated> unauthenticated;
  std::vector<UnreadableMarking> unreadable_markings;
  std::vector<HoldRelease> hold_releases;
  std::uint64_t unauthenticated_more = 0, unreadable_more = 0, releases_more = 0;  // beyond list_limit
};

inline constexpr std::size_t kReportListLimit = 10000;

Result<Report, queue::Error> build_report(queue::Store& store, std::optional<std::int64_t> from_us,
                                          std::optional<std::int64_t> to_us,
                                          std::size_t list_limit = kReportListLimit);

// {"from", "to", "records", "outcomes", "unparsable",
//  "counts": [{"classification", "policy", "outcome", "auth", "count"}],
//  "unauthenticated": [...], "unreadable_markings": [...], "hold_releases": [...],
//  "more": {"unauthenticated", "unreadable_markings", "hold_releases"}}; see docs/audit.md.
nlohmann::json report_json(const Report& report);

}  // namespace secmx::audit
