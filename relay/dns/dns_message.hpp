// dns_message.hpp - the little of a DNS reply that c-ares's parsers do not give us: TTLs,
// the AD bit and TLSA records.
//
// ares_parse_srv_reply / ares_parse_mx_reply return records without their TTL, and a
// negative answer's lifetime (RFC 2308: the SOA in the authority section) is not exposed
// at all; c-ares 1.18 has no TLSA parser and never reports the header's AD bit. These
// functions walk the raw reply (bounds-checked, compression pointers skipped, never
// followed). Pure functions over untrusted bytes: any malformation gives nullopt (or
// false), never a crash. Thread-agnostic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "relay/dns/dns_types.hpp"

namespace secmx::dns {

// RFC 4035 §3.2.3 / RFC 6840 §5.7: the AD ("authentic data") bit of the header - byte 3,
// 0x20. Only meaningful from a validating resolver that was asked for it over a trusted
// path; false for anything shorter than a header.
bool authenticated_data(const unsigned char* msg, std::size_t len);

// The answer section's TLSA records (type 52, class IN), in reply order; records of other
// types (CNAME, RRSIG) are skipped. nullopt: malformed, including a TLSA rdata shorter than
// its three fixed octets. An empty vector: the reply held no TLSA record.
std::optional<std::vector<TlsaRecord>> tlsa_records(const unsigned char* msg, std::size_t len);

// Smallest TTL among the answer section's records of `type` and CNAMEs (a chain is only
// as fresh as its shortest link). nullopt: malformed, or no such record.
std::optional<std::uint32_t> answer_ttl(const unsigned char* msg, std::size_t len,
                                        std::uint16_t type);

// RFC 2308 §5: min(SOA TTL, SOA MINIMUM) of the first SOA in the authority section.
// nullopt: malformed, or no SOA there.
std::optional<std::uint32_t> negative_ttl(const unsigned char* msg, std::size_t len);

}  // namespace secmx::dns
