// audit_report_test.cpp - the auditor's report: counts by classification x policy x outcome x
// auth over the outcomes of the range only, and its three lists (SOS/REQUIRETLS delivered
// without authenticated TLS, unreadable markings, releases of mail held by policy), bounded.
#include "relay/audit/audit_report.hpp"

#include <gtest/gtest.h>

#include "tests/unit/audit/audit_test_util.hpp"

namespace secmx::audit {
namespace {

using namespace secmx::audit::test;
using model::Policy;
using model::TlsLevel;

constexpr std::int64_t kHour = 3'600'000'000;

// A day of traffic on 2026-11-02 with one record on each side of it.
void fill(queue::Store& store) {
  const std::int64_t day = kNov1 + kDay;
  auto sos = recipient("bob@dest.example", Policy::SOS, TlsLevel::Verify);
  auto bes = recipient("carol@plain.example", Policy::BES);
  auto prot = envelope(1, "PROTECTED");
  auto off = envelope(2, "OFFICIAL");
  auto rtls = envelope(3, "OFFICIAL", true);
  json bad_marking = json::array({{{"source", "X-Protective-Marking"}, {"text", "VER=2018.4, SEC=PRTECTED"},
                                   {"level", nullptr}, {"error", "unknown SEC value 'PRTECTED'"}}});
  auto unknown = envelope(4, "unknown");
  json rejected = accept(day + 5 * kHour, unknown, {sos}, bad_marking);
  rejected["event"] = "reject";
  rejected["queue_id"] = "";
  rejected["reason"] = "rule=2(unreadable marking)";
  rejected["reply"] = "550 5.7.1 marking unreadable";
  append(store, {
      {kNov1, outcome(kNov1, prot, sos, "delivered", "TLSv1.3/X/none")},  // the day before
      {day + 1 * kHour, accept(day + kHour, prot, {sos, bes})},
      {day + 2 * kHour, outcome(day + 2 * kHour, prot, sos, "delivered", "TLSv1.3/X/dane")},
      {day + 2 * kHour, outcome(day + 2 * kHour, prot, bes, "delivered", "TLSv1.2/Y/none")},
      {day + 3 * kHour, outcome(day + 3 * kHour, off, sos, "delivered", "TLSv1.3/X/dane")},
      {day + 3 * kHour, outcome(day + 3 * kHour, off, sos, "delivered", "TLSv1.3/X/dane")},
      {day + 4 * kHour, outcome(day + 4 * kHour, off, sos, "failed", "")},
      {day + 4 * kHour, outcome(day + 4 * kHour, off, sos, "delivered", "TLSv1.3/X/none")},   // listed
      {day + 4 * kHour, outcome(day + 4 * kHour, rtls, bes, "delivered", "TLSv1.3/X/none")},  // listed
      {day + 4 * kHour, outcome(day + 4 * kHour, rtls, bes, "delivered", "TLSv1.3/X/pkix")},
      {day + 5 * kHour, rejected},                                                            // listed
      {day + 5 * kHour, accept(day + 5 * kHour, unknown, {bes}, json::array())},            // listed
      {day + 6 * kHour, release(day + 6 * kHour, prot, "alice", true, {"bob@dest.example"})}, // listed
      {day + 6 * kHour, release(day + 6 * kHour, off, "alice", false, {"bob@dest.example"})},
      {day + kDay, outcome(day + kDay, off, sos, "delivered", "TLSv1.3/X/none")},  // the day after
  });
}

std::uint64_t count(const Report& r, const std::string& c, const std::string& p, const std::string& o,
                    const std::string& a) {
  auto it = r.counts.find({c, p, o, a});
  return it == r.counts.end() ? 0 : it->second;
}

TEST(AuditReport, CountsAndListsCoverTheRangeOnly) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = build_report(*store, kNov1 + kDay, kNov1 + 2 * kDay).value();
  EXPECT_EQ(r.records, 13u);
  EXPECT_EQ(r.outcomes, 8u);
  EXPECT_EQ(r.unparsable, 0u);
  EXPECT_EQ(r.counts.size(), 7u);
  EXPECT_EQ(count(r, "PROTECTED", "SOS", "delivered", "dane"), 1u);
  EXPECT_EQ(count(r, "PROTECTED", "BES", "delivered", "none"), 1u);
  EXPECT_EQ(count(r, "OFFICIAL", "SOS", "delivered", "dane"), 2u);
  EXPECT_EQ(count(r, "OFFICIAL", "SOS", "failed", "none"), 1u);
  EXPECT_EQ(count(r, "OFFICIAL", "SOS", "delivered", "none"), 1u);
  EXPECT_EQ(count(r, "OFFICIAL", "BES", "delivered", "none"), 1u);
  EXPECT_EQ(count(r, "OFFICIAL", "BES", "delivered", "pkix"), 1u);

