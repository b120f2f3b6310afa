// dns_answer.hpp - what c-ares hands a query callback, turned into a typed Answer.
//
// The pure half of AresResolver (resolver.cpp): given the status c-ares reported for a
// query and the raw reply, run c-ares's own record parser for the type asked
// (ares_parse_srv_reply, _mx_, _a_, _aaaa_; our own walk for TLSA), read the TTLs
// (dns_message.hpp) and clamp them. The reply is untrusted bytes: a malformed one is a
// Temporary answer, never a crash. No I/O, no state, no logging; thread-agnostic. Exposed
// on its own so that the fuzz target and unit tests can drive exactly the code the
// resolver runs.
//
// Results: Ok with at least one record and a TTL in [min_ttl, max_ttl]; NoData/NxDomain
// with a TTL in [min_ttl, max(min_ttl, max_negative_ttl)] (the reply's SOA, else
// negative_ttl); Temporary with an error text and TTL 0.
#pragma once

#include <cstdint>

#include "relay/dns/dns_message.hpp"
#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

// How long answers may be cached, in seconds (ResolverOptions holds the configured ones).
struct TtlLimits {
  std::uint32_t min_ttl = 5;
  std::uint32_t max_ttl = 3600;
  std::uint32_t negative_ttl = 60;  // NXDOMAIN/NODATA without an SOA
  std::uint32_t max_negative_ttl = 300;
};

// Addresses beyond this many in one A/AAAA answer are ignored.
inline constexpr int kMaxAnswerAddresses = 64;

// status: the ARES_* status of the query callback; abuf/alen: its reply (may be null/0).
SrvAnswer srv_answer(const TtlLimits& limits, int status, const unsigned char* abuf, int alen);
MxAnswer mx_answer(const TtlLimits& limits, int status, const unsigned char* abuf, int alen);
// family: AF_INET (parse as an A reply) or AF_INET6 (AAAA). An Ok answer reached through
// CNAMEs carries the chain's last name in `canonical` (read with ares_expand_name, since
// c-ares 1.18's hostent names only the first CNAME's target).
AddressAnswer address_answer(const TtlLimits& limits, int family, int status,
                             const unsigned char* abuf, int alen);
// TLSA (RFC 6698): parsed by dns_message.hpp's walk, c-ares having no parser for it.
TlsaAnswer tlsa_answer(const TtlLimits& limits, int status, const unsigned char* abuf, int alen);
// TXT: ares_parse_txt_ext, its chunks regrouped into records by their record_start flag.
TxtAnswer txt_answer(const TtlLimits& limits, int status, const unsigned char* abuf, int alen);

// With [dns] dnssec: an answer is secure when the reply had the AD bit and the answer is
// not Temporary (a SERVFAIL - bogus data from a validating resolver - never is). Call it
// only for queries that asked for DNSSEC; the AD bit of any other reply means nothing.
template <class R>
void mark_secure(Answer<R>& a, const unsigned char* abuf, int alen) {
  a.secure = a.status != LookupStatus::Temporary && abuf && alen > 0 &&
             authenticated_data(abuf, static_cast<std::size_t>(alen));
}

}  // namespace secmx::dns
