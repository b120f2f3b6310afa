// sts_source.hpp - a recipient domain's MTA-STS policy for delivery (RFC 8461 §3-§5):
// the _mta-sts TXT record, the cached policy, the fetch when the id is new, and the
// background refresh.
//
// One StsSource per delivery loop, over that loop's Resolver and fetch function and the
// one StsCache all loops share. policy_for(D):
//   - TXT v=STSv1 with the id of D's cached unexpired policy: that policy (from_cache);
//   - TXT with another id, or no cached policy: fetch; success replaces the cached policy
//     (durably) under the new id; failure keeps the cached unexpired policy in force and
//     says why (failure, detail), or, with none cached, answers no policy with the failure;
//   - no usable TXT (none, several, invalid, or the lookup failed): the cached unexpired
//     policy stays in force (§5.1: the record's absence alone does not remove a policy);
//     with none cached, no policy.
// A cached policy past its max_age is dropped when met. Mode none is cached like any
// other: the domain says "no policy" until max_age. Requests for a domain while one is
// under way (TXT or fetch) join it: one lookup, one fetch, every caller the same answer.
//
// refresh(D) does the same but fetches even when the id is unchanged (the operator's
// "fetch now"). refresh_round() is the background refresh: for the cached domains this
// loop owns, a bounded number per call, round-robin, it re-checks the TXT (a new id
// fetches) and fetches anew when less than a quarter of max_age (or two rounds) is left.
//
// Thread affinity: the loop's thread; callbacks run there, always from a later loop turn
// (from the resolver's or the fetch's callback), never inside the call. Destruction drops
// the callbacks still pending. The Resolver and the fetch function must outlive the source.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/dns/dns_types.hpp"
#include "relay/sts/sts_cache.hpp"
#include "relay/sts/sts_fetch.hpp"
#include "relay/sts/sts_state.hpp"

namespace spdlog {
class logger;
}

namespace secmx::sts {

class StsSource {
 public:
  using Callback = std::function<void(StsState)>;
  using Clock = std::function<std::int64_t()>;  // Unix microseconds

  StsSource(dns::Resolver& resolver, StsCache& cache, FetchFn fetch, Clock now = {});
  ~StsSource();
  StsSource(const StsSource&) = delete;
  StsSource& operator=(const StsSource&) = delete;

  void policy_for(const std::string& domain, Callback cb);
  void refresh(const std::string& domain, Callback cb);

  // Starts at most `limit` re-checks among the cached domains for which `mine` is true,
  // continuing after the last domain the previous round reached. `interval`: how often
  // rounds come, so that a policy is refetched before a round would find it expired.
  // Returns how many it started.
  std::size_t refresh_round(const std::function<bool(const std::string&)>& mine,
                            std::size_t limit, std::chrono::seconds interval);

  std::size_t lookups() const { return lookups_; }  // TXT lookups started (tests, stats)
  std::size_t fetches() const { return fetches_; }  // fetches started

 private:
  struct Pending {
    std::vector<Callback> waiters;
    bool force = false;
  };
  void start(const std::string& domain, bool force, Callback cb);
  void on_txt(const std::string& domain, const dns::TxtAnswer& answer);
  void on_fetched(const std::string& domain, const std::string& id, FetchResult result);
  void finish(const std::string& domain, const StsState& state);
  std::optional<CachedPolicy> cached_unexpired(const std::string& domain, std::int64_t now);

  dns::Resolver& resolver_;
  StsCache& cache_;
  FetchFn fetch_;
  Clock now_;
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<std::string, Pending> pending_;
  std::string cursor_;  // the last domain refresh_round() reached
  std::size_t lookups_ = 0;
  std::size_t fetches_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// A StsState built from a cached policy (from_cache set).
StsState state_of(const CachedPolicy& cached);

}  // namespace secmx::sts
