// explain.cpp - runs the rule engine on a given message and renders the result.
#include "relay/policy/explain.hpp"

#include <nlohmann/json.hpp>

namespace secmx::policy {
namespace {

// Message text may hold anything: control characters become \xNN so that a terminal or
// a log reader sees exactly one line.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c < 32 || c == 127) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string why_text(const RecipientVerdict& v, const Evaluation& ev) {
  std::string out;
  switch (v.step) {
    case model::ReasonStep::RequireTls:
      out = "MAIL FROM carried REQUIRETLS (RFC 8689): SOS, certificate verified";
      break;
    case model::ReasonStep::Rule:
      out = "rule " + std::to_string(v.rule) + " (line " + std::to_string(v.rule_line) +
            ") matched";
      break;
    case model::ReasonStep::TlsRequiredNo:
      out = "no rule matched; TLS-Required: No is honoured";
      break;
    case model::ReasonStep::Default:
      out = "no rule matched; policy.default";
      if (ev.tls_required_no && !ev.tls_required_no_honoured) {
        out += " (TLS-Required: No ignored: policy.tls_required_no = \"ignore\")";
      }
      break;
    case model::ReasonStep::UnknownMarking:  // a floor, not a step of the precedence
    case model::ReasonStep::Dsn:
    case model::ReasonStep::DsnSos:
    case model::ReasonStep::DsnSosFull:
    case model::ReasonStep::Other:
      break;
  }
  if (v.step == model::ReasonStep::Rule && ev.tls_required_no) {
    out += " (TLS-Required: No never overrides a rule)";
  }
  if (v.raised_by_unknown_marking) {
    out += std::string("; raised from ") + model::to_string(v.chosen) +
           " to policy.unknown_marking because a marking could not be read";
  }
  return out;
}

}  // namespace

Explanation explain(const RuleEngine& engine, ExplainRequest request) {
  std::vector<model::Recipient> rcpts;
  rcpts.reserve(request.recipients.size());
  for (const auto& r : request.recipients) {
    model::Recipient q;
    q.address = r;
    rcpts.push_back(std::move(q));
  }
  MessageFacts facts;
  facts.sender = request.sender;
  facts.recipients = &rcpts;
  facts.requiretls = request.requiretls;
  facts.client_address = request.client_address;
  facts.auth_user = request.auth_user;
  // The header parser stops at the first empty line, so the whole message can be given.
  facts.header_section = request.message;
  Explanation e;
  e.evaluation = engine.evaluate(facts);
  request.message.clear();
  e.request = std::move(request);
  return e;
}

std::string render_text(const Explanation& e) {
  const auto& ev = e.evaluation;
  const auto& cls = ev.classification;
  std::string out;
  out += "sender: <" + printable(e.request.sender) + ">" +
         (e.request.requiretls ? " REQUIRETLS" : "") + "\n";
  out += "header fields read: " + std::to_string(ev.header_fields) + "\n";
  if (!ev.subject.empty()) out += "subject (decoded): " + printable(ev.subject) + "\n";
  out += "classification: ";
  out += cls.level ? std::string(to_string(*cls.level)) : std::string("none");
  if (cls.unknown) out += " (unknown marking: " + printable(cls.unknown_why()) + ")";
  out += "\n";
  for (const auto& m : cls.markings) {
    out += "  marking: " + std::string(to_string(m.source));
    if (!m.text.empty()) out += " \"" + printable(m.text) + "\"";
    out += " -> " + (m.level ? std::string(to_string(*m.level)) : std::string("no level"));
    if (!m.error.empty()) out += " [error: " + printable(m.error) + "]";
    out += "\n";
  }
  out += std::string("TLS-Required: No: ") +
         (!ev.tls_required_no ? "absent"
          : ev.tls_required_no_honoured ? "present (honoured when no rule matches)"
                                        : "present (ignored by configuration)") +
         "\n";
  for (const auto& v : ev.recipients) {
    const auto& d = v.decision;
    out += "<" + printable(v.recipient) + ">: policy=" + model::to_string(d.action);
    if (d.action != model::Policy::BES && d.action != model::Policy::REJECT) {
      out += std::string(" tls=") + model::to_string(d.tls);
    }
    out += " reason=" + d.reason.to_string() + "\n";
    out += "  why: " + why_text(v, ev) + "\n";
    if (d.action == model::Policy::REJECT) {
      out += "  reply: 550 5.7.1 " + d.reject_text + "\n";
    }
  }
  return out;
}

std::string render_json(const Explanation& e) {
  const auto& ev = e.evaluation;
  const auto& cls = ev.classification;
  nlohmann::json j;
  j["sender"] = e.request.sender;
  j["requiretls"] = e.request.requiretls;
  j["header_fields"] = ev.header_fields;
  j["subject"] = ev.subject;
  nlohmann::json c;
  c["level"] = cls.level ? nlohmann::json(std::string(to_string(*cls.level))) : nlohmann::json();
  c["unknown"] = cls.unknown;
  c["unknown_why"] = cls.unknown_why();
  auto& marks = c["markings"] = nlohmann::json::array();
  for (const auto& m : cls.markings) {
    nlohmann::json mj;
    mj["source"] = std::string(to_string(m.source));
    mj["text"] = m.text;
    mj["level"] = m.level ? nlohmann::json(std::string(to_string(*m.level))) : nlohmann::json();
    mj["error"] = m.error;
    if (!m.fields.version.empty()) mj["ver"] = m.fields.version;
    if (!m.fields.caveats.empty()) mj["caveats"] = m.fields.caveats;
    marks.push_back(std::move(mj));
  }
  j["classification"] = std::move(c);
  j["tls_required_no"] = ev.tls_required_no;
  j["tls_required_no_honoured"] = ev.tls_required_no_honoured;
  auto& rcpts = j["recipients"] = nlohmann::json::array();
  for (const auto& v : ev.recipients) {
    const auto& d = v.decision;
    nlohmann::json rj;
    rj["recipient"] = v.recipient;
    rj["policy"] = model::to_string(d.action);
    rj["tls"] = model::to_string(d.tls);
    rj["reason"] = d.reason.to_string();
    rj["step"] = std::string(to_string(v.step));
    rj["rule"] = v.rule;
    rj["rule_line"] = v.rule_line;
    rj["chosen"] = model::to_string(v.chosen);
    rj["raised_by_unknown_marking"] = v.raised_by_unknown_marking;
    if (d.action == model::Policy::REJECT) rj["reply"] = "550 5.7.1 " + d.reject_text;
    rcpts.push_back(std::move(rj));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace secmx::policy
