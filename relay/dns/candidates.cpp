// candidates.cpp - ordering SRV and MX records and building the candidate list.
#include "relay/dns/candidates.hpp"

#include "relay/common/hostname.hpp"
#include "relay/common/idna.hpp"
#include "relay/common/route_host.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace secmx::dns {
namespace {

constexpr std::uint16_t kSecmxPreference = 51966;  // 0xCAFE

// A normalised name (normalize_name: its one final dot already gone) must have no dot
// left at the end.
bool valid_domain(std::string_view d) { return !d.ends_with('.') && valid_hostname(d); }

std::string records_text(const std::vector<SrvRecord>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ", ";
    s += std::to_string(r.priority) + " " + std::to_string(r.weight) + " " +
         std::to_string(r.port) + " " + (r.target.empty() ? "." : r.target);
  }
  return s;
}

std::string records_text(const std::vector<MxRecord>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ", ";
    s += std::to_string(r.preference) + " " + (r.host.empty() ? "." : r.host);
  }
  return s;
}

std::string records_text(const std::vector<IpAddress>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += " ";
    s += r.to_string();
  }
  return s;
}

template <class R>
std::string describe(std::string_view type, std::string_view name, const Answer<R>& a) {
  std::string s = std::string(type) + " " + std::string(name) + ": " + summary(a);
  if (a.ok()) s += ": " + records_text(a.records);
  return s;
}

Candidate make(std::string host, std::uint16_t port, Method m, int preference,
               bool name_secure = false) {
  Candidate c;
  c.host = std::move(host);
  c.port = port;
  c.method = m;
  c.preference = preference;
  c.name_secure = name_secure;
  return c;
}

// "[127.0.0.1]" or "[IPv6:::1]" (RFC 5321 4.1.3) -> the address.
std::optional<IpAddress> address_literal(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return std::nullopt;
  std::string_view inner = d.substr(1, d.size() - 2);
  if (inner.size() > 5 && std::equal(inner.begin(), inner.begin() + 5, "ipv6:",
                                     [](char a, char b) { return std::tolower(a) == b; })) {
    auto ip = IpAddress::parse(inner.substr(5));
    return ip && ip->family == AF_INET6 ? ip : std::nullopt;
  }
  auto ip = IpAddress::parse(inner);
  return ip && ip->family == AF_INET ? ip : std::nullopt;
}

struct RouteTarget {
  std::string host;  // name, or the literal's text
  std::optional<IpAddress> literal;
  std::uint16_t port;
};

// The route's next hop (grammar: relay/common/route_host.hpp; the config loader refused
// what does not parse, --route of secmx-dns-probe comes here unchecked).
std::optional<RouteTarget> parse_route_host(std::string_view text, std::uint16_t port) {
  auto parsed = secmx::parse_route_host(text);
  if (!parsed) return std::nullopt;
  RouteTarget t{std::string(), std::nullopt, parsed->port.value_or(port)};
  if (parsed->family != 0) {
    t.literal = IpAddress::parse(parsed->host);
    if (!t.literal) return std::nullopt;
    t.host = t.literal->to_string();
  } else {
    t.host = normalize_name(parsed->host);
  }
  return t;
}

Plan done(Plan p, DiscoveryStatus st, std::string code, std::string reason) {
  p.done = true;
  p.result.status = st;
  p.result.enhanced_code = std::move(code);
  p.result.reason = std::move(reason);
  return p;
}

void add_unique(std::vector<Candidate>& out, Candidate c, std::vector<std::string>& trace) {
  for (const Candidate& have : out) {
    if (have.host == c.host && have.port == c.port) {
      trace.push_back(std::string(to_string(c.method)) + " " + c.host + ":" +
                      std::to_string(c.port) + " already listed by " + to_string(have.method));
      return;
    }
  }
  out.push_back(std::move(c));
}

}  // namespace

const char* to_string(Method m) {
  switch (m) {
    case Method::Route: return "route";
    case Method::Srv: return "srv";
    case Method::Mx51966: return "mx51966";
    case Method::Name: return "name";
    case Method::Mx: return "mx";
    case Method::Implicit: return "implicit";
  }
  return "?";
}

const char* to_string(TlsaStatus s) {
  switch (s) {
    case TlsaStatus::NotAsked: return "not-asked";
    case TlsaStatus::None: return "none";
    case TlsaStatus::Usable: return "usable";
    case TlsaStatus::UnusableOnly: return "unusable";
    case TlsaStatus::Failed: return "failed";
  }
  return "?";
}

