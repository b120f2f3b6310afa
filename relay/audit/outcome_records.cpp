// outcome_records.cpp - see outcome_records.hpp.
#include "relay/audit/outcome_records.hpp"

#include <algorithm>
#include <iterator>

#include "relay/audit/audit_record.hpp"
#include "relay/audit/message_records.hpp"

namespace secmx::audit {

std::optional<model::Attempt> deciding_attempt(const model::Recipient& r) {
  if (!r.history.empty()) return r.history.back();
  if (r.attempts == 0 && r.last_attempt_us == 0) return std::nullopt;
  model::Attempt a;
  a.time_us = r.last_attempt_us;
  a.host = r.remote_mta;
  a.tls = r.last_tls.empty() ? "none" : r.last_tls;
  a.cert_sha256 = r.last_cert_sha256;
  a.dnssec = r.last_dnssec;
  a.status = r.last_status;
  a.reply = r.last_reply;
  return a;
}

std::vector<queue::AuditRecord> write_back_records(const model::Envelope& before,
                                                   const model::Envelope& after,
                                                   const std::vector<DsnQueued>& dsns,
                                                   std::string_view by, std::int64_t now_us) {
  std::vector<queue::AuditRecord> out;
  for (std::size_t i = 0; i < after.recipients.size(); ++i) {
    const auto& r = after.recipients[i];
    if (r.state != model::RcptState::Delivered && r.state != model::RcptState::Failed) continue;
    if (i < before.recipients.size() && before.recipients[i].state == r.state) continue;
    std::string_view dsn_id;
    for (const auto& d : dsns) {
      if (d.kind == "delay") continue;
      if (std::find(d.recipients.begin(), d.recipients.end(), i) != d.recipients.end()) {
        dsn_id = d.id;
        break;
      }
    }
    auto attempt = deciding_attempt(r);
    const char* outcome = r.state == model::RcptState::Delivered ? "delivered" : "failed";
    out.push_back(
        outcome_record(now_us, after, r, outcome, by, attempt ? &*attempt : nullptr, dsn_id));
  }
  auto dsn = dsn_records(after, dsns, now_us);
  out.insert(out.end(), std::make_move_iterator(dsn.begin()), std::make_move_iterator(dsn.end()));
  return out;
}

std::vector<DsnQueued> dsns_queued(const std::vector<queue::NewMessage>& inserts,
                                   const std::vector<dsn::Selected>& selected) {
  std::vector<DsnQueued> out;
  for (std::size_t i = 0; i < inserts.size() && i < selected.size(); ++i) {
    const auto& env = inserts[i].envelope;
    const char* kind = "failure";
    switch (selected[i].event) {
      case dsn::Event::Failure: kind = "failure"; break;
      case dsn::Event::Delay: kind = "delay"; break;
      case dsn::Event::Delivered: kind = "success"; break;
      case dsn::Event::Relayed: kind = "relayed"; break;
    }
    out.push_back({env.id.to_string(), kind, selected[i].recipients,
                   env.recipients.empty() ? std::string() : env.recipients.front().address});
  }
  return out;
}

std::vector<queue::AuditRecord> dsn_records(const model::Envelope& about,
                                            const std::vector<DsnQueued>& dsns,
                                            std::int64_t now_us) {
  std::vector<queue::AuditRecord> out;
  for (const auto& d : dsns) {
    std::vector<std::string> addresses;
    for (std::size_t i : d.recipients) {
      if (i < about.recipients.size()) addresses.push_back(about.recipients[i].address);
    }
    out.push_back(dsn_record(now_us, about, d.id, d.kind, addresses, d.to));
  }
  return out;
}

}  // namespace secmx::audit
