// fuzz_dns_answer.cpp - libFuzzer target for DNS replies as the resolver reads them:
// relay/dns/dns_answer (c-ares's ares_parse_{srv,mx,a,aaaa}_reply plus our handling, our
// TLSA walk) and relay/dns/dns_message (the TTL walk, the AD bit).
//
// The input is one raw reply, given to all four record parsers under the c-ares statuses
// the resolver sees (success, no data, not found) and two sets of TTL limits.
// Invariants for every input: the answer's shape matches its status (Ok: records and a
// TTL within the limits; negative: no records, TTL within the negative limits;
// Temporary: an error text, TTL 0); names are normalised (lower case, no trailing dot);
// addresses are of the asked family, at most kMaxAnswerAddresses; record counts and name
// lengths are bounded by the reply's size; TTLs read have the top bit clear (RFC 2181 8).
// Differential, for replies a strict model reads completely (one question, answer names
// of letters, digits, '-' and '_' with backward compression pointers only, rdata that is
// exactly its fields): the records and the TTL are exactly the model's. Round trip: an Ok
// answer, written back as a fresh uncompressed reply, parses to the same records and TTL.
#include <ares.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "relay/dns/dns_answer.hpp"
#include "relay/dns/dns_message.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::dns;

namespace {

constexpr std::uint16_t kA = 1, kCname = 5, kMx = 15, kAaaa = 28, kSrv = 33, kIn = 1;

using Bytes = std::vector<unsigned char>;

std::uint16_t get16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t get32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::uint32_t ttl_value(std::uint32_t raw) { return (raw & 0x80000000u) ? 0 : raw; }

// ---- The strict model: a reply as a careful reader would take it, or nothing. ----

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
}

