// dns_message_test.cpp - answer_ttl() and negative_ttl() over well-formed, compressed and
// malformed replies (every truncation of a good reply must give nullopt, never a crash).
#include "relay/dns/dns_message.hpp"

#include <gtest/gtest.h>

#include "tests/unit/dns/dns_wire.hpp"

namespace secmx::dns {
namespace {

using namespace wire;

Message mx_reply() {
  Message m;
  m.qname = "d.test";
  m.qtype = kMx;
  m.answers = {{"d.test", kMx, 300, rdata_mx(10, "mx1.d.test")},
               {"d.test", kMx, 120, rdata_mx(20, "mx2.d.test")}};
  return m;
}

TEST(AnswerTtl, SmallestOfTheAskedType) {
  Bytes b = mx_reply().encode();
  EXPECT_EQ(answer_ttl(b.data(), b.size(), kMx), 120u);
  EXPECT_EQ(answer_ttl(b.data(), b.size(), kSrv), std::nullopt) << "no SRV in the answer";
}

TEST(AnswerTtl, CnameChainCountsItsShortestLink) {
  Message m;
  m.qname = "www.d.test";
  m.answers = {{"www.d.test", kCname, 30, rdata_name("host.d.test")},
               {"host.d.test", kA, 600, rdata_a("127.0.0.1")}};
  Bytes b = m.encode();
  EXPECT_EQ(answer_ttl(b.data(), b.size(), kA), 30u);
}

TEST(AnswerTtl, TopBitSetReadsAsZero) {  // RFC 2181 §8
  Message m;
  m.qname = "d.test";
  m.answers = {{"d.test", kA, 0x80000010u, rdata_a("127.0.0.1")}};
  Bytes b = m.encode();
  EXPECT_EQ(answer_ttl(b.data(), b.size(), kA), 0u);
}

TEST(AnswerTtl, FollowsNoCompressionPointerButSkipsIt) {
  // Owner name as a pointer to the question name at offset 12.
  Bytes b;
  put16(b, 1);
  put16(b, 0x8180);
  put16(b, 1);
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  Bytes q = name("d.test");
  b.insert(b.end(), q.begin(), q.end());
  put16(b, kA);
  put16(b, 1);
  b.push_back(0xC0);
  b.push_back(12);
  put16(b, kA);
  put16(b, 1);
  put32(b, 77);
  put16(b, 4);
  Bytes a = rdata_a("127.0.0.9");
  b.insert(b.end(), a.begin(), a.end());
  EXPECT_EQ(answer_ttl(b.data(), b.size(), kA), 77u);
}

TEST(NegativeTtl, MinimumOfSoaTtlAndSoaMinimum) {
  Message m;
  m.rcode = kNxDomain;
  m.qname = "nope.test";
  m.authority = {{"test", kSoa, 900, rdata_soa(60)}};
  Bytes b = m.encode();
  EXPECT_EQ(negative_ttl(b.data(), b.size()), 60u);
  m.authority = {{"test", kSoa, 40, rdata_soa(3600)}};
  b = m.encode();
  EXPECT_EQ(negative_ttl(b.data(), b.size()), 40u);
}

TEST(NegativeTtl, SoaInTheAnswerSectionDoesNotCount) {
  Message m;
  m.qname = "test";
  m.qtype = kSoa;
  m.answers = {{"test", kSoa, 10, rdata_soa(10)}};
  Bytes b = m.encode();
  EXPECT_EQ(negative_ttl(b.data(), b.size()), std::nullopt);
}

TEST(NegativeTtl, NoSoaMeansNoValue) {
  Message m;
  m.rcode = kNxDomain;
  m.qname = "nope.test";
  Bytes b = m.encode();
  EXPECT_EQ(negative_ttl(b.data(), b.size()), std::nullopt);
}

TEST(NegativeTtl, SoaWithBadRdataLengthIsMalformed) {
  Message m;
  m.rcode = kNxDomain;
  m.qname = "nope.test";
  Bytes soa = rdata_soa(60);
  soa.push_back(0);  // one byte too many after MINIMUM
  m.authority = {{"test", kSoa, 900, soa}};
  Bytes b = m.encode();
  EXPECT_EQ(negative_ttl(b.data(), b.size()), std::nullopt);
}

TEST(DnsMessage, EveryTruncationIsRejectedQuietly) {
  Message m = mx_reply();
  m.authority = {{"test", kSoa, 900, rdata_soa(60)}};
  Bytes full = m.encode();
  ASSERT_EQ(answer_ttl(full.data(), full.size(), kMx), 120u);
  ASSERT_EQ(negative_ttl(full.data(), full.size()), 60u);
  for (std::size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(negative_ttl(cut.data(), cut.size()), std::nullopt) << "length " << n;
    // The answer section may be complete before the cut; then its TTL is still right.
    auto ttl = answer_ttl(cut.data(), cut.size(), kMx);
    EXPECT_TRUE(!ttl || *ttl == 120u) << "length " << n;
  }
  EXPECT_EQ(answer_ttl(nullptr, 0, kMx), std::nullopt);
}

TEST(DnsMessage, ReservedLabelTypeAndLabelLoopsAreRejected) {
  Bytes b = mx_reply().encode();
  Bytes bad = b;
  bad[12] = 0x40;  // first question label: reserved 01 label type
  EXPECT_EQ(answer_ttl(bad.data(), bad.size(), kMx), std::nullopt);
  // More answers announced than present.
  bad = b;
  bad[7] = 9;
  EXPECT_EQ(answer_ttl(bad.data(), bad.size(), kMx), std::nullopt);
  // A name of 200 one-byte labels runs past the 128-label limit.
  Bytes longname;
  for (int i = 0; i < 200; ++i) {
    longname.push_back(1);
    longname.push_back('a');
  }
  bad.assign(b.begin(), b.begin() + 12);
  bad.insert(bad.end(), longname.begin(), longname.end());
  bad.push_back(0);
  put16(bad, kMx);
  put16(bad, 1);
  EXPECT_EQ(answer_ttl(bad.data(), bad.size(), kMx), std::nullopt);
}

}  // namespace
}  // namespace secmx::dns