bool is_secmx(Method m) { return m == Method::Srv || m == Method::Mx51966 || m == Method::Name; }

const char* to_string(DiscoveryStatus s) {
  switch (s) {
    case DiscoveryStatus::Ok: return "ok";
    case DiscoveryStatus::Temporary: return "temporary";
    case DiscoveryStatus::Permanent: return "permanent";
  }
  return "?";
}

std::string Candidate::to_string() const {
  std::string s = std::string(dns::to_string(method)) + " " + host + ":" + std::to_string(port);
  for (const IpAddress& a : addresses) s += " [" + a.to_string() + "]";
  return s;
}

std::string DiscoveryResult::trace_text() const {
  std::string s;
  for (const std::string& line : trace) {
    if (!s.empty()) s += "; ";
    s += line;
  }
  return s;
}

DiscoveryOptions DiscoveryOptions::from_config(const config::Config& cfg) {
  DiscoveryOptions o;
  auto has = [&](const char* m) {
    const auto& d = cfg.policy.discovery;
    return std::find(d.begin(), d.end(), m) != d.end();
  };
  o.srv = has("srv");
  o.mx51966 = has("mx51966");
  o.name = has("name");
  o.port = cfg.delivery.port;
  o.routes = cfg.routes;
  o.dnssec = cfg.dns.dnssec;
  return o;
}

std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, Rng& rng) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::vector<SrvRecord> out;
  out.reserve(records.size());
  auto group_begin = records.begin();
  while (group_begin != records.end()) {
    auto group_end = std::find_if(group_begin, records.end(), [&](const SrvRecord& r) {
      return r.priority != group_begin->priority;
    });
    std::vector<SrvRecord> group(group_begin, group_end);
    std::shuffle(group.begin(), group.end(), rng);  // "in any order", but not always the same
    std::stable_partition(group.begin(), group.end(),
                          [](const SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      std::uint64_t sum = 0;
      for (const SrvRecord& r : group) sum += r.weight;
      std::uint64_t pick = std::uniform_int_distribution<std::uint64_t>(0, sum)(rng);
      std::uint64_t running = 0;
      std::size_t i = 0;
      for (; i + 1 < group.size(); ++i) {
        running += group[i].weight;
        if (running >= pick) break;
      }
      out.push_back(std::move(group[i]));
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(i));
    }
    group_begin = group_end;
  }
  return out;
}

