// txt_answer_test.cpp - the TXT answer parser that feeds the MTA-STS source
// (dns_answer.hpp's txt_answer): each record's character-strings kept apart, in order.
#include <ares.h>
#include <gtest/gtest.h>

#include "relay/dns/dns_answer.hpp"
#include "tests/unit/dns/dns_wire.hpp"

namespace secmx::dns {
namespace {

using namespace wire;

Bytes rdata_txt(std::initializer_list<std::string> strings) {
  Bytes b;
  for (const auto& s : strings) {
    b.push_back(static_cast<std::uint8_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  return b;
}

TEST(TxtAnswer, RecordsKeepTheirStringsAndBoundaries) {
  constexpr std::uint16_t kTxt = 16;
  Message m;
  m.qname = "_mta-sts.d.test";
  m.qtype = kTxt;
  m.answers = {{"_mta-sts.d.test", kTxt, 600, rdata_txt({"v=STSv1; ", "id=abc;"})},
               {"_mta-sts.d.test", kTxt, 300, rdata_txt({"other", "", "x"})}};
  Bytes b = m.encode();
  TxtAnswer a = txt_answer(TtlLimits{}, ARES_SUCCESS, b.data(), static_cast<int>(b.size()));
  ASSERT_TRUE(a.ok()) << a.error;
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0].strings, (std::vector<std::string>{"v=STSv1; ", "id=abc;"}));
  EXPECT_EQ(a.records[1].strings, (std::vector<std::string>{"other", "", "x"}));
  EXPECT_EQ(a.ttl, 300u);
}

TEST(TxtAnswer, NoDataAndMalformed) {
  Message m;
  m.qname = "_mta-sts.d.test";
  m.qtype = 16;
  Bytes b = m.encode();
  TxtAnswer a = txt_answer(TtlLimits{}, ARES_ENODATA, b.data(), static_cast<int>(b.size()));
  EXPECT_EQ(a.status, LookupStatus::NoData);
  m.answers = {{"_mta-sts.d.test", 16, 600, Bytes{9, 'x'}}};  // string longer than its rdata
  b = m.encode();
  a = txt_answer(TtlLimits{}, ARES_SUCCESS, b.data(), static_cast<int>(b.size()));
  EXPECT_EQ(a.status, LookupStatus::Temporary);
}

}  // namespace
}  // namespace secmx::dns
