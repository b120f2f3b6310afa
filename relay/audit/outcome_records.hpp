// outcome_records.hpp - the records of a write-back (the scheduler after an attempt's round):
// one "outcome" per recipient that became final, with the attempt that decided it and the
// DSN that reports it, and one "dsn" per DSN queued in the same change.
//
// Pure; thread-agnostic. The caller puts the result in Change::audit, so that the records
// commit with the states they describe and the DSNs they name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/dsn/dsn_select.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::audit {

// A DSN queued by the change: its queue id, kind ("failure", "delay", "success",
// "relayed"), the recipients it reports (indices into the envelope) and its recipient.
struct DsnQueued {
  std::string id;
  std::string kind;
  std::vector<std::size_t> recipients;
  std::string to;
};

// The DSNs select_dsns() queued (dsn_select.hpp: `inserts` and what it said of each), as
// the audit trail names them.
std::vector<DsnQueued> dsns_queued(const std::vector<queue::NewMessage>& inserts,
                                   const std::vector<dsn::Selected>& selected);

// One "dsn" record per DSN of `dsns`, about the message `about`.
std::vector<queue::AuditRecord> dsn_records(const model::Envelope& about,
                                            const std::vector<DsnQueued>& dsns,
                                            std::int64_t now_us);

// The attempt that decided `r`'s outcome: the newest of its history, else one made from
// its last_* evidence; nullopt when it was never tried.
std::optional<model::Attempt> deciding_attempt(const model::Recipient& r);

// For each recipient of `after` that is Delivered or Failed and was not in `before`:
// an "outcome" record ("delivered" / "failed", `by`), dsn_id the DSN of `dsns` that reports
// it (a delay DSN reports nothing final); then one "dsn" record per DSN, in order.
std::vector<queue::AuditRecord> write_back_records(const model::Envelope& before,
                                                   const model::Envelope& after,
                                                   const std::vector<DsnQueued>& dsns,
                                                   std::string_view by, std::int64_t now_us);

}  // namespace secmx::audit
