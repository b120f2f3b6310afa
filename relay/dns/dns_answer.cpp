// dns_answer.cpp - a c-ares status and raw reply into a typed Answer (see dns_answer.hpp).
#include "relay/dns/dns_answer.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "relay/dns/dns_message.hpp"

namespace secmx::dns {
namespace {

std::string temporary_reason(int status) {
  switch (status) {
    case ARES_ETIMEOUT: return "timeout";
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_EFORMERR: return "FORMERR";
    case ARES_ENOTIMP: return "NOTIMP";
    // c-ares before 1.20 reports a server's SERVFAIL, REFUSED or NOTIMP, after its
    // retries, with the same status as an unreachable server.
    case ARES_ECONNREFUSED: return "SERVFAIL/REFUSED or unreachable";
    case ARES_EBADRESP: return "malformed reply";
    case ARES_ECANCELLED: return "cancelled";
    default: return ares_strerror(status);
  }
}

std::uint32_t clamp_ttl(std::uint32_t ttl, std::uint32_t lo, std::uint32_t hi) {
  return std::clamp(ttl, lo, std::max(lo, hi));
}

// A success without a reply to parse is a malformed reply.
int effective_status(int status, const unsigned char* abuf, int alen) {
  return status == ARES_SUCCESS && (!abuf || alen <= 0) ? ARES_EBADRESP : status;
}

template <class R>
Answer<R> negative(const TtlLimits& o, LookupStatus s, const unsigned char* abuf, int alen) {
  Answer<R> a;
  a.status = s;
  std::optional<std::uint32_t> ttl;
  if (abuf && alen > 0) ttl = negative_ttl(abuf, static_cast<std::size_t>(alen));
  a.ttl = clamp_ttl(ttl.value_or(o.negative_ttl), o.min_ttl, o.max_negative_ttl);
  return a;
}

template <class R>
Answer<R> temporary(std::string reason) {
  Answer<R> a;
  a.status = LookupStatus::Temporary;
  a.error = std::move(reason);
  return a;
}

// Maps a c-ares status that is not "parse the reply" to an answer; nullopt: parse it.
template <class R>
std::optional<Answer<R>> from_status(const TtlLimits& o, int status, const unsigned char* abuf,
                                     int alen) {
  switch (status) {
    case ARES_SUCCESS: return std::nullopt;
    case ARES_ENODATA: return negative<R>(o, LookupStatus::NoData, abuf, alen);
    case ARES_ENOTFOUND: return negative<R>(o, LookupStatus::NxDomain, abuf, alen);
    case ARES_EBADNAME: {
      Answer<R> a = negative<R>(o, LookupStatus::NxDomain, nullptr, 0);
      a.error = "invalid name";
      return a;
    }
    default: return temporary<R>(temporary_reason(status));
  }
}

// After a successful parse: NoData when the answer held nothing of our type (e.g. only a
// CNAME), Temporary when the reply would not parse.
template <class R>
std::optional<Answer<R>> from_parse(const TtlLimits& o, int rc, const unsigned char* abuf,
                                    int alen) {
  if (rc == ARES_SUCCESS) return std::nullopt;
  if (rc == ARES_ENODATA) return negative<R>(o, LookupStatus::NoData, abuf, alen);
  return temporary<R>("malformed reply (" + std::string(ares_strerror(rc)) + ")");
}

template <class R>
void finish_ok(const TtlLimits& o, Answer<R>& a, std::optional<std::uint32_t> ttl) {
  if (a.records.empty()) {
    a = negative<R>(o, LookupStatus::NoData, nullptr, 0);
    return;
  }
  a.status = LookupStatus::Ok;
  a.ttl = clamp_ttl(ttl.value_or(o.min_ttl), o.min_ttl, o.max_ttl);
}

// c-ares gives A and AAAA answers in two struct types; the rest is the same.
template <class Ttl, std::size_t N>
void append_addresses(const Ttl (&ttls)[N], int n, int family, AddressAnswer& a,
                      std::optional<std::uint32_t>& ttl) {
  for (int i = 0; i < n && i < static_cast<int>(N); ++i) {
    IpAddress ip;
    ip.family = family;
    if constexpr (std::is_same_v<Ttl, ares_addrttl>) {
      std::memcpy(ip.bytes.data(), &ttls[i].ipaddr, 4);
    } else {
      std::memcpy(ip.bytes.data(), &ttls[i].ip6addr, 16);
    }
    a.records.push_back(ip);
    auto t = static_cast<std::uint32_t>(std::max(0, ttls[i].ttl));
    ttl = ttl ? std::min(*ttl, t) : t;
  }
}

// CNAME chains (RFC 7672 §2.2.2). c-ares 1.18 does not say where an A/AAAA chain ends:
// its hostent's h_name is the target of the first CNAME, and the final name is in none of
// its fields. So the chain is read here with c-ares's own ares_expand_name(): start at the
// question's name and follow the answer section's CNAME records (at most kMaxCnameHops).
constexpr int kMaxCnameHops = 16;

// The name at msg[pos], lower case without the dot; *next gets the offset after it.
std::optional<std::string> expand_name(const unsigned char* msg, int len, int pos, int* next) {
  if (pos < 0 || pos >= len) return std::nullopt;
  char* out = nullptr;
  long used = 0;
  if (ares_expand_name(msg + pos, msg, len, &out, &used) != ARES_SUCCESS) return std::nullopt;
  std::string n = normalize_name(out);
  ares_free_string(out);
  *next = pos + static_cast<int>(used);
  return n;
}

int read16(const unsigned char* p) { return (p[0] << 8) | p[1]; }

// The end of the CNAME chain that starts at the question's name; "" without a chain (or
// when the reply cannot be walked: the answer then simply has no canonical name).
std::string cname_target(const unsigned char* msg, int len) {
  if (!msg || len < 12 || read16(msg + 4) != 1) return "";
  int ancount = read16(msg + 6);
  int pos = 12;
  auto qname = expand_name(msg, len, pos, &pos);
  if (!qname || pos + 4 > len) return "";
  pos += 4;  // QTYPE, QCLASS
  std::vector<std::pair<std::string, std::string>> cnames;  // owner, target
  for (int i = 0; i < ancount; ++i) {
    auto owner = expand_name(msg, len, pos, &pos);
    if (!owner || pos + 10 > len) return "";
    int type = read16(msg + pos);
    int klass = read16(msg + pos + 2);
    int rdlen = read16(msg + pos + 8);
    pos += 10;
    if (pos + rdlen > len) return "";
    if (type == ns_t_cname && klass == ns_c_in) {
      int ignored = 0;
      auto target = expand_name(msg, len, pos, &ignored);
      if (!target) return "";
      cnames.emplace_back(std::move(*owner), std::move(*target));
    }
    pos += rdlen;
  }
  std::string at = *qname;
  for (int hop = 0; hop < kMaxCnameHops; ++hop) {
    auto it = std::find_if(cnames.begin(), cnames.end(),
                           [&](const auto& c) { return c.first == at; });
    if (it == cnames.end()) break;
    at = it->second;
  }
  return at == *qname ? "" : at;
}

}  // namespace

SrvAnswer srv_answer(const TtlLimits& o, int status, const unsigned char* abuf, int alen) {
  status = effective_status(status, abuf, alen);
  if (auto a = from_status<SrvRecord>(o, status, abuf, alen)) return *a;
  ares_srv_reply* head = nullptr;
  if (auto a = from_parse<SrvRecord>(o, ares_parse_srv_reply(abuf, alen, &head), abuf, alen)) {
    return *a;
  }
  SrvAnswer a;
  for (ares_srv_reply* r = head; r; r = r->next) {
    a.records.push_back({r->priority, r->weight, r->port, normalize_name(r->host)});
  }
  ares_free_data(head);
  finish_ok(o, a, answer_ttl(abuf, static_cast<std::size_t>(alen), ns_t_srv));
  return a;
}

MxAnswer mx_answer(const TtlLimits& o, int status, const unsigned char* abuf, int alen) {
  status = effective_status(status, abuf, alen);
  if (auto a = from_status<MxRecord>(o, status, abuf, alen)) return *a;
  ares_mx_reply* head = nullptr;
  if (auto a = from_parse<MxRecord>(o, ares_parse_mx_reply(abuf, alen, &head), abuf, alen)) {
    return *a;
  }
  MxAnswer a;
  for (ares_mx_reply* r = head; r; r = r->next) {
    a.records.push_back({r->priority, normalize_name(r->host)});
  }
  ares_free_data(head);
  finish_ok(o, a, answer_ttl(abuf, static_cast<std::size_t>(alen), ns_t_mx));
  return a;
}

AddressAnswer address_answer(const TtlLimits& o, int family, int status,
                             const unsigned char* abuf, int alen) {
  status = effective_status(status, abuf, alen);
  if (auto a = from_status<IpAddress>(o, status, abuf, alen)) return *a;
  AddressAnswer a;
  std::optional<std::uint32_t> ttl;
  int n = kMaxAnswerAddresses;
  if (family == AF_INET) {
    ares_addrttl ttls[kMaxAnswerAddresses];
    int rc = ares_parse_a_reply(abuf, alen, nullptr, ttls, &n);
    if (auto bad = from_parse<IpAddress>(o, rc, abuf, alen)) return *bad;
    append_addresses(ttls, n, AF_INET, a, ttl);
  } else {
    ares_addr6ttl ttls[kMaxAnswerAddresses];
    int rc = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &n);
    if (auto bad = from_parse<IpAddress>(o, rc, abuf, alen)) return *bad;
    append_addresses(ttls, n, AF_INET6, a, ttl);
  }
  finish_ok(o, a, ttl);
  if (a.ok()) a.canonical = cname_target(abuf, alen);
  return a;
}

