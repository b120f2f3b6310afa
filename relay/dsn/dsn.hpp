// dsn.hpp - delivery status notifications (RFC 3461/3464, RFC 6533): who gets one, and
// the message itself.
//
// Pure functions of their arguments (plus a log line when a bounce is dropped); any
// thread. recipients_to_report() decides which recipients an event concerns (NOTIFY, the
// <> rule); build() writes the one DSN for one message and one event, ready to queue in
// the same store transaction that makes its recipients final. Loop safety: mail from <>
// only ever gets a failure report, and that goes to the configured postmaster with
// NOTIFY=NEVER (so a bounce of it is dropped), or nowhere. See docs/dsn.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.hpp"
#include "relay/config/config.hpp"
#include "relay/model/envelope.hpp"

namespace secmx::dsn {

enum class Event { Failure, Delay, Delivered, Relayed };
const char* to_string(Event e);  // the RFC 3464 Action: "failed", "delayed", ...

// Which recipients of `env` this event should report: those of `candidates` (indices
// into env.recipients whose outcome is this event) whose NOTIFY asks for it. NOTIFY unset
// means FAILURE, plus DELAY when `delay_by_default`; NEVER means nothing. A message from
// <> is reported on failure only (build() sends that to the postmaster or drops it).
// Result in candidate order, without duplicates or out-of-range indices.
std::vector<std::size_t> recipients_to_report(const model::Envelope& env, Event event,
                                              const std::vector<std::size_t>& candidates,
                                              bool delay_by_default);

struct RcptReport {
  std::size_t index = 0;                 // into env.recipients
  std::string status;                    // "5.7.10"; normalised to the event's class
  std::string diagnostic;                // "smtp; 550 ..." or our words
  std::string remote_mta;                // "mx1.example.org[192.0.2.5]:25"; "" if none
  std::int64_t last_attempt_us = 0;      // 0: not written
  std::int64_t will_retry_until_us = 0;  // Delay only; 0: not written
};

struct Options {
  std::string reporting_mta;  // our hostname
  std::size_t return_size_limit = 100 * 1024;
  model::Ret sos_ret = model::Ret::Hdrs;
  std::string postmaster;  // "" = drop undeliverable bounces
  // Not used by build(): the scheduler's delay rule. 0 = no delay DSNs at all; otherwise
  // one once a message has waited this long, with recipients_to_report(..., true).
  std::chrono::milliseconds delay_warning = std::chrono::hours(4);
  static Options from_config(const config::Config& cfg);
};

// The DSN as a message for the queue. envelope.id is left {} for the caller to assign
// from its IdGenerator (nothing in the body depends on it); envelope.arrival_us = now_us.
// Envelope: sender <>, one recipient (the original sender, or the postmaster for mail
// from <>), policy SOS with the strictest TLS level when any reported recipient was SOS
// or HOLD or the message had REQUIRETLS (which is kept too), BES otherwise.
struct Built {
  queue::NewMessage message;
};

// nullopt when nothing should be sent: no valid report left (bad indices, NOTIFY=NEVER),
// or the original is from <> and the event is not a failure or no postmaster is set
// (logged). `original_body` is the stored message (CRLF lines, Received: included).
std::optional<Built> build(const model::Envelope& original, std::string_view original_body,
                           Event event, const std::vector<RcptReport>& reports,
                           const Options& options, std::int64_t now_us);

}  // namespace secmx::dsn
