// queue_view_test.cpp - filters, cursor pages over a real LMDB store, and the JSON shapes.
#include "admin/queue_view.hpp"

#include <gtest/gtest.h>

#include "tests/unit/admin/admin_test_util.hpp"

namespace secmx::admin {
namespace {

using test::envelope;
using test::kNow;

std::multimap<std::string, std::string> params(std::initializer_list<std::pair<const std::string, std::string>> p) {
  return std::multimap<std::string, std::string>(p);
}

TEST(QueueView, MessageState) {
  auto e = envelope(1, "a@x.example", {"r@y.example"});
  EXPECT_EQ(message_state(e), MessageState::Queued);
  e.recipients[0].attempts = 1;
  EXPECT_EQ(message_state(e), MessageState::Deferred);
  e.held = true;
  EXPECT_EQ(message_state(e), MessageState::Held);
  e.held = false;
  e.recipients[0].state = model::RcptState::Delivered;
  EXPECT_EQ(message_state(e), MessageState::Done);
}

TEST(QueueView, FilterParseRejectsUnknownValues) {
  EXPECT_FALSE(QueueFilter::parse(params({{"state", "sleeping"}})).ok());
  EXPECT_FALSE(QueueFilter::parse(params({{"policy", "MAYBE"}})).ok());
  EXPECT_FALSE(QueueFilter::parse(params({{"older_than", "soon"}})).ok());
  auto f = QueueFilter::parse(params({{"state", "HELD"}, {"policy", "sos"}, {"older_than", "1h"}, {"limit", "5"}}));
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(f->state, MessageState::Held);
  EXPECT_EQ(f->policy, model::Policy::SOS);
  EXPECT_EQ(f->older_than, std::chrono::hours(1));
}

TEST(QueueView, FilterMatches) {
  auto e = envelope(1, "Alice@Agency.Example", {"bob@dest.example", "carol@other.example"},
                    model::Policy::SOS, 7200);
  auto match = [&](std::initializer_list<std::pair<const std::string, std::string>> p) {
    auto f = QueueFilter::parse(params(p));
    EXPECT_TRUE(f.ok());
    return f->matches(e, kNow);
  };
  EXPECT_TRUE(match({}));
  EXPECT_TRUE(match({{"domain", "OTHER.example."}}));
  EXPECT_FALSE(match({{"domain", "nowhere.example"}}));
  EXPECT_TRUE(match({{"sender", "alice@agency.example"}}));
  EXPECT_TRUE(match({{"sender", "@agency.example"}}));
  EXPECT_FALSE(match({{"sender", "alice@elsewhere.example"}}));
  EXPECT_TRUE(match({{"policy", "SOS"}}));
  EXPECT_FALSE(match({{"policy", "BES"}}));
  EXPECT_TRUE(match({{"older_than", "1h"}}));
  EXPECT_FALSE(match({{"older_than", "3h"}}));
  EXPECT_TRUE(match({{"state", "queued"}}));
  EXPECT_FALSE(match({{"state", "held"}}));
}

TEST(QueueView, PagesFollowTheCursor) {
  test::TempDir dir;
  std::vector<model::Envelope> envs;
  for (std::uint64_t i = 1; i <= 25; ++i) {
    envs.push_back(envelope(i << 20, "s@x.example", {i % 2 ? "r@odd.example" : "r@even.example"}));
  }
  auto store = test::store_with(dir, envs);
  ASSERT_TRUE(store);

  auto f = QueueFilter::parse(params({{"domain", "odd.example"}}));
  ASSERT_TRUE(f.ok());
  std::vector<std::uint64_t> seen;
  model::QueueId after{};
  int pages = 0;
  for (;;) {
    auto page = list_page(*store, *f, after, 5, kNow);
    ASSERT_TRUE(page.ok());
    ++pages;
    for (const auto& e : page->items) seen.push_back(e.id.value >> 20);
    if (!page->next) break;
    after = *page->next;
    ASSERT_LT(pages, 10);
  }
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 1; i <= 25; i += 2) want.push_back(i);
  EXPECT_EQ(seen, want);
}

TEST(QueueView, ScanBoundReturnsACursor) {
  test::TempDir dir;
  std::vector<model::Envelope> envs;
  for (std::uint64_t i = 1; i <= 600; ++i) envs.push_back(envelope(i << 20, "s@x.example", {"r@a.example"}));
  auto store = test::store_with(dir, envs);
  ASSERT_TRUE(store);
  auto f = QueueFilter::parse(params({{"domain", "nothing.example"}}));
  auto page = list_page(*store, *f, {}, 10, kNow, /*max_scan=*/300);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  ASSERT_TRUE(page->next.has_value());  // not the end: carry on from here
  auto rest = list_page(*store, *f, *page->next, 10, kNow, 1000);
  ASSERT_TRUE(rest.ok());
  EXPECT_FALSE(rest->next.has_value());
  EXPECT_EQ(page->scanned + rest->scanned, 600u);
}

TEST(QueueView, DetailJson) {
  auto e = envelope(0x0123456789ABCDEFull, "", {"x@y.example"}, model::Policy::SOS, 90);
  e.recipients[0].tls = model::TlsLevel::Verify;
  e.recipients[0].policy_reason = "rule=3(classification=RESTRICTED)";
  e.recipients[0].attempts = 2;
  e.recipients[0].last_status = "4.7.10";
  e.recipients[0].last_reply = "no TLS";
  e.recipients[0].last_tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/dane";
  e.recipients[0].last_cert_sha256 = std::string(64, 'c');
  e.recipients[0].last_dnssec = "secure";
  e.attempts = 2;
  e.next_attempt_us = kNow + 60'000'000;
  auto j = detail_json(e, kNow);
  // The last attempt's evidence, as the log line gave it.
  EXPECT_EQ(j["recipients"][0]["last_tls"], "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_EQ(j["recipients"][0]["last_cert_sha256"], std::string(64, 'c'));
  EXPECT_EQ(j["recipients"][0]["last_dnssec"], "secure");
  EXPECT_EQ(j["id"], "0123456789ABCDEF");
  EXPECT_EQ(j["state"], "deferred");
  EXPECT_EQ(j["policy"], "SOS");
  EXPECT_EQ(j["age_seconds"], 90);
  EXPECT_EQ(j["next_attempt"], iso_time(kNow + 60'000'000));
  EXPECT_EQ(j["recipients"][0]["rule"], "rule=3(classification=RESTRICTED)");
  EXPECT_EQ(j["recipients"][0]["tls"], "verify");
  EXPECT_EQ(j["recipients"][0]["last_status"], "4.7.10");
  EXPECT_EQ(j["last_status"], "4.7.10");
  EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(iso_time(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
}

}  // namespace
}  // namespace secmx::admin
