// message_records.cpp - see message_records.hpp.
#include "relay/audit/message_records.hpp"

#include <algorithm>

#include "relay/audit/audit_record.hpp"
#include "relay/model/levels.hpp"

namespace secmx::audit {

namespace {

constexpr std::string_view kBlank = " \t\r\n";

// The store refuses a record over 64 KiB, and with it the message it describes: the
// recipients listed in one record stop at this many bytes of JSON, and the record says how
// many more there were ("recipients_omitted"), so that a message with thousands of
// recipients is still accepted - and recorded.
constexpr std::size_t kMaxRecipientBytes = 40 * 1024;

// "recipients": [each item written by `write(JsonText&, item)`, while they fit], and the
// count of the rest in "recipients_omitted".
template <typename Items, typename Write>
void put_recipients(queue::JsonText& j, const Items& items, Write write) {
  std::string list;
  queue::JsonText out(list);
  out.begin_array();
  std::size_t omitted = 0;
  for (const auto& item : items) {
    std::size_t before = list.size();
    write(out, item);
    if (omitted > 0 || list.size() - 1 > kMaxRecipientBytes) {
      list.resize(before);
      ++omitted;
    }
  }
  out.end_array();
  j.key("recipients").raw(list);
  if (omitted > 0) j.field("recipients_omitted", static_cast<std::uint64_t>(omitted));
}

void write_recipient(queue::JsonText& j, const model::Recipient& r) {
  j.begin_object()
      .field("address", r.address)
      .field("policy", model::to_string(r.policy))
      .field("tls", model::to_string(r.tls))
      .field("rule", r.policy_reason)
      .end_object();
}

void write_markings(queue::JsonText& j, const policy::Classification& cls) {
  j.key("markings").begin_array();
  for (const auto& m : cls.markings) {
    std::string_view text(m.text);
    text = text.substr(0, std::min(text.size(), policy::kMaxMarkingText));
    j.begin_object().field("source", policy::to_string(m.source)).field("text", text);
    j.key("level");
    if (m.level)
      j.value(model::to_string(*m.level));
    else
      j.null();
    j.field("error", m.error).end_object();
  }
  j.end_array();
}

// What accept and reject share: the frame, the client, the size, the markings.
RecordText message_fields(Event event, std::int64_t time_us, const model::Envelope& env,
                          const policy::Classification& cls, std::string_view queue_id) {
  RecordText rec(event, time_us);
  rec.message(queue_id, env.message_id, env.sender, classification_name(cls), env.requiretls);
  auto& j = rec.json();
  j.key("client")
      .begin_object()
      .field("address", env.client_address)
      .field("helo", env.client_helo)
      .field("auth_user", env.auth_user)
      .field("tls_protocol", env.tls_protocol)
      .field("tls_cipher", env.tls_cipher)
      .end_object();
  j.field("size", env.body_size);
  write_markings(j, cls);
  return rec;
}

}  // namespace

std::string classification_name(const policy::Classification& cls) {
  if (cls.unknown) return "unknown";
  if (cls.level) return std::string(model::to_string(*cls.level));
  return "none";
}

std::string message_id_of(std::string_view v) {
  auto first = v.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  v = v.substr(first, v.find_last_not_of(kBlank) - first + 1);
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

queue::AuditRecord accept_record(std::int64_t time_us, const model::Envelope& env,
                                 const policy::Classification& cls) {
  auto rec = message_fields(Event::Accept, time_us, env, cls, env.id.to_string());
  put_recipients(rec.json(), env.recipients, write_recipient);
  return std::move(rec).finish();
}

queue::AuditRecord reject_record(std::int64_t time_us, const model::Envelope& env,
                                 const policy::Classification& cls,
                                 const std::vector<policy::Decision>& decisions,
                                 std::string_view reason, std::string_view reply) {
  auto rec = message_fields(Event::Reject, time_us, env, cls, "");  // nothing was queued
  std::vector<model::Recipient> rcpts = env.recipients;
  for (std::size_t i = 0; i < rcpts.size() && i < decisions.size(); ++i) {
    rcpts[i].policy = decisions[i].action;
    rcpts[i].tls = decisions[i].tls;
    rcpts[i].policy_reason = decisions[i].reason.to_string();
  }
  put_recipients(rec.json(), rcpts, write_recipient);
  rec.json().field("reason", reason).field("reply", reply);
  return std::move(rec).finish();
}

queue::AuditRecord dsn_record(std::int64_t time_us, const model::Envelope& original,
                              std::string_view dsn_id, std::string_view kind,
                              const std::vector<std::string>& recipients, std::string_view to) {
  RecordText rec(Event::Dsn, time_us);
  rec.message(original);
  rec.json().field("dsn_id", dsn_id).field("kind", kind);
  put_recipients(rec.json(), recipients,
                 [](queue::JsonText& j, const std::string& a) { j.value(a); });
  rec.json().field("to", to);
  return std::move(rec).finish();
}

}  // namespace secmx::audit
