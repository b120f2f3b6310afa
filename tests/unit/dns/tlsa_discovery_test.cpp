// tlsa_discovery_test.cpp - DANE in discovery (RFC 7672 §2.1-§2.2): which records are usable
// for SMTP, what an answer makes of a host, and which TLSA lookups the driver makes over a
// scripted resolver - secure or insecure answers, failures, CNAME chains, shared names,
// DNSSEC off.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "relay/dns/discovery.hpp"
#include "relay/dns/discovery_json.hpp"
#include "relay/dns/tlsa_select.hpp"
#include "tests/unit/dns/scripted_resolver.hpp"

namespace secmx::dns {
namespace {

using scripted::denial;
using scripted::ip;
using scripted::ok;

TlsaRecord rec(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching,
               std::size_t size, std::uint8_t fill = 0xab) {
  return {usage, selector, matching, std::vector<std::uint8_t>(size, fill)};
}

const TlsaRecord kEe = rec(3, 1, 1, 32);        // DANE-EE SPKI SHA-256
const TlsaRecord kTa = rec(2, 0, 2, 64, 0xcd);  // DANE-TA certificate SHA-512
const TlsaRecord kPkix = rec(0, 0, 1, 32);      // PKIX-TA: unusable for SMTP

TlsaAnswer tlsa(std::vector<TlsaRecord> rs, bool secure = true) {
  return ok(std::move(rs), secure);
}

bool contains(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

// ------------------------------------------------------------------------ the pure rules

TEST(TlsaSelect, UsableForSmtp) {
  EXPECT_TRUE(usable_for_smtp(kEe));
  EXPECT_TRUE(usable_for_smtp(kTa));
  EXPECT_TRUE(usable_for_smtp(rec(3, 0, 0, 300)));  // the full certificate
  EXPECT_FALSE(usable_for_smtp(kPkix)) << "PKIX-TA";
  EXPECT_FALSE(usable_for_smtp(rec(1, 1, 1, 32))) << "PKIX-EE";
  EXPECT_FALSE(usable_for_smtp(rec(4, 1, 1, 32))) << "unknown usage";
  EXPECT_FALSE(usable_for_smtp(rec(3, 2, 1, 32))) << "unknown selector";
  EXPECT_FALSE(usable_for_smtp(rec(3, 1, 3, 32))) << "unknown matching type";
  EXPECT_FALSE(usable_for_smtp(rec(3, 1, 1, 31))) << "SHA-256 is 32 octets";
  EXPECT_FALSE(usable_for_smtp(rec(3, 1, 1, 64))) << "SHA-256 is 32 octets";
  EXPECT_FALSE(usable_for_smtp(rec(2, 1, 2, 32))) << "SHA-512 is 64 octets";
  EXPECT_FALSE(usable_for_smtp(rec(3, 1, 0, 0))) << "exact match of nothing";
}

TEST(TlsaSelect, AnswerToStatus) {
  HostTlsa usable = select_tlsa(tlsa({kPkix, kEe, kTa}), "_25._tcp.mx.d.test", "mx.d.test");
  EXPECT_EQ(usable.status, TlsaStatus::Usable);
  EXPECT_EQ(usable.records, (std::vector<TlsaRecord>{kEe, kTa})) << "the usable ones only";
  EXPECT_EQ(usable.base, "mx.d.test");

  EXPECT_EQ(select_tlsa(tlsa({kPkix, rec(3, 1, 1, 5)}), "n", "b").status,
            TlsaStatus::UnusableOnly);
  EXPECT_TRUE(select_tlsa(tlsa({kPkix}), "n", "b").records.empty());

  for (LookupStatus s : {LookupStatus::NoData, LookupStatus::NxDomain}) {
    EXPECT_EQ(select_tlsa(denial<TlsaRecord>(s, true), "n", "b").status, TlsaStatus::None);
    EXPECT_EQ(select_tlsa(denial<TlsaRecord>(s, false), "n", "b").status, TlsaStatus::None);
  }
  EXPECT_EQ(select_tlsa(tlsa({kEe}, false), "n", "b").status, TlsaStatus::None)
      << "insecure records are no records";

  HostTlsa failed = select_tlsa(scripted::temporary<TlsaRecord>("SERVFAIL"),
                                "_25._tcp.mx.d.test", "mx.d.test");
  EXPECT_EQ(failed.status, TlsaStatus::Failed);
  EXPECT_EQ(failed.detail, "TLSA _25._tcp.mx.d.test: SERVFAIL");
}

TEST(TlsaSelect, NamesAndRecordText) {
  EXPECT_EQ(tlsa_name(25, "MX.D.Test."), "_25._tcp.mx.d.test");
  EXPECT_EQ(tlsa_name(2525, "sor.d.test"), "_2525._tcp.sor.d.test");
  EXPECT_EQ(to_string(TlsaRecord{3, 1, 1, {0x0a, 0xff}}), "3 1 1 0aff");
}

// ------------------------------------------------------------------- through the driver

// d.test: MX 10 mx.d.test, with DNSSEC on and only the MX method, everything secure unless
// a test says otherwise.
struct DaneWorld {
  ScriptedResolver res;
  DiscoveryOptions opts;

  DaneWorld() {
    opts.dnssec = true;
    opts.srv = opts.name = false;
    res.mx["d.test"] = ok<MxRecord>({{10, "mx.d.test"}}, true);
    res.a["mx.d.test"] = ip("127.0.0.20", true);
    res.aaaa["mx.d.test"] = denial<IpAddress>(LookupStatus::NoData, true);
  }

  DiscoveryResult discover(const std::string& domain = "d.test") {
    Discovery d(res, opts, 1);
    std::optional<DiscoveryResult> got;
    int calls = 0;
    d.discover(domain, [&](DiscoveryResult r) {
      ++calls;
      got = std::move(r);
    });
    res.run();
    EXPECT_EQ(calls, 1);
    return got.value_or(DiscoveryResult{});
  }

  std::vector<std::string> tlsa_asked() const {
    std::vector<std::string> out;
    for (const std::string& q : res.asked) {
      if (q.starts_with("TLSA ")) out.push_back(q.substr(5));
    }
    return out;
  }
};

Candidate only(const DiscoveryResult& r) {
  EXPECT_EQ(r.candidates.size(), 1u) << r.trace_text();
  return r.candidates.empty() ? Candidate{} : r.candidates.front();
}

TEST(DaneDiscovery, SecureHostWithUsableTlsa) {
  DaneWorld w;
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe, kPkix});
  DiscoveryResult r = w.discover();
  ASSERT_TRUE(r.ok()) << r.reason;
  Candidate c = only(r);
  EXPECT_EQ(c.tlsa.status, TlsaStatus::Usable);
  EXPECT_EQ(c.tlsa.records, std::vector<TlsaRecord>{kEe});
  EXPECT_EQ(c.tlsa.base, "mx.d.test");
  EXPECT_EQ(w.tlsa_asked(), std::vector<std::string>{"_25._tcp.mx.d.test"});
  EXPECT_TRUE(contains(r.trace, "TLSA _25._tcp.mx.d.test: ok ttl=300 secure: 1 usable, 1 unusable"))
      << r.trace_text();
  EXPECT_TRUE(contains(r.trace, "mx mx.d.test:25 tlsa: usable (1 record)")) << r.trace_text();
}

TEST(DaneDiscovery, UnusableRecordsOnly) {
  DaneWorld w;
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kPkix, rec(1, 1, 1, 32)});
  Candidate c = only(w.discover());
  EXPECT_EQ(c.tlsa.status, TlsaStatus::UnusableOnly);
  EXPECT_TRUE(c.tlsa.records.empty());
}

