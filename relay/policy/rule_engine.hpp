// rule_engine.hpp - the policy engine of DESIGN section 2: REQUIRETLS, operator rules,
// TLS-Required: No, the default; protective markings read for the rules.
//
// Built once from the validated config by create() (RE2 patterns compiled there), then
// immutable: decide() and evaluate() are const, allocate only per call and may run on
// every SMTP loop thread at once. evaluate() is the whole decision with the facts behind
// it, for --explain and the admin API (explain.hpp renders it); decide() is the same
// without them, for the server.
//
// Precedence, first match wins per recipient:
//   1. MAIL FROM ... REQUIRETLS            -> SOS at level verify   reason "requiretls"
//   2. the rules, in file order            -> the rule's action     reason "rule=N(...)"
//   3. TLS-Required: No (when honoured)    -> BES                   reason "tls-required-no"
//   4. policy.default                      ->                       reason "default"
// Then a floor: when some marking could not be read (classification unknown: a malformed
// marking, an unknown level, an undecodable encoded-word in Subject, X-Protective-Marking or
// a header a rule reads, or the header limits), an outcome
// weaker than policy.unknown_marking is raised to it (reason "unknown-marking"), whatever
// step chose it: what the relay could not read never lowers protection.
// Strength order for that floor: BES < SOS < HOLD < REJECT (model::strength).
#pragma once

#include <re2/re2.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/model/policy.hpp"
#include "relay/model/reason.hpp"
#include "relay/policy/address_match.hpp"
#include "relay/policy/headers.hpp"
#include "relay/model/levels.hpp"
#include "relay/policy/marking.hpp"
#include "relay/policy/policy_engine.hpp"

namespace secmx::policy {

struct RecipientVerdict {
  std::string recipient;
  Decision decision;                  // what is stored (after the unknown-marking floor)
  // Which precedence step chose the outcome: RequireTls, Rule, TlsRequiredNo or Default
  // (the floor shows in decision.reason and raised_by_unknown_marking, never here).
  model::ReasonStep step = model::ReasonStep::Default;
  std::size_t rule = 0;               // 1-based rule number when step == Rule
  std::uint32_t rule_line = 0;        // its line in the config file
  model::Policy chosen = model::Policy::BES;  // before the floor
  bool raised_by_unknown_marking = false;
};

struct Evaluation {
  Classification classification;
  std::string subject;                // the first Subject field, decoded (for --explain)
  std::string message_id;             // the first Message-ID field's value, "" when none
  std::size_t header_fields = 0;
  bool tls_required_no = false;       // the header says No (whether honoured or not)
  bool tls_required_no_honoured = false;
  std::vector<RecipientVerdict> recipients;  // in the order of facts.recipients
};

class RuleEngine final : public PolicyEngine {
 public:
  // Fails only if a rule the loader accepted does not compile (a broken invariant the
  // caller reports at start-up).
  static Result<std::shared_ptr<const RuleEngine>, std::string> create(
      const config::PolicyConfig& config, const HeaderLimits& limits = {});

  std::vector<Decision> decide(const MessageFacts& facts) const override;
  Evaluation evaluate(const MessageFacts& facts) const;

  const config::PolicyConfig& config() const { return config_; }

  struct Rule {
    std::size_t number = 0;  // 1-based, in file order
    const config::PolicyRule* source = nullptr;
    std::optional<SenderPattern> sender;
    std::unique_ptr<RE2> match;        // with source->header
    std::vector<model::Level> classification;
    std::vector<std::string> recipient_domains;
  };

 private:
  RuleEngine(const config::PolicyConfig& config, const HeaderLimits& limits);
  bool message_matches(const Rule& r, const MessageFacts& facts, const HeaderSection& headers,
                       const Classification& cls) const;
  Decision rule_decision(const Rule& r, const Classification& cls,
                         std::string_view rcpt_domain) const;

  config::PolicyConfig config_;  // owned copy: rules point into it
  HeaderLimits limits_;
  MarkingReader markings_;
  std::vector<Rule> rules_;
};

}  // namespace secmx::policy