// A name at pos (lower-cased, dotted, "" for the root); pointers must go backwards, labels
// must be 1..63 plain bytes, the whole name at most 255 bytes on the wire. `end` bounds the
// bytes the name itself may use at pos (pointer targets may lie anywhere before).
bool model_name(const unsigned char* m, std::size_t end, std::size_t& pos, std::string& out) {
  out.clear();
  std::size_t p = pos, wire = 0, limit = end;
  bool jumped = false;
  while (true) {
    if (p >= limit) return false;
    unsigned char b = m[p];
    if (b == 0) {
      if (!jumped) pos = p + 1;
      return wire + 1 <= 255;
    }
    if ((b & 0xC0) == 0xC0) {
      if (p + 2 > limit) return false;
      std::size_t target = static_cast<std::size_t>(get16(m + p) & 0x3FFF);
      if (target >= p) return false;  // forward or self: not what a compressor writes
      if (!jumped) pos = p + 2;
      jumped = true;
      limit = p;  // later jumps only further back: no loops
      p = target;
      continue;
    }
    if (b == 0 || b > 63 || p + 1 + b > limit) return false;
    if (!out.empty()) out += '.';
    for (std::size_t i = 0; i < b; ++i) {
      unsigned char c = m[p + 1 + i];
      if (!plain(c)) return false;
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    wire += 1 + b;
    p += 1 + b;
  }
}

struct ModelRr {
  std::string owner;
  std::uint16_t type = 0, cls = 0;
  std::uint32_t ttl_raw = 0;
  std::size_t rdata = 0, rdlen = 0;
  std::string target;          // MX/SRV/CNAME rdata name
  std::uint16_t a = 0, b = 0, c = 0;  // MX preference; SRV priority, weight, port
  std::array<std::uint8_t, 16> addr{};  // A/AAAA rdata
};

struct Model {
  std::string qname;
  std::vector<ModelRr> answers;
};

std::optional<Model> model_read(const unsigned char* m, std::size_t len) {
  if (len < 12 || get16(m + 4) != 1) return std::nullopt;
  Model md;
  std::size_t pos = 12;
  if (!model_name(m, len, pos, md.qname) || pos + 4 > len) return std::nullopt;
  pos += 4;
  for (std::uint16_t i = 0; i < get16(m + 6); ++i) {
    ModelRr rr;
    if (!model_name(m, len, pos, rr.owner) || pos + 10 > len) return std::nullopt;
    rr.type = get16(m + pos);
    rr.cls = get16(m + pos + 2);
    rr.ttl_raw = get32(m + pos + 4);
    rr.rdlen = get16(m + pos + 8);
    rr.rdata = pos + 10;
    if (rr.rdata + rr.rdlen > len) return std::nullopt;
    std::size_t end = rr.rdata + rr.rdlen;
    std::size_t p = rr.rdata;
    if (rr.type == kMx || rr.type == kSrv || rr.type == kCname) {
      std::size_t fixed = rr.type == kMx ? 2 : rr.type == kSrv ? 6 : 0;
      if (rr.rdlen < fixed) return std::nullopt;
      if (fixed >= 2) rr.a = get16(m + p);
      if (fixed >= 4) rr.b = get16(m + p + 2);
      if (fixed >= 6) rr.c = get16(m + p + 4);
      p += fixed;
      if (!model_name(m, end, p, rr.target) || p != end) return std::nullopt;
    } else if (rr.rdlen <= 16) {
      std::copy(m + rr.rdata, m + end, rr.addr.begin());
    }
    pos = end;
    md.answers.push_back(std::move(rr));
  }
  return md;
}

std::uint32_t clamp(std::uint32_t ttl, std::uint32_t lo, std::uint32_t hi) {
  return std::clamp(ttl, lo, std::max(lo, hi));
}

// ---- A fresh, uncompressed reply, for the round trip. ----

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
// False when `n` is not a plain dotted name that fits the wire.
bool put_name(Bytes& b, const std::string& n) {
  std::size_t start = 0, wire = 1;
  while (start < n.size()) {
    std::size_t dot = std::min(n.find('.', start), n.size());
    std::size_t l = dot - start;
    if (l == 0 || l > 63) return false;
    b.push_back(static_cast<unsigned char>(l));
    for (std::size_t i = start; i < dot; ++i) {
      if (!plain(static_cast<unsigned char>(n[i]))) return false;
      b.push_back(static_cast<unsigned char>(n[i]));
    }
    wire += 1 + l;
    start = dot + 1;
    if (dot + 1 == n.size()) return false;  // trailing dot: not normalised
  }
  b.push_back(0);
  return wire <= 255;
}

struct Writer {
  Bytes out;
  std::uint16_t count = 0;
  explicit Writer(std::uint16_t qtype) {
    for (std::uint16_t v : {0x4242, 0x8180, 1, 0, 0, 0}) put16(out, static_cast<std::uint16_t>(v));
    put_name(out, "q.test");
    put16(out, qtype);
    put16(out, kIn);
  }
  void rr(std::uint16_t type, std::uint32_t ttl, const Bytes& rdata) {
    put_name(out, "q.test");
    put16(out, type);
    put16(out, kIn);
    put32(out, ttl);
    put16(out, static_cast<std::uint16_t>(rdata.size()));
    out.insert(out.end(), rdata.begin(), rdata.end());
    ++count;
    out[6] = static_cast<unsigned char>(count >> 8);
    out[7] = static_cast<unsigned char>(count);
  }
};

// ---- Checks. ----

template <class R>
void check_shape(const Answer<R>& a, const TtlLimits& t) {
  switch (a.status) {
    case LookupStatus::Ok:
      FUZZ_CHECK(!a.records.empty());
      FUZZ_CHECK(a.ttl >= t.min_ttl && a.ttl <= std::max(t.min_ttl, t.max_ttl));
      FUZZ_CHECK(a.error.empty());
      break;
    case LookupStatus::NoData:
    case LookupStatus::NxDomain:
      FUZZ_CHECK(a.records.empty());
      FUZZ_CHECK(a.ttl >= t.min_ttl && a.ttl <= std::max(t.min_ttl, t.max_negative_ttl));
      break;
    case LookupStatus::Temporary:
      FUZZ_CHECK(a.records.empty() && a.ttl == 0 && !a.error.empty());
      break;
  }
  FUZZ_CHECK(!a.from_cache);
}

// c-ares does not hold names to RFC 1035's 255 bytes (the resolver refuses longer ones
// when it looks them up), but a name visits each byte of the reply at most once and
// c-ares escapes a byte as at most four ("\DDD").
void check_name(const std::string& n, std::size_t len) {
  FUZZ_CHECK(normalize_name(n) == n);
  FUZZ_CHECK(n.size() <= 4 * len);
}

struct Parsed {
  SrvAnswer srv;
  MxAnswer mx;
  AddressAnswer a, aaaa;
};

Parsed parse_all(const TtlLimits& t, int status, const unsigned char* m, std::size_t len) {
  int n = static_cast<int>(len);
  Parsed p{srv_answer(t, status, m, n), mx_answer(t, status, m, n),
           address_answer(t, AF_INET, status, m, n), address_answer(t, AF_INET6, status, m, n)};
  check_shape(p.srv, t);
  check_shape(p.mx, t);
  check_shape(p.a, t);
  check_shape(p.aaaa, t);
  // Every record costs at least 11 bytes of owner, type, class, TTL and length.
  FUZZ_CHECK(p.srv.records.size() <= len / 11 && p.mx.records.size() <= len / 11);
  for (const auto& r : p.srv.records) check_name(r.target, len);
  for (const auto& r : p.mx.records) check_name(r.host, len);
  FUZZ_CHECK(p.a.records.size() <= static_cast<std::size_t>(kMaxAnswerAddresses));
  FUZZ_CHECK(p.aaaa.records.size() <= static_cast<std::size_t>(kMaxAnswerAddresses));
  for (const auto& ip : p.a.records) FUZZ_CHECK(ip.family == AF_INET);
  for (const auto& ip : p.aaaa.records) FUZZ_CHECK(ip.family == AF_INET6);
  return p;
}

// Status the model expects and, for Ok, the TTL before clamping.
template <class R>
void check_against(const Answer<R>& got, const std::vector<R>& want, std::uint32_t ttl,
                   const TtlLimits& t) {
  if (want.empty()) {
    FUZZ_CHECK(got.status == LookupStatus::NoData);
    return;
  }
  FUZZ_CHECK(got.status == LookupStatus::Ok);
  FUZZ_CHECK(got.ttl == clamp(ttl, t.min_ttl, t.max_ttl));
  FUZZ_CHECK(got.records.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_same_v<R, MxRecord>) {
      FUZZ_CHECK(got.records[i].preference == want[i].preference);
      FUZZ_CHECK(got.records[i].host == want[i].host);
    } else if constexpr (std::is_same_v<R, SrvRecord>) {
      FUZZ_CHECK(got.records[i].priority == want[i].priority);
      FUZZ_CHECK(got.records[i].weight == want[i].weight);
      FUZZ_CHECK(got.records[i].port == want[i].port);
      FUZZ_CHECK(got.records[i].target == want[i].target);
    } else {
      FUZZ_CHECK(got.records[i] == want[i]);
    }
  }
}

