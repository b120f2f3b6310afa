// reason.cpp - the text form of a policy reason and its parser (see reason.hpp).
#include "relay/model/reason.hpp"

#include <ostream>

namespace secmx::model {
namespace {

constexpr std::string_view kReleased = ",released";
constexpr std::string_view kRulePrefix = "rule=";
constexpr std::string_view kConditionKeys[] = {"sender", "header", "classification",
                                               "recipient_domain"};

constexpr ReasonStep kNamedSteps[] = {ReasonStep::RequireTls, ReasonStep::TlsRequiredNo,
                                      ReasonStep::Default,    ReasonStep::UnknownMarking,
                                      ReasonStep::Dsn,        ReasonStep::DsnSos,
                                      ReasonStep::DsnSosFull};

// "key=" at the start of `s` for a known key: the key's length, else 0.
std::size_t key_at(std::string_view s) {
  for (std::string_view k : kConditionKeys) {
    if (s.size() > k.size() && s.substr(0, k.size()) == k && s[k.size()] == '=') return k.size();
  }
  return 0;
}

std::optional<std::uint32_t> rule_number(std::string_view s) {
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

// "classification=SECRET,recipient_domain=x.example": split before each ",key=" of a
// known key, so that a value may itself hold a comma (a glob, a header name does not).
std::optional<std::vector<Reason::Condition>> parse_conditions(std::string_view s) {
  std::vector<Reason::Condition> out;
  if (s.empty()) return out;
  while (!s.empty()) {
    std::size_t klen = key_at(s);
    if (klen == 0) return std::nullopt;
    std::size_t end = s.size();
    for (std::size_t i = klen + 1; i < s.size(); ++i) {
      if (s[i] == ',' && key_at(s.substr(i + 1)) != 0) {
        end = i;
        break;
      }
    }
    out.push_back({std::string(s.substr(0, klen)), std::string(s.substr(klen + 1, end - klen - 1))});
    s.remove_prefix(end == s.size() ? end : end + 1);
  }
  return out;
}

}  // namespace

std::string_view to_string(ReasonStep s) {
  switch (s) {
    case ReasonStep::RequireTls: return "requiretls";
    case ReasonStep::Rule: return "rule";
    case ReasonStep::TlsRequiredNo: return "tls-required-no";
    case ReasonStep::Default: return "default";
    case ReasonStep::UnknownMarking: return "unknown-marking";
    case ReasonStep::Dsn: return "dsn";
    case ReasonStep::DsnSos: return "dsn(sos)";
    case ReasonStep::DsnSosFull: return "dsn(sos-full)";
    case ReasonStep::Other: return "other";
  }
  return "?";
}

Reason::Reason(std::string_view text) {
  if (auto r = parse(text)) {
    *this = std::move(*r);
  } else {
    step = ReasonStep::Other;
    other = std::string(text);
  }
}

Reason Reason::for_rule(std::uint32_t number, std::uint32_t line,
                        std::vector<Condition> conditions) {
  Reason r(ReasonStep::Rule);
  r.rule = number;
  r.rule_line = line;
  r.conditions = std::move(conditions);
  return r;
}

std::string Reason::rule_field() const {
  // Text kept verbatim (Other) loses a leading "rule=" too, as the server always logged it.
  std::string text = to_string();
  if (step == ReasonStep::Rule || (step == ReasonStep::Other && other.starts_with(kRulePrefix))) {
    text.erase(0, kRulePrefix.size());
  }
  return text;
}

std::string Reason::to_string() const {
  std::string out;
  if (step == ReasonStep::Other) {
    out = other;
  } else if (step == ReasonStep::Rule) {
    out.append(kRulePrefix).append(std::to_string(rule)).append("(");
    for (std::size_t i = 0; i < conditions.size(); ++i) {
      if (i) out += ',';
      out.append(conditions[i].key).append("=").append(conditions[i].value);
    }
    out += ')';
  } else {
    out = std::string(model::to_string(step));
  }
  if (released) out.append(kReleased);
  return out;
}

std::optional<Reason> Reason::parse(std::string_view text) {
  Reason r;
  if (text.ends_with(kReleased)) {
    r.released = true;
    text.remove_suffix(kReleased.size());
  }
  for (ReasonStep s : kNamedSteps) {
    if (text == model::to_string(s)) {
      r.step = s;
      return r;
    }
  }
  if (!text.starts_with(kRulePrefix) || !text.ends_with(')')) return std::nullopt;
  text.remove_prefix(kRulePrefix.size());
  text.remove_suffix(1);
  std::size_t open = text.find('(');
  if (open == std::string_view::npos) return std::nullopt;
  auto number = rule_number(text.substr(0, open));
  auto conditions = parse_conditions(text.substr(open + 1));
  if (!number || *number == 0 || !conditions) return std::nullopt;
  r.step = ReasonStep::Rule;
  r.rule = *number;
  r.conditions = std::move(*conditions);
  return r;
}

std::ostream& operator<<(std::ostream& out, const Reason& r) { return out << r.to_string(); }

}  // namespace secmx::model
