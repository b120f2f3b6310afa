// dns_wire.hpp - test helper: builds DNS messages byte by byte, for the parser tests and
// for the fake server that the resolver tests run on their loop.
//
// Names are written uncompressed unless a test adds a pointer itself; nothing here is
// validated (tests also build malformed messages on purpose). Header-only, test use only.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace secmx::dns::wire {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kA = 1, kCname = 5, kSoa = 6, kMx = 15, kAaaa = 28, kSrv = 33,
                        kOpt = 41, kRrsig = 46, kTlsa = 52;
constexpr std::uint16_t kNoError = 0, kServFail = 2, kNxDomain = 3, kRefused = 5;

inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

inline void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v & 0xFFFF));
}

// "a.b.c" or "" / "." (the root) in uncompressed wire form.
inline Bytes name(std::string_view n) {
  Bytes b;
  if (n.ends_with('.')) n.remove_suffix(1);
  while (!n.empty()) {
    auto dot = n.find('.');
    std::string_view label = n.substr(0, dot);
    b.push_back(static_cast<std::uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    n.remove_prefix(dot + 1);
  }
  b.push_back(0);
  return b;
}

inline Bytes rdata_a(const char* ip) {
  Bytes b(4);
  inet_pton(AF_INET, ip, b.data());
  return b;
}

inline Bytes rdata_aaaa(const char* ip) {
  Bytes b(16);
  inet_pton(AF_INET6, ip, b.data());
  return b;
}

inline Bytes rdata_mx(std::uint16_t pref, std::string_view host) {
  Bytes b;
  put16(b, pref);
  Bytes n = name(host);
  b.insert(b.end(), n.begin(), n.end());
  return b;
}

inline Bytes rdata_srv(std::uint16_t prio, std::uint16_t weight, std::uint16_t port,
                       std::string_view target) {
  Bytes b;
  put16(b, prio);
  put16(b, weight);
  put16(b, port);
  Bytes n = name(target);
  b.insert(b.end(), n.begin(), n.end());
  return b;
}

inline Bytes rdata_soa(std::uint32_t minimum) {
  Bytes b = name("ns.test");
  Bytes r = name("hostmaster.test");
  b.insert(b.end(), r.begin(), r.end());
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u}) put32(b, v);
  put32(b, minimum);
  return b;
}

inline Bytes rdata_name(std::string_view target) { return name(target); }

inline Bytes rdata_tlsa(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching,
                        Bytes data) {
  Bytes b{usage, selector, matching};
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

struct Rr {
  std::string owner;
  std::uint16_t type;
  std::uint32_t ttl;
  Bytes rdata;
};

struct Message {
  std::uint16_t id = 0x1234;
  std::uint16_t rcode = kNoError;
  bool ad = false;  // the AD bit: a validating resolver found the data secure
  std::string qname;
  std::uint16_t qtype = kA;
  std::vector<Rr> answers;
  std::vector<Rr> authority;

  Bytes encode() const {
    Bytes b;
    put16(b, id);
    put16(b, static_cast<std::uint16_t>(0x8180 | (ad ? 0x20 : 0) | (rcode & 0xF)));  // QR RD RA
    put16(b, 1);
    put16(b, static_cast<std::uint16_t>(answers.size()));
    put16(b, static_cast<std::uint16_t>(authority.size()));
    put16(b, 0);
    Bytes q = name(qname);
    b.insert(b.end(), q.begin(), q.end());
    put16(b, qtype);
    put16(b, 1);
    for (const auto* section : {&answers, &authority}) {
      for (const Rr& rr : *section) {
        Bytes o = name(rr.owner);
        b.insert(b.end(), o.begin(), o.end());
        put16(b, rr.type);
        put16(b, 1);
        put32(b, rr.ttl);
        put16(b, static_cast<std::uint16_t>(rr.rdata.size()));
        b.insert(b.end(), rr.rdata.begin(), rr.rdata.end());
      }
    }
    return b;
  }
};

// The DNSSEC bits a query carries: AD in the header, DO in an OPT RR at its end (where
// c-ares puts it). false/false for anything too short.
struct QueryBits {
  bool ad = false;
  bool opt = false;  // an OPT RR is there at all (EDNS0)
  bool do_bit = false;
};
inline QueryBits query_bits(const std::uint8_t* p, std::size_t len) {
  QueryBits q;
  if (len < 12) return q;
  q.ad = (p[3] & 0x20) != 0;
  std::uint16_t arcount = static_cast<std::uint16_t>((p[10] << 8) | p[11]);
  if (arcount == 1 && len >= 12 + 11 && p[len - 11] == 0 &&
      ((p[len - 10] << 8) | p[len - 9]) == kOpt) {
    q.opt = true;
    q.do_bit = (p[len - 4] & 0x80) != 0;
  }
  return q;
}

// The id, QNAME (lower case, dotted, no trailing dot) and QTYPE of a query; false when
// the bytes are not one.
inline bool parse_query(const std::uint8_t* p, std::size_t len, std::uint16_t& id,
                        std::string& qname, std::uint16_t& qtype) {
  if (len < 12) return false;
  id = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
  std::size_t pos = 12;
  qname.clear();
  while (pos < len && p[pos] != 0) {
    std::size_t l = p[pos];
    if (l > 63 || pos + 1 + l > len) return false;
    if (!qname.empty()) qname += '.';
    for (std::size_t i = 0; i < l; ++i) {
      char c = static_cast<char>(p[pos + 1 + i]);
      qname += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    pos += 1 + l;
  }
  if (pos + 5 > len) return false;
  qtype = static_cast<std::uint16_t>((p[pos + 1] << 8) | p[pos + 2]);
  return true;
}

}  // namespace secmx::dns::wire
