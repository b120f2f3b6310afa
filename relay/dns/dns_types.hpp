// dns_types.hpp - what a DNS lookup answers, and the Resolver seam.
//
// Value types only (records, addresses, typed answers) plus the abstract Resolver that
// the discovery driver talks to; AresResolver (resolver.hpp) is the real one, tests may
// substitute their own. An Answer is a plain value: copy it, keep it, pass it to any
// thread. A Resolver itself is bound to one libuv loop thread (see resolver.hpp).
//
// Outcome classes: Ok (records of the asked type, with a TTL), NxDomain (the name does not
// exist: permanent), NoData (the name exists but has no record of that type: permanent),
// Temporary (SERVFAIL, REFUSED, timeout, network error, malformed reply: try later).
// With [dns] dnssec an answer also says whether it was secure: the validating resolver set
// the AD bit. A bogus answer comes as SERVFAIL from such a resolver, so it is Temporary.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secmx::dns {

enum class LookupStatus { Ok, NxDomain, NoData, Temporary };
const char* to_string(LookupStatus s);  // "ok", "nxdomain", "nodata", "temporary"

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  int family = AF_INET;                  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};  // first 4 used for AF_INET

  static std::optional<IpAddress> parse(std::string_view text);  // "127.0.0.1", "::1"
  std::string to_string() const;                                   // canonical text
  // Fills a sockaddr_in / sockaddr_in6 for connect(); returns its length.
  socklen_t to_sockaddr(std::uint16_t port, sockaddr_storage& out) const;
  bool operator==(const IpAddress&) const = default;
};

struct SrvRecord {
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::string target;  // lower case, no trailing dot; "" is the root ("." = no service)
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // lower case, no trailing dot; "" is the root (null MX)
};

// RFC 6698 §2.1: a TLSA record, for DANE (RFC 7672). The fields are kept as published;
// whether a combination is usable is for the one who matches certificates to decide.
struct TlsaRecord {
  std::uint8_t usage = 0;          // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
  std::uint8_t selector = 0;       // 0 full certificate, 1 SubjectPublicKeyInfo
  std::uint8_t matching_type = 0;  // 0 exact, 1 SHA-256, 2 SHA-512
  std::vector<std::uint8_t> data;  // certificate association data
  bool operator==(const TlsaRecord&) const = default;
};

// One TXT resource record: its character-strings in order, each as published (RFC 1035
// §3.3.14). Who reads a TXT record decides how to join them (MTA-STS: without spaces).
struct TxtRecord {
  std::vector<std::string> strings;
  bool operator==(const TxtRecord&) const = default;
};

template <class R>
struct Answer {
  LookupStatus status = LookupStatus::Temporary;
  std::vector<R> records;  // only with Ok; never empty then
  std::uint32_t ttl = 0;   // seconds this answer stays cached (clamped); 0 for Temporary
  std::string error;       // Temporary: "timeout", "SERVFAIL", "REFUSED", ...
  bool from_cache = false;
  // DNSSEC: AD was set in the reply (Ok, or an authenticated denial for NxDomain/NoData).
  // Always false unless the resolver asked for it ([dns] dnssec); never with Temporary.
  bool secure = false;
  // A/AAAA only: the name the records were found under when the reply followed a CNAME
  // chain from the name asked (lower case, no dot); "" when there was none. DANE looks up
  // TLSA there first (RFC 7672 §2.2.2).
  std::string canonical;
  bool ok() const { return status == LookupStatus::Ok; }
};

using SrvAnswer = Answer<SrvRecord>;
using MxAnswer = Answer<MxRecord>;
using AddressAnswer = Answer<IpAddress>;
using TlsaAnswer = Answer<TlsaRecord>;
using TxtAnswer = Answer<TxtRecord>;

// "ok ttl=300 secure", "nxdomain", "temporary (timeout)": for traces and logs.
template <class R>
std::string summary(const Answer<R>& a) {
  std::string s = to_string(a.status);
  if (a.status == LookupStatus::Ok) {
    s += " ttl=" + std::to_string(a.ttl);
  } else if (a.status == LookupStatus::Temporary && !a.error.empty()) {
    s += " (" + a.error + ")";
  }
  if (a.secure) s += " secure";
  if (a.from_cache) s += " cached";
  return s;
}

// Lower case, trailing dot removed: the form names are compared and cached in. A final
// "\." (c-ares's escape for a dot inside a label) is part of the name and stays, so that
// normalising twice changes nothing.
std::string normalize_name(std::string_view name);

// The seam between discovery and DNS. Contract for every implementation: the callback is
// called exactly once, on the loop thread, never from inside the lookup_*() or post() call
// itself; callbacks still pending when the Resolver is destroyed are dropped, never called.
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual void lookup_srv(std::string name, std::function<void(SrvAnswer)> cb) = 0;
  virtual void lookup_mx(std::string name, std::function<void(MxAnswer)> cb) = 0;
  virtual void lookup_a(std::string name, std::function<void(AddressAnswer)> cb) = 0;
  virtual void lookup_aaaa(std::string name, std::function<void(AddressAnswer)> cb) = 0;
  // TLSA at a name such as "_25._tcp.mx.d.test". Resolvers that cannot ask for TLSA answer
  // Temporary ("TLSA lookups not supported"), through post().
  virtual void lookup_tlsa(std::string name, std::function<void(TlsaAnswer)> cb);
  // TXT at a name such as "_mta-sts.d.test"; the same fallback as lookup_tlsa().
  virtual void lookup_txt(std::string name, std::function<void(TxtAnswer)> cb);
  // Runs fn soon on the loop thread (never inside this call); dropped like a lookup.
  virtual void post(std::function<void()> fn) = 0;
};

}  // namespace secmx::dns
