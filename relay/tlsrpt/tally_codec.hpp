// tally_codec.hpp - TLS-RPT counts as durable counter entries (queue::CounterAdd), and
// back.
//
// A key says where a count belongs and sorts by day:
//   "r" <day "YYYY-MM-DD"> "/" <domain> "/" <16 hex: digest of the PolicyKey>
//       "/" <"ok" | 16 hex: digest of the FailureDetail>
// so that every row of one day is one prefix ("r2026-12-03/") and one domain's another
// ("r2026-12-03/example.org/"). LMDB keys are at most 511 bytes: a domain is at most 253.
// The payload (kept from the first add, since equal keys mean equal values) is the
// SessionResult's policy and failure in a small versioned binary form, so the report can
// be built from the counts alone.
//
// Sent marks (a report was handed on for a day and domain, so a restart does not send it
// again) use the same counter store under "s" <day> "/" <domain>.
//
// Pure; any thread. decode_tally() trusts nothing (Corrupt rows are skipped by callers).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/common/result.hpp"
#include "relay/tlsrpt/tlsrpt_types.hpp"

namespace secmx::tlsrpt {

// The counter to add for one session (n = 1); nullopt when the session has no policy
// domain (nothing to report to).
std::optional<queue::CounterAdd> tally_add(const SessionResult& session);

// Prefix of every row of `day`, and of `day` for `domain`.
std::string day_prefix(const std::string& day);
std::string domain_prefix(const std::string& day, const std::string& domain);

struct DecodedTally {
  std::string day;
  std::string domain;
  Tally tally;
};
Result<DecodedTally, std::string> decode_tally(const queue::CounterEntry& entry);

// The sent mark's key for (day, domain), and the prefix of a day's marks.
std::string sent_key(const std::string& day, const std::string& domain);
std::string sent_prefix(const std::string& day);

}  // namespace secmx::tlsrpt
