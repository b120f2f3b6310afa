// dns_message.cpp - bounds-checked walk over a DNS reply: TTL fields, the AD bit, TLSA rdata.
#include "relay/dns/dns_message.hpp"

#include <algorithm>

namespace secmx::dns {
namespace {

constexpr std::size_t kHeader = 12;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::uint16_t kTypeTlsa = 52;
constexpr std::uint16_t kClassIn = 1;
constexpr unsigned char kAdBit = 0x20;  // in header byte 3: RA Z AD CD RCODE

std::uint16_t get16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
         (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}
// RFC 2181 §8: a TTL with the top bit set is read as zero.
std::uint32_t ttl_value(std::uint32_t raw) { return (raw & 0x80000000u) ? 0 : raw; }

// Advances pos past one (possibly compressed) name; false when it runs off the end.
bool skip_name(const unsigned char* msg, std::size_t len, std::size_t& pos) {
  for (int labels = 0; labels < 128; ++labels) {
    if (pos >= len) return false;
    unsigned char b = msg[pos];
    if (b == 0) {
      pos += 1;
      return true;
    }
    if ((b & 0xC0) == 0xC0) {  // pointer: the name ends here for our purposes
      if (pos + 2 > len) return false;
      pos += 2;
      return true;
    }
    if ((b & 0xC0) != 0) return false;  // reserved label types
    pos += 1 + b;
  }
  return false;
}

struct Rr {
  std::uint16_t type = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata = 0;  // offset of the rdata
  std::uint16_t rdlen = 0;
};

bool read_rr(const unsigned char* msg, std::size_t len, std::size_t& pos, Rr& rr) {
  if (!skip_name(msg, len, pos) || pos + 10 > len) return false;
  rr.type = get16(msg + pos);
  rr.rclass = get16(msg + pos + 2);
  rr.ttl = ttl_value(get32(msg + pos + 4));
  rr.rdlen = get16(msg + pos + 8);
  rr.rdata = pos + 10;
  if (rr.rdata + rr.rdlen > len) return false;
  pos = rr.rdata + rr.rdlen;
  return true;
}

// Positions pos at the first answer record; returns the section counts.
bool skip_question(const unsigned char* msg, std::size_t len, std::size_t& pos,
                   std::uint16_t& ancount, std::uint16_t& nscount) {
  if (!msg || len < kHeader) return false;
  std::uint16_t qdcount = get16(msg + 4);
  ancount = get16(msg + 6);
  nscount = get16(msg + 8);
  pos = kHeader;
  for (std::uint16_t i = 0; i < qdcount; ++i) {
    if (!skip_name(msg, len, pos) || pos + 4 > len) return false;
    pos += 4;
  }
  return true;
}

}  // namespace

bool authenticated_data(const unsigned char* msg, std::size_t len) {
  return msg && len >= kHeader && (msg[3] & kAdBit) != 0;
}

std::optional<std::vector<TlsaRecord>> tlsa_records(const unsigned char* msg, std::size_t len) {
  std::size_t pos = 0;
  std::uint16_t ancount = 0, nscount = 0;
  if (!skip_question(msg, len, pos, ancount, nscount)) return std::nullopt;
  std::vector<TlsaRecord> out;
  for (std::uint16_t i = 0; i < ancount; ++i) {
    Rr rr;
    if (!read_rr(msg, len, pos, rr)) return std::nullopt;
    if (rr.type != kTypeTlsa || rr.rclass != kClassIn) continue;
    if (rr.rdlen < 3) return std::nullopt;
    const unsigned char* p = msg + rr.rdata;
    out.push_back(TlsaRecord{p[0], p[1], p[2], std::vector<std::uint8_t>(p + 3, p + rr.rdlen)});
  }
  return out;
}

std::optional<std::uint32_t> answer_ttl(const unsigned char* msg, std::size_t len,
                                        std::uint16_t type) {
  std::size_t pos = 0;
  std::uint16_t ancount = 0, nscount = 0;
  if (!skip_question(msg, len, pos, ancount, nscount)) return std::nullopt;
  std::optional<std::uint32_t> best;
  for (std::uint16_t i = 0; i < ancount; ++i) {
    Rr rr;
    if (!read_rr(msg, len, pos, rr)) return std::nullopt;
    if (rr.type == type || rr.type == kTypeCname) {
      best = best ? std::min(*best, rr.ttl) : rr.ttl;
    }
  }
  return best;
}

std::optional<std::uint32_t> negative_ttl(const unsigned char* msg, std::size_t len) {
  std::size_t pos = 0;
  std::uint16_t ancount = 0, nscount = 0;
  if (!skip_question(msg, len, pos, ancount, nscount)) return std::nullopt;
  for (std::uint32_t i = 0; i < std::uint32_t{ancount} + nscount; ++i) {
    Rr rr;
    if (!read_rr(msg, len, pos, rr)) return std::nullopt;
    if (i < ancount || rr.type != kTypeSoa) continue;
    // MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM: MINIMUM is the last 4 bytes.
    std::size_t p = rr.rdata;
    std::size_t end = rr.rdata + rr.rdlen;
    if (!skip_name(msg, end, p) || !skip_name(msg, end, p) || p + 20 != end) {
      return std::nullopt;
    }
    return std::min(rr.ttl, ttl_value(get32(msg + end - 4)));
  }
  return std::nullopt;
}

}  // namespace secmx::dns
