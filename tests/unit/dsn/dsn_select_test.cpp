// dsn_select_test.cpp - select_dsns(): which DSNs a change of recipient states calls for.
// A recipient that becomes failed, delivered or relayed is reported once (by the change
// that made it final, never again); the delay warning goes out once per message, after
// delay_warning, for the recipients still pending; NOTIFY decides who is reported.
#include "relay/dsn/dsn_select.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::dsn {
namespace {

constexpr std::int64_t kArrival = 1'700'000'000'000'000;
constexpr std::int64_t kHourUs = 3'600'000'000;
const std::string kBody = "Subject: t\r\n\r\nbody\r\n";

model::Recipient rcpt(std::string address, std::uint8_t notify = model::kNotifyUnset) {
  model::Recipient r;
  r.address = std::move(address);
  r.notify = notify;
  return r;
}

model::Envelope envelope(std::vector<model::Recipient> rcpts) {
  model::Envelope env;
  env.id = model::QueueId{0x18BD0F5E40000001ull};
  env.arrival_us = kArrival;
  env.sender = "alice@agency.example";
  env.recipients = std::move(rcpts);
  env.body_size = kBody.size();
  return env;
}

void finish(model::Envelope& env, std::size_t i, model::RcptState state, std::string status) {
  env.recipients[i].state = state;
  env.recipients[i].last_status = std::move(status);
  env.recipients[i].last_reply = "smtp; test";
}

Options options(std::chrono::milliseconds delay_warning = std::chrono::hours(4)) {
  Options o;
  o.reporting_mta = "relay.example";
  o.delay_warning = delay_warning;
  return o;
}

bool has(const queue::NewMessage& m, const std::string& text) {
  return m.body.find(text) != std::string::npos;
}

TEST(SelectDsns, NewlyFailedRecipientsGetOneFailureReportWithAFreshId) {
  const auto before = envelope({rcpt("a@x.example"), rcpt("b@x.example"), rcpt("c@x.example")});
  auto after = before;
  finish(after, 0, model::RcptState::Failed, "5.1.1");
  finish(after, 2, model::RcptState::Failed, "5.7.10");
  model::IdGenerator ids{model::QueueId{500}};
  auto out = select_dsns(before, after, kBody, {}, options(), std::chrono::hours(120), ids,
                         kArrival + kHourUs);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GT(out[0].envelope.id.value, 500u);
  EXPECT_EQ(out[0].envelope.sender, "");
  ASSERT_EQ(out[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(out[0].envelope.recipients[0].address, "alice@agency.example");
  EXPECT_TRUE(has(out[0], "Final-Recipient: rfc822; a@x.example"));
  EXPECT_TRUE(has(out[0], "Final-Recipient: rfc822; c@x.example"));
  EXPECT_FALSE(has(out[0], "Final-Recipient: rfc822; b@x.example"));
  EXPECT_TRUE(has(out[0], "Action: failed"));
}

TEST(SelectDsns, ARecipientAlreadyFinalBeforeIsNotReportedAgain) {
  auto before = envelope({rcpt("a@x.example"), rcpt("b@x.example", model::kNotifySuccess)});
  finish(before, 0, model::RcptState::Failed, "5.1.1");
  finish(before, 1, model::RcptState::Delivered, "2.0.0");
  auto after = before;
  model::IdGenerator ids;
  EXPECT_TRUE(select_dsns(before, after, kBody, {}, options(), std::chrono::hours(120), ids,
                          kArrival + kHourUs)
                  .empty());
}

TEST(SelectDsns, SuccessIsDeliveredOrRelayedAsNotifyAsks) {
  const auto before = envelope({rcpt("a@x.example", model::kNotifySuccess),
                                rcpt("b@x.example", model::kNotifySuccess),
                                rcpt("c@x.example")});  // NOTIFY unset: failure (and delay) only
  auto after = before;
  for (std::size_t i = 0; i < 3; ++i) finish(after, i, model::RcptState::Delivered, "2.0.0");
  model::IdGenerator ids;
  auto out = select_dsns(before, after, kBody, {1}, options(), std::chrono::hours(120), ids,
                         kArrival + kHourUs);
  ASSERT_EQ(out.size(), 2u) << "one delivered, one relayed; none for the unset NOTIFY";
  EXPECT_TRUE(has(out[0], "Action: delivered"));
  EXPECT_TRUE(has(out[0], "Final-Recipient: rfc822; a@x.example"));
  EXPECT_TRUE(has(out[1], "Action: relayed"));
  EXPECT_TRUE(has(out[1], "Final-Recipient: rfc822; b@x.example"));
  EXPECT_NE(out[0].envelope.id, out[1].envelope.id);
}

TEST(SelectDsns, OneDelayWarningPerMessageAfterTheWarningTime) {
  const auto before = envelope({rcpt("a@x.example"), rcpt("b@x.example", model::kNotifyNever)});
  auto after = before;
  model::IdGenerator ids;
  auto early = select_dsns(before, after, kBody, {}, options(std::chrono::hours(4)),
                           std::chrono::hours(120), ids, kArrival + 3 * kHourUs);
  EXPECT_TRUE(early.empty());
  EXPECT_FALSE(after.delay_notified);
  auto late = select_dsns(before, after, kBody, {}, options(std::chrono::hours(4)),
                          std::chrono::hours(120), ids, kArrival + 5 * kHourUs);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_TRUE(after.delay_notified);
  EXPECT_TRUE(has(late[0], "Action: delayed"));
  EXPECT_TRUE(has(late[0], "Final-Recipient: rfc822; a@x.example"));
  EXPECT_FALSE(has(late[0], "b@x.example")) << "NOTIFY=NEVER is not reported";
  EXPECT_TRUE(select_dsns(after, after, kBody, {}, options(std::chrono::hours(4)),
                          std::chrono::hours(120), ids, kArrival + 6 * kHourUs)
                  .empty())
      << "the warning is sent once";
}

TEST(SelectDsns, NoDelayWarningWhenItIsSwitchedOff) {
  const auto before = envelope({rcpt("a@x.example", model::kNotifyDelay)});
  auto after = before;
  model::IdGenerator ids;
  EXPECT_TRUE(select_dsns(before, after, kBody, {}, options(std::chrono::milliseconds(0)),
                          std::chrono::hours(120), ids, kArrival + 100 * kHourUs)
                  .empty());
  EXPECT_FALSE(after.delay_notified);
}

TEST(SelectDsns, FailureAndDelayInOneChangeComeInThatOrder) {
  const auto before = envelope({rcpt("a@x.example"), rcpt("b@x.example")});
  auto after = before;
  finish(after, 0, model::RcptState::Failed, "5.1.1");
  model::IdGenerator ids;
  auto out = select_dsns(before, after, kBody, {}, options(std::chrono::hours(1)),
                         std::chrono::hours(120), ids, kArrival + 2 * kHourUs);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(has(out[0], "Action: failed"));
  EXPECT_TRUE(has(out[1], "Action: delayed"));
  EXPECT_TRUE(has(out[1], "Final-Recipient: rfc822; b@x.example"));
}

TEST(SelectDsns, RecipientListsOfDifferentLengthsAreReadOnlyWhereBothHaveThem) {
  const auto before = envelope({rcpt("a@x.example")});
  auto after = envelope({rcpt("a@x.example"), rcpt("b@x.example")});
  finish(after, 1, model::RcptState::Failed, "5.1.1");
  model::IdGenerator ids;
  EXPECT_TRUE(select_dsns(before, after, kBody, {}, options(), std::chrono::hours(120), ids,
                          kArrival + kHourUs)
                  .empty());
}

}  // namespace
}  // namespace secmx::dsn
