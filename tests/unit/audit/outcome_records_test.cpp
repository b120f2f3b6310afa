// outcome_records_test.cpp - the records of a write-back: an outcome per recipient that
// became final, with its deciding attempt and its DSN, and a record per DSN.
#include "relay/audit/outcome_records.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace secmx::audit {
namespace {

model::Recipient rcpt(std::string address, model::RcptState state) {
  model::Recipient r;
  r.address = std::move(address);
  r.state = state;
  return r;
}

nlohmann::json parsed(const queue::AuditRecord& r) { return nlohmann::json::parse(r.payload); }

TEST(DecidingAttempt, NewestOfTheHistoryElseTheLastEvidenceElseNone) {
  auto r = rcpt("a@x.example", model::RcptState::Pending);
  EXPECT_FALSE(deciding_attempt(r).has_value());
  r.attempts = 2;
  r.last_attempt_us = 77;
  r.remote_mta = "mx.x.example";
  r.last_tls = "TLSv1.3/TLS_AES_128_GCM_SHA256/dane";
  r.last_status = "2.0.0";
  r.last_reply = "250 ok";
  auto from_last = deciding_attempt(r);
  ASSERT_TRUE(from_last.has_value());
  EXPECT_EQ(from_last->time_us, 77);
  EXPECT_EQ(from_last->host, "mx.x.example");
  EXPECT_EQ(from_last->tls, "TLSv1.3/TLS_AES_128_GCM_SHA256/dane");
  EXPECT_EQ(from_last->reply, "250 ok");
  model::Attempt old_one, new_one;
  old_one.time_us = 10;
  old_one.host = "old.example";
  new_one.time_us = 20;
  new_one.host = "new.example";
  new_one.address = "192.0.2.9:25";
  r.history = {old_one, new_one};
  EXPECT_EQ(deciding_attempt(r)->host, "new.example");
  EXPECT_EQ(deciding_attempt(r)->address, "192.0.2.9:25");
}

TEST(WriteBackRecords, OnlyRecipientsThatBecameFinalEachWithTheDsnThatReportsIt) {
  model::Envelope before;
  before.id = model::QueueId{99};
  before.sender = "s@agency.example";
  before.recipients = {rcpt("done-before@x.example", model::RcptState::Delivered),
                       rcpt("ok@x.example", model::RcptState::Pending),
                       rcpt("bad@x.example", model::RcptState::Pending),
                       rcpt("later@x.example", model::RcptState::Pending)};
  model::Envelope after = before;
  after.recipients[1].state = model::RcptState::Delivered;
  after.recipients[1].attempts = 1;
  after.recipients[1].last_tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/pkix";
  after.recipients[1].last_attempt_us = 5;
  after.recipients[2].state = model::RcptState::Failed;
  after.recipients[2].attempts = 1;
  after.recipients[2].last_status = "5.1.1";
  after.recipients[2].last_attempt_us = 5;
  std::vector<DsnQueued> dsns = {{"DSN1", "failure", {2}, "s@agency.example"},
                                 {"DSN2", "delay", {3}, "s@agency.example"}};
  auto records = write_back_records(before, after, dsns, "delivery", 1000);
  ASSERT_EQ(records.size(), 4u);  // two outcomes, two DSNs
  auto ok = parsed(records[0]);
  EXPECT_EQ(ok["event"], "outcome");
  EXPECT_EQ(ok["outcome"], "delivered");
  EXPECT_EQ(ok["by"], "delivery");
  EXPECT_EQ(ok["recipient"]["address"], "ok@x.example");
  EXPECT_EQ(ok["auth"], "pkix");
  EXPECT_EQ(ok["dsn_id"], "");
  EXPECT_EQ(ok["queue_id"], model::QueueId{99}.to_string());
  auto bad = parsed(records[1]);
  EXPECT_EQ(bad["outcome"], "failed");
  EXPECT_EQ(bad["recipient"]["status"], "5.1.1");
  EXPECT_EQ(bad["dsn_id"], "DSN1");
  EXPECT_EQ(bad["auth"], "none");
  auto d1 = parsed(records[2]);
  EXPECT_EQ(d1["event"], "dsn");
  EXPECT_EQ(d1["dsn_id"], "DSN1");
  EXPECT_EQ(d1["recipients"], nlohmann::json::array({"bad@x.example"}));
  auto d2 = parsed(records[3]);
  EXPECT_EQ(d2["kind"], "delay");
  EXPECT_EQ(d2["recipients"], nlohmann::json::array({"later@x.example"}));
  for (const auto& r : records) EXPECT_EQ(r.time_us, 1000);
}

TEST(WriteBackRecords, NothingFinalNothingWritten) {
  model::Envelope env;
  env.recipients = {rcpt("a@x.example", model::RcptState::Pending)};
  EXPECT_TRUE(write_back_records(env, env, {}, "delivery", 1).empty());
}

}  // namespace
}  // namespace secmx::audit
