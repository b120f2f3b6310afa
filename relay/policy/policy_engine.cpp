// policy_engine.cpp - the default engine (RFC 8689 REQUIRETLS makes SOS, else the default)
// and apply_decisions(), which writes any engine's answer into the envelope to store.
#include "relay/policy/policy_engine.hpp"

namespace secmx::policy {

DefaultPolicyEngine::DefaultPolicyEngine(const config::PolicyConfig& config)
    : default_action_(config.default_action), sos_tls_(config.sos_tls) {}

std::vector<Decision> DefaultPolicyEngine::decide(const MessageFacts& facts) const {
  Decision d;
  if (facts.requiretls) {
    d.action = model::Policy::SOS;
    d.tls = sos_tls_;
    d.reason = model::ReasonStep::RequireTls;
  } else {
    d.action = default_action_;
    d.tls = default_action_ == model::Policy::SOS ? sos_tls_ : model::TlsLevel::None;
    d.reason = model::ReasonStep::Default;
  }
  return std::vector<Decision>(facts.recipients ? facts.recipients->size() : 0, d);
}

bool apply_decisions(const std::vector<Decision>& decisions, model::Envelope& envelope) {
  // REJECT first, so that a refused envelope is left exactly as it was.
  for (const auto& d : decisions) {
    if (d.action == model::Policy::REJECT) return false;
  }
  std::size_t held = 0;
  for (std::size_t i = 0; i < decisions.size() && i < envelope.recipients.size(); ++i) {
    const auto& d = decisions[i];
    auto& r = envelope.recipients[i];
    r.policy = d.action;  // REJECT was handled above
    if (d.action == model::Policy::HOLD) {
      r.state = model::RcptState::Held;
      ++held;
    }
    r.tls = d.tls;
    r.policy_reason = d.reason.to_string();
  }
  // Only a message whose every recipient is held leaves the schedule; with some held the
  // others are still delivered (the scheduler skips recipients that are not Pending).
  envelope.held = held > 0 && held == envelope.recipients.size();
  return true;
}

}  // namespace secmx::policy
