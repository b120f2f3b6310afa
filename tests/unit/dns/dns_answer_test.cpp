// dns_answer_test.cpp - c-ares statuses and raw replies into typed answers (dns_answer.hpp),
// without a network: the cases the resolver tests reach through a live loop, plus the
// odd names the fuzz target found.
#include "relay/dns/dns_answer.hpp"

#include <ares.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "tests/unit/dns/dns_wire.hpp"

namespace secmx::dns {
namespace {

using namespace wire;

int len(const Bytes& b) { return static_cast<int>(b.size()); }

TEST(DnsAnswer, MxRecordsWithTheirClampedTtl) {
  Message m;
  m.qname = "d.test";
  m.qtype = kMx;
  m.answers = {{"d.test", kMx, 1, rdata_mx(10, "MX1.D.Test")},
               {"d.test", kMx, 7200, rdata_mx(51966, "secmx.d.test")}};
  Bytes b = m.encode();
  MxAnswer a = mx_answer(TtlLimits{}, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0].host, "mx1.d.test");
  EXPECT_EQ(a.records[1].preference, 51966);
  EXPECT_EQ(a.ttl, 5u);  // min(1, 7200) raised to min_ttl
}

TEST(DnsAnswer, StatusesWithoutRecords) {
  TtlLimits t;
  Message m;
  m.qname = "d.test";
  m.qtype = kA;
  m.authority = {{"d.test", kSoa, 900, rdata_soa(120)}};
  Bytes b = m.encode();
  AddressAnswer nx = address_answer(t, AF_INET, ARES_ENOTFOUND, b.data(), len(b));
  EXPECT_EQ(nx.status, LookupStatus::NxDomain);
  EXPECT_EQ(nx.ttl, 120u);
  SrvAnswer none = srv_answer(t, ARES_SUCCESS, nullptr, 0);
  EXPECT_EQ(none.status, LookupStatus::Temporary);
  EXPECT_EQ(none.error, "malformed reply");
  m.qtype = kMx;
  m.answers = {{"d.test", kMx, 300, rdata_mx(10, "mx.d.test")}};
  m.authority.clear();
  Bytes full = m.encode();
  Bytes cut(full.begin(), full.end() - 5);  // inside the MX record
  MxAnswer bad = mx_answer(t, ARES_SUCCESS, cut.data(), len(cut));
  EXPECT_EQ(bad.status, LookupStatus::Temporary);
}

// Fuzz finding: an MX host whose label holds a '.' (c-ares writes "\.") followed by a label
// of one NUL byte came out as "x\." and normalised differently a second time.
TEST(DnsAnswer, NamesStayNormalisedWhateverTheLabelsHold) {
  Message m;
  m.qname = "d.test";
  m.qtype = kMx;
  Bytes rdata;
  put16(rdata, 10);
  rdata.insert(rdata.end(), {2, 'x', '.', 1, 0, 0});
  m.answers = {{"d.test", kMx, 300, rdata}};
  Bytes b = m.encode();
  MxAnswer a = mx_answer(TtlLimits{}, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(normalize_name(a.records[0].host), a.records[0].host);
}

}  // namespace
}  // namespace secmx::dns

