// dead_destinations.hpp - a destination that refuses every connection is left alone for a
// while (after Postfix's qmgr "dead destination" throttling).
//
// When a partner is down, every message to it would otherwise cost a connection attempt
// each time it comes round: a flush of 100,000 deferred messages is 100,000 refused
// connections, on the same cores that accept new mail. After a cohort of attempts in a
// row that reached no host (as many as the destination may have in parallel), the
// destination is suspended for the first retry interval: its jobs are answered at once as
// deferred ("delivery temporarily suspended: " and the last failure), without connecting.
// When the interval ends, one probe attempt at a time goes out; the first attempt that
// reaches a host lifts the throttle, a failed probe suspends again.
//
// Whether an attempt reached a host is the attempt's to say, from what it saw itself
// (JobResult::reach, attempt.hpp: no host got through the greeting and EHLO -> no; one did,
// or took the mail -> yes; a failed lookup, or hosts left only for their TLS -> nothing). The
// answer to a suspended job is still decide()'s (Attempt with a suspension reason), so a
// message whose lifetime has passed bounces as it would after a real attempt.
//
// One instance per worker loop, owned and called on that loop's thread. Times are the
// loop's milliseconds (uv_now). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace secmx::delivery {

class DeadDestinations {
 public:
  // What the worker may do with a destination's jobs now.
  enum class Admit {
    Open,       // as many attempts as destination_concurrency allows
    Probe,      // the suspension ended: one attempt at a time until one reaches a host
    Suspended,  // answer its jobs without connecting (reason())
  };

  // cohort: attempts in a row that reached no host before the destination is suspended
  // (>= 1); suspend_ms: how long a suspension lasts.
  DeadDestinations(std::uint32_t cohort, std::uint64_t suspend_ms);

  // Settings from a reload; destinations already suspended keep their end time.
  void configure(std::uint32_t cohort, std::uint64_t suspend_ms);

  Admit admit(const std::string& domain, std::uint64_t now_ms) const;
  // The last failure of a suspended (or probing) destination, for the deferral's text.
  const std::string& reason(const std::string& domain) const;

  // The end of a real attempt (never one answered while suspended) that said whether it
  // reached a host (JobResult::reach; one that says nothing is not recorded). `reached`:
  // some host answered; otherwise `failure` is what the hosts showed. Returns true when
  // this call suspended the destination (the caller logs it once).
  bool record(const std::string& domain, bool reached, const std::string& failure,
              std::uint64_t now_ms);

  // Forgets destinations that have had no failure recorded for `idle_ms` (bounded memory
  // when many domains fail once and are never tried again).
  void sweep(std::uint64_t now_ms, std::uint64_t idle_ms);

  std::size_t size() const { return state_.size(); }

 private:
  struct State {
    std::uint32_t failures = 0;      // attempts in a row that reached no host
    std::uint64_t until_ms = 0;      // suspended while now < until_ms
    std::uint64_t last_ms = 0;       // last failure recorded
    std::string reason;              // the last failure
  };
  std::uint32_t cohort_;
  std::uint64_t suspend_ms_;
  std::unordered_map<std::string, State> state_;
};

}  // namespace secmx::delivery
