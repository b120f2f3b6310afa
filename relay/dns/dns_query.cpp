// dns_query.cpp - a query with the DNSSEC bits, and ares_query()'s RCODE mapping.
#include "relay/dns/dns_query.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <sys/random.h>

#include <random>

namespace secmx::dns {
namespace {

constexpr std::size_t kHeader = 12;
constexpr unsigned char kAdBit = 0x20;  // header byte 3
constexpr unsigned char kDoBit = 0x80;  // high byte of the OPT RR's flags (RFC 3225)
// ares_create_query() ends the query with the OPT RR: root name (1), TYPE (2), CLASS = the
// payload size (2), TTL = extended RCODE, version, flags (4), RDLENGTH 0 (2).
constexpr std::size_t kOptSize = 11;
constexpr std::size_t kOptFlagsHigh = 7;  // offset of the flags' high byte in the OPT RR

std::uint16_t get16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

Result<std::vector<unsigned char>, int> build_query(const std::string& name, std::uint16_t type,
                                                    std::uint16_t id, const QueryFlags& flags) {
  unsigned char* buf = nullptr;
  int len = 0;
  int rc = ares_create_query(name.c_str(), ns_c_in, type, id, 1, &buf, &len, flags.edns_size);
  if (rc != ARES_SUCCESS) {
    if (buf) ares_free_string(buf);
    return fail(rc);
  }
  std::vector<unsigned char> q(buf, buf + len);
  ares_free_string(buf);
  if (flags.dnssec) {
    q[3] |= kAdBit;
    if (flags.edns_size) {
      // Where ares_create_query() put it; checked rather than assumed, since a query whose
      // DO bit silently went missing would just come back without AD.
      std::size_t opt = q.size() - kOptSize;
      if (q.size() < kHeader + kOptSize || get16(q.data() + 10) != 1 || q[opt] != 0 ||
          get16(q.data() + opt + 1) != ns_t_opt) {
        return fail(ARES_EBADQUERY);
      }
      q[opt + kOptFlagsHigh] |= kDoBit;
    }
  }
  return q;
}

int reply_status(int status, const unsigned char* abuf, int alen) {
  if (status != ARES_SUCCESS) return status;
  if (!abuf || alen < static_cast<int>(kHeader)) return ARES_EBADRESP;
  switch (abuf[3] & 0x0F) {
    case ns_r_noerror: return get16(abuf + 6) > 0 ? ARES_SUCCESS : ARES_ENODATA;
    case ns_r_formerr: return ARES_EFORMERR;
    case ns_r_servfail: return ARES_ESERVFAIL;
    case ns_r_nxdomain: return ARES_ENOTFOUND;
    case ns_r_notimpl: return ARES_ENOTIMP;
    case ns_r_refused: return ARES_EREFUSED;
    default: return ARES_SUCCESS;  // as ares_query(): the record parser has the last word
  }
}

std::uint16_t random_query_id() {
  std::uint16_t id = 0;
  if (getrandom(&id, sizeof id, 0) == static_cast<ssize_t>(sizeof id)) return id;
  return static_cast<std::uint16_t>(std::random_device{}());
}

}  // namespace secmx::dns
