// tlsa_select.hpp - DANE for SMTP (RFC 7672 §2.1-§2.2, DESIGN §10): which TLSA lookups the
// candidates of a discovery need, and what the answers make of each (Candidate::tlsa).
//
// Pure functions over values, no I/O: the async driver (discovery.cpp) asks
// tlsa_lookups() for the names still to look up, runs them, and asks again until nothing
// is left (a CNAME'd host may need a second round), then calls apply_tlsa(). Thread-
// agnostic. The answers are kept by query name, so candidates that share a TLSA name share
// its one lookup.
//
// Who is asked: with DNSSEC on, every candidate whose name and addresses came from secure
// answers (name_secure, addresses_secure), an address literal never (no name to look up).
// Where: _PORT._tcp.HOST; when the host's A/AAAA answer (secure, so every link was) came
// through CNAMEs, first _PORT._tcp.<last name of the chain>, and only after a secure "no
// records" there _PORT._tcp.HOST (§2.2.2). An insecure or failed answer at the expanded
// name decides, as at the host's own name.
//
// What it makes of the answer (HostTlsa): secure records -> Usable with the usable ones,
// UnusableOnly when none is usable; a secure NoData/NxDomain or an insecure answer -> None;
// Temporary (timeout, SERVFAIL = bogus) -> Failed with the reason; not asked -> NotAsked.
// `base` is the name the deciding answer was for (the expanded name or the host).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "relay/dns/candidates.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

// "_25._tcp.mx.d.test"
std::string tlsa_name(std::uint16_t port, std::string_view host);

// Usable for SMTP (RFC 7672 §3.1): usage DANE-TA(2) or DANE-EE(3), selector 0 or 1,
// matching type 0 (data not empty), 1 (32 octets) or 2 (64 octets).
bool usable_for_smtp(const TlsaRecord& r);

// One TLSA answer for `qname` as a HostTlsa with the given base.
HostTlsa select_tlsa(const TlsaAnswer& a, std::string_view qname, std::string base);

// Whether DANE is looked up for the candidate at all, and why not ("" when it is).
std::string dane_skip_reason(const Candidate& c, bool dnssec);

// The last name of the CNAME chain the host's addresses came through ("" without one):
// the A answer's, else the AAAA answer's.
std::string canonical_name(const HostAddresses& h);

using TlsaAnswers = std::map<std::string, TlsaAnswer>;  // by query name

// The TLSA names not in `answers` that the result's candidates need next, each once, in
// candidate order. Empty: every candidate is decided (or DNSSEC is off, or not ok).
std::vector<std::string> tlsa_lookups(const DiscoveryResult& r, const AddressMap& addresses,
                                      const TlsaAnswers& answers);

// Fills every candidate's `tlsa` and adds trace lines ("TLSA _25._tcp.mx.d.test: ok
// ttl=300 secure: 1 usable"; "mx mx.d.test:25 tlsa: usable (1 record) at mx.d.test").
// A name still missing from `answers` counts as a failed lookup.
void apply_tlsa(DiscoveryResult& r, const AddressMap& addresses, const TlsaAnswers& answers);

// "3 1 1 0a1b..." (lower-case hex), as in zone files.
std::string to_string(const TlsaRecord& r);

}  // namespace secmx::dns
