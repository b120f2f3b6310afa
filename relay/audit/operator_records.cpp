// operator_records.cpp - see operator_records.hpp.
#include "relay/audit/operator_records.hpp"

#include "relay/audit/audit_record.hpp"

namespace secmx::audit {

nlohmann::json operator_record(std::int64_t time_us, const model::Envelope& after,
                               std::string_view action, const Actor& by,
                               std::string_view reason, bool held_by_policy) {
  auto j = message_frame(Event::Operator, time_us, after);
  j["action"] = action;
  j["operator"] = by.name;
  j["client"] = by.client;
  if (action == "bounce") j["reason"] = reason;
  j["held_by_policy"] = held_by_policy;
  auto recipients = nlohmann::json::array();
  for (const auto& r : after.recipients) {
    recipients.push_back(nlohmann::json{{"address", r.address},
                                        {"policy", model::to_string(r.policy)},
                                        {"state", model::to_string(r.state)}});
  }
  j["recipients"] = std::move(recipients);
  return j;
}

nlohmann::json flush_all_record(std::int64_t time_us, const Actor& by, std::string_view domain,
                                std::size_t messages) {
  auto j = frame(Event::Operator, time_us);
  j["queue_id"] = "";
  j["action"] = "flush";
  j["operator"] = by.name;
  j["client"] = by.client;
  j["domain"] = domain;
  j["messages"] = messages;
  return j;
}

nlohmann::json reload_record(std::int64_t time_us, const Actor& by, std::string_view what,
                             bool applied, const std::vector<std::string>& errors) {
  auto j = frame(Event::Reload, time_us);
  j["operator"] = by.name;
  j["client"] = by.client;
  j["what"] = what;
  j["result"] = applied ? "applied" : "refused";
  j["errors"] = applied ? nlohmann::json::array() : nlohmann::json(errors);
  return j;
}

}  // namespace secmx::audit
