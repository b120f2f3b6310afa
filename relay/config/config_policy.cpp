// config_policy.cpp - reads [policy], its [[policy.rule]]s and the [[route]]s.
//
// Every rule is checked as the policy engine will use it: at least one condition and an
// action, header and match together, RE2 patterns compiled here once (so a bad pattern is
// a start-up error at its line, never a surprise on the first message), classification
// levels known, subject markers naming a level. Issues go to the Section's Reader;
// nothing throws.
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "relay/common/idna.hpp"
#include "relay/common/route_host.hpp"
#include "relay/config/config_reader.hpp"
#include "relay/model/levels.hpp"

namespace secmx::config::detail {
namespace {

// A domain as the file gives it, ready for valid_hostname(): ASCII names stay as written
// (errors quote them so), an internationalized one becomes its A-labels, the form
// discovery and the policy compare in. "" when IDNA refuses it.
std::string ascii_domain(const std::string& name) {
  if (!has_non_ascii(name)) return name;
  return lookup_name(name).value_or("");
}

// RFC 5322 field-name: printable ASCII except ':'.
bool valid_header_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 32 && c < 127 && c != ':'; });
}

// "[IN-CONFIDENCE]" -> "IN-CONFIDENCE": the level a subject marker stands for (the same
// reading as policy::MarkingReader).
std::string_view marker_level(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  return s;
}

bool has_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// A TLS level setting names a requirement: "encrypt" or "verify" ("none" is no setting).
void read_tls(const Section& s, std::string_view key, std::optional<model::TlsLevel>& out) {
  std::string text;
  if (!s.string(key, text)) return;
  if (auto l = model::parse_tls_level(text); l && model::must_encrypt(*l)) {
    out = *l;
  } else {
    s.fail(key, "unknown TLS level '" + text + "' (expected \"encrypt\" or \"verify\")");
  }
}

void read_rule(const Section& r, PolicyRule& rule) {
  Reader& rd = r.reader();
  r.check_keys({"sender", "header", "match", "classification", "recipient_domain", "policy", "tls",
                "reason"});
  rule.line = line_of(*r.table());

  std::string text;
  if (r.string("sender", text)) {
    if (text.empty() || has_space(text)) {
      r.fail("sender", "invalid sender pattern '" + text + "'");
    } else {
      rule.sender = text;
    }
  }
  if (r.string("header", text)) {
    if (!valid_header_name(text)) {
      r.fail("header", "invalid header name '" + text + "'");
    } else {
      rule.header = text;
    }
  }
  if (r.string("match", text)) {
    // Compiled with the same options the policy engine must use; RE2 bounds the work
    // per header, which matters because header values come from anyone.
    RE2 re(text, RE2::Quiet);
    if (!re.ok()) {
      r.fail("match", "invalid regular expression: " + re.error());
    } else {
      rule.match = text;
    }
  }
  if (r.node("header") && !r.node("match")) {
    r.fail("header", "needs 'match' (an RE2 pattern over the header's value)");
  }
  if (r.node("match") && !r.node("header")) {
    r.fail("match", "needs 'header' (the header the pattern applies to)");
  }

  std::vector<Section::Item> items;
  if (r.strings("classification", items)) {
    if (items.empty()) r.fail("classification", "must not be empty");
    for (auto& it : items) {
      if (!known_classification(it.value)) {
        rd.add(it.line, "unknown classification level '" + it.value + "'");
      } else {
        rule.classification.push_back(it.value);
      }
    }
  }
  items.clear();
  if (r.strings("recipient_domain", items, /*allow_single=*/true)) {
    if (items.empty()) r.fail("recipient_domain", "must not be empty");
    for (auto& it : items) {
      std::string domain = ascii_domain(it.value);
      if (!valid_hostname(domain)) {
        rd.add(it.line, r.name("recipient_domain") + ": invalid domain '" + it.value + "'");
      } else {
        rule.recipient_domain.push_back(std::move(domain));
      }
    }
  }

  bool has_action = false;
  if (r.string("policy", text)) {
    if (auto a = model::parse_policy(text)) {
      rule.action = *a;
      has_action = true;
    } else {
      r.fail("policy", "unknown action '" + text + "' (expected BES, SOS, HOLD or REJECT)");
    }
  }
  if (!r.node("policy")) {
    rd.add(rule.line, r.path() + ": a rule needs 'policy' (BES, SOS, HOLD or REJECT)");
  }
  if (!r.node("sender") && !r.node("header") && !r.node("match") && !r.node("classification") &&
      !r.node("recipient_domain")) {
    rd.add(rule.line, r.path() +
                          ": a rule needs a condition (sender, header and match, "
                          "classification or recipient_domain)");
  }

  read_tls(r, "tls", rule.tls);
  // A TLS level only means something for a message delivered secure-only; on BES it would
  // read like a guarantee the relay does not give.
  if (rule.tls && has_action && rule.action != model::Policy::SOS) {
    r.fail("tls", "applies only to policy SOS");
  }
  if (r.string("reason", text)) {
    if (auto why = reply_text_problem(text); !why.empty()) {
      r.fail("reason", why);
    } else {
      rule.reason = text;
    }
  }
}

