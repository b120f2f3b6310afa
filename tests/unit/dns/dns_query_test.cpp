// dns_query_test.cpp - the DNSSEC query (DO and AD bits only when asked) and the RCODE
// mapping that stands in for ares_query()'s, over bytes without a network; plus the AD bit
// and the secure flag read from replies.
#include "relay/dns/dns_query.hpp"

#include <ares.h>
#include <gtest/gtest.h>

#include <set>

#include "relay/dns/dns_answer.hpp"
#include "relay/dns/dns_message.hpp"
#include "tests/unit/dns/dns_wire.hpp"

namespace secmx::dns {
namespace {

using namespace wire;

int len(const Bytes& b) { return static_cast<int>(b.size()); }

TEST(BuildQuery, PlainQueryIsWhatAresQuerySends) {
  auto q = build_query("mx1.d.test", kA, 0x1234, {1232, false});
  ASSERT_TRUE(q.ok()) << q.error();
  std::uint16_t id = 0, qtype = 0;
  std::string qname;
  ASSERT_TRUE(parse_query(q->data(), q->size(), id, qname, qtype));
  EXPECT_EQ(id, 0x1234);
  EXPECT_EQ(qname, "mx1.d.test");
  EXPECT_EQ(qtype, kA);
  EXPECT_EQ((*q)[2] & 0x01, 0x01) << "RD set";
  QueryBits bits = query_bits(q->data(), q->size());
  EXPECT_TRUE(bits.opt) << "EDNS0, as the resolver's channel has ARES_FLAG_EDNS";
  EXPECT_FALSE(bits.ad);
  EXPECT_FALSE(bits.do_bit);

  // Byte for byte what c-ares builds for ares_query() on the same channel settings.
  unsigned char* ref = nullptr;
  int ref_len = 0;
  ASSERT_EQ(ares_create_query("mx1.d.test", 1, kA, 0x1234, 1, &ref, &ref_len, 1232), ARES_SUCCESS);
  EXPECT_EQ(*q, Bytes(ref, ref + ref_len));
  ares_free_string(ref);
}

TEST(BuildQuery, DnssecSetsAdInTheHeaderAndDoInTheOptRr) {
  auto q = build_query("_25._tcp.mx1.d.test", kTlsa, 7, {1232, true});
  ASSERT_TRUE(q.ok()) << q.error();
  QueryBits bits = query_bits(q->data(), q->size());
  EXPECT_TRUE(bits.ad);
  EXPECT_TRUE(bits.opt);
  EXPECT_TRUE(bits.do_bit);
  // Nothing else moved: the same query without the two bits.
  auto plain = build_query("_25._tcp.mx1.d.test", kTlsa, 7, {1232, false});
  ASSERT_TRUE(plain.ok());
  Bytes stripped = *q;
  stripped[3] &= static_cast<std::uint8_t>(~0x20);
  stripped[stripped.size() - 4] &= static_cast<std::uint8_t>(~0x80);
  EXPECT_EQ(stripped, *plain);
  EXPECT_EQ((*q)[q->size() - 8], 1232 >> 8) << "payload size in the OPT RR's CLASS";
}

TEST(BuildQuery, WithoutEdnsOnlyTheAdBitCanAsk) {
  auto q = build_query("d.test", kMx, 7, {0, true});
  ASSERT_TRUE(q.ok());
  QueryBits bits = query_bits(q->data(), q->size());
  EXPECT_TRUE(bits.ad);
  EXPECT_FALSE(bits.opt);
}

TEST(BuildQuery, UnencodableNameIsAnError) {
  auto q = build_query(std::string(64, 'a') + ".test", kA, 1, {1232, true});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error(), ARES_EBADNAME);
}

TEST(RandomQueryId, Varies) {
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(random_query_id());
  EXPECT_GT(seen.size(), 32u);
}

TEST(ReplyStatus, MapsRcodesAsAresQueryDoes) {
  auto status_of = [](std::uint16_t rcode, bool answers) {
    Message m;
    m.qname = "d.test";
    m.rcode = rcode;
    if (answers) m.answers = {{"d.test", kA, 60, rdata_a("127.0.0.1")}};
    Bytes b = m.encode();
    return reply_status(ARES_SUCCESS, b.data(), len(b));
  };
  EXPECT_EQ(status_of(kNoError, true), ARES_SUCCESS);
  EXPECT_EQ(status_of(kNoError, false), ARES_ENODATA);
  EXPECT_EQ(status_of(1, false), ARES_EFORMERR);
  EXPECT_EQ(status_of(kServFail, false), ARES_ESERVFAIL);
  EXPECT_EQ(status_of(kNxDomain, false), ARES_ENOTFOUND);
  EXPECT_EQ(status_of(4, false), ARES_ENOTIMP);
  EXPECT_EQ(status_of(kRefused, false), ARES_EREFUSED);
  EXPECT_EQ(reply_status(ARES_ETIMEOUT, nullptr, 0), ARES_ETIMEOUT);
  EXPECT_EQ(reply_status(ARES_ECONNREFUSED, nullptr, 0), ARES_ECONNREFUSED);
  const unsigned char shorter[5] = {0, 0, 0x81, 0x80, 0};
  EXPECT_EQ(reply_status(ARES_SUCCESS, shorter, 5), ARES_EBADRESP);
}

TEST(ReplyStatus, BogusDataIsATemporaryFailureNeverNoRecord) {
  // A validating resolver answers SERVFAIL for data that fails validation.
  Message m;
  m.qname = "bogus.test";
  m.qtype = kMx;
  m.rcode = kServFail;
  Bytes b = m.encode();
  int st = reply_status(ARES_SUCCESS, b.data(), len(b));
  MxAnswer a = mx_answer(TtlLimits{}, st, b.data(), len(b));
  mark_secure(a, b.data(), len(b));
  EXPECT_EQ(a.status, LookupStatus::Temporary);
  EXPECT_EQ(a.error, "SERVFAIL");
  EXPECT_FALSE(a.secure);
  // c-ares itself, after trying every server, reports it as below: Temporary too.
  MxAnswer after_retries = mx_answer(TtlLimits{}, ARES_ECONNREFUSED, nullptr, 0);
  EXPECT_EQ(after_retries.status, LookupStatus::Temporary);
}

TEST(AuthenticatedData, TheAdBitOfTheHeader) {
  Message m;
  m.qname = "d.test";
  Bytes plain = m.encode();
  EXPECT_FALSE(authenticated_data(plain.data(), plain.size()));
  m.ad = true;
  Bytes ad = m.encode();
  EXPECT_TRUE(authenticated_data(ad.data(), ad.size()));
  EXPECT_EQ(ad[3] & 0x20, 0x20);
  EXPECT_FALSE(authenticated_data(ad.data(), 11)) << "shorter than a header";
  EXPECT_FALSE(authenticated_data(nullptr, 0));
}

TEST(MarkSecure, OkAndAuthenticatedDenialsCarryTheFlag) {
  Message m;
  m.qname = "d.test";
  m.qtype = kA;
  m.ad = true;
  m.answers = {{"d.test", kA, 60, rdata_a("127.0.0.1")}};
  Bytes ok = m.encode();
  AddressAnswer a = address_answer(TtlLimits{}, AF_INET, ARES_SUCCESS, ok.data(), len(ok));
  mark_secure(a, ok.data(), len(ok));
  EXPECT_TRUE(a.secure);
  EXPECT_EQ(summary(a), "ok ttl=60 secure");

  m.answers.clear();
  m.rcode = kNxDomain;
  Bytes nx = m.encode();
  AddressAnswer denial =
      address_answer(TtlLimits{}, AF_INET, reply_status(ARES_SUCCESS, nx.data(), len(nx)),
                     nx.data(), len(nx));
  mark_secure(denial, nx.data(), len(nx));
  EXPECT_EQ(denial.status, LookupStatus::NxDomain);
  EXPECT_TRUE(denial.secure) << "an authenticated denial of existence";

  m.ad = false;
  m.rcode = kNoError;
  m.answers = {{"d.test", kA, 60, rdata_a("127.0.0.1")}};
  Bytes insecure = m.encode();
  AddressAnswer b =
      address_answer(TtlLimits{}, AF_INET, ARES_SUCCESS, insecure.data(), len(insecure));
  mark_secure(b, insecure.data(), len(insecure));
  EXPECT_FALSE(b.secure);
  EXPECT_EQ(summary(b), "ok ttl=60");
}

}  // namespace
}  // namespace secmx::dns
