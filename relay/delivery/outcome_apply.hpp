// outcome_apply.hpp - applying a worker's answer to the scheduler's copy of an envelope.
//
// Pure; any thread (the scheduler calls them on its loop, on the working copy it owns while
// the message is in flight). The verdicts themselves are decided elsewhere (outcome.hpp);
// these only record them: recipient states, counters, the last status, and when the
// message is next due.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "relay/delivery/job.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::delivery {

// One job's outcomes onto `envelope`: each recipient's state, attempts, last status, reply,
// remote MTA and the attempt's evidence (TLS and AUTH, certificate, DNSSEC), and the attempt
// appended to its history, which keeps the newest `history_limit` (>= 1; the oldest dropped
// and counted in history_dropped). Indices out of range, or outcomes missing, are skipped.
void apply_outcomes(model::Envelope& envelope, const JobResult& result, std::int64_t now_us,
                    std::uint32_t history_limit);

// After all jobs of a round: counts the attempt and sets the next attempt time for the
// deferred recipients from `retry`, or kNeverDue when none is pending. A pending SOS
// recipient is due again no later than the end of its SOS lifetime (arrival +
// `sos_lifetime`, while that is still ahead), so that it fails then, not at the first
// retry after it: that round is an attempt like any other, whose jobs say sos_expired, and
// decide() ends the recipient from what the attempt finds.
void schedule_next(model::Envelope& envelope, std::int64_t now_us,
                   const std::vector<std::chrono::milliseconds>& retry,
                   std::chrono::milliseconds sos_lifetime);

}  // namespace secmx::delivery