// A level is covered by a rule that names it and asks nothing else of the message: a
// sender, header or recipient_domain condition leaves the level's other mail to the
// default.
bool covered(model::Level level, const PolicyConfig& policy) {
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const PolicyRule& r) {
    if (r.sender || r.header || !r.recipient_domain.empty()) return false;
    return std::any_of(r.classification.begin(), r.classification.end(),
                       [&](const std::string& name) { return model::parse_level(name) == level; });
  });
}

// The hole the profiles are there to close: a policy that reads markings (a classification
// rule or a subject marker) but has no rule for, say, PROTECTED sends PROTECTED mail BES,
// in plaintext wherever the receiver offers no STARTTLS. A relay that reads no markings
// at all (the BES smarthost) is left alone: it makes no promise about them.
void check_uncovered_levels(const Section& p, const PolicyConfig& policy) {
  if (policy.default_action != model::Policy::BES) return;
  bool reads_markings = !policy.subject_markers.empty() ||
                        std::any_of(policy.rules.begin(), policy.rules.end(),
                                    [](const PolicyRule& r) { return !r.classification.empty(); });
  if (!reads_markings) return;
  std::uint32_t line = p.line("default");
  if (line == 0 && p.table()) line = line_of(*p.table());
  for (model::Level level : model::kLevels) {
    if (!model::needs_protection(level) || covered(level, policy)) continue;
    std::string what = std::string(model::to_string(level));
    std::string msg = "policy: no rule covers level " + what +
                      " and policy.default is \"BES\": mail marked " + what + " would go BES";
    if (policy.uncovered_levels_error) {
      p.reader().add(line, msg + " (policy.uncovered_levels = \"error\")");
    } else {
      p.reader().warn(line, "warning: " + msg);
    }
  }
}

}  // namespace

void read_policy(const Section& root, PolicyConfig& out) {
  Section p = root.sub("policy");
  p.check_keys({"default", "discovery", "sos_tls", "subject_markers", "unknown_marking",
                "tls_required_no", "uncovered_levels", "rule"});
  std::string text;
  if (p.string("default", text)) {
    auto a = model::parse_policy(text);
    if (a && (*a == model::Policy::BES || *a == model::Policy::SOS)) {
      out.default_action = *a;
    } else {
      p.fail("default", "must be \"BES\" or \"SOS\", not '" + text + "'");
    }
  }

  std::vector<Section::Item> items;
  if (p.strings("discovery", items)) {
    std::vector<std::string> methods;
    for (auto& it : items) {
      std::string m = ascii_lowercase(it.value);
      if (m != "srv" && m != "mx51966" && m != "name") {
        p.reader().add(it.line, p.name("discovery") + ": unknown method '" + it.value +
                                    "' (expected \"srv\", \"mx51966\" or \"name\")");
      } else if (std::find(methods.begin(), methods.end(), m) != methods.end()) {
        p.reader().add(it.line, p.name("discovery") + ": '" + it.value + "' listed twice");
      } else {
        methods.push_back(m);
      }
    }
    out.discovery = std::move(methods);
  }

  std::optional<model::TlsLevel> sos_tls;
  read_tls(p, "sos_tls", sos_tls);
  if (sos_tls) out.sos_tls = *sos_tls;

  items.clear();
  if (p.strings("subject_markers", items)) {
    out.subject_markers.clear();
    for (auto& it : items) {
      if (it.value.empty()) {
        p.reader().add(it.line, p.name("subject_markers") + ": a marker must not be empty");
      } else if (!known_classification(marker_level(it.value))) {
        // A marker is read as the level it names; one naming none could never match.
        p.reader().add(it.line, p.name("subject_markers") + ": '" + it.value +
                                    "' names no known classification level");
      } else {
        out.subject_markers.push_back(it.value);
      }
    }
  }

  if (p.string("unknown_marking", text)) {
    // A floor that never lowers: mail whose marking could not be read goes at least SOS.
    auto a = model::parse_policy(text);
    if (a && *a != model::Policy::BES) {
      out.unknown_marking = *a;
    } else {
      p.fail("unknown_marking",
             "must be \"SOS\", \"HOLD\" or \"REJECT\", not '" + text +
                 "' (an unreadable marking may never go BES)");
    }
  }

  if (p.string("tls_required_no", text)) {
    std::string v = ascii_lowercase(text);
    if (v == "honor" || v == "ignore") {
      out.tls_required_no_honor = v == "honor";
    } else {
      p.fail("tls_required_no", "must be \"honor\" or \"ignore\", not '" + text + "'");
    }
  }

  if (p.string("uncovered_levels", text)) {
    std::string v = ascii_lowercase(text);
    if (v == "warn" || v == "error") {
      out.uncovered_levels_error = v == "error";
    } else {
      p.fail("uncovered_levels", "must be \"warn\" or \"error\", not '" + text + "'");
    }
  }

  const toml::node* rules = p.node("rule");
  if (rules && !rules->is_array_of_tables()) {
    p.fail("rule", "expected an array of tables ([[policy.rule]])");
  } else if (rules) {
    for (const toml::node& n : *rules->as_array()) {
      PolicyRule rule;
      read_rule(Section(p.reader(), n.as_table(), p.name("rule")), rule);
      out.rules.push_back(std::move(rule));
    }
  }
  check_uncovered_levels(p, out);
}

