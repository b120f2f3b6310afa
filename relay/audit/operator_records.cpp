// operator_records.cpp - see operator_records.hpp.
#include "relay/audit/operator_records.hpp"

#include "relay/audit/audit_record.hpp"

namespace secmx::audit {

queue::AuditRecord operator_record(std::int64_t time_us, const model::Envelope& after,
                                   std::string_view action, const Actor& by,
                                   std::string_view reason, bool held_by_policy) {
  RecordText rec(Event::Operator, time_us);
  rec.message(after);
  auto& j = rec.json();
  j.field("action", action).field("operator", by.name).field("client", by.client);
  if (action == "bounce") j.field("reason", reason);
  j.field("held_by_policy", held_by_policy);
  j.key("recipients").begin_array();
  for (const auto& r : after.recipients) {
    j.begin_object()
        .field("address", r.address)
        .field("policy", model::to_string(r.policy))
        .field("state", model::to_string(r.state))
        .end_object();
  }
  j.end_array();
  return std::move(rec).finish();
}

queue::AuditRecord flush_all_record(std::int64_t time_us, const Actor& by,
                                    std::string_view domain, std::size_t messages) {
  RecordText rec(Event::Operator, time_us);
  rec.json()
      .field("queue_id", "")
      .field("action", "flush")
      .field("operator", by.name)
      .field("client", by.client)
      .field("domain", domain)
      .field("messages", static_cast<std::uint64_t>(messages));
  return std::move(rec).finish();
}

queue::AuditRecord reload_record(std::int64_t time_us, const Actor& by, std::string_view what,
                                 bool applied, const std::vector<std::string>& errors) {
  RecordText rec(Event::Reload, time_us);
  auto& j = rec.json();
  j.field("operator", by.name)
      .field("client", by.client)
      .field("what", what)
      .field("result", applied ? "applied" : "refused");
  j.key("errors").begin_array();
  if (!applied) {
    for (const auto& e : errors) j.value(e);
  }
  j.end_array();
  return std::move(rec).finish();
}

}  // namespace secmx::audit