TlsaAnswer tlsa_answer(const TtlLimits& o, int status, const unsigned char* abuf, int alen) {
  status = effective_status(status, abuf, alen);
  if (auto a = from_status<TlsaRecord>(o, status, abuf, alen)) return *a;
  auto len = static_cast<std::size_t>(alen);
  auto records = tlsa_records(abuf, len);
  if (!records) return temporary<TlsaRecord>("malformed reply (TLSA)");
  TlsaAnswer a;
  a.records = std::move(*records);
  finish_ok(o, a, answer_ttl(abuf, len, ns_t_tlsa));
  return a;
}

TxtAnswer txt_answer(const TtlLimits& o, int status, const unsigned char* abuf, int alen) {
  status = effective_status(status, abuf, alen);
  if (auto a = from_status<TxtRecord>(o, status, abuf, alen)) return *a;
  ares_txt_ext* head = nullptr;
  if (auto a = from_parse<TxtRecord>(o, ares_parse_txt_reply_ext(abuf, alen, &head), abuf, alen)) {
    return *a;
  }
  TxtAnswer a;
  for (ares_txt_ext* r = head; r; r = r->next) {
    if (r->record_start || a.records.empty()) a.records.emplace_back();
    a.records.back().strings.emplace_back(reinterpret_cast<const char*>(r->txt), r->length);
  }
  ares_free_data(head);
  finish_ok(o, a, answer_ttl(abuf, static_cast<std::size_t>(alen), ns_t_txt));
  return a;
}

}  // namespace secmx::dns