void differential(const Model& md, const Parsed& p, const TtlLimits& t) {
  std::vector<MxRecord> mx;
  std::vector<SrvRecord> srv;
  std::optional<std::uint32_t> mx_ttl, srv_ttl;
  bool any_cname = false;
  for (const ModelRr& rr : md.answers) {
    std::uint32_t ttl = ttl_value(rr.ttl_raw);
    if (rr.type == kMx || rr.type == kCname) mx_ttl = std::min(mx_ttl.value_or(ttl), ttl);
    if (rr.type == kSrv || rr.type == kCname) srv_ttl = std::min(srv_ttl.value_or(ttl), ttl);
    any_cname |= rr.type == kCname && rr.cls == kIn;
    if (rr.cls != kIn) continue;
    if (rr.type == kMx) mx.push_back({rr.a, rr.target});
    if (rr.type == kSrv) srv.push_back({rr.a, rr.b, rr.c, rr.target});
  }
  check_against(p.mx, mx, mx_ttl.value_or(0), t);
  check_against(p.srv, srv, srv_ttl.value_or(0), t);
  // Addresses: c-ares follows CNAMEs by name; the model only covers replies without one.
  if (any_cname) return;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<IpAddress> want;
    std::optional<std::uint32_t> ttl;
    std::size_t size = family == AF_INET ? 4 : 16;
    std::uint16_t type = family == AF_INET ? kA : kAaaa;
    for (const ModelRr& rr : md.answers) {
      if (rr.cls != kIn || rr.type != type || rr.rdlen != size || rr.owner != md.qname) continue;
      if (want.size() == static_cast<std::size_t>(kMaxAnswerAddresses)) break;
      IpAddress ip;
      ip.family = family;
      ip.bytes = rr.addr;
      want.push_back(ip);
      std::uint32_t v = ttl_value(rr.ttl_raw);
      ttl = std::min(ttl.value_or(v), v);
    }
    check_against(family == AF_INET ? p.a : p.aaaa, want, ttl.value_or(0), t);
  }
}

