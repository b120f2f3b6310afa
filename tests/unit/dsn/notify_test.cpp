// notify_test.cpp - recipients_to_report(): the NOTIFY table (RFC 3461 4.1), the <> rule,
// and build()'s own refusals (null sender, postmaster, NEVER) that close every loop.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/dsn/dsn.hpp"

namespace secmx::dsn {
namespace {

using model::kNotifyDelay;
using model::kNotifyFailure;
using model::kNotifyNever;
using model::kNotifySuccess;
using model::kNotifyUnset;

model::Envelope one_rcpt(std::string sender, std::uint8_t notify) {
  model::Envelope env;
  env.id = model::QueueId{0x18BD0F5E40000001ull};
  env.arrival_us = 1'700'000'000'000'000;
  env.sender = std::move(sender);
  model::Recipient r;
  r.address = "bob@example.org";
  r.notify = notify;
  env.recipients.push_back(r);
  return env;
}

struct Row {
  std::uint8_t notify;
  bool null_sender;
  Event event;
  bool delay_by_default;
  bool reported;
};

TEST(Notify, SelectionTable) {
  const std::uint8_t all = kNotifySuccess | kNotifyFailure | kNotifyDelay;
  const Row rows[] = {
      // NOTIFY not given: failures, and delays when the relay's default says so.
      {kNotifyUnset, false, Event::Failure, true, true},
      {kNotifyUnset, false, Event::Failure, false, true},
      {kNotifyUnset, false, Event::Delay, true, true},
      {kNotifyUnset, false, Event::Delay, false, false},
      {kNotifyUnset, false, Event::Delivered, true, false},
      {kNotifyUnset, false, Event::Relayed, true, false},
      // SUCCESS only.
      {kNotifySuccess, false, Event::Failure, true, false},
      {kNotifySuccess, false, Event::Delay, true, false},
      {kNotifySuccess, false, Event::Delivered, true, true},
      {kNotifySuccess, false, Event::Relayed, true, true},
      // FAILURE only: no delay report, even when delays are reported by default.
      {kNotifyFailure, false, Event::Failure, true, true},
      {kNotifyFailure, false, Event::Delay, true, false},
      {kNotifyFailure, false, Event::Delivered, true, false},
      // DELAY only: asked for explicitly, so sent even when not by default.
      {kNotifyDelay, false, Event::Delay, false, true},
      {kNotifyDelay, false, Event::Failure, true, false},
      {kNotifyDelay, false, Event::Relayed, true, false},
      // Everything.
      {all, false, Event::Failure, false, true},
      {all, false, Event::Delay, false, true},
      {all, false, Event::Delivered, false, true},
      {all, false, Event::Relayed, false, true},
      // NEVER.
      {kNotifyNever, false, Event::Failure, true, false},
      {kNotifyNever, false, Event::Delay, true, false},
      {kNotifyNever, false, Event::Delivered, true, false},
      {kNotifyNever, false, Event::Relayed, true, false},
      // Mail from <>: only a failure is reported (to the postmaster, by build()).
      {kNotifyUnset, true, Event::Failure, true, true},
      {kNotifyUnset, true, Event::Delay, true, false},
      {all, true, Event::Delay, true, false},
      {all, true, Event::Delivered, true, false},
      {all, true, Event::Relayed, true, false},
      {kNotifyNever, true, Event::Failure, true, false},
  };
  for (const Row& row : rows) {
    auto env = one_rcpt(row.null_sender ? "" : "alice@agency.example", row.notify);
    auto got = recipients_to_report(env, row.event, {0}, row.delay_by_default);
    EXPECT_EQ(got.size(), row.reported ? 1u : 0u)
        << "notify=" << int(row.notify) << " null_sender=" << row.null_sender
        << " event=" << to_string(row.event) << " delay_by_default=" << row.delay_by_default;
  }
}

TEST(Notify, KeepsCandidateOrderDropsDuplicatesAndBadIndices) {
  auto env = one_rcpt("alice@agency.example", kNotifyUnset);
  model::Recipient never;
  never.address = "quiet@example.org";
  never.notify = kNotifyNever;
  model::Recipient carol;
  carol.address = "carol@example.org";
  carol.notify = kNotifyFailure | kNotifyDelay;
  env.recipients.push_back(never);
  env.recipients.push_back(carol);
  auto got = recipients_to_report(env, Event::Failure, {2, 0, 1, 2, 7}, false);
  EXPECT_EQ(got, (std::vector<std::size_t>{2, 0}));
  EXPECT_TRUE(recipients_to_report(env, Event::Failure, {}, true).empty());
}

TEST(Notify, ActionNames) {
  EXPECT_STREQ(to_string(Event::Failure), "failed");
  EXPECT_STREQ(to_string(Event::Delay), "delayed");
  EXPECT_STREQ(to_string(Event::Delivered), "delivered");
  EXPECT_STREQ(to_string(Event::Relayed), "relayed");
}

Options opts(std::string postmaster) {
  Options o;
  o.reporting_mta = "relay.example";
  o.postmaster = std::move(postmaster);
  return o;
}

RcptReport failed550() {
  RcptReport r;
  r.index = 0;
  r.status = "5.1.1";
  r.diagnostic = "smtp; 550 5.1.1 <bob@example.org>: user unknown";
  r.remote_mta = "mx.example.org[192.0.2.10]:25";
  return r;
}

const std::string kBody = "Subject: hi\r\n\r\nbody\r\n";

TEST(Notify, NullSenderBounceIsDroppedWithoutPostmaster) {
  auto env = one_rcpt("", kNotifyUnset);
  EXPECT_FALSE(build(env, kBody, Event::Failure, {failed550()}, opts(""), 1).has_value());
}

TEST(Notify, NullSenderBounceGoesToPostmasterWithNotifyNever) {
  auto env = one_rcpt("", kNotifyUnset);
  auto b = build(env, kBody, Event::Failure, {failed550()}, opts("postmaster@agency.example"), 1);
  ASSERT_TRUE(b.has_value());
  const auto& dsn = b->message.envelope;
  EXPECT_EQ(dsn.sender, "");
  ASSERT_EQ(dsn.recipients.size(), 1u);
  EXPECT_EQ(dsn.recipients[0].address, "postmaster@agency.example");
  EXPECT_EQ(dsn.recipients[0].notify, kNotifyNever);
  EXPECT_NE(b->message.body.find("Subject: Postmaster Copy: Undelivered Mail\r\n"),
            std::string::npos);

  // The postmaster copy failing in turn is the end of the chain: nothing is reported.
  auto copy = dsn;
  EXPECT_TRUE(recipients_to_report(copy, Event::Failure, {0}, true).empty());
  RcptReport again = failed550();
  EXPECT_FALSE(
      build(copy, b->message.body, Event::Failure, {again}, opts("postmaster@agency.example"), 2)
          .has_value());
}

TEST(Notify, NullSenderGetsNoDelayOrSuccessReportEvenWithPostmaster) {
  auto env = one_rcpt("", kNotifySuccess | kNotifyDelay | kNotifyFailure);
  for (Event e : {Event::Delay, Event::Delivered, Event::Relayed}) {
    EXPECT_FALSE(build(env, kBody, e, {failed550()}, opts("postmaster@agency.example"), 1))
        << to_string(e);
  }
}

TEST(Notify, BuildSkipsNeverAndBadIndices) {
  auto env = one_rcpt("alice@agency.example", kNotifyNever);
  EXPECT_FALSE(build(env, kBody, Event::Failure, {failed550()}, opts(""), 1).has_value());
  auto env2 = one_rcpt("alice@agency.example", kNotifyUnset);
  RcptReport bad = failed550();
  bad.index = 5;
  EXPECT_FALSE(build(env2, kBody, Event::Failure, {bad}, opts(""), 1).has_value());
  EXPECT_FALSE(build(env2, kBody, Event::Failure, {}, opts(""), 1).has_value());
}

TEST(Notify, OrdinaryDsnGoesToSenderAndMayItselfBounceToPostmaster) {
  auto env = one_rcpt("alice@agency.example", kNotifyUnset);
  auto b = build(env, kBody, Event::Failure, {failed550()}, opts("postmaster@agency.example"), 1);
  ASSERT_TRUE(b.has_value());
  const auto& dsn = b->message.envelope;
  EXPECT_EQ(dsn.recipients[0].address, "alice@agency.example");
  EXPECT_EQ(dsn.recipients[0].notify, kNotifyUnset);
  // Its own failure is a bounce of mail from <>: reported, and build() sends it to the
  // postmaster (previous test), never back to <>.
  EXPECT_EQ(recipients_to_report(dsn, Event::Failure, {0}, true).size(), 1u);
}

}  // namespace
}  // namespace secmx::dsn
