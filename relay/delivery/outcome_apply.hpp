// outcome_apply.hpp - applying a worker's answer to the scheduler's copy of an envelope.
//
// Pure; any thread (the scheduler calls them on its loop, on the working copy it owns while
// the message is in flight). The verdicts themselves are decided elsewhere (outcome.hpp);
// these only record them: recipient states, counters, the last status, and when the
// message is next due. The one verdict made here is the end of the SOS lifetime, which
// needs no attempt (sos_expiry()).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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
// retry after it.
void schedule_next(model::Envelope& envelope, std::int64_t now_us,
                   const std::vector<std::chrono::milliseconds>& retry,
                   std::chrono::milliseconds sos_lifetime);

// What becomes of a pending SOS recipient once its SOS lifetime is over, decided from its
// last attempt, without another one: deferred for want of a receiver that takes it over
// TLS (4.7.10) it fails 5.7.10; for want of one authenticated as the receiver's DANE or
// MTA-STS policy requires (4.7.5) it fails 5.7.5; each keeps the hosts its last attempt
// tried, in the words an attempt would have used (decide.hpp exhausted()). nullopt for
// anyone else (not SOS, not pending, never tried, deferred for another reason such as a
// DNS failure): an attempt decides for them.
std::optional<RcptOutcome> sos_expiry(const model::Recipient& recipient);

// sos_expiry() applied to the recipients `indices` of `envelope` (those it gives no outcome
// are left alone): state, status and reply; the last attempt's evidence is kept.
void expire_sos(model::Envelope& envelope, const std::vector<std::size_t>& indices);

}  // namespace secmx::delivery
