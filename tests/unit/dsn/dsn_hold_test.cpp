// dsn_hold_test.cpp - hold_unreported(): a report from <> whose failure nobody would hear
// of is held, never made final; anything someone is told about is left alone.
#include "relay/dsn/dsn_hold.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/dsn/dsn_select.hpp"

namespace secmx::dsn {
namespace {

constexpr std::int64_t kArrival = 1'700'000'000'000'000;
const std::string kBody = "Subject: t\r\n\r\nbody\r\n";

model::Envelope report_to(std::vector<std::string> addresses, std::uint8_t notify = 0) {
  model::Envelope env;
  env.id = model::QueueId{0x18BD0F5E40000001ull};
  env.arrival_us = kArrival;
  env.sender.clear();  // <>
  for (auto& a : addresses) {
    model::Recipient r;
    r.address = a;
    r.notify = notify;
    r.policy = model::Policy::SOS;
    r.policy_reason = "dsn(sos)";
    env.recipients.push_back(std::move(r));
  }
  return env;
}

void fail(model::Envelope& env, std::size_t i) {
  env.recipients[i].state = model::RcptState::Failed;
  env.recipients[i].last_status = "5.7.10";
  env.recipients[i].last_reply = "no secure (TLS) receiver: [10.0.0.5]:25: no STARTTLS";
}

Options options(std::string postmaster = {}) {
  Options o;
  o.reporting_mta = "relay.example";
  o.postmaster = std::move(postmaster);
  return o;
}

TEST(HoldUnreported, FailedReportWithoutPostmasterIsHeldNotFinal) {
  const auto before = report_to({"alice@agency.example"});
  auto after = before;
  fail(after, 0);
  auto held = hold_unreported(before, after, options());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->recipients, 1u);
  EXPECT_EQ(held->address, "alice@agency.example");
  EXPECT_EQ(held->status, "5.7.10");
  EXPECT_EQ(held->reason,
            "no dsn.postmaster: no secure (TLS) receiver: [10.0.0.5]:25: no STARTTLS");
  EXPECT_TRUE(after.held);
  EXPECT_EQ(after.next_attempt_us, model::kNeverDue);
  EXPECT_EQ(after.recipients[0].state, model::RcptState::Held);
  EXPECT_TRUE(model::is_open(after.recipients[0]));  // so the message is not removed
  EXPECT_EQ(after.recipients[0].last_status, "5.7.10");  // the operator sees why
}

TEST(HoldUnreported, AHeldReportCallsForNoDsnAndNoDrop) {
  const auto before = report_to({"alice@agency.example"});
  auto after = before;
  fail(after, 0);
  ASSERT_TRUE(hold_unreported(before, after, options()));
  model::IdGenerator ids{model::QueueId{500}};
  EXPECT_TRUE(select_dsns(before, after, kBody, {}, options(), std::chrono::hours(120), ids,
                          kArrival)
                  .empty());
}

TEST(HoldUnreported, WithAPostmasterTheFailureGoesThereInstead) {
  const auto before = report_to({"alice@agency.example"});
  auto after = before;
  fail(after, 0);
  EXPECT_FALSE(hold_unreported(before, after, options("postmaster@agency.example")));
  EXPECT_FALSE(after.held);
  EXPECT_EQ(after.recipients[0].state, model::RcptState::Failed);
}

TEST(HoldUnreported, TheFailedPostmasterCopyIsHeldToo) {
  // The copy to the postmaster has NOTIFY=NEVER: nobody is left to tell.
  const auto before = report_to({"postmaster@agency.example"}, model::kNotifyNever);
  auto after = before;
  fail(after, 0);
  auto held = hold_unreported(before, after, options("postmaster@agency.example"));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->reason.rfind("NOTIFY=NEVER: ", 0), 0u);
  EXPECT_TRUE(after.held);
}

TEST(HoldUnreported, MailWithASenderIsNeverHeld) {
  auto before = report_to({"bob@x.example"});
  before.sender = "alice@agency.example";
  auto after = before;
  fail(after, 0);
  EXPECT_FALSE(hold_unreported(before, after, options()));
  EXPECT_EQ(after.recipients[0].state, model::RcptState::Failed);
}

TEST(HoldUnreported, OnlyRecipientsThatFailedNowAreHeld) {
  auto before = report_to({"a@x.example", "b@x.example", "c@x.example"});
  fail(before, 0);  // final earlier: already dealt with
  auto after = before;
  fail(after, 2);
  after.recipients[1].state = model::RcptState::Delivered;
  auto held = hold_unreported(before, after, options());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->recipients, 1u);
  EXPECT_EQ(held->address, "c@x.example");
  EXPECT_EQ(after.recipients[0].state, model::RcptState::Failed);
  EXPECT_EQ(after.recipients[1].state, model::RcptState::Delivered);
  EXPECT_EQ(after.recipients[2].state, model::RcptState::Held);
}

TEST(HoldUnreported, NothingFailedNothingChanges) {
  const auto before = report_to({"alice@agency.example"});
  auto after = before;
  after.recipients[0].state = model::RcptState::Pending;
  after.next_attempt_us = 42;
  EXPECT_FALSE(hold_unreported(before, after, options()));
  EXPECT_FALSE(after.held);
  EXPECT_EQ(after.next_attempt_us, 42);
}

}  // namespace
}  // namespace secmx::dsn
