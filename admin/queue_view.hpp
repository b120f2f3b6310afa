// queue_view.hpp - the read side of the admin queue API: filters, cursor pages and the
// JSON shapes of a message (summary for lists, detail for `show`).
//
// Pure over envelopes except list_page(), which reads the Store (LMDB read transactions;
// never the SMTP loops). Thread-agnostic; called from admin HTTP threads. Every time is
// passed in (now_us) so that tests are deterministic.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "queue/envelope_json.hpp"
#include "queue/store.hpp"
#include "relay/common/result.hpp"

namespace secmx::admin {

// A message as the operator sees it. Held: on hold (operator or HOLD policy); Deferred:
// at least one attempt made and a recipient still pending; Queued: waiting for its first
// attempt; Done: every recipient final (about to leave the queue).
enum class MessageState { Queued, Deferred, Held, Done };
const char* to_string(MessageState s);  // "queued", "deferred", "held", "done"
MessageState message_state(const model::Envelope& env);

struct QueueFilter {
  std::optional<MessageState> state;
  std::optional<model::Policy> policy;   // some recipient has it
  std::string domain;                        // lower case; some recipient in it
  std::string sender;                        // exact address, or "@domain"; lower case
  std::optional<std::chrono::milliseconds> older_than;  // arrived before now - this

  // From query parameters state=, policy=, domain=, sender=, older_than= (e.g. "1h");
  // unknown values are errors ("state: expected queued, deferred, held or done").
  static Result<QueueFilter, std::string> parse(
      const std::multimap<std::string, std::string>& params);
  bool matches(const model::Envelope& env, std::int64_t now_us) const;
};

struct QueuePage {
  std::vector<model::Envelope> items;
  // Where the next page starts (pass as `after`); nullopt when the end was reached.
  std::optional<model::QueueId> next;
  std::size_t scanned = 0;
};

// Up to `limit` matching envelopes after `after`, in arrival order. Scans at most
// `max_scan` envelopes so that a filter matching nothing in a huge queue still answers
// promptly; `next` then says where to carry on.
Result<QueuePage, queue::Error> list_page(queue::Store& store, const QueueFilter& filter,
                                          model::QueueId after, std::size_t limit,
                                          std::int64_t now_us, std::size_t max_scan = 20000);

using model::to_string;  // Policy, TlsLevel, RcptState (relay/model)

using queue::iso_time;  // "2024-05-01T10:00:00.123456Z" (queue/envelope_json.hpp)

nlohmann::json summary_json(const model::Envelope& env, std::int64_t now_us);
nlohmann::json detail_json(const model::Envelope& env, std::int64_t now_us);

}  // namespace secmx::admin
