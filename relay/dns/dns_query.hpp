// dns_query.hpp - the query AresResolver sends when it asks for DNSSEC status, and the
// status ares_query() would have given its reply.
//
// c-ares 1.18's ares_query() offers no way to set the DO bit (RFC 3225) or the AD bit in a
// query (RFC 6840 §5.7), and a validating resolver sets AD in its reply only when one of
// them is. So with [dns] dnssec the resolver builds the query itself with build_query() -
// the query ares_query() would send (ares_create_query(): RD set, an EDNS0 OPT RR of the
// given payload size), plus AD in the header and DO in the OPT RR - and hands it to
// ares_send(). ares_send() reports every reply it accepts as success, so reply_status()
// maps the reply's RCODE as ares_query() does. Without [dns] dnssec the resolver keeps
// calling ares_query(): nothing changes on the wire.
//
// Pure functions; thread-agnostic. The query id should be unpredictable (random_query_id()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/common/result.hpp"

namespace secmx::dns {

struct QueryFlags {
  std::uint16_t edns_size = 1232;  // 0: no OPT RR (and so no DO bit)
  bool dnssec = false;             // AD in the header, DO in the OPT RR
};

// The wire form of a query for `name` (as ares_query() takes it) and `type`, class IN.
// Error: the ARES_* status ares_create_query() gave (ARES_EBADNAME for a name it cannot
// encode).
Result<std::vector<unsigned char>, int> build_query(const std::string& name, std::uint16_t type,
                                                    std::uint16_t id, const QueryFlags& flags);

// The status ares_query() reports for a reply that ares_send() accepted with `status`:
// NOERROR with answers ARES_SUCCESS, NOERROR without ARES_ENODATA, NXDOMAIN ARES_ENOTFOUND,
// SERVFAIL ARES_ESERVFAIL, and so on. A status other than ARES_SUCCESS is returned as is.
int reply_status(int status, const unsigned char* abuf, int alen);

// 16 random bits from the kernel (getrandom), for query ids that an off-path attacker
// cannot guess.
std::uint16_t random_query_id();

}  // namespace secmx::dns