  ASSERT_EQ(r.unauthenticated.size(), 2u);
  EXPECT_EQ(r.unauthenticated[0].policy, "SOS");
  EXPECT_EQ(r.unauthenticated[0].recipient, "bob@dest.example");
  EXPECT_EQ(r.unauthenticated[0].queue_id, model::QueueId{2}.to_string());
  EXPECT_FALSE(r.unauthenticated[0].requiretls);
  EXPECT_EQ(r.unauthenticated[1].policy, "BES");
  EXPECT_TRUE(r.unauthenticated[1].requiretls);
  EXPECT_EQ(r.unauthenticated[1].message_id, "m3@agency.gov.example");

  ASSERT_EQ(r.unreadable_markings.size(), 2u);
  EXPECT_EQ(r.unreadable_markings[0].event, "reject");
  EXPECT_EQ(r.unreadable_markings[0].source, "X-Protective-Marking");
  EXPECT_EQ(r.unreadable_markings[0].error, "unknown SEC value 'PRTECTED'");
  EXPECT_EQ(r.unreadable_markings[1].event, "accept");
  EXPECT_EQ(r.unreadable_markings[1].error, "");

  ASSERT_EQ(r.hold_releases.size(), 1u);
  EXPECT_EQ(r.hold_releases[0].operator_name, "alice");
  EXPECT_EQ(r.hold_releases[0].recipients, std::vector<std::string>{"bob@dest.example"});
  EXPECT_EQ(r.hold_releases[0].seq, 13u);
}

TEST(AuditReport, WithoutARangeEveryRecordCounts) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = build_report(*store, std::nullopt, std::nullopt).value();
  EXPECT_EQ(r.records, 15u);
  EXPECT_EQ(r.outcomes, 10u);
  EXPECT_EQ(r.unauthenticated.size(), 4u);
  auto empty = build_report(*store, kNov1 + 10 * kDay, std::nullopt).value();
  EXPECT_EQ(empty.records, 0u);
  EXPECT_TRUE(empty.counts.empty());
}

TEST(AuditReport, ListsAreBoundedAndCountWhatDidNotFit) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto r = build_report(*store, std::nullopt, std::nullopt, 1).value();
  EXPECT_EQ(r.unauthenticated.size(), 1u);
  EXPECT_EQ(r.unauthenticated_more, 3u);
  EXPECT_EQ(r.unreadable_more, 1u);
  EXPECT_EQ(r.releases_more, 0u);
  auto j = report_json(r);
  EXPECT_EQ(j["more"]["unauthenticated"], 3);
}

TEST(AuditReport, TheJsonNamesEverySection) {
  TempDir dir;
  auto store = open_store(dir);
  fill(*store);
  auto j = report_json(build_report(*store, kNov1 + kDay, kNov1 + 2 * kDay).value());
  EXPECT_EQ(j["from"], "2026-11-02T00:00:00.000000Z");
  EXPECT_EQ(j["to"], "2026-11-03T00:00:00.000000Z");
  EXPECT_EQ(j["records"], 13);
  ASSERT_EQ(j["counts"].size(), 7u);
  EXPECT_EQ(j["counts"][0]["classification"], "OFFICIAL");
  EXPECT_EQ(j["counts"][0]["count"], 1);
  EXPECT_EQ(j["unauthenticated"][1]["requiretls"], true);
  EXPECT_EQ(j["unreadable_markings"][0]["text"], "VER=2018.4, SEC=PRTECTED");
  EXPECT_EQ(j["hold_releases"][0]["operator"], "alice");
  EXPECT_EQ(j["hold_releases"][0]["time"], "2026-11-02T06:00:00.000000Z");
}

}  // namespace
}  // namespace secmx::audit