TEST(DaneDiscovery, SecureDenialMeansNone) {
  for (LookupStatus s : {LookupStatus::NxDomain, LookupStatus::NoData}) {
    DaneWorld w;
    w.res.tlsa["_25._tcp.mx.d.test"] = denial<TlsaRecord>(s, true);
    EXPECT_EQ(only(w.discover()).tlsa.status, TlsaStatus::None) << to_string(s);
  }
}

TEST(DaneDiscovery, InsecureTlsaAnswerMeansNone) {
  DaneWorld w;
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe}, false);
  Candidate c = only(w.discover());
  EXPECT_EQ(c.tlsa.status, TlsaStatus::None);
  EXPECT_TRUE(c.tlsa.records.empty());
}

TEST(DaneDiscovery, ServfailMeansFailedAndTheHostStays) {
  DaneWorld w;
  w.res.tlsa["_25._tcp.mx.d.test"] = scripted::temporary<TlsaRecord>("SERVFAIL");
  DiscoveryResult r = w.discover();
  ASSERT_TRUE(r.ok()) << "the host is skipped at delivery, not dropped from discovery";
  Candidate c = only(r);
  EXPECT_EQ(c.tlsa.status, TlsaStatus::Failed);
  EXPECT_NE(c.tlsa.detail.find("SERVFAIL"), std::string::npos) << c.tlsa.detail;
  EXPECT_TRUE(contains(r.trace, "mx mx.d.test:25 tlsa: failed: TLSA _25._tcp.mx.d.test: SERVFAIL"))
      << r.trace_text();
}

