// audit_record.hpp - the common frame of every audit record (docs/audit.md): schema
// version, event name, time, and the conversion to what the store appends.
//
// The builders of each event's record (message_records.*, operator_record.*) start a
// RecordText and add their fields; the store (queue/store.hpp AuditRecord) keeps the JSON
// text in the hash chain and knows nothing of its meaning. The records are written as text
// (queue/json_text.hpp), not built as a JSON tree: an accept and an outcome record are
// written for every message, on the SMTP and scheduler loops, and a tree cost several
// times the rest of the record's work. Pure; thread-agnostic.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "queue/json_text.hpp"
#include "queue/store.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::audit {

// Bumped when a field changes meaning; readers keep reading every older version.
inline constexpr int kSchemaVersion = 1;

enum class Event {
  Accept,    // a message queued: envelope, client, classification, policy per recipient
  Reject,    // a message refused by policy (REJECT) at the end of DATA: nothing queued
  Outcome,   // one recipient's final outcome (delivered / failed) with its deciding attempt
  Dsn,       // a DSN generated (its queue id, kind, the recipients it reports)
  Operator,  // an operator action (hold, release, delete, bounce, flush) and who did it
  Reload,    // a config or policy reload (applied or refused) and who asked for it
};
const char* to_string(Event e);  // "accept", "reject", "outcome", "dsn", "operator", "reload"

// One record being written: {"v":1,"event":"...","time":"2026-12-04T05:00:00.000000Z",
// then the event's fields through json(), then finish().
class RecordText {
 public:
  RecordText(Event event, std::int64_t time_us);
  // The fields every record about a stored message carries, from its envelope: queue_id,
  // message_id, sender, classification, requiretls.
  RecordText& message(const model::Envelope& envelope);
  // The same fields given one by one: a refused message has no queue id, and accept and
  // reject name the classification as read rather than as stored.
  RecordText& message(std::string_view queue_id, std::string_view message_id,
                      std::string_view sender, std::string_view classification,
                      bool requiretls);
  queue::JsonText& json() { return out_; }
  // The record to append: the object closed, its time.
  queue::AuditRecord finish() &&;

 private:
  std::int64_t time_us_;
  std::string text_;
  queue::JsonText out_{text_};
};

// The same frames as a JSON tree, for records put together by tools and tests.
nlohmann::json frame(Event event, std::int64_t time_us);
nlohmann::json message_frame(Event event, std::int64_t time_us, const model::Envelope& envelope);

// The TLS authentication an attempt's `tls` evidence names: "dane", "mta-sts", "pkix" or
// "none" (also without TLS, or without an attempt).
std::string_view tls_auth(std::string_view tls_evidence);

// One recipient's final outcome (event "outcome"): `outcome` is "delivered", "failed",
// "bounced" (operator) or "deleted" (operator); `by` is "delivery" or the operator's name;
// `deciding` the attempt that decided it (nullptr: none, e.g. an operator's action or an
// expired lifetime before any attempt); `dsn_id` the queue id of the DSN that reports it.
queue::AuditRecord outcome_record(std::int64_t time_us, const model::Envelope& envelope,
                                  const model::Recipient& recipient, std::string_view outcome,
                                  std::string_view by, const model::Attempt* deciding,
                                  std::string_view dsn_id);

// A record put together as a JSON tree, to append: its payload the compact JSON text
// (invalid UTF-8 replaced).
queue::AuditRecord to_record(const nlohmann::json& record, std::int64_t time_us);

}  // namespace secmx::audit
