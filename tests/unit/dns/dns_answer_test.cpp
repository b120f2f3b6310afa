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
