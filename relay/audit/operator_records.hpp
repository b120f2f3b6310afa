// operator_records.hpp - the audit records of what operators do (docs/audit.md,
// "Operators"): an action on one message, a flush of the whole queue, a reload.
//
// An operator is the name the admin token matched (admin/admin_token.hpp; "admin" for the
// single token_file, "signal" for a SIGHUP) and the admin client's address. The records
// describe the message as the action left it; an operator's bounce or delete also writes
// one "outcome" record per recipient it ends (audit_record.hpp outcome_record, `by` = the
// operator's name). Pure; thread-agnostic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::audit {

// Who asked: the operator's name and the admin client's address ("" for a signal).
struct Actor {
  std::string_view name;
  std::string_view client;
};

// "operator" about one message: `action` "hold", "release", "delete", "bounce", "flush";
// `after` the envelope as the action left it (for delete: as it was); `reason` only for a
// bounce; `held_by_policy`: a release let out recipients that policy HOLD had kept.
queue::AuditRecord operator_record(std::int64_t time_us, const model::Envelope& after,
                                   std::string_view action, const Actor& by,
                                   std::string_view reason, bool held_by_policy);

// "operator" for a flush of the whole queue (or one domain, `domain` not empty): queue_id
// "", the domain and how many messages it made due.
queue::AuditRecord flush_all_record(std::int64_t time_us, const Actor& by,
                                    std::string_view domain, std::size_t messages);

// "reload": `what` "config" or "policy"; refused ones with their "file:line: ..." errors.
queue::AuditRecord reload_record(std::int64_t time_us, const Actor& by, std::string_view what,
                                 bool applied, const std::vector<std::string>& errors);

}  // namespace secmx::audit
