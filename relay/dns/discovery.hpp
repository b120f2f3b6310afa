// discovery.hpp - the async half of discovery: run the lookups for a domain, in parallel,
// and call back once with the ordered candidates (rules in candidates.hpp).
//
// Phase 1 asks, at once: MX D, SRV _secmx._tcp.D (method "srv"), A and AAAA secmx.D
// (method "name"). Phase 2 asks A and AAAA of every candidate host not yet known, all at
// once. With [dns] dnssec, phase 3 asks TLSA for every candidate DANE applies to, all at
// once, one lookup per name (tlsa_select.hpp; a second round for a CNAME'd host whose
// expanded name has none), and fills Candidate::tlsa. A [[route]] or an address literal
// skips phase 1 (and a literal skips phases 2 and 3).
// Each lookup is bounded by the resolver's timeout, so a discovery always ends.
//
// Thread affinity: the loop thread of the Resolver it uses; the Resolver must outlive it.
// The callback is called exactly once, on that thread, never from inside discover().
// Destroying the Discovery abandons the discoveries in flight: their callbacks are never
// called (and destroying the Resolver drops them too). Safe to destroy from a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "relay/dns/candidates.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

class Discovery {
 public:
  using Callback = std::function<void(DiscoveryResult)>;

  // seed: for SRV weights and MX ties; tests pass a fixed one.
  Discovery(Resolver& resolver, DiscoveryOptions options,
            std::uint64_t seed = std::random_device{}());
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  void discover(std::string domain, Callback cb);
  const DiscoveryOptions& options() const;
  // After a reload (routes, methods): used by discoveries from their next step on.
  void set_options(DiscoveryOptions options);

  struct Shared;
  struct Job;

 private:
  Resolver& resolver_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace secmx::dns
