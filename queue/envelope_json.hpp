// envelope_json.hpp - the one JSON shape of the message model: envelope, recipient and
// delivery attempt, as `--queue-dump`, the admin API's queue detail and the audit records
// show them (docs/queue-schema.json describes it).
//
// Pure; names come from relay/model (to_string of the enums), times as iso_time().
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "queue/json_text.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::queue {

// "2024-05-01T10:00:00.123456Z" (UTC, microseconds).
std::string iso_time(std::int64_t unix_us);

// The attempt's shape is written once, here, as text (its keys in sorted order, as every
// record of the audit trail, which writes it on each outcome); attempt_json() reads it back.
void write_attempt(JsonText& out, const model::Attempt& attempt);
nlohmann::json attempt_json(const model::Attempt& attempt);
// With its attempt history (oldest first) and how many older attempts were dropped.
nlohmann::json recipient_json(const model::Recipient& recipient);
// The envelope and its recipients; no body, nothing computed from the clock.
nlohmann::json envelope_json(const model::Envelope& envelope);

}  // namespace secmx::queue