namespace secmx::dns {
namespace {

using namespace wire;

Message tlsa_reply() {
  Message m;
  m.qname = "_25._tcp.mx1.d.test";
  m.qtype = kTlsa;
  m.answers = {{"_25._tcp.mx1.d.test", kTlsa, 600, rdata_tlsa(3, 1, 1, {0xde, 0xad, 0xbe, 0xef})},
               {"_25._tcp.mx1.d.test", kRrsig, 600, Bytes(30, 0)},
               {"_25._tcp.mx1.d.test", kTlsa, 300, rdata_tlsa(2, 0, 2, {0x01})}};
  return m;
}

TEST(DnsAnswer, TlsaRecordsAsPublished) {
  Bytes b = tlsa_reply().encode();
  TlsaAnswer a = tlsa_answer(TtlLimits{}, ARES_SUCCESS, b.data(), static_cast<int>(b.size()));
  ASSERT_TRUE(a.ok()) << a.error;
  ASSERT_EQ(a.records.size(), 2u) << "the RRSIG is not a TLSA record";
  EXPECT_EQ(a.records[0], (TlsaRecord{3, 1, 1, {0xde, 0xad, 0xbe, 0xef}}));
  EXPECT_EQ(a.records[1], (TlsaRecord{2, 0, 2, {0x01}}));
  EXPECT_EQ(a.ttl, 300u);
}

TEST(DnsAnswer, TlsaNegativeAndMalformed) {
  TtlLimits t;
  Message m = tlsa_reply();
  m.answers.clear();
  m.authority = {{"d.test", kSoa, 900, rdata_soa(120)}};
  Bytes none = m.encode();
  TlsaAnswer nodata = tlsa_answer(t, ARES_ENODATA, none.data(), static_cast<int>(none.size()));
  EXPECT_EQ(nodata.status, LookupStatus::NoData);
  EXPECT_EQ(nodata.ttl, 120u);

  m.authority.clear();
  m.answers = {{"_25._tcp.mx1.d.test", kTlsa, 600, Bytes{3, 1}}};  // shorter than 3 octets
  Bytes bad = m.encode();
  TlsaAnswer a = tlsa_answer(t, ARES_SUCCESS, bad.data(), static_cast<int>(bad.size()));
  EXPECT_EQ(a.status, LookupStatus::Temporary) << "never read as \"no TLSA\"";
  EXPECT_EQ(a.error, "malformed reply (TLSA)");

  // Usage, selector and matching type are kept even when unusable for SMTP (PKIX-EE), and
  // an empty association is a record too: DANE decides, not the parser.
  m.answers = {{"_25._tcp.mx1.d.test", kTlsa, 600, rdata_tlsa(1, 0, 0, {})}};
  Bytes odd = m.encode();
  TlsaAnswer kept = tlsa_answer(t, ARES_SUCCESS, odd.data(), static_cast<int>(odd.size()));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.records.at(0), (TlsaRecord{1, 0, 0, {}}));

  // Every truncation of a good reply: Temporary, never a crash (run under ASan too).
  Bytes good = tlsa_reply().encode();
  for (std::size_t n = 0; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    TlsaAnswer c = tlsa_answer(t, ARES_SUCCESS, cut.empty() ? nullptr : cut.data(),
                               static_cast<int>(n));
    EXPECT_EQ(c.status, LookupStatus::Temporary) << "cut at " << n;
  }
}

// RFC 7672 §2.2.2 needs the end of an A/AAAA answer's CNAME chain: c-ares 1.18's hostent
// only names the first CNAME's target, so the chain is followed here.
TEST(DnsAnswer, CanonicalNameIsTheEndOfTheCnameChain) {
  Message m;
  m.qname = "MX.D.Test";
  m.qtype = kA;
  m.answers = {{"mx.d.test", kCname, 300, rdata_name("b.hosting.test")},
               {"b.hosting.test", kCname, 300, rdata_name("C.Hosting.Test")},
               {"c.hosting.test", kA, 300, rdata_a("127.0.0.20")}};
  Bytes b = m.encode();
  AddressAnswer a = address_answer(TtlLimits{}, AF_INET, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.canonical, "c.hosting.test");

  m.qtype = kAaaa;
  m.answers = {{"mx.d.test", kCname, 300, rdata_name("v6.hosting.test")},
               {"v6.hosting.test", kAaaa, 300, rdata_aaaa("::20")}};
  b = m.encode();
  a = address_answer(TtlLimits{}, AF_INET6, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.canonical, "v6.hosting.test");
}

TEST(DnsAnswer, NoCnameNoCanonicalName) {
  Message m;
  m.qname = "mx.d.test";
  m.qtype = kA;
  m.answers = {{"mx.d.test", kA, 300, rdata_a("127.0.0.20")},
               {"other.test", kCname, 300, rdata_name("elsewhere.test")}};  // not our chain
  Bytes b = m.encode();
  AddressAnswer a = address_answer(TtlLimits{}, AF_INET, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.canonical, "");
}

TEST(DnsAnswer, CnameLoopEndsSomewhereWithoutHanging) {
  Message m;
  m.qname = "a.test";
  m.qtype = kA;
  // c-ares takes the address (it reads the records in order); the chain never ends.
  m.answers = {{"a.test", kCname, 300, rdata_name("b.test")},
               {"b.test", kA, 300, rdata_a("127.0.0.1")},
               {"b.test", kCname, 300, rdata_name("a.test")}};
  Bytes b = m.encode();
  AddressAnswer a = address_answer(TtlLimits{}, AF_INET, ARES_SUCCESS, b.data(), len(b));
  ASSERT_TRUE(a.ok()) << a.error;
  EXPECT_TRUE(a.canonical.empty() || a.canonical == "b.test") << "'" << a.canonical << "'";
}

}  // namespace
}  // namespace secmx::dns
