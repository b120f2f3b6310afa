// candidates_test.cpp - the discovery rules as tables: given lookup answers, which
// candidates in which order, and which verdict (DESIGN §3). No DNS, no clock.
#include "relay/dns/candidates.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::dns {
namespace {

template <class R>
Answer<R> ok(std::vector<R> records, std::uint32_t ttl = 300) {
  Answer<R> a;
  a.status = LookupStatus::Ok;
  a.records = std::move(records);
  a.ttl = ttl;
  return a;
}

template <class R>
Answer<R> st(LookupStatus s) {
  Answer<R> a;
  a.status = s;
  if (s == LookupStatus::Temporary) a.error = "SERVFAIL";
  return a;
}

constexpr auto kNx = LookupStatus::NxDomain;
constexpr auto kNoData = LookupStatus::NoData;
constexpr auto kTemp = LookupStatus::Temporary;

SrvAnswer srv(std::vector<SrvRecord> r) { return ok(std::move(r)); }
MxAnswer mx(std::vector<MxRecord> r) { return ok(std::move(r)); }

AddressAnswer ips(std::vector<const char*> list) {
  std::vector<IpAddress> out;
  for (const char* s : list) out.push_back(*IpAddress::parse(s));
  return ok(std::move(out));
}

HostAddresses v4(const char* ip) { return {ips({ip}), st<IpAddress>(kNoData)}; }
HostAddresses v6(const char* ip) { return {st<IpAddress>(kNoData), ips({ip})}; }
HostAddresses dual(const char* a, const char* aaaa) { return {ips({a}), ips({aaaa})}; }
HostAddresses nx() { return {st<IpAddress>(kNx), st<IpAddress>(kNx)}; }
HostAddresses temp() { return {st<IpAddress>(kTemp), st<IpAddress>(kTemp)}; }

std::vector<std::string> texts(const DiscoveryResult& r) {
  std::vector<std::string> out;
  for (const Candidate& c : r.candidates) out.push_back(c.to_string());
  return out;
}

struct Case {
  const char* what;
  DomainAnswers answers;
  AddressMap addresses;
  DiscoveryStatus status;
  const char* code;
  std::vector<std::string> candidates;
  bool secmx_incomplete = false;
  bool mx_incomplete = false;
};

void run(const std::vector<Case>& cases, const DiscoveryOptions& opts = {},
         const char* domain = "d.test") {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Rng rng(1);
    DiscoveryResult r = build_candidates(opts, domain, c.answers, c.addresses, rng);
    EXPECT_EQ(r.status, c.status) << r.reason << "\n" << r.trace_text();
    EXPECT_EQ(r.enhanced_code, c.code) << r.trace_text();
    EXPECT_EQ(texts(r), c.candidates) << r.trace_text();
    EXPECT_EQ(r.secmx_incomplete, c.secmx_incomplete) << r.trace_text();
    EXPECT_EQ(r.mx_incomplete, c.mx_incomplete) << r.trace_text();
    EXPECT_FALSE(r.trace.empty());
    if (r.ok()) {
      EXPECT_TRUE(r.reason.empty());
    } else {
      EXPECT_FALSE(r.reason.empty());
      EXPECT_TRUE(r.candidates.empty());
    }
  }
}

const SrvAnswer kNoSrv = st<SrvRecord>(kNx);

