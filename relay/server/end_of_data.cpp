// end_of_data.cpp - see end_of_data.hpp. Reply texts follow Postfix's.
#include "relay/server/end_of_data.hpp"

#include <algorithm>
#include <utility>

#include "relay/audit/audit_record.hpp"
#include "relay/audit/message_records.hpp"

namespace secmx::server {

std::optional<ContentRefusal> check_content(const smtp::ContentFlags& flags) {
  if (flags.too_big) {
    return ContentRefusal{{552, "5.3.4", "Error: message file too big"}, "message too big",
                          false};
  }
  if (flags.bare_lf || flags.bare_cr) {
    return ContentRefusal{
        {550, "5.5.2", "Error: bare <CR> or <LF> received (RFC 5321 2.3.8)"}, "bare CR/LF",
        true};
  }
  if (flags.nul) {
    return ContentRefusal{
        {554, "5.6.0", "Error: NUL character in message content (no BINARYMIME)"},
        "NUL in content", true};
  }
  if (flags.line_too_long) {
    return ContentRefusal{{550, "5.5.2", "Error: line too long (RFC 5321 4.5.3.1.6)"},
                          "line too long", false};
  }
  return std::nullopt;
}

queue::NewMessage build_message(Transaction& tx, const ClientFacts& client) {
  queue::NewMessage msg;
  auto& env = msg.envelope;
  env.id = tx.id;
  env.arrival_us = tx.arrival_us;
  env.sender = tx.mail.reverse_path;
  env.body_type = tx.mail.body;
  env.smtputf8 = tx.mail.smtputf8;
  env.requiretls = tx.mail.requiretls;
  env.ret = tx.mail.ret;
  env.envid = tx.mail.envid;
  env.client_address = std::string(client.address);
  env.client_helo = std::string(client.helo);
  env.tls_protocol = std::string(client.tls_protocol);
  env.tls_cipher = std::string(client.tls_cipher);
  env.auth_user = std::string(client.auth_user);
  env.recipients = std::move(tx.recipients);
  env.body_size = tx.body.size();
  msg.body = std::move(tx.body);
  return msg;
}

std::string_view header_section(std::string_view body, std::size_t content_offset) {
  std::string_view content = body.substr(std::min(content_offset, body.size()));
  // Content that starts with the empty line has no header section at all.
  if (content.starts_with("\r\n")) return content.substr(0, 0);
  std::size_t end = content.find("\r\n\r\n");
  return end == std::string_view::npos ? content : content.substr(0, end + 2);
}

namespace {

const policy::Classification& read_classification(const std::vector<policy::Decision>& d) {
  static const policy::Classification kNone;
  return d.empty() ? kNone : d.front().classification;
}

}  // namespace

void record_acceptance(queue::NewMessage& msg, const std::vector<policy::Decision>& decisions,
                       bool audit_on, std::int64_t now_us) {
  auto& env = msg.envelope;
  const auto& cls = read_classification(decisions);
  env.message_id =
      decisions.empty() ? std::string() : audit::message_id_of(decisions.front().message_id);
  env.classification = audit::classification_name(cls);
  if (audit_on) msg.audit.push_back(audit::accept_record(now_us, env, cls));
}

queue::AuditRecord rejection_record(const model::Envelope& envelope,
                                    const std::vector<policy::Decision>& decisions,
                                    std::string_view reason, std::string_view reply,
                                    std::int64_t now_us) {
  model::Envelope env = envelope;
  if (!decisions.empty()) env.message_id = audit::message_id_of(decisions.front().message_id);
  return audit::reject_record(now_us, env, read_classification(decisions), decisions, reason,
                              reply);
}

}  // namespace secmx::server
