// dsn_select.hpp - which DSNs a change of recipient states calls for (RFC 3464; DESIGN §5).
//
// The one place that turns "these recipients just became final (or are still waiting)"
// into DSN messages: failures, successes (delivered, or relayed to a peer without DSN) and,
// once per message, the delay warning. The caller (the scheduler, after an attempt or an
// operator's bounce) queues what it returns in the same store transaction that writes
// `after`, so a DSN is never lost and never sent twice.
//
// Pure apart from its inputs: it takes queue ids from `ids` (thread-safe) and writes one
// "dsn" log line per DSN. Any thread. Nothing is thrown for bad input; a recipient index
// out of range is skipped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/dsn/dsn.hpp"
#include "relay/model/envelope.hpp"
#include "relay/model/queue_id.hpp"

namespace secmx::dsn {

// `before`: the envelope as stored before the change; `after`: the new one (its
// delay_notified is set when the delay warning goes out). `relayed`: indices of
// recipients delivered to a peer without DSN support (NOTIFY=SUCCESS gets "relayed").
// `max_lifetime` dates the delay DSN's Will-Retry-Until. Each DSN gets a queue id from
// `ids`. Order: failure, delivered, relayed, delay. `selected`, when given, gets one entry
// per DSN returned, in the same order: what it reports (the audit trail's "dsn" record).
struct Selected {
  Event event = Event::Failure;
  std::vector<std::size_t> recipients;  // indices into after.recipients
};
std::vector<queue::NewMessage> select_dsns(const model::Envelope& before,
                                           model::Envelope& after, std::string_view body,
                                           const std::vector<std::size_t>& relayed,
                                           const Options& options,
                                           std::chrono::milliseconds max_lifetime,
                                           model::IdGenerator& ids, std::int64_t now_us,
                                           std::vector<Selected>* selected = nullptr);

}  // namespace secmx::dsn