TEST(DaneDiscovery, InsecureMxAnswerIsNotAsked) {
  DaneWorld w;
  w.res.mx["d.test"] = ok<MxRecord>({{10, "mx.d.test"}}, false);
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  DiscoveryResult r = w.discover();
  EXPECT_EQ(only(r).tlsa.status, TlsaStatus::NotAsked);
  EXPECT_TRUE(w.tlsa_asked().empty());
  EXPECT_TRUE(contains(r.trace, "mx mx.d.test:25 tlsa: not asked (name insecure)"))
      << r.trace_text();
}

TEST(DaneDiscovery, InsecureAddressAnswerIsNotAsked) {
  DaneWorld w;
  w.res.aaaa["mx.d.test"] = ip("::20", false);  // one family insecure is enough
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  EXPECT_EQ(only(w.discover()).tlsa.status, TlsaStatus::NotAsked);
  EXPECT_TRUE(w.tlsa_asked().empty());
}

TEST(DaneDiscovery, CnameTargetFirst) {
  DaneWorld w;
  w.res.a["mx.d.test"] = ip("127.0.0.20", true, "mx.hosting.test");
  w.res.tlsa["_25._tcp.mx.hosting.test"] = tlsa({kTa});
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  Candidate c = only(w.discover());
  EXPECT_EQ(c.tlsa.status, TlsaStatus::Usable);
  EXPECT_EQ(c.tlsa.records, std::vector<TlsaRecord>{kTa});
  EXPECT_EQ(c.tlsa.base, "mx.hosting.test");
  EXPECT_EQ(w.tlsa_asked(), std::vector<std::string>{"_25._tcp.mx.hosting.test"})
      << "records at the target: the original name is not asked";
}

TEST(DaneDiscovery, CnameTargetWithoutRecordsFallsBackToTheOriginalName) {
  DaneWorld w;
  w.res.a["mx.d.test"] = ip("127.0.0.20", true, "mx.hosting.test");
  w.res.tlsa["_25._tcp.mx.hosting.test"] = denial<TlsaRecord>(LookupStatus::NxDomain, true);
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  DiscoveryResult r = w.discover();
  Candidate c = only(r);
  EXPECT_EQ(c.tlsa.status, TlsaStatus::Usable);
  EXPECT_EQ(c.tlsa.base, "mx.d.test");
  EXPECT_EQ(w.tlsa_asked(),
            (std::vector<std::string>{"_25._tcp.mx.hosting.test", "_25._tcp.mx.d.test"}));
  EXPECT_TRUE(contains(r.trace, "TLSA _25._tcp.mx.hosting.test: nxdomain secure")) << r.trace_text();
}

TEST(DaneDiscovery, CnameTargetInsecureOrFailedDecides) {
  DaneWorld w;
  w.res.a["mx.d.test"] = ip("127.0.0.20", true, "mx.hosting.test");
  w.res.tlsa["_25._tcp.mx.hosting.test"] = scripted::temporary<TlsaRecord>("timeout");
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  Candidate failed = only(w.discover());
  EXPECT_EQ(failed.tlsa.status, TlsaStatus::Failed);
  EXPECT_EQ(failed.tlsa.base, "mx.hosting.test");
  EXPECT_EQ(w.tlsa_asked(), std::vector<std::string>{"_25._tcp.mx.hosting.test"});

  DaneWorld v;
  v.res.a["mx.d.test"] = ip("127.0.0.20", true, "mx.hosting.test");
  v.res.tlsa["_25._tcp.mx.hosting.test"] = denial<TlsaRecord>(LookupStatus::NoData, false);
  v.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  EXPECT_EQ(only(v.discover()).tlsa.status, TlsaStatus::None);
  EXPECT_EQ(v.tlsa_asked(), std::vector<std::string>{"_25._tcp.mx.hosting.test"});
}

