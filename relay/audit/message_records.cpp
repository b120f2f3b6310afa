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

// `items` into j[key] while they fit; the rest counted in j["recipients_omitted"].
void put_recipients(nlohmann::json& j, std::vector<nlohmann::json> items) {
  auto& out = j["recipients"] = nlohmann::json::array();
  std::size_t used = 0;
  std::size_t omitted = 0;
  for (auto& item : items) {
    std::size_t size = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
    if (omitted > 0 || used + size > kMaxRecipientBytes) {
      ++omitted;
      continue;
    }
    used += size;
    out.push_back(std::move(item));
  }
  if (omitted > 0) j["recipients_omitted"] = omitted;
}

nlohmann::json markings_json(const policy::Classification& cls) {
  auto out = nlohmann::json::array();
  for (const auto& m : cls.markings) {
    std::string text = m.text.substr(0, std::min(m.text.size(), policy::kMaxMarkingText));
    out.push_back({{"source", policy::to_string(m.source)},
                   {"text", std::move(text)},
                   {"level", m.level ? nlohmann::json(model::to_string(*m.level))
                                     : nlohmann::json(nullptr)},
                   {"error", m.error}});
  }
  return out;
}

nlohmann::json recipient_json(const model::Recipient& r) {
  return {{"address", r.address},
          {"policy", model::to_string(r.policy)},
          {"tls", model::to_string(r.tls)},
          {"rule", r.policy_reason}};
}

// What accept and reject share: the client, the size, the markings.
nlohmann::json message_fields(Event event, std::int64_t time_us, const model::Envelope& env,
                              const policy::Classification& cls) {
  auto j = message_frame(event, time_us, env);
  j["classification"] = classification_name(cls);
  j["client"] = {{"address", env.client_address},
                 {"helo", env.client_helo},
                 {"auth_user", env.auth_user},
                 {"tls_protocol", env.tls_protocol},
                 {"tls_cipher", env.tls_cipher}};
  j["size"] = env.body_size;
  j["markings"] = markings_json(cls);
  return j;
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

nlohmann::json accept_record(std::int64_t time_us, const model::Envelope& env,
                             const policy::Classification& cls) {
  auto j = message_fields(Event::Accept, time_us, env, cls);
  std::vector<nlohmann::json> rcpts;
  for (const auto& r : env.recipients) rcpts.push_back(recipient_json(r));
  put_recipients(j, std::move(rcpts));
  return j;
}

nlohmann::json reject_record(std::int64_t time_us, const model::Envelope& env,
                             const policy::Classification& cls,
                             const std::vector<policy::Decision>& decisions,
                             std::string_view reason, std::string_view reply) {
  auto j = message_fields(Event::Reject, time_us, env, cls);
  j["queue_id"] = "";  // nothing was queued
  std::vector<nlohmann::json> rcpts;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    model::Recipient r = env.recipients[i];
    if (i < decisions.size()) {
      r.policy = decisions[i].action;
      r.tls = decisions[i].tls;
      r.policy_reason = decisions[i].reason.to_string();
    }
    rcpts.push_back(recipient_json(r));
  }
  put_recipients(j, std::move(rcpts));
  j["reason"] = reason;
  j["reply"] = reply;
  return j;
}

nlohmann::json dsn_record(std::int64_t time_us, const model::Envelope& original,
                          std::string_view dsn_id, std::string_view kind,
                          const std::vector<std::string>& recipients, std::string_view to) {
  auto j = message_frame(Event::Dsn, time_us, original);
  j["dsn_id"] = dsn_id;
  j["kind"] = kind;
  std::vector<nlohmann::json> rcpts(recipients.begin(), recipients.end());
  put_recipients(j, std::move(rcpts));
  j["to"] = to;
  return j;
}

}  // namespace secmx::audit
