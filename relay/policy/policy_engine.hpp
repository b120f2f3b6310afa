// policy_engine.hpp - the seam through which each message gets its sending policy.
//
// The SMTP server asks the engine once per message, at the end of DATA / the last BDAT
// chunk, with the envelope and the header section. The engine answers per recipient.
// Implementations are immutable after construction and called from any SMTP loop thread
// at once, so they must be thread-safe (pure). DefaultPolicyEngine knows only REQUIRETLS
// and the configured default; RuleEngine (rule_engine.hpp: rules, headers, protective
// markings) is the implementation the daemon uses.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"
#include "relay/model/envelope.hpp"
#include "relay/model/policy.hpp"
#include "relay/model/reason.hpp"
#include "relay/policy/marking.hpp"

namespace secmx::policy {

struct MessageFacts {
  std::string_view sender;
  const std::vector<model::Recipient>* recipients = nullptr;
  bool requiretls = false;
  std::string_view client_address;
  std::string_view auth_user;
  std::string_view header_section;  // raw header lines up to the empty line, CRLF endings
};

struct Decision {
  model::Policy action = model::Policy::BES;
  model::TlsLevel tls = model::TlsLevel::None;
  model::Reason reason;       // stored as text: "default", "rule=3(classification=RESTRICTED)"
  std::string reject_text;    // for REJECT: the text of the 550 5.7.1 reply
  // Set on the first decision only (the message's, not the recipient's): why its marking
  // was invalid (message text, to be escaped when logged) and the rule each invalid
  // marking broke, for the log line and secmx_markings_invalid_total. Empty: all readable.
  std::string marking_invalid;
  std::vector<MarkingProblem> marking_problems;
  // Set on the first decision only: what the engine read of the header section, for the
  // envelope and the audit record (the headers are parsed once per message): every marking
  // with its level or error, and the first Message-ID field's value as written.
  Classification classification;
  std::string message_id;
};

class PolicyEngine {
 public:
  virtual ~PolicyEngine() = default;
  // One decision per recipient, in the order of facts.recipients.
  virtual std::vector<Decision> decide(const MessageFacts& facts) const = 0;
};

class DefaultPolicyEngine final : public PolicyEngine {
 public:
  explicit DefaultPolicyEngine(const config::PolicyConfig& config);
  std::vector<Decision> decide(const MessageFacts& facts) const override;

 private:
  model::Policy default_action_;
  model::TlsLevel sos_tls_;
};

// Apply decisions to the stored recipients (policy, TLS level, reason, held state). HOLD
// recipients become RcptState::Held; envelope.held is set when every recipient is held.
// Returns false, with the envelope untouched, when some decision is REJECT (then nothing
// is stored).
bool apply_decisions(const std::vector<Decision>& decisions, model::Envelope& envelope);

}  // namespace secmx::policy
