// candidates.hpp - who receives mail for a domain: the pure half of discovery (DESIGN §3).
//
// No I/O and no clock: every function maps lookup answers (and an injected random
// generator, for RFC 2782 weights and MX ties) to values, so each rule is unit-tested
// without DNS. The async driver (discovery.hpp) runs the lookups and calls these.
// Thread-agnostic; results are plain values.
//
// Order of candidates: SecMX first - SRV _secmx._tcp.D (RFC 2782 order), MX hosts of
// preference 51966, the host secmx.D - then ordinary MX hosts by preference (random among
// equals), or D itself when D has no MX at all (implicit MX). A [[route]] for D replaces
// all of it. A host:port met twice is kept at its first place; an address:port met twice
// is tried only at its first place; a candidate without any address is dropped (traced).
//
// Verdicts: any candidate -> Ok (possibly "incomplete", see DiscoveryResult). None:
// NXDOMAIN for D -> permanent 5.1.2; else a temporary DNS failure on the way -> temporary
// 4.4.3; else null MX -> permanent 5.1.10; else (names without addresses) permanent 5.4.4;
// a route whose host has no address -> temporary 4.4.4 (operator's config, fix and flush).
//
// DNSSEC ([dns] dnssec, DiscoveryOptions::dnssec): each candidate says whether its name and
// its addresses came from secure answers (Answer::secure) - the SRV or MX answer that
// listed it (for the implicit MX: the secure denial of any MX), the A/AAAA answers its
// addresses came from. A name not taken from DNS (secmx.D, a route's host) and addresses
// not taken from DNS (literals) count as secure. With dnssec off every flag is false.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

enum class Method { Route, Srv, Mx51966, Name, Mx, Implicit };
const char* to_string(Method m);  // "route", "srv", "mx51966", "name", "mx", "implicit"
bool is_secmx(Method m);          // Srv, Mx51966, Name

// DANE (RFC 7672) for one host: what its TLSA RRset at _PORT._tcp.HOST said.
enum class TlsaStatus {
  NotAsked,      // dnssec off, or the host's name or addresses are not secure: no DANE
  None,          // a secure denial, or an insecure answer: DANE does not apply to the host
  Usable,        // secure records, some usable for SMTP: TLS and a matching certificate
  UnusableOnly,  // secure records, none usable (PKIX-TA/EE, unknown parameters): encrypt
  Failed,        // the lookup failed (timeout, SERVFAIL = bogus) for a secure name: the host
                 // is skipped as temporarily failed (RFC 7672 §2.1.1)
};
const char* to_string(TlsaStatus s);  // "not-asked", "none", "usable", "unusable", "failed"

struct HostTlsa {
  TlsaStatus status = TlsaStatus::NotAsked;
  std::vector<TlsaRecord> records;  // Usable: the usable records only (usage 2 or 3)
  // The TLSA base domain (RFC 7672 §2.2.2): the host name the records were found under,
  // the CNAME-expanded name when that is where they were. DANE-TA checks names against it
  // and the MX host name.
  std::string base;
  std::string detail;  // Failed: why, for the host record and the log
};

struct Candidate {
  std::string host;                  // target name (lower case, no dot) or address literal
  std::vector<IpAddress> addresses;  // in the order to try: IPv4 first, then IPv6
  std::uint16_t port = 25;
  Method method = Method::Mx;
  int preference = 0;  // SRV priority or MX preference; 0 for the others
  bool name_secure = false;       // DNSSEC: the host name is authenticated (see above)
  bool addresses_secure = false;  // DNSSEC: every A/AAAA answer used for it was secure
  HostTlsa tlsa;                  // DANE: looked up when name and addresses are secure
  bool secmx() const { return is_secmx(method); }
  std::string to_string() const;  // "srv sor.example.net:2525 [127.0.0.10]"
};

enum class DiscoveryStatus { Ok, Temporary, Permanent };
const char* to_string(DiscoveryStatus s);  // "ok", "temporary", "permanent"

