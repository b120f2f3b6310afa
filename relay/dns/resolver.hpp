// resolver.hpp - AresResolver: c-ares driven by a libuv loop, with a TTL cache.
//
// Thread affinity: one AresResolver per libuv loop; create it, call it and destroy it on
// that loop's thread only. Nothing blocks: c-ares sockets are watched with uv_poll_t
// handles (one per socket, opened and closed as c-ares reports them) and its retransmit
// timeouts run on a uv_timer_t. There is no thread per lookup.
//
// Callbacks: exactly once per lookup, on the loop thread, always from a later loop turn
// (never from inside lookup_*()); the answer is a value the callback may keep. Several
// lookups of the same name and type while one is on the wire share that query. Answers
// Ok, NxDomain and NoData are cached per (type, name), `secure` flag included, for their
// TTL, clamped to [min_ttl, max_ttl] (negative answers: RFC 2308 SOA TTL, else
// negative_ttl, at most max_negative_ttl); Temporary answers are never cached.
//
// Destruction: pending callbacks are dropped (never called; c-ares's ARES_EDESTRUCTION
// is swallowed), the uv handles are closed and freed in their close callbacks - so the
// loop must run once more afterwards before uv_loop_close(). Destroying the resolver
// from inside one of its own callbacks is allowed; the remaining ones are dropped.
//
// Failure: create() fails (a reason string) when c-ares cannot be initialised or the
// server list is rejected; every later failure is a Temporary answer.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/config/config.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

struct ResolverOptions {
  std::vector<config::Endpoint> servers;  // empty: the system's /etc/resolv.conf
  // A lookup ends, at the latest, after servers * timeout * (2^tries - 1): c-ares waits
  // `timeout` for each server in the first round and doubles it each further round. The
  // defaults give 6 s with one server (2 s + 4 s), like a stub resolver's.
  std::chrono::milliseconds timeout{2000};
  int tries = 2;                            // rounds over the server list
  std::size_t cache_size = 10000;           // entries; 0 disables the cache
  std::uint32_t min_ttl = 5;                // seconds
  std::uint32_t max_ttl = 3600;
  std::uint32_t negative_ttl = 60;          // NXDOMAIN/NODATA without an SOA
  std::uint32_t max_negative_ttl = 300;
  // [dns] dnssec: queries carry the DO and AD bits and each answer's `secure` is the
  // reply's AD bit (dns_query.hpp). Off: ares_query() as ever, `secure` always false.
  bool dnssec = false;

  static ResolverOptions from_config(const config::Config& cfg);  // servers, dnssec
};

struct ResolverStats {
  std::uint64_t queries = 0;     // handed to c-ares (went to the network)
  std::uint64_t cache_hits = 0;  // answered from the cache
  std::uint64_t coalesced = 0;   // joined a query already on the wire
  std::uint64_t temporary = 0;   // temporary failures answered
};

class AresResolver final : public Resolver {
 public:
  static Result<std::unique_ptr<AresResolver>, std::string> create(uv_loop_t* loop,
                                                                   ResolverOptions options);
  ~AresResolver() override;
  AresResolver(const AresResolver&) = delete;
  AresResolver& operator=(const AresResolver&) = delete;

  void lookup_srv(std::string name, std::function<void(SrvAnswer)> cb) override;
  void lookup_mx(std::string name, std::function<void(MxAnswer)> cb) override;
  void lookup_a(std::string name, std::function<void(AddressAnswer)> cb) override;
  void lookup_aaaa(std::string name, std::function<void(AddressAnswer)> cb) override;
  void lookup_tlsa(std::string name, std::function<void(TlsaAnswer)> cb) override;
  void lookup_txt(std::string name, std::function<void(TxtAnswer)> cb) override;
  void post(std::function<void()> fn) override;

  const ResolverStats& stats() const;
  std::size_t cache_entries() const;
  void clear_cache();

  struct Impl;

 private:
  explicit AresResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace secmx::dns