void read_routes(const Section& root, std::vector<Route>& out) {
  const toml::node* routes = root.node("route");
  if (!routes) return;
  if (!routes->is_array_of_tables()) {
    root.fail("route", "expected an array of tables ([[route]])");
    return;
  }
  std::map<std::string, std::uint32_t> seen;  // lower-cased domain -> line
  for (const toml::node& n : *routes->as_array()) {
    Section r(root.reader(), n.as_table(), "route");
    r.check_keys({"domain", "host", "tls", "trusted"});
    Route route;
    route.line = line_of(n);
    if (r.string("domain", route.domain)) {
      std::string written = route.domain;
      route.domain = ascii_domain(written);
      std::string key = lookup_name(route.domain).value_or("");  // the form routes match in
      if (!valid_hostname(route.domain)) {
        r.fail("domain", "invalid domain '" + written + "'");
      } else if (auto [it, fresh] = seen.emplace(key, r.line("domain")); !fresh) {
        r.fail("domain",
               "'" + written + "' is already routed at line " + std::to_string(it->second));
      }
    } else if (!r.node("domain")) {
      r.reader().add(route.line, "route: a route needs 'domain'");
    }
    if (r.string("host", route.host)) {
      if (!parse_route_host(route.host)) {
        r.fail("host", "invalid next hop '" + route.host +
                           "' (expected \"name\", \"name:port\", \"[ip]\", \"[ip]:port\" or "
                           "\"[IPv6:ip]:port\")");
      }
    } else if (!r.node("host")) {
      r.reader().add(route.line, "route: a route needs 'host'");
    }
    read_tls(r, "tls", route.tls);
    r.boolean("trusted", route.trusted);
    out.push_back(std::move(route));
  }
}

void warn_sos_routes(Reader& rd, const PolicyConfig& policy, const std::vector<Route>& routes) {
  bool sos = policy.default_action == model::Policy::SOS ||
             std::any_of(policy.rules.begin(), policy.rules.end(), [](const PolicyRule& r) {
               return r.action == model::Policy::SOS || r.action == model::Policy::HOLD;
             });
  if (!sos) return;
  for (const Route& r : routes) {
    if (r.trusted || (r.tls && model::must_encrypt(*r.tls))) continue;
    // A report on SOS mail travels under SOS: to a host that does not offer STARTTLS it
    // fails 5.7.10, and with no dsn.postmaster it is held, so say so before it happens.
    rd.warn(r.line, "warning: route " + r.domain +
                        ": reports on SOS mail to senders in this domain go only over TLS: "
                        "set tls = \"encrypt\" if " + r.host +
                        " offers STARTTLS, or trusted = true if it is the agency's own "
                        "network; otherwise they fail and, without dsn.postmaster, are held "
                        "(docs/dsn.md)");
  }
}

}  // namespace secmx::config::detail