TEST(Candidates, OrderOfMethods) {
  run({
      {"SRV only; secmx.D and the implicit MX have no address",
       {srv({{10, 0, 2525, "sor.d.test"}}), st<MxRecord>(kNoData)},
       {{"sor.d.test", v4("127.0.0.10")}, {"secmx.d.test", nx()}, {"d.test", nx()}},
       DiscoveryStatus::Ok, "", {"srv sor.d.test:2525 [127.0.0.10]"}},
      {"SRV priorities ascending, whatever the record order",
       {srv({{20, 0, 2526, "sorb.d.test"}, {10, 0, 2525, "sora.d.test"}}),
        st<MxRecord>(kNoData)},
       {{"sora.d.test", v4("127.0.0.10")}, {"sorb.d.test", v4("127.0.0.11")},
        {"secmx.d.test", nx()}, {"d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"srv sora.d.test:2525 [127.0.0.10]", "srv sorb.d.test:2526 [127.0.0.11]"}},
      {"SRV target \".\": no SecMX service; MX used",
       {srv({{0, 0, 0, ""}}), mx({{10, "mx1.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [127.0.0.21]"}},
      {"MX 51966 before ordinary MX, whatever its number",
       {kNoSrv, mx({{10, "mx1.d.test"}, {51966, "cafe.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"cafe.d.test", v4("127.0.0.30")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"mx51966 cafe.d.test:25 [127.0.0.30]", "mx mx1.d.test:25 [127.0.0.21]"}},
      {"secmx.D",
       {kNoSrv, mx({{10, "mx1.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", v4("127.0.0.40")}},
       DiscoveryStatus::Ok, "",
       {"name secmx.d.test:25 [127.0.0.40]", "mx mx1.d.test:25 [127.0.0.21]"}},
      {"all of them: SRV, MX 51966, secmx.D, then MX by preference",
       {srv({{10, 5, 2525, "sor.d.test"}}),
        mx({{30, "mx3.d.test"}, {51966, "cafe.d.test"}, {10, "mx1.d.test"}})},
       {{"sor.d.test", v4("127.0.0.10")}, {"cafe.d.test", v4("127.0.0.30")},
        {"secmx.d.test", v4("127.0.0.40")}, {"mx1.d.test", v4("127.0.0.21")},
        {"mx3.d.test", v4("127.0.0.23")}},
       DiscoveryStatus::Ok, "",
       {"srv sor.d.test:2525 [127.0.0.10]", "mx51966 cafe.d.test:25 [127.0.0.30]",
        "name secmx.d.test:25 [127.0.0.40]", "mx mx1.d.test:25 [127.0.0.21]",
        "mx mx3.d.test:25 [127.0.0.23]"}},
      {"implicit MX: no MX records, D's own addresses",
       {kNoSrv, st<MxRecord>(kNoData)},
       {{"secmx.d.test", nx()}, {"d.test", dual("127.0.0.50", "::1")}},
       DiscoveryStatus::Ok, "", {"implicit d.test:25 [127.0.0.50] [::1]"}},
      {"IPv4 before IPv6 within a host; IPv6-only hosts work",
       {kNoSrv, mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}})},
       {{"mx1.d.test", dual("127.0.0.21", "::1")}, {"mx2.d.test", v6("::2")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"mx mx1.d.test:25 [127.0.0.21] [::1]", "mx mx2.d.test:25 [::2]"}},
      {"SRV records with port 0 or target \".\" among others are ignored",
       {srv({{10, 0, 0, "zero.d.test"}, {20, 0, 2525, ""}, {30, 0, 2600, "sor.d.test"}}),
        st<MxRecord>(kNoData)},
       {{"sor.d.test", v4("127.0.0.10")}, {"secmx.d.test", nx()}, {"d.test", nx()}},
       DiscoveryStatus::Ok, "", {"srv sor.d.test:2600 [127.0.0.10]"}},
  });
}

TEST(Candidates, Verdicts) {
  run({
      {"null MX: permanent 5.1.10",
       {kNoSrv, mx({{0, ""}})}, {{"secmx.d.test", nx()}},
       DiscoveryStatus::Permanent, "5.1.10", {}},
      {"null MX does not hide an explicitly published SecMX receiver",
       {srv({{10, 0, 2525, "sor.d.test"}}), mx({{0, ""}})},
       {{"sor.d.test", v4("127.0.0.10")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"srv sor.d.test:2525 [127.0.0.10]"}},
      {"null MX among other MX records is ignored",
       {kNoSrv, mx({{0, ""}, {10, "mx1.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [127.0.0.21]"}},
      {"NXDOMAIN: permanent 5.1.2",
       {kNoSrv, st<MxRecord>(kNx)}, {{"secmx.d.test", nx()}},
       DiscoveryStatus::Permanent, "5.1.2", {}},
      {"NXDOMAIN wins over temporary SecMX failures",
       {st<SrvRecord>(kTemp), st<MxRecord>(kNx)}, {{"secmx.d.test", temp()}},
       DiscoveryStatus::Permanent, "5.1.2", {}, true, false},
      {"MX lookup fails temporarily and nothing else is found: 4.4.3",
       {kNoSrv, st<MxRecord>(kTemp)}, {{"secmx.d.test", nx()}},
       DiscoveryStatus::Temporary, "4.4.3", {}, true, true},
      {"everything fails temporarily: 4.4.3",
       {st<SrvRecord>(kTemp), st<MxRecord>(kTemp)}, {{"secmx.d.test", temp()}},
       DiscoveryStatus::Temporary, "4.4.3", {}, true, true},
      {"MX lookup never answered counts as temporary",
       {kNoSrv, std::nullopt}, {{"secmx.d.test", nx()}},
       DiscoveryStatus::Temporary, "4.4.3", {}, true, true},
      {"only the SecMX lookups fail: MX hosts usable, flagged secmx_incomplete",
       {st<SrvRecord>(kTemp), mx({{10, "mx1.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", temp()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [127.0.0.21]"}, true, false},
      {"MX lookup fails but SRV found: usable, flagged mx_incomplete (and secmx: MX 51966)",
       {srv({{10, 0, 2525, "sor.d.test"}}), st<MxRecord>(kTemp)},
       {{"sor.d.test", v4("127.0.0.10")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"srv sor.d.test:2525 [127.0.0.10]"}, true, true},
      {"an MX host's address lookup fails temporarily, another host works",
       {kNoSrv, mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}})},
       {{"mx1.d.test", temp()}, {"mx2.d.test", v4("127.0.0.22")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx2.d.test:25 [127.0.0.22]"}, false, true},
      {"the only MX host's address lookup fails temporarily: 4.4.3",
       {kNoSrv, mx({{10, "mx1.d.test"}})}, {{"mx1.d.test", temp()}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Temporary, "4.4.3", {}, false, true},
      {"a SRV target's address lookup fails temporarily",
       {srv({{10, 0, 2525, "sor.d.test"}}), mx({{10, "mx1.d.test"}})},
       {{"sor.d.test", temp()}, {"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [127.0.0.21]"}, true, false},
      {"A fails temporarily but AAAA answers: the host is usable",
       {kNoSrv, mx({{10, "mx1.d.test"}})},
       {{"mx1.d.test", {st<IpAddress>(kTemp), ips({"::1"})}}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [::1]"}},
      {"MX hosts without any address: permanent 5.4.4",
       {kNoSrv, mx({{10, "mx1.d.test"}})}, {{"mx1.d.test", nx()}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Permanent, "5.4.4", {}},
      {"no MX and D has no address: permanent 5.4.4",
       {kNoSrv, st<MxRecord>(kNoData)}, {{"secmx.d.test", nx()}, {"d.test", nx()}},
       DiscoveryStatus::Permanent, "5.4.4", {}},
      {"a pending host missing from the address map counts as temporary",
       {kNoSrv, mx({{10, "mx1.d.test"}})}, {{"secmx.d.test", nx()}},
       DiscoveryStatus::Temporary, "4.4.3", {}, false, true},
  });
}

TEST(Candidates, Dedup) {
  run({
      {"SRV target on port 25 also MX 51966: listed once, as SRV",
       {srv({{10, 0, 25, "sor.d.test"}}), mx({{51966, "sor.d.test"}, {10, "mx1.d.test"}})},
       {{"sor.d.test", v4("127.0.0.10")}, {"mx1.d.test", v4("127.0.0.21")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"srv sor.d.test:25 [127.0.0.10]", "mx mx1.d.test:25 [127.0.0.21]"}},
      {"same host, other port: both kept",
       {srv({{10, 0, 2525, "sor.d.test"}}), mx({{10, "sor.d.test"}})},
       {{"sor.d.test", v4("127.0.0.10")}, {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"srv sor.d.test:2525 [127.0.0.10]", "mx sor.d.test:25 [127.0.0.10]"}},
      {"MX host listed twice: kept at its first (best) place",
       {kNoSrv, mx({{20, "mx1.d.test"}, {10, "mx1.d.test"}, {15, "mx2.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"mx2.d.test", v4("127.0.0.22")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"mx mx1.d.test:25 [127.0.0.21]", "mx mx2.d.test:25 [127.0.0.22]"}},
      {"ordinary MX host that is also secmx.D: only the SecMX place",
       {kNoSrv, mx({{10, "secmx.d.test"}})}, {{"secmx.d.test", v4("127.0.0.40")}},
       DiscoveryStatus::Ok, "", {"name secmx.d.test:25 [127.0.0.40]"}},
      {"two names, one address and port: only the first is tried",
       {kNoSrv, mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"mx2.d.test", dual("127.0.0.21", "::1")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "",
       {"mx mx1.d.test:25 [127.0.0.21]", "mx mx2.d.test:25 [::1]"}},
      {"a duplicate address is not an empty host: no 5.4.4 when it is all there is",
       {kNoSrv, mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}})},
       {{"mx1.d.test", v4("127.0.0.21")}, {"mx2.d.test", v4("127.0.0.21")},
        {"secmx.d.test", nx()}},
       DiscoveryStatus::Ok, "", {"mx mx1.d.test:25 [127.0.0.21]"}},
  });
}

TEST(Candidates, MethodsSwitchedOff) {
  DomainAnswers all{srv({{10, 0, 2525, "sor.d.test"}}),
                    mx({{51966, "cafe.d.test"}, {10, "mx1.d.test"}})};
  AddressMap addrs{{"sor.d.test", v4("127.0.0.10")}, {"cafe.d.test", v4("127.0.0.30")},
                   {"secmx.d.test", v4("127.0.0.40")}, {"mx1.d.test", v4("127.0.0.21")}};
  DiscoveryOptions none;
  none.srv = none.mx51966 = none.name = false;
  run({{"none: MX 51966 is an ordinary MX of that preference, i.e. last",
        all, addrs, DiscoveryStatus::Ok, "",
        {"mx mx1.d.test:25 [127.0.0.21]", "mx cafe.d.test:25 [127.0.0.30]"}}},
      none);
  DiscoveryOptions only_srv = none;
  only_srv.srv = true;
  run({{"srv only", all, addrs, DiscoveryStatus::Ok, "",
        {"srv sor.d.test:2525 [127.0.0.10]", "mx mx1.d.test:25 [127.0.0.21]",
         "mx cafe.d.test:25 [127.0.0.30]"}}},
      only_srv);
  DiscoveryOptions only_name = none;
  only_name.name = true;
  run({{"name only", all, addrs, DiscoveryStatus::Ok, "",
        {"name secmx.d.test:25 [127.0.0.40]", "mx mx1.d.test:25 [127.0.0.21]",
         "mx cafe.d.test:25 [127.0.0.30]"}}},
      only_name);
  DiscoveryOptions no_srv;
  no_srv.srv = false;
  DomainAnswers not_asked{std::nullopt, mx({{10, "mx1.d.test"}})};
  run({{"srv off: an SRV never asked is not a temporary failure", not_asked,
        {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", nx()}}, DiscoveryStatus::Ok, "",
        {"mx mx1.d.test:25 [127.0.0.21]"}}},
      no_srv);
  DiscoveryOptions mx_only_temp = none;
  run({{"mx51966 off: a failed MX lookup does not make SecMX incomplete",
        {std::nullopt, st<MxRecord>(kTemp)}, {}, DiscoveryStatus::Temporary, "4.4.3", {},
        false, true}},
      mx_only_temp);
  run({{"srv on but not asked: SecMX incomplete",
        {std::nullopt, mx({{10, "mx1.d.test"}})},
        {{"mx1.d.test", v4("127.0.0.21")}, {"secmx.d.test", nx()}}, DiscoveryStatus::Ok, "",
        {"mx mx1.d.test:25 [127.0.0.21]"}, true, false}});
}

TEST(Candidates, DeliveryPortAppliesToMxNameAndImplicitNotSrv) {
  DiscoveryOptions o;
  o.port = 2500;
  run({{"port 2500",
        {srv({{10, 0, 2525, "sor.d.test"}}), mx({{51966, "cafe.d.test"}, {10, "mx1.d.test"}})},
        {{"sor.d.test", v4("127.0.0.10")}, {"cafe.d.test", v4("127.0.0.30")},
         {"secmx.d.test", v4("127.0.0.40")}, {"mx1.d.test", v4("127.0.0.21")}},
        DiscoveryStatus::Ok, "",
        {"srv sor.d.test:2525 [127.0.0.10]", "mx51966 cafe.d.test:2500 [127.0.0.30]",
         "name secmx.d.test:2500 [127.0.0.40]", "mx mx1.d.test:2500 [127.0.0.21]"}},
       {"implicit", {kNoSrv, st<MxRecord>(kNoData)},
        {{"secmx.d.test", nx()}, {"d.test", v4("127.0.0.50")}}, DiscoveryStatus::Ok, "",
        {"implicit d.test:2500 [127.0.0.50]"}}},
      o);
}

TEST(Candidates, MaxHostsBoundsTheList) {
  DiscoveryOptions o;
  o.max_hosts = 2;
  o.name = false;
  run({{"three MX, two kept",
        {kNoSrv, mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}, {30, "mx3.d.test"}})},
        {{"mx1.d.test", v4("127.0.0.21")}, {"mx2.d.test", v4("127.0.0.22")},
         {"mx3.d.test", v4("127.0.0.23")}},
        DiscoveryStatus::Ok, "",
        {"mx mx1.d.test:25 [127.0.0.21]", "mx mx2.d.test:25 [127.0.0.22]"}}},
      o);
}

TEST(Candidates, MethodsAndSecmxFlag) {
  EXPECT_TRUE(is_secmx(Method::Srv));
  EXPECT_TRUE(is_secmx(Method::Mx51966));
  EXPECT_TRUE(is_secmx(Method::Name));
  EXPECT_FALSE(is_secmx(Method::Mx));
  EXPECT_FALSE(is_secmx(Method::Implicit));
  EXPECT_FALSE(is_secmx(Method::Route));
  EXPECT_EQ(srv_name("D.Test."), "_secmx._tcp.d.test");
  EXPECT_EQ(secmx_name("D.Test"), "secmx.d.test");
}

// ------------------------------------------------------------------ plan: what to resolve

TEST(Plan, HostsToResolveInOrderOnceEachSkippingKnown) {
  Rng rng(1);
  DomainAnswers a{srv({{10, 0, 2525, "sor.d.test"}}),
                  mx({{10, "mx1.d.test"}, {20, "mx2.d.test"}, {30, "mx1.d.test"}})};
  Plan p = plan_discovery(DiscoveryOptions{}, "d.test", a, rng);
  AddressMap known{{"secmx.d.test", nx()}};
  EXPECT_EQ(p.hosts_to_resolve(known),
            (std::vector<std::string>{"sor.d.test", "mx1.d.test", "mx2.d.test"}));
  EXPECT_FALSE(p.done);
}

// ------------------------------------------------------------------ static: routes, literals

config::Route route(const char* domain, const char* host) {
  config::Route r;
  r.domain = domain;
  r.host = host;
  return r;
}

struct StaticCase {
  const char* domain;
  const char* route_host;  // nullptr: no route
  AddressMap addresses;
  DiscoveryStatus status;
  const char* code;
  std::vector<std::string> candidates;
};

TEST(Candidates, RoutesAndAddressLiterals) {
  std::vector<StaticCase> cases = {
      {"d.test", "[127.0.0.5]:2526", {}, DiscoveryStatus::Ok, "",
       {"route 127.0.0.5:2526 [127.0.0.5]"}},
      {"d.test", "[127.0.0.5]", {}, DiscoveryStatus::Ok, "", {"route 127.0.0.5:25 [127.0.0.5]"}},
      {"d.test", "127.0.0.5:2527", {}, DiscoveryStatus::Ok, "",
       {"route 127.0.0.5:2527 [127.0.0.5]"}},
      {"d.test", "[::1]:2525", {}, DiscoveryStatus::Ok, "", {"route ::1:2525 [::1]"}},
      {"d.test", "[IPv6:::1]:2525", {}, DiscoveryStatus::Ok, "", {"route ::1:2525 [::1]"}},
      {"D.Test.", "[127.0.0.5]", {}, DiscoveryStatus::Ok, "", {"route 127.0.0.5:25 [127.0.0.5]"}},
      {"d.test", "hub.internal.test:2600", {{"hub.internal.test", dual("127.0.0.6", "::1")}},
       DiscoveryStatus::Ok, "", {"route hub.internal.test:2600 [127.0.0.6] [::1]"}},
      {"d.test", "hub.internal.test", {{"hub.internal.test", nx()}},
       DiscoveryStatus::Temporary, "4.4.4", {}},
      {"d.test", "hub.internal.test", {{"hub.internal.test", temp()}},
       DiscoveryStatus::Temporary, "4.4.3", {}},
      {"d.test", "[IPv6:127.0.0.1]", {}, DiscoveryStatus::Temporary, "4.4.4", {}},
      {"d.test", "[not-an-ip]", {}, DiscoveryStatus::Temporary, "4.4.4", {}},
      {"d.test", "host.test:0", {}, DiscoveryStatus::Temporary, "4.4.4", {}},
      {"[127.0.0.1]", nullptr, {}, DiscoveryStatus::Ok, "", {"implicit 127.0.0.1:25 [127.0.0.1]"}},
      {"[IPv6:::1]", nullptr, {}, DiscoveryStatus::Ok, "", {"implicit ::1:25 [::1]"}},
      {"[ipv6:::1]", nullptr, {}, DiscoveryStatus::Ok, "", {"implicit ::1:25 [::1]"}},
      {"[::1]", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"[IPv6:127.0.0.1]", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"[300.0.0.1]", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"bad_name.test", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"-x.test", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"a..test", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},
      {"\xe2\x98\x95.test", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},  // U+2615
      {"b\xff" "cher.test", nullptr, {}, DiscoveryStatus::Permanent, "5.1.2", {}},  // not UTF-8
  };
  for (const StaticCase& c : cases) {
    SCOPED_TRACE(std::string(c.domain) + " via " + (c.route_host ? c.route_host : "-"));
    DiscoveryOptions o;
    o.routes.push_back(route("other.test", "[127.0.0.99]"));
    if (c.route_host) {
      o.routes.push_back(route("d.test", c.route_host));
      o.routes.back().tls = model::TlsLevel::Verify;
    }
    auto plan = plan_static(o, c.domain);
    ASSERT_TRUE(plan.has_value()) << "needs no discovery";
    DiscoveryResult r = finish(*plan, c.addresses);
    EXPECT_EQ(r.status, c.status) << r.reason << " / " << r.trace_text();
    EXPECT_EQ(r.enhanced_code, c.code);
    EXPECT_EQ(texts(r), c.candidates) << r.trace_text();
    if (c.route_host) {
      ASSERT_TRUE(r.route_tls.has_value());
      EXPECT_EQ(*r.route_tls, model::TlsLevel::Verify);
    } else {
      EXPECT_FALSE(r.route_tls.has_value());
    }
  }
}

TEST(Candidates, RouteForAnotherDomainDoesNotApply) {
  DiscoveryOptions o;
  o.routes.push_back(route("other.test", "[127.0.0.99]"));
  EXPECT_FALSE(plan_static(o, "d.test").has_value());
  EXPECT_FALSE(plan_static(o, "sub.other.test").has_value()) << "routes match exactly";
  EXPECT_TRUE(plan_static(o, "OTHER.test.").has_value());
}

TEST(Candidates, RouteHostNameIsAPendingCandidate) {
  DiscoveryOptions o;
  o.routes.push_back(route("d.test", "Hub.Internal.Test:2600"));
  auto plan = plan_static(o, "d.test");
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE(plan->done);
  EXPECT_EQ(plan->hosts_to_resolve({}), std::vector<std::string>{"hub.internal.test"});
}

// ------------------------------------------------------------------ internationalized names

TEST(Candidates, InternationalizedDomainIsDiscoveredByItsALabels) {
  Rng rng(1);
  DomainAnswers a{kNoSrv, mx({{10, "mx.xn--bcher-kva.test"}})};
  AddressMap known{{"mx.xn--bcher-kva.test", v4("127.0.0.21")},
                   {"secmx.xn--bcher-kva.test", nx()}};
  DiscoveryResult r = build_candidates(DiscoveryOptions{}, "b\xc3\xbc" "cher.test", a, known, rng);
  EXPECT_EQ(r.status, DiscoveryStatus::Ok) << r.reason << "\n" << r.trace_text();
  EXPECT_EQ(r.domain, "xn--bcher-kva.test");
  EXPECT_EQ(texts(r), std::vector<std::string>{"mx mx.xn--bcher-kva.test:25 [127.0.0.21]"});
  EXPECT_NE(r.trace_text().find("SRV _secmx._tcp.xn--bcher-kva.test"), std::string::npos)
      << r.trace_text();
}

TEST(Candidates, RouteWrittenWithUnicodeLabelsAppliesToo) {
  DiscoveryOptions o;
  o.routes.push_back(route("B\xc3\x9c" "cher.test", "[127.0.0.5]"));  // as --route passes it
  EXPECT_TRUE(plan_static(o, "xn--bcher-kva.test").has_value());
  EXPECT_TRUE(plan_static(o, "b\xc3\xbc" "cher.test").has_value());
}

TEST(Candidates, RouteForTheALabelsAppliesToTheInternationalizedName) {
  DiscoveryOptions o;
  o.routes.push_back(route("xn--bcher-kva.test", "[127.0.0.5]:2526"));
  auto plan = plan_static(o, "b\xc3\xbc" "cher.test");
  ASSERT_TRUE(plan.has_value());
  DiscoveryResult res = finish(*plan, {});
  EXPECT_EQ(texts(res), std::vector<std::string>{"route 127.0.0.5:2526 [127.0.0.5]"});
  EXPECT_NE(res.trace_text().find("IDN b\xc3\xbc" "cher.test -> xn--bcher-kva.test"),
            std::string::npos) << res.trace_text();
}

TEST(DiscoveryOptions, FromConfig) {
  config::Config cfg;
  DiscoveryOptions all = DiscoveryOptions::from_config(cfg);
  EXPECT_TRUE(all.srv && all.mx51966 && all.name);
  EXPECT_EQ(all.port, 25);
  cfg.policy.discovery = {"name"};
  cfg.delivery.port = 2500;
  cfg.routes.push_back(route("d.test", "[127.0.0.5]"));
  DiscoveryOptions o = DiscoveryOptions::from_config(cfg);
  EXPECT_FALSE(o.srv);
  EXPECT_FALSE(o.mx51966);
  EXPECT_TRUE(o.name);
  EXPECT_EQ(o.port, 2500);
  ASSERT_EQ(o.routes.size(), 1u);
  EXPECT_EQ(o.routes[0].host, "[127.0.0.5]");
}

}  // namespace
}  // namespace secmx::dns
