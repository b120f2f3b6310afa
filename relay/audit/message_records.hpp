// message_records.hpp - the records of what happens to a message as a whole: accepted
// ("accept"), refused by policy ("reject"), a DSN generated about it ("dsn"), and the
// envelope's classification they all repeat (docs/audit.md "What is recorded").
//
// The SMTP session builds accept and reject records from what the policy engine read of
// the header section (policy::Classification, the Message-ID), never parsing the headers
// again; the scheduler builds dsn and outcome records (audit_record.hpp) at its write-back.
// Recipient lists are bounded so that a record stays under the store's 64 KiB: the ones
// left out are counted in "recipients_omitted". Pure; thread-agnostic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/model/envelope.hpp"
#include "relay/policy/marking.hpp"
#include "relay/policy/policy_engine.hpp"

namespace secmx::audit {

// Envelope::classification as read at acceptance: the level's name ("PROTECTED"),
// "unknown" when some marking could not be read, "none" without a marking.
std::string classification_name(const policy::Classification& cls);

// The Message-ID field's value without its angle brackets and surrounding white space:
// "<a@b.example>" -> "a@b.example"; a value without brackets is kept as written.
std::string message_id_of(std::string_view field_value);

// "accept": `envelope` as stored (policy, TLS level and rule per recipient applied, its
// message_id and classification set); `cls` every marking read.
queue::AuditRecord accept_record(std::int64_t time_us, const model::Envelope& envelope,
                                 const policy::Classification& cls);

// "reject": the refused message's envelope (as built, before any decision was applied:
// nothing of it is stored), the decisions per recipient, the rule that refused it and the
// reply the client got ("550 5.7.1 ...").
queue::AuditRecord reject_record(std::int64_t time_us, const model::Envelope& envelope,
                                 const policy::Classification& cls,
                                 const std::vector<policy::Decision>& decisions,
                                 std::string_view reason, std::string_view reply);

// "dsn": a DSN about `original` queued as `dsn_id`, of `kind` ("failure", "delay",
// "success", "relayed"), reporting `recipients`, sent `to` (the sender or the postmaster).
queue::AuditRecord dsn_record(std::int64_t time_us, const model::Envelope& original,
                              std::string_view dsn_id, std::string_view kind,
                              const std::vector<std::string>& recipients, std::string_view to);

}  // namespace secmx::audit