void round_trip(const Parsed& p, const TtlLimits& t) {
  if (p.mx.ok()) {
    Writer w(kMx);
    for (const auto& r : p.mx.records) {
      Bytes rd;
      put16(rd, r.preference);
      if (!put_name(rd, r.host)) return;
      w.rr(kMx, p.mx.ttl, rd);
    }
    MxAnswer again = mx_answer(t, ARES_SUCCESS, w.out.data(), static_cast<int>(w.out.size()));
    check_against(again, p.mx.records, p.mx.ttl, t);
  }
  if (p.srv.ok()) {
    Writer w(kSrv);
    for (const auto& r : p.srv.records) {
      Bytes rd;
      for (std::uint16_t v : {r.priority, r.weight, r.port}) put16(rd, v);
      if (!put_name(rd, r.target)) return;
      w.rr(kSrv, p.srv.ttl, rd);
    }
    SrvAnswer again = srv_answer(t, ARES_SUCCESS, w.out.data(), static_cast<int>(w.out.size()));
    check_against(again, p.srv.records, p.srv.ttl, t);
  }
  for (const AddressAnswer* a : {&p.a, &p.aaaa}) {
    if (!a->ok()) continue;
    int family = a->records.front().family;
    std::size_t size = family == AF_INET ? 4 : 16;
    Writer w(family == AF_INET ? kA : kAaaa);
    for (const auto& ip : a->records) {
      w.rr(family == AF_INET ? kA : kAaaa, a->ttl, Bytes(ip.bytes.begin(), ip.bytes.begin() + size));
    }
    AddressAnswer again =
        address_answer(t, family, ARES_SUCCESS, w.out.data(), static_cast<int>(w.out.size()));
    check_against(again, a->records, a->ttl, t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The reply on the heap at its exact size, so that ASan sees any read past its end.
  std::vector<unsigned char> buf(data, data + size);
  const unsigned char* m = buf.empty() ? nullptr : buf.data();

  for (std::uint16_t type : {kA, kAaaa, kMx, kSrv, kCname}) {
    if (auto ttl = answer_ttl(m, size, type)) FUZZ_CHECK(*ttl <= 0x7FFFFFFFu);
  }
  std::optional<std::uint32_t> neg = negative_ttl(m, size);
  if (neg) FUZZ_CHECK(*neg <= 0x7FFFFFFFu);

  TtlLimits normal;
  TtlLimits odd;  // minimum above maximum: the minimum wins
  odd.min_ttl = 100;
  odd.max_ttl = 10;
  odd.negative_ttl = 0;
  odd.max_negative_ttl = 0;

  for (const TtlLimits* t : {&normal, &odd}) {
    // TLSA (our own walk): the same shapes; each record costs at least a one-byte owner,
    // ten bytes of type to length and its three fixed octets. Secure only if not Temporary.
    TlsaAnswer tlsa = tlsa_answer(*t, ARES_SUCCESS, m, static_cast<int>(size));
    check_shape(tlsa, *t);
    FUZZ_CHECK(tlsa.records.size() <= size / 14);
    mark_secure(tlsa, m, static_cast<int>(size));
    FUZZ_CHECK(tlsa.secure == (tlsa.status != LookupStatus::Temporary &&
                               authenticated_data(m, size)));

    Parsed ok = parse_all(*t, ARES_SUCCESS, m, size);
    round_trip(ok, *t);
    if (auto md = model_read(m, size)) differential(*md, ok, *t);

    // Negative statuses: the SOA's TTL when the reply has one, else the default.
    for (int status : {ARES_ENODATA, ARES_ENOTFOUND}) {
      Parsed neg_p = parse_all(*t, status, m, size);
      LookupStatus want = status == ARES_ENODATA ? LookupStatus::NoData : LookupStatus::NxDomain;
      std::uint32_t ttl = clamp(neg.value_or(t->negative_ttl), t->min_ttl, t->max_negative_ttl);
      FUZZ_CHECK(neg_p.mx.status == want && neg_p.mx.ttl == ttl);
      FUZZ_CHECK(neg_p.a.status == want && neg_p.a.ttl == ttl);
    }
  }
  FUZZ_CHECK(parse_all(normal, ARES_ETIMEOUT, m, size).srv.error == "timeout");
  return 0;
}
