// audit_record.cpp - see audit_record.hpp.
#include "relay/audit/audit_record.hpp"

#include "queue/envelope_json.hpp"

namespace secmx::audit {

const char* to_string(Event e) {
  switch (e) {
    case Event::Accept: return "accept";
    case Event::Reject: return "reject";
    case Event::Outcome: return "outcome";
    case Event::Dsn: return "dsn";
    case Event::Operator: return "operator";
    case Event::Reload: return "reload";
  }
  return "unknown";
}

nlohmann::json frame(Event event, std::int64_t time_us) {
  return nlohmann::json{
      {"v", kSchemaVersion}, {"event", to_string(event)}, {"time", queue::iso_time(time_us)}};
}

queue::AuditRecord to_record(const nlohmann::json& record, std::int64_t time_us) {
  return queue::AuditRecord{
      time_us, record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace secmx::audit
