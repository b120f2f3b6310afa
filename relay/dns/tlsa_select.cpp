// tlsa_select.cpp - DANE TLSA selection for discovery's candidates (see tlsa_select.hpp).
#include "relay/dns/tlsa_select.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace secmx::dns {
namespace {

// Where one candidate stands: the next name to look up, or its decided status.
struct Step {
  std::string lookup;             // non-empty: look this up, then ask again
  HostTlsa result;                // when lookup is empty
  std::vector<std::string> used;  // the names whose answers led here, in order
};

const TlsaAnswer* find(const TlsaAnswers& answers, const std::string& name) {
  auto it = answers.find(name);
  return it == answers.end() ? nullptr : &it->second;
}

TlsaAnswer missing() {
  TlsaAnswer a;
  a.error = "not looked up";
  return a;
}

bool secure_denial(const TlsaAnswer& a) {
  return a.secure && (a.status == LookupStatus::NoData || a.status == LookupStatus::NxDomain);
}

// `complete`: a missing answer decides as a failure instead of being asked for.
Step step(const Candidate& c, bool dnssec, const std::string& canonical,
          const TlsaAnswers& answers, bool complete) {
  Step s;
  s.result.base = c.host;
  if (!dane_skip_reason(c, dnssec).empty()) return s;
  auto at = [&](const std::string& base) -> const TlsaAnswer* {
    std::string name = tlsa_name(c.port, base);
    s.used.push_back(name);
    const TlsaAnswer* a = find(answers, name);
    if (!a && !complete) s.lookup = name;
    return a;
  };
  auto decide = [&](const TlsaAnswer* a, const std::string& base) {
    static const TlsaAnswer kMissing = missing();
    s.result = select_tlsa(a ? *a : kMissing, s.used.back(), base);
  };
  if (!canonical.empty() && canonical != c.host) {
    const TlsaAnswer* expanded = at(canonical);
    if (!s.lookup.empty()) return s;
    if (!expanded || !secure_denial(*expanded)) {
      decide(expanded, canonical);
      return s;
    }
  }
  const TlsaAnswer* own = at(c.host);
  if (s.lookup.empty()) decide(own, c.host);
  return s;
}

std::string count(std::size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string describe(const std::string& name, const TlsaAnswer& a) {
  std::string s = "TLSA " + name + ": " + summary(a);
  if (!a.ok()) return s;
  std::size_t usable = static_cast<std::size_t>(
      std::count_if(a.records.begin(), a.records.end(), usable_for_smtp));
  s += ": " + std::to_string(usable) + " usable";
  if (usable < a.records.size()) s += ", " + std::to_string(a.records.size() - usable) + " unusable";
  return s;
}

}  // namespace

std::string tlsa_name(std::uint16_t port, std::string_view host) {
  return "_" + std::to_string(port) + "._tcp." + normalize_name(host);
}

bool usable_for_smtp(const TlsaRecord& r) {
  if (r.usage != 2 && r.usage != 3) return false;  // PKIX-TA/EE have no meaning for SMTP
  if (r.selector > 1) return false;
  switch (r.matching_type) {
    case 0: return !r.data.empty();
    case 1: return r.data.size() == 32;
    case 2: return r.data.size() == 64;
    default: return false;
  }
}

HostTlsa select_tlsa(const TlsaAnswer& a, std::string_view qname, std::string base) {
  HostTlsa h;
  h.base = std::move(base);
  if (a.status == LookupStatus::Temporary) {
    h.status = TlsaStatus::Failed;
    h.detail = "TLSA " + std::string(qname) + ": " + (a.error.empty() ? "failed" : a.error);
    return h;
  }
  if (!a.secure || !a.ok()) {
    h.status = TlsaStatus::None;  // insecure, or a secure denial: DANE does not apply
    return h;
  }
  for (const TlsaRecord& r : a.records) {
    if (usable_for_smtp(r)) h.records.push_back(r);
  }
  h.status = h.records.empty() ? TlsaStatus::UnusableOnly : TlsaStatus::Usable;
  return h;
}

std::string dane_skip_reason(const Candidate& c, bool dnssec) {
  if (!dnssec) return "dnssec off";
  if (IpAddress::parse(c.host)) return "address literal";
  if (!c.name_secure) return "name insecure";
  if (!c.addresses_secure) return "addresses insecure";
  return "";
}

std::string canonical_name(const HostAddresses& h) {
  if (h.a.ok() && !h.a.canonical.empty()) return h.a.canonical;
  if (h.aaaa.ok()) return h.aaaa.canonical;
  return "";
}

std::vector<std::string> tlsa_lookups(const DiscoveryResult& r, const AddressMap& addresses,
                                      const TlsaAnswers& answers) {
  std::vector<std::string> out;
  if (!r.ok() || !r.dnssec) return out;
  for (const Candidate& c : r.candidates) {
    auto it = addresses.find(c.host);
    std::string canonical = it == addresses.end() ? "" : canonical_name(it->second);
    Step s = step(c, r.dnssec, canonical, answers, false);
    if (!s.lookup.empty() && std::find(out.begin(), out.end(), s.lookup) == out.end()) {
      out.push_back(std::move(s.lookup));
    }
  }
  return out;
}

void apply_tlsa(DiscoveryResult& r, const AddressMap& addresses, const TlsaAnswers& answers) {
  std::set<std::string> described;
  for (Candidate& c : r.candidates) {
    auto it = addresses.find(c.host);
    std::string canonical = it == addresses.end() ? "" : canonical_name(it->second);
    Step s = step(c, r.dnssec, canonical, answers, true);
    c.tlsa = std::move(s.result);
    if (!r.dnssec) continue;
    std::string head = std::string(to_string(c.method)) + " " + c.host + ":" +
                       std::to_string(c.port) + " tlsa: ";
    std::string why = dane_skip_reason(c, r.dnssec);
    if (!why.empty()) {
      r.trace.push_back(head + "not asked (" + why + ")");
      continue;
    }
    for (const std::string& name : s.used) {
      if (!described.insert(name).second) continue;
      const TlsaAnswer* a = find(answers, name);
      r.trace.push_back(describe(name, a ? *a : missing()));
    }
    std::string line = head + to_string(c.tlsa.status);
    if (c.tlsa.status == TlsaStatus::Usable) line += " (" + count(c.tlsa.records.size(), "record") + ")";
    if (c.tlsa.status == TlsaStatus::Failed) line += ": " + c.tlsa.detail;
    if (c.tlsa.base != c.host) line += " at " + c.tlsa.base + " (CNAME)";
    r.trace.push_back(line);
  }
}

std::string to_string(const TlsaRecord& r) {
  static const char kHex[] = "0123456789abcdef";
  std::string s = std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
                  std::to_string(r.matching_type) + " ";
  for (std::uint8_t b : r.data) {
    s += kHex[b >> 4];
    s += kHex[b & 0x0F];
  }
  return s;
}

}  // namespace secmx::dns