TEST(DaneDiscovery, OneLookupPerTlsaName) {
  DaneWorld w;
  w.opts.srv = true;
  // Two MX hosts hosted under one name, and the SRV host on another port.
  w.res.mx["d.test"] = ok<MxRecord>({{10, "mx1.d.test"}, {20, "mx2.d.test"}}, true);
  w.res.srv["_secmx._tcp.d.test"] = ok<SrvRecord>({{10, 0, 2525, "mx1.d.test"}}, true);
  w.res.a["mx1.d.test"] = ip("127.0.0.21", true, "mx.hosting.test");
  w.res.a["mx2.d.test"] = ip("127.0.0.22", true, "mx.hosting.test");
  w.res.tlsa["_25._tcp.mx.hosting.test"] = tlsa({kEe});
  w.res.tlsa["_2525._tcp.mx.hosting.test"] = tlsa({kTa});
  DiscoveryResult r = w.discover();
  ASSERT_EQ(r.candidates.size(), 3u) << r.trace_text();
  for (const Candidate& c : r.candidates) {
    EXPECT_EQ(c.tlsa.status, TlsaStatus::Usable) << c.to_string();
    EXPECT_EQ(c.tlsa.records.front(), c.port == 2525 ? kTa : kEe) << c.to_string();
  }
  EXPECT_EQ(w.res.count("TLSA _25._tcp.mx.hosting.test"), 1);
  EXPECT_EQ(w.res.count("TLSA _2525._tcp.mx.hosting.test"), 1);
  EXPECT_EQ(w.tlsa_asked().size(), 2u);
}

TEST(DaneDiscovery, DnssecOffAsksNothing) {
  DaneWorld w;
  w.opts.dnssec = false;
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  DiscoveryResult r = w.discover();
  ASSERT_TRUE(r.ok());
  for (const Candidate& c : r.candidates) EXPECT_EQ(c.tlsa.status, TlsaStatus::NotAsked);
  EXPECT_TRUE(w.tlsa_asked().empty());
  EXPECT_FALSE(contains(r.trace, "tlsa")) << r.trace_text();
  EXPECT_FALSE(to_json(r)["candidates"][0].contains("tlsa"));
}

TEST(DaneDiscovery, RouteHostNameIsAskedALiteralNever) {
  DaneWorld w;
  config::Route named;
  named.domain = "d.test";
  named.host = "hub.test:2600";
  config::Route literal;
  literal.domain = "lit.test";
  literal.host = "[127.0.0.7]";
  w.opts.routes = {named, literal};
  w.res.a["hub.test"] = ip("127.0.0.6", true);
  w.res.aaaa["hub.test"] = denial<IpAddress>(LookupStatus::NoData, true);
  w.res.tlsa["_2600._tcp.hub.test"] = tlsa({kEe});
  EXPECT_EQ(only(w.discover()).tlsa.status, TlsaStatus::Usable);
  EXPECT_EQ(only(w.discover("lit.test")).tlsa.status, TlsaStatus::NotAsked);
  EXPECT_EQ(w.tlsa_asked(), std::vector<std::string>{"_2600._tcp.hub.test"});
}

TEST(DaneDiscovery, Json) {
  DaneWorld w;
  w.res.tlsa["_25._tcp.mx.d.test"] = tlsa({TlsaRecord{3, 1, 1, {0x0a, 0xff}}, kPkix});
  nlohmann::json j = to_json(w.discover());
  nlohmann::json want{{"status", "unusable"}, {"base", "mx.d.test"}, {"detail", ""},
                      {"records", nlohmann::json::array()}};
  EXPECT_EQ(j["candidates"][0]["tlsa"], want) << "3 1 1 of two octets is not usable";

  DaneWorld u;
  u.res.tlsa["_25._tcp.mx.d.test"] = tlsa({kEe});
  j = to_json(u.discover());
  EXPECT_EQ(j["candidates"][0]["tlsa"]["status"], "usable");
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(j["candidates"][0]["tlsa"]["records"], nlohmann::json::array({"3 1 1 " + hex}));
}

}  // namespace
}  // namespace secmx::dns