std::vector<MxRecord> order_mx(std::vector<MxRecord> records, Rng& rng) {
  std::shuffle(records.begin(), records.end(), rng);
  std::stable_sort(records.begin(), records.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
  return records;
}

std::string srv_name(std::string_view domain) { return "_secmx._tcp." + normalize_name(domain); }
std::string secmx_name(std::string_view domain) { return "secmx." + normalize_name(domain); }

std::vector<std::string> Plan::hosts_to_resolve(const AddressMap& known) const {
  std::vector<std::string> out;
  for (const Candidate& c : pending) {
    if (!c.addresses.empty() || known.count(c.host)) continue;
    if (std::find(out.begin(), out.end(), c.host) == out.end()) out.push_back(c.host);
  }
  return out;
}

std::optional<Plan> plan_static(const DiscoveryOptions& opts, std::string_view raw) {
  Plan p;
  p.result.dnssec = opts.dnssec;
  if (auto ip = address_literal(raw)) {
    p.result.domain = std::string(raw);
    Candidate c = make(ip->to_string(), opts.port, Method::Implicit, 0);
    c.addresses.push_back(*ip);
    c.addresses_secure = opts.dnssec;  // not from DNS; there is no name
    p.result.trace.push_back("address literal " + std::string(raw));
    p.result.candidates.push_back(std::move(c));
    return done(std::move(p), DiscoveryStatus::Ok, "", "");
  }
  std::string d = normalize_name(raw);
  p.result.domain = d;
  if (has_non_ascii(d)) {
    auto a_labels = lookup_name(d);
    if (!a_labels) {
      return done(std::move(p), DiscoveryStatus::Permanent, "5.1.2",
                  "domain " + d + " is not a valid internationalized domain name");
    }
    p.result.trace.push_back("IDN " + d + " -> " + *a_labels);
    d = std::move(*a_labels);
    p.result.domain = d;
  }
  if (!valid_domain(d)) {
    return done(std::move(p), DiscoveryStatus::Permanent, "5.1.2",
                "invalid domain name '" + d + "'");
  }
  for (const config::Route& r : opts.routes) {
    // Compared in the one domain form (relay/common/idna.hpp), however the route was written.
    if (lookup_name(r.domain).value_or(normalize_name(r.domain)) != d) continue;
    p.result.route_tls = r.tls;
    p.result.route_trusted = r.trusted;
    std::string where = "route " + d + " -> " + r.host +
                        (r.line ? " (line " + std::to_string(r.line) + ")" : "");
    p.result.trace.push_back(where);
    auto target = parse_route_host(r.host, opts.port);
    if (!target) {
      return done(std::move(p), DiscoveryStatus::Temporary, "4.4.4", "bad next hop in " + where);
    }
    Candidate c = make(target->host, target->port, Method::Route, 0);
    c.name_secure = opts.dnssec;  // the operator's, not DNS's
    if (target->literal) {
      c.addresses.push_back(*target->literal);
      c.addresses_secure = opts.dnssec;
      p.result.candidates.push_back(std::move(c));
      return done(std::move(p), DiscoveryStatus::Ok, "", "");
    }
    p.pending.push_back(std::move(c));
    p.empty_status = DiscoveryStatus::Temporary;
    p.empty_code = "4.4.4";
    p.empty_reason = "next hop " + target->host + " of " + where + " has no address";
    return p;
  }
  return std::nullopt;
}

Plan plan_discovery(const DiscoveryOptions& opts, std::string_view domain,
                    const DomainAnswers& ans, Rng& rng) {
  Plan p;
  std::string d = normalize_name(domain);
  p.result.domain = d;
  p.result.dnssec = opts.dnssec;
  auto& trace = p.result.trace;
  std::vector<Candidate> secmx;
  std::vector<Candidate> ordinary;

  if (!opts.srv) {
    trace.push_back("SRV lookup off");
  } else if (!ans.srv) {
    trace.push_back("SRV " + srv_name(d) + ": not looked up");
    p.result.secmx_incomplete = true;
  } else {
    const SrvAnswer& a = *ans.srv;
    trace.push_back(describe("SRV", srv_name(d), a));
    if (a.status == LookupStatus::Temporary) p.result.secmx_incomplete = true;
    if (a.ok() && a.records.size() == 1 && a.records[0].target.empty()) {
      trace.push_back("SRV target \".\": no SecMX service");
    } else if (a.ok()) {
      for (SrvRecord& r : order_srv(a.records, rng)) {
        if (r.target.empty() || r.port == 0) {
          trace.push_back("ignoring SRV " + records_text(std::vector<SrvRecord>{r}));
          continue;
        }
        add_unique(secmx,
                   make(r.target, r.port, Method::Srv, r.priority, opts.dnssec && a.secure),
                   trace);
      }
    }
  }

  MxAnswer mx;
  mx.error = "not looked up";
  if (ans.mx) mx = *ans.mx;
  bool mx_secure = opts.dnssec && mx.secure;
  trace.push_back(describe("MX", d, mx));
  switch (mx.status) {
    case LookupStatus::Ok:
      if (mx.records.size() == 1 && mx.records[0].host.empty()) {
        trace.push_back("null MX: " + d + " accepts no mail (RFC 7505)");
        p.empty_code = "5.1.10";
        p.empty_reason = "recipient domain " + d + " accepts no mail (null MX)";
      } else {
        std::vector<MxRecord> cafe;
        std::vector<MxRecord> other;
        for (const MxRecord& r : mx.records) {
          if (r.host.empty()) {
            trace.push_back("ignoring MX " + std::to_string(r.preference) + " . among others");
          } else if (opts.mx51966 && r.preference == kSecmxPreference) {
            cafe.push_back(r);
          } else {
            other.push_back(r);
          }
        }
        for (MxRecord& r : order_mx(std::move(cafe), rng)) {
          add_unique(secmx, make(r.host, opts.port, Method::Mx51966, r.preference, mx_secure),
                     trace);
        }
        for (MxRecord& r : order_mx(std::move(other), rng)) {
          ordinary.push_back(make(r.host, opts.port, Method::Mx, r.preference, mx_secure));
        }
      }
      break;
    case LookupStatus::NoData:
      trace.push_back("no MX: implicit MX " + d);
      ordinary.push_back(make(d, opts.port, Method::Implicit, 0, mx_secure));
      break;
    case LookupStatus::NxDomain:
      p.nxdomain = true;
      p.empty_code = "5.1.2";
      p.empty_reason = "recipient domain " + d + " does not exist (NXDOMAIN)";
      break;
    case LookupStatus::Temporary:
      p.result.mx_incomplete = true;
      if (opts.mx51966) p.result.secmx_incomplete = true;
      break;
  }

  if (opts.name) {
    // secmx.D is D's own name by rule, not read from an answer.
    add_unique(secmx, make(secmx_name(d), opts.port, Method::Name, 0, opts.dnssec), trace);
  } else {
    trace.push_back("secmx name lookup off");
  }

  for (Candidate& c : ordinary) add_unique(secmx, std::move(c), trace);
  p.pending = std::move(secmx);
  if (p.pending.size() > opts.max_hosts) {
    trace.push_back("only the first " + std::to_string(opts.max_hosts) + " of " +
                    std::to_string(p.pending.size()) + " hosts are used");
    p.pending.resize(opts.max_hosts);
  }
  if (p.empty_reason.empty()) p.empty_reason = "no receiving host for " + d + " has an address";
  return p;
}

DiscoveryResult finish(Plan plan, const AddressMap& addresses) {
  DiscoveryResult r = std::move(plan.result);
  if (plan.done) return r;
  std::set<std::pair<std::string, std::uint16_t>> seen;  // address text, port
  for (Candidate& c : plan.pending) {
    auto it = addresses.find(c.host);
    HostAddresses none;
    none.a.error = none.aaaa.error = "not looked up";
    const HostAddresses& h = it == addresses.end() ? none : it->second;
    std::string head = std::string(to_string(c.method)) + " " + c.host + ":" + std::to_string(c.port);
    std::size_t before = c.addresses.size();
    bool duplicate = false;
    c.addresses_secure = r.dnssec && (h.a.ok() || h.aaaa.ok());
    for (const AddressAnswer* a : {&h.a, &h.aaaa}) {
      if (!a->ok()) continue;
      c.addresses_secure = c.addresses_secure && a->secure;
      for (const IpAddress& ip : a->records) {
        if (!seen.insert({ip.to_string(), c.port}).second) {
          duplicate = true;
          continue;
        }
        c.addresses.push_back(ip);
      }
    }
    bool temp = h.a.status == LookupStatus::Temporary || h.aaaa.status == LookupStatus::Temporary;
    std::string lookups = "A " + summary(h.a) + ", AAAA " + summary(h.aaaa);
    if (c.addresses.size() > before) {
      r.trace.push_back(head + " -> " + records_text(c.addresses) +
                        (temp ? " (" + lookups + ")" : ""));
      r.candidates.push_back(std::move(c));
      continue;
    }
    if (duplicate) {
      r.trace.push_back(head + " skipped: its addresses are already listed");
      continue;
    }
    r.trace.push_back(head + " skipped: no address (" + lookups + ")");
    if (temp) {
      if (c.secmx()) {
        r.secmx_incomplete = true;
      } else {
        r.mx_incomplete = true;
      }
    }
  }
  if (!r.candidates.empty()) {
    r.status = DiscoveryStatus::Ok;
    r.enhanced_code.clear();
    r.reason.clear();
    return r;
  }
  if (plan.nxdomain) {
    r.status = DiscoveryStatus::Permanent;
    r.enhanced_code = "5.1.2";
    r.reason = plan.empty_reason;
  } else if (!r.complete()) {
    r.status = DiscoveryStatus::Temporary;
    r.enhanced_code = "4.4.3";
    r.reason = "DNS lookups for " + r.domain + " failed temporarily";
    for (const std::string& line : r.trace) {
      if (line.find("temporary") != std::string::npos) {
        r.reason += ": " + line;
        break;
      }
    }
  } else {
    r.status = plan.empty_status;
    r.enhanced_code = plan.empty_code;
    r.reason = plan.empty_reason;
  }
  return r;
}

DiscoveryResult build_candidates(const DiscoveryOptions& opts, std::string_view domain,
                                 const DomainAnswers& answers, const AddressMap& addresses,
                                 Rng& rng) {
  if (auto p = plan_static(opts, domain)) return finish(std::move(*p), addresses);
  // plan_static has checked the name: lookup_name cannot fail here.
  return finish(plan_discovery(opts, lookup_name(domain).value_or(""), answers, rng), addresses);
}

}  // namespace secmx::dns