struct DiscoveryResult {
  std::string domain;  // as looked up: lower case, no trailing dot
  DiscoveryStatus status = DiscoveryStatus::Temporary;
  std::string enhanced_code;  // "" with Ok; else "4.4.3", "4.4.4", "5.1.2", "5.1.10", "5.4.4"
  std::string reason;         // one line for logs and DSN text
  std::vector<Candidate> candidates;  // Ok only; never empty then
  // A SecMX lookup (SRV, MX for 51966, secmx.D, a SecMX target's addresses) failed
  // temporarily: a SecMX receiver may exist that is not listed. An SOS delivery that
  // finds no TLS receiver among the candidates should defer rather than fail 5.7.10.
  bool secmx_incomplete = false;
  // The same for ordinary receivers (MX lookup or an MX host's addresses).
  bool mx_incomplete = false;
  std::optional<model::TlsLevel> route_tls;  // a [[route]] decided and set `tls`
  bool route_trusted = false;  // a [[route]] decided and is `trusted` (config.hpp)
  bool dnssec = false;  // looked up with DNSSEC: the candidates' secure flags mean something
  std::vector<std::string> trace;             // what was looked up and found, in order

  bool ok() const { return status == DiscoveryStatus::Ok; }
  bool complete() const { return !secmx_incomplete && !mx_incomplete; }
  std::string trace_text() const;  // trace lines joined with "; "
};

struct DiscoveryOptions {
  bool srv = true;      // policy.discovery "srv"
  bool mx51966 = true;  // "mx51966"; off: such MX hosts are ordinary MX hosts
  bool name = true;     // "name"
  std::uint16_t port = 25;            // delivery.port: MX, secmx.D and implicit targets
  std::vector<config::Route> routes;  // [[route]]
  std::size_t max_hosts = 16;         // candidates kept (and resolved) per domain
  bool dnssec = false;                // [dns] dnssec: the answers carry a secure flag

  static DiscoveryOptions from_config(const config::Config& cfg);
};

using Rng = std::mt19937_64;

// RFC 2782: priority ascending; within a priority a weighted random order (weight-0
// records first in the running sum, so they are picked rarely but not never).
std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, Rng& rng);
// Preference ascending, random order among equal preferences.
std::vector<MxRecord> order_mx(std::vector<MxRecord> records, Rng& rng);

std::string srv_name(std::string_view domain);    // "_secmx._tcp.D"
std::string secmx_name(std::string_view domain);  // "secmx.D"

// What phase 1 of discovery asked about D. nullopt: not asked (method off).
struct DomainAnswers {
  std::optional<SrvAnswer> srv;
  std::optional<MxAnswer> mx;  // nullopt counts as a temporary failure
};

struct HostAddresses {
  AddressAnswer a;
  AddressAnswer aaaa;
};
using AddressMap = std::map<std::string, HostAddresses>;  // by normalized host name

// Candidates in order without addresses yet, plus what to say if none survive.
struct Plan {
  DiscoveryResult result;          // domain, trace and flags so far; final if done
  bool done = false;               // result is final: nothing to resolve
  std::vector<Candidate> pending;  // ordered, addresses still empty
  DiscoveryStatus empty_status = DiscoveryStatus::Permanent;
  std::string empty_code = "5.4.4";
  std::string empty_reason;
  bool nxdomain = false;  // D does not exist: no "temporary" can rescue it

  // Pending hosts whose addresses are not in `known` yet (each once, in order).
  std::vector<std::string> hosts_to_resolve(const AddressMap& known) const;
};

// Before DNS: syntax of D, address literals ("[127.0.0.1]", "[IPv6:::1]") and [[route]]s.
// nullopt: D needs discovery (phase 1 below). Otherwise a plan that is done, or whose one
// pending candidate is the route's host name (resolve it, then finish()).
std::optional<Plan> plan_static(const DiscoveryOptions& opts, std::string_view domain);

// Phase 1 answers -> ordered pending candidates. The SecMX name (secmx.D) is a pending
// candidate whose addresses the caller looks up along with phase 1.
Plan plan_discovery(const DiscoveryOptions& opts, std::string_view domain,
                    const DomainAnswers& answers, Rng& rng);

// Phase 2: attach addresses, drop the unusable, decide the status. A pending host missing
// from `addresses` counts as a temporary failure.
DiscoveryResult finish(Plan plan, const AddressMap& addresses);

// plan_static, else plan_discovery, then finish: all of it over given answers.
DiscoveryResult build_candidates(const DiscoveryOptions& opts, std::string_view domain,
                                 const DomainAnswers& answers, const AddressMap& addresses,
                                 Rng& rng);

}  // namespace secmx::dns
