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

RecordText::RecordText(Event event, std::int64_t time_us) : time_us_(time_us) {
  text_.reserve(1024);
  out_.begin_object()
      .field("v", kSchemaVersion)
      .field("event", to_string(event))
      .field("time", queue::iso_time(time_us));
}

RecordText& RecordText::message(const model::Envelope& env) {
  return message(env.id.to_string(), env.message_id, env.sender,
                 env.classification.empty() ? std::string_view("none")
                                            : std::string_view(env.classification),
                 env.requiretls);
}

RecordText& RecordText::message(std::string_view queue_id, std::string_view message_id,
                                std::string_view sender, std::string_view classification,
                                bool requiretls) {
  out_.field("queue_id", queue_id)
      .field("message_id", message_id)
      .field("sender", sender)
      .field("classification", classification)
      .field("requiretls", requiretls);
  return *this;
}

queue::AuditRecord RecordText::finish() && {
  out_.end_object();
  return queue::AuditRecord{time_us_, std::move(text_)};
}

nlohmann::json frame(Event event, std::int64_t time_us) {
  return nlohmann::json::parse(RecordText(event, time_us).finish().payload);
}

nlohmann::json message_frame(Event event, std::int64_t time_us, const model::Envelope& env) {
  RecordText r(event, time_us);
  r.message(env);
  return nlohmann::json::parse(std::move(r).finish().payload);
}

std::string_view tls_auth(std::string_view tls) {
  // "protocol/cipher/AUTH" (delivery/attempt_log.hpp); "none" without TLS.
  auto slash = tls.rfind('/');
  if (slash == std::string_view::npos) return "none";
  auto auth = tls.substr(slash + 1);
  if (auth == "dane" || auth == "mta-sts" || auth == "pkix") return auth;
  return "none";
}

queue::AuditRecord outcome_record(std::int64_t time_us, const model::Envelope& env,
                                  const model::Recipient& r, std::string_view outcome,
                                  std::string_view by, const model::Attempt* deciding,
                                  std::string_view dsn_id) {
  RecordText rec(Event::Outcome, time_us);
  rec.message(env);
  auto& j = rec.json();
  j.field("outcome", outcome).field("by", by);
  j.key("recipient")
      .begin_object()
      .field("address", r.address)
      .field("policy", model::to_string(r.policy))
      .field("tls", model::to_string(r.tls))
      .field("rule", r.policy_reason)
      .field("state", model::to_string(r.state))
      .field("status", r.last_status)
      .field("reply", r.last_reply)
      .field("attempts", r.attempts)
      .end_object();
  j.key("attempt");
  if (deciding)
    queue::write_attempt(j, *deciding);
  else
    j.null();
  j.field("auth", tls_auth(deciding ? std::string_view(deciding->tls) : std::string_view()))
      .field("dsn_id", dsn_id);
  return std::move(rec).finish();
}

queue::AuditRecord to_record(const nlohmann::json& record, std::int64_t time_us) {
  return queue::AuditRecord{
      time_us, record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace secmx::audit
