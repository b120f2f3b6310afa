// dsn_hold.hpp - a report that cannot be delivered and has nowhere else to go is kept.
//
// Mail from <> (a report: ours, or another MTA's that we relay) is never answered with a
// report to its null sender (RFC 5321 4.5.5). When one of its recipients fails for good,
// the failure goes to dsn.postmaster when one is set; when none is set, or the failed
// recipient is that postmaster copy itself (NOTIFY=NEVER), nobody would learn of it. Such
// a recipient is not made final: it is held (RcptState::Held, Envelope::held), so the
// message stays in the queue, out of the schedule, until the operator releases, bounces
// or deletes it (`secmxctl queue list --held`).
//
// Pure; any thread. The scheduler calls hold_unreported() on its working copy before
// select_dsns(), so a held recipient calls for no report (and no "dropped" line).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "relay/dsn/dsn.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::dsn {

// What was held, for the log line and the counter.
struct Held {
  std::size_t recipients = 0;  // how many recipients were held now
  std::string address;         // the first of them
  std::string status;          // its last status ("5.7.10")
  std::string reason;          // why nobody gets a report, then its last reply
};

// Holds the recipients of `after` that failed in this change (Failed in `after`, not in
// `before`) and whose failure no report would reach: `after` is from <>, and either
// `options.postmaster` is empty or the recipient has NOTIFY=NEVER. Their last status and
// reply stay as the attempt left them (the operator sees why); the message is held and
// never due until released. nullopt, and `after` unchanged, when there is none.
std::optional<Held> hold_unreported(const model::Envelope& before, model::Envelope& after,
                                    const Options& options);

}  // namespace secmx::dsn
