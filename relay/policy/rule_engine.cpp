// rule_engine.cpp - evaluation of the DESIGN section 2 precedence over parsed facts.
//
// Per message: the header section is parsed once (bounded by the header limits), the
// markings are read once, and every rule's message-wide conditions (sender, header,
// classification) are evaluated once; only recipient_domain is per recipient. So a
// message with many recipients costs rules x recipients cheap comparisons, and every
// RE2 search runs over each header value at most once per rule.
#include "relay/policy/rule_engine.hpp"

#include <algorithm>

namespace secmx::policy {
namespace {

using model::Policy;
using model::ReasonStep;
using model::TlsLevel;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RuleEngine::RuleEngine(const config::PolicyConfig& config, const HeaderLimits& limits)
    : config_(config), limits_(limits), markings_(config.subject_markers) {}

Result<std::shared_ptr<const RuleEngine>, std::string> RuleEngine::create(
    const config::PolicyConfig& config, const HeaderLimits& limits) {
  if (config.unknown_marking == Policy::BES) {
    return fail("policy.unknown_marking: an unreadable marking may never go BES");
  }
  std::shared_ptr<RuleEngine> engine(new RuleEngine(config, limits));
  std::size_t number = 0;
  for (const auto& src : engine->config_.rules) {
    Rule r;
    r.number = ++number;
    r.source = &src;
    std::string where = "rule " + std::to_string(r.number) + " (line " +
                        std::to_string(src.line) + ")";
    if (src.sender) r.sender.emplace(*src.sender);
    if (src.header || src.match) {
      if (!src.header || !src.match) return fail(where + ": header and match go together");
      // The same options as the config loader, which already compiled it once.
      r.match = std::make_unique<RE2>(*src.match, RE2::Quiet);
      if (!r.match->ok()) return fail(where + ": invalid regular expression: " + r.match->error());
    }
    for (const auto& name : src.classification) {
      auto level = model::parse_level(name);
      if (!level) return fail(where + ": unknown classification level '" + name + "'");
      r.classification.push_back(*level);
    }
    r.recipient_domains = src.recipient_domain;
    if (!r.sender && !r.match && r.classification.empty() && r.recipient_domains.empty()) {
      return fail(where + ": no condition");
    }
    engine->rules_.push_back(std::move(r));
  }
  return std::shared_ptr<const RuleEngine>(std::move(engine));
}

bool RuleEngine::message_matches(const Rule& r, const MessageFacts& facts,
                                 const HeaderSection& headers,
                                 const Classification& cls) const {
  if (r.sender && !r.sender->matches(facts.sender)) return false;
  if (!r.classification.empty()) {
    if (!cls.level) return false;
    if (std::find(r.classification.begin(), r.classification.end(), *cls.level) ==
        r.classification.end()) {
      return false;
    }
  }
  if (r.match) {
    bool any = false;
    for (std::string_view v : headers.values(*r.source->header)) {
      if (RE2::PartialMatch(v, *r.match)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

Decision RuleEngine::rule_decision(const Rule& r, const Classification& cls,
                                   std::string_view rcpt_domain) const {
  const auto& src = *r.source;
  Decision d;
  d.action = src.action;
  if (d.action == Policy::SOS || d.action == Policy::HOLD) {
    d.tls = src.tls.value_or(config_.sos_tls);
  }
  // "rule=3(classification=RESTRICTED)": the rule's number and the conditions that made
  // it match. Only config text and canonical level names go in, never message text, so
  // the reason is safe in key=value log lines and in the queue.
  std::vector<model::Reason::Condition> why;
  auto add = [&](std::string_view k, std::string_view v) {
    why.push_back({std::string(k), std::string(v)});
  };
  if (src.sender) add("sender", *src.sender);
  if (src.header) add("header", *src.header);
  if (!r.classification.empty() && cls.level) add("classification", to_string(*cls.level));
  if (!r.recipient_domains.empty()) {
    for (const auto& dom : r.recipient_domains) {
      if (same_domain(dom, rcpt_domain)) {
        add("recipient_domain", dom);
        break;
      }
    }
  }
  d.reason = model::Reason::for_rule(static_cast<std::uint32_t>(r.number), src.line,
                                     std::move(why));
  if (d.action == Policy::REJECT) {
    d.reject_text = src.reason.empty() ? "Message refused by policy" : src.reason;
  }
  return d;
}

Evaluation RuleEngine::evaluate(const MessageFacts& facts) const {
  Evaluation ev;
  HeaderSection headers = parse_header_section(facts.header_section, limits_);
  ev.header_fields = headers.fields.size();
  ev.classification = markings_.classify(headers);
  for (const auto& f : headers.fields) {
    if (iequals(f.name, "Subject") && ev.subject.empty()) ev.subject = f.value;
    if (iequals(f.name, "Message-ID") && ev.message_id.empty()) ev.message_id = f.value;
    // A header that a rule reads is a marking of the operator's own: an encoded-word in it
    // that could not be decoded may hide what the rule looks for. (Subject and
    // X-Protective-Marking were counted by the marking reader.)
    if (f.decode_error.empty() || iequals(f.name, "Subject") ||
        iequals(f.name, "X-Protective-Marking")) {
      continue;
    }
    if (std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
          return r.source->header && iequals(*r.source->header, f.name);
        })) {
      add_undecodable(f, ev.classification);
    }
  }

  // RFC 8689 5: the header field's value is "No"; a message carrying any other value as
  // well is contradicting itself and gets no downgrade.
  auto trq = headers.values("TLS-Required");
  ev.tls_required_no = !trq.empty() && std::all_of(trq.begin(), trq.end(), [](auto v) {
    return iequals(trim(v), "No");
  });
  ev.tls_required_no_honoured = ev.tls_required_no && config_.tls_required_no_honor;

  std::vector<char> message_match(rules_.size(), 0);
  if (!facts.requiretls) {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      message_match[i] = message_matches(rules_[i], facts, headers, ev.classification);
    }
  }

  const std::size_t n = facts.recipients ? facts.recipients->size() : 0;
  ev.recipients.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    RecipientVerdict v;
    v.recipient = (*facts.recipients)[k].address;
    std::string rcpt_domain = address_domain(v.recipient);
    Decision& d = v.decision;
    if (facts.requiretls) {
      v.step = ReasonStep::RequireTls;
      d.action = Policy::SOS;
      // RFC 8689 4.2.1: a REQUIRETLS message needs a certificate that verifies.
      d.tls = TlsLevel::Verify;
      d.reason = ReasonStep::RequireTls;
    } else {
      const Rule* hit = nullptr;
      for (std::size_t i = 0; i < rules_.size() && !hit; ++i) {
        if (!message_match[i]) continue;
        const auto& doms = rules_[i].recipient_domains;
        if (!doms.empty() && std::none_of(doms.begin(), doms.end(), [&](const auto& dom) {
              return same_domain(dom, rcpt_domain);
            })) {
          continue;
        }
        hit = &rules_[i];
      }
      if (hit) {
        v.step = ReasonStep::Rule;
        v.rule = hit->number;
        v.rule_line = hit->source->line;
        d = rule_decision(*hit, ev.classification, rcpt_domain);
      } else if (ev.tls_required_no_honoured) {
        v.step = ReasonStep::TlsRequiredNo;
        d.action = Policy::BES;
        d.reason = ReasonStep::TlsRequiredNo;
      } else {
        v.step = ReasonStep::Default;
        d.action = config_.default_action;
        if (d.action == Policy::SOS) d.tls = config_.sos_tls;
        d.reason = ReasonStep::Default;
      }
    }
    v.chosen = d.action;
    if (ev.classification.unknown &&
        model::strength(config_.unknown_marking) > model::strength(d.action)) {
      v.raised_by_unknown_marking = true;
      d.action = config_.unknown_marking;
      d.tls = d.action == Policy::BES ? TlsLevel::None
                                      : model::stronger(d.tls, config_.sos_tls);
      d.reason = ReasonStep::UnknownMarking;
      d.reject_text = d.action == Policy::REJECT
                          ? "Message refused: its protective marking could not be read"
                          : "";
    }
    ev.recipients.push_back(std::move(v));
  }
  return ev;
}

std::vector<Decision> RuleEngine::decide(const MessageFacts& facts) const {
  Evaluation ev = evaluate(facts);
  std::vector<Decision> out;
  out.reserve(ev.recipients.size());
  for (auto& v : ev.recipients) out.push_back(std::move(v.decision));
  if (ev.classification.unknown && !out.empty()) {
    out.front().marking_invalid = ev.classification.unknown_why();
    for (const auto& m : ev.classification.markings) {
      if (!m.error.empty()) out.front().marking_problems.push_back(m.problem);
    }
  }
  if (!out.empty()) {
    out.front().classification = std::move(ev.classification);
    out.front().message_id = std::move(ev.message_id);
  }
  return out;
}

}  // namespace secmx::policy
