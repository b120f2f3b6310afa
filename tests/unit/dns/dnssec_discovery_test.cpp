// dnssec_discovery_test.cpp - the secure flags of candidates ([dns] dnssec): from the SRV
// or MX answer that named a host and the A/AAAA answers its addresses came from; and the
// JSON that shows them only when DNSSEC is on, so the shape without it stays as it was.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/dns/candidates.hpp"
#include "relay/dns/discovery_json.hpp"

namespace secmx::dns {
namespace {

template <class R>
Answer<R> ok(std::vector<R> records, bool secure) {
  Answer<R> a;
  a.status = LookupStatus::Ok;
  a.records = std::move(records);
  a.ttl = 300;
  a.secure = secure;
  return a;
}

template <class R>
Answer<R> none(LookupStatus s, bool secure = false) {
  Answer<R> a;
  a.status = s;
  a.secure = secure;
  return a;
}

AddressAnswer ip(const char* text, bool secure) {
  return ok(std::vector<IpAddress>{*IpAddress::parse(text)}, secure);
}

HostAddresses v4(const char* text, bool secure) {
  return {ip(text, secure), none<IpAddress>(LookupStatus::NoData, secure)};
}

DiscoveryOptions dnssec_on() {
  DiscoveryOptions o;
  o.dnssec = true;
  return o;
}

const Candidate& find(const DiscoveryResult& r, const std::string& host) {
  for (const Candidate& c : r.candidates) {
    if (c.host == host) return c;
  }
  ADD_FAILURE() << "no candidate " << host << ": " << r.trace_text();
  static const Candidate missing;
  return missing;
}

// d.test: an SRV and an MX answer, each secure or not as the test says; secmx.d.test by
// rule; address answers of mixed security.
DomainAnswers answers(bool srv_secure, bool mx_secure) {
  DomainAnswers a;
  a.srv = ok(std::vector<SrvRecord>{{10, 0, 2525, "sor.d.test"}}, srv_secure);
  a.mx = ok(std::vector<MxRecord>{{10, "mx1.d.test"}}, mx_secure);
  return a;
}

AddressMap addresses() {
  AddressMap m;
  m["sor.d.test"] = v4("127.0.0.10", true);
  m["mx1.d.test"] = {ip("127.0.0.11", true), ip("::11", false)};  // one family insecure
  m["secmx.d.test"] = v4("127.0.0.12", true);
  return m;
}

TEST(DnssecCandidates, NameFromTheAnswerThatListedItAddressesFromTheirs) {
  Rng rng(1);
  DiscoveryResult r = build_candidates(dnssec_on(), "d.test", answers(true, false),
                                       addresses(), rng);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_TRUE(r.dnssec);
  const Candidate& sor = find(r, "sor.d.test");
  EXPECT_TRUE(sor.name_secure);
  EXPECT_TRUE(sor.addresses_secure);
  const Candidate& mx1 = find(r, "mx1.d.test");
  EXPECT_FALSE(mx1.name_secure) << "the MX answer was insecure";
  EXPECT_FALSE(mx1.addresses_secure) << "its AAAA answer was insecure";
  const Candidate& name = find(r, "secmx.d.test");
  EXPECT_TRUE(name.name_secure) << "secmx.D is D's name by rule, not read from DNS";
  EXPECT_TRUE(name.addresses_secure);
  EXPECT_NE(r.trace_text().find("SRV _secmx._tcp.d.test: ok ttl=300 secure"), std::string::npos)
      << r.trace_text();
}

TEST(DnssecCandidates, ImplicitMxNeedsASecureDenialOfMx) {
  for (bool denial_secure : {true, false}) {
    DomainAnswers a;
    a.mx = none<MxRecord>(LookupStatus::NoData, denial_secure);
    AddressMap m;
    m["d.test"] = v4("127.0.0.13", true);
    DiscoveryOptions o = dnssec_on();
    o.srv = o.name = false;
    Rng rng(1);
    DiscoveryResult r = build_candidates(o, "d.test", a, m, rng);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(find(r, "d.test").name_secure, denial_secure);
    EXPECT_TRUE(find(r, "d.test").addresses_secure);
  }
}

TEST(DnssecCandidates, RoutesAndLiteralsAreNotFromDns) {
  DiscoveryOptions o = dnssec_on();
  config::Route lit;
  lit.domain = "lit.test";
  lit.host = "[10.0.0.5]:25";
  config::Route named;
  named.domain = "named.test";
  named.host = "relay.named.test";
  o.routes = {lit, named};
  Rng rng(1);
  DiscoveryResult a = build_candidates(o, "lit.test", {}, {}, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a.candidates.at(0).name_secure);
  EXPECT_TRUE(a.candidates.at(0).addresses_secure);
  AddressMap m;
  m["relay.named.test"] = v4("127.0.0.14", false);
  DiscoveryResult b = build_candidates(o, "named.test", {}, m, rng);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b.candidates.at(0).name_secure) << "the operator's name";
  EXPECT_FALSE(b.candidates.at(0).addresses_secure) << "its A answer was insecure";
  DiscoveryResult c = build_candidates(o, "[127.0.0.1]", {}, {}, rng);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.candidates.at(0).name_secure) << "a literal has no name";
  EXPECT_TRUE(c.candidates.at(0).addresses_secure);
}

