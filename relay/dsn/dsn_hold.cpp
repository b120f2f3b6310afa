// dsn_hold.cpp - see dsn_hold.hpp.
#include "relay/dsn/dsn_hold.hpp"

namespace secmx::dsn {

std::optional<Held> hold_unreported(const model::Envelope& before, model::Envelope& after,
                                    const Options& options) {
  if (!after.sender.empty()) return std::nullopt;
  std::optional<Held> held;
  for (std::size_t i = 0; i < after.recipients.size() && i < before.recipients.size(); ++i) {
    auto& r = after.recipients[i];
    if (r.state != model::RcptState::Failed) continue;
    if (before.recipients[i].state == model::RcptState::Failed) continue;
    bool never = (r.notify & model::kNotifyNever) != 0;
    if (!options.postmaster.empty() && !never) continue;  // the postmaster gets the report
    r.state = model::RcptState::Held;
    if (!held) {
      held.emplace();
      held->address = r.address;
      held->status = r.last_status;
      held->reason = std::string(never ? "NOTIFY=NEVER" : "no dsn.postmaster") +
                     (r.last_reply.empty() ? "" : ": " + r.last_reply);
    }
    ++held->recipients;
  }
  if (held) {
    after.held = true;
    after.next_attempt_us = model::kNeverDue;
  }
  return held;
}

}  // namespace secmx::dsn
