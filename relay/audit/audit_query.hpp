// audit_query.hpp - searching the audit trail: the filter of GET /api/v1/audit and
// `secmxctl audit search` (docs/audit.md "Search, export and report"), its parsing from
// query parameters with clear errors, and one bounded page of matching records.
//
// A record matches when every given filter matches some value in it (a recipient filter:
// any of its recipients). Times are the stored link's (when the event was recorded).
// Pages follow the chain's sequence numbers: `after` is the last seq of the previous page,
// `next` the one to pass for the following page (nullopt: the end). A page reads at most
// `max_scan` records, so a filter that matches little cannot make one request walk the
// whole trail; it answers fewer records and a `next` to go on from. Pure parsing; paging
// reads the Store (call from an admin or worker thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue/store.hpp"
#include "relay/audit/audit_scan.hpp"
#include "relay/common/result.hpp"

namespace secmx::audit {

// "2026-11-01" (midnight UTC) or "2026-11-01T10:00[:00[.123456]][Z]" (UTC) -> Unix us.
std::optional<std::int64_t> parse_time(std::string_view text);

struct Filter {
  std::optional<std::int64_t> from_us, to_us;  // from_us <= time < to_us
  std::string sender;          // exact, any case; "<>" is the null sender
  std::string recipient;       // exact address, any case
  std::string domain;          // a recipient's domain, any case
  std::string classification;  // any case ("none", "unknown", "OFFICIAL:Sensitive", ...)
  std::string policy;          // BES | SOS | HOLD | REJECT (a recipient's)
  std::string auth;            // dane | mta-sts | pkix | none (outcome records)
  std::string outcome;         // delivered | failed | bounced | deleted
  std::string message_id;      // exact, with or without <>
  std::string event;           // accept | reject | outcome | dsn | operator | reload
  bool null_sender = false;    // sender "<>"

  bool in_time(std::int64_t time_us) const;
  bool matches(const RecordFields& record) const;
};

// The filter from query parameters (or secmxctl options under the same names). Names in
// `ignored` (e.g. "after", "limit") are left to the caller; any other unknown or repeated
// name, or a value out of its set, is an error naming it: "policy: expected BES, SOS,
// HOLD or REJECT, got 'X'".
Result<Filter, std::string> parse_filter(const std::multimap<std::string, std::string>& params,
                                         const std::vector<std::string>& ignored = {});

struct QueryPage {
  std::vector<std::pair<std::uint64_t, std::string>> records;  // seq, payload (JSON text)
  std::optional<std::uint64_t> next;
  std::uint64_t scanned = 0;
};

inline constexpr std::size_t kQueryMaxScan = 200000;

// Up to `limit` matching records with seq > after, in seq order.
Result<QueryPage, queue::Error> query_page(queue::Store& store, const Filter& filter,
                                           std::uint64_t after, std::size_t limit,
                                           std::size_t max_scan = kQueryMaxScan);

}  // namespace secmx::audit