TEST(DnssecCandidates, OffMeansEveryFlagIsFalse) {
  Rng rng(1);
  DiscoveryResult r = build_candidates(DiscoveryOptions{}, "d.test", answers(true, true),
                                       addresses(), rng);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.dnssec);
  for (const Candidate& c : r.candidates) {
    EXPECT_FALSE(c.name_secure) << c.host;
    EXPECT_FALSE(c.addresses_secure) << c.host;
  }
}

TEST(DnssecCandidates, FromConfig) {
  config::Config cfg;
  EXPECT_FALSE(DiscoveryOptions::from_config(cfg).dnssec);
  cfg.dns.dnssec = true;
  EXPECT_TRUE(DiscoveryOptions::from_config(cfg).dnssec);
}

TEST(DnssecJson, SecureFieldsOnlyWhenDnssecIsOn) {
  Rng rng(1);
  DiscoveryResult off = build_candidates(DiscoveryOptions{}, "d.test", answers(true, false),
                                         addresses(), rng);
  nlohmann::json j = to_json(off);
  EXPECT_FALSE(j.contains("dnssec"));
  for (const auto& c : j["candidates"]) {
    EXPECT_EQ(c.size(), 6u) << c.dump();  // host port method secmx preference addresses
    EXPECT_FALSE(c.contains("name_secure"));
    EXPECT_FALSE(c.contains("addresses_secure"));
  }
  EXPECT_FALSE(to_json(ip("127.0.0.1", false)).contains("secure"));

  DiscoveryResult on = build_candidates(dnssec_on(), "d.test", answers(true, false),
                                        addresses(), rng);
  j = to_json(on);
  EXPECT_EQ(j["dnssec"], true);
  const auto& first = j["candidates"][0];
  EXPECT_EQ(first["host"], "sor.d.test");
  EXPECT_EQ(first["name_secure"], true);
  EXPECT_EQ(first["addresses_secure"], true);
  EXPECT_EQ(to_json(ip("127.0.0.1", true), true)["secure"], true);
}

TEST(DnssecJson, TlsaAnswer) {
  TlsaAnswer a = ok(std::vector<TlsaRecord>{{3, 1, 1, {0x0a, 0xff}}}, true);
  nlohmann::json j = to_json(a, true);
  nlohmann::json want{{"usage", 3}, {"selector", 1}, {"matching_type", 1}, {"data", "0aff"}};
  EXPECT_EQ(j["records"][0], want);
  EXPECT_EQ(j["secure"], true);
}

}  // namespace
}  // namespace secmx::dns
