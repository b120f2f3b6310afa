// audit_scan.hpp - reading the stored audit trail: finding where a time range starts in
// the chain, walking its records in bounded pages, and the few fields of a record that
// search and report look at, read without building a JSON tree.
//
// Records are appended in time order, so the seq of the first record at or after a time
// is found by a binary search over the links' time_us (a handful of single-entry reads).
// Every call is one or more Store read transactions: call from a worker or admin thread,
// never from an event loop. Errors are the store's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/audit_chain.hpp"
#include "queue/store.hpp"
#include "relay/common/result.hpp"

namespace secmx::audit {

// The fields of a record (schema v1, docs/audit.md) that filters and the report read.
// Absent fields stay empty / false.
struct RecordFields {
  struct Rcpt {
    std::string address, policy, tls;
  };
  struct Marking {
    std::string source, text, level, error;
  };
  std::string event, queue_id, message_id, sender, classification;
  std::string outcome, auth, by;     // outcome records
  std::string action, operator_name; // operator records
  std::string reason;                // reject and bounce
  bool requiretls = false;
  bool held_by_policy = false;
  std::vector<Rcpt> recipients;      // "recipient" (outcome) or "recipients" (the others)
  std::vector<Marking> markings;     // accept and reject
};

// False (and `out` partly filled) when `payload` is not one JSON object. Reuse `out`
// across calls to keep its buffers.
bool extract_fields(std::string_view payload, RecordFields& out);

// The smallest seq of a stored link with time_us >= `time_us`; nullopt when there is none.
Result<std::optional<std::uint64_t>, queue::Error> first_seq_at(queue::Store& store,
                                                               std::int64_t time_us);

// The first and last stored seq (nullopt: the chain is empty).
struct SeqRange {
  std::uint64_t first = 0, last = 0;
};
Result<std::optional<SeqRange>, queue::Error> stored_range(queue::Store& store);

// Calls `visit` for each stored link with seq >= from, in order, reading `page` links per
// read transaction, until `visit` returns false or the chain ends. `visit` gets the store's
// key seq, the decoded link (nullopt when its bytes do not decode) and the stored bytes.
using LinkVisitor = std::function<bool(std::uint64_t seq, const std::optional<queue::audit::Link>& link,
                                       std::string_view stored)>;
Status<queue::Error> walk_links(queue::Store& store, std::uint64_t from, const LinkVisitor& visit,
                                std::size_t page = 4096);

}  // namespace secmx::audit
