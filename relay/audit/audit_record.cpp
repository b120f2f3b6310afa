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

nlohmann::json message_frame(Event event, std::int64_t time_us, const model::Envelope& env) {
  auto j = frame(event, time_us);
  j["queue_id"] = env.id.to_string();
  j["message_id"] = env.message_id;
  j["sender"] = env.sender;
  j["classification"] = env.classification.empty() ? "none" : env.classification;
  j["requiretls"] = env.requiretls;
  return j;
}

std::string_view tls_auth(std::string_view tls) {
  // "protocol/cipher/AUTH" (delivery/attempt_log.hpp); "none" without TLS.
  auto slash = tls.rfind('/');
  if (slash == std::string_view::npos) return "none";
  auto auth = tls.substr(slash + 1);
  if (auth == "dane" || auth == "mta-sts" || auth == "pkix") return auth;
  return "none";
}

nlohmann::json outcome_record(std::int64_t time_us, const model::Envelope& env,
                              const model::Recipient& r, std::string_view outcome,
                              std::string_view by, const model::Attempt* deciding,
                              std::string_view dsn_id) {
  auto j = message_frame(Event::Outcome, time_us, env);
  j["outcome"] = outcome;
  j["by"] = by;
  j["recipient"] = nlohmann::json{{"address", r.address},
                                  {"policy", model::to_string(r.policy)},
                                  {"tls", model::to_string(r.tls)},
                                  {"rule", r.policy_reason},
                                  {"state", model::to_string(r.state)},
                                  {"status", r.last_status},
                                  {"reply", r.last_reply},
                                  {"attempts", r.attempts}};
  j["attempt"] = deciding ? queue::attempt_json(*deciding) : nlohmann::json(nullptr);
  j["auth"] = tls_auth(deciding ? std::string_view(deciding->tls) : std::string_view());
  j["dsn_id"] = dsn_id;
  return j;
}

queue::AuditRecord to_record(const nlohmann::json& record, std::int64_t time_us) {
  return queue::AuditRecord{
      time_us, record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace secmx::audit
