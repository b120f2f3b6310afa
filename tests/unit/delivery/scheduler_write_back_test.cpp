// scheduler_write_back_test.cpp - the scheduler's write-back carries the audit trail's records:
// one outcome per recipient that became final, one record per DSN queued with it, in the
// same transaction; nothing for a deferral, and nothing at all with the trail off. (The
// file sorts after scheduler_fault_test.cpp: fault injection reads its setting at the
// first fault point the process reaches, and these tests reach them.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "queue/audit_chain.hpp"
#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery::test {
namespace {

class SchedulerAuditTest : public SchedulerFixture {
 protected:
  std::vector<nlohmann::json> records() {
    std::vector<nlohmann::json> out;
    auto links = store_->audit_links(0, 1000);
    EXPECT_TRUE(links.ok());
    if (!links.ok()) return out;
    for (const auto& e : *links) {
      out.push_back(nlohmann::json::parse(queue::audit::decode_link(e.stored).value().payload));
    }
    return out;
  }
  void answer_all(std::size_t jobs) {
    ASSERT_TRUE(sink_.wait_for(jobs));
    for (const auto& job : sink_.jobs()) {
      bool ok = job.domain == "one.example";
      bool later = job.domain == "three.example";
      scheduler_->post_result(answer(job,
                                     ok ? RcptVerdict::Delivered
                                        : later ? RcptVerdict::Deferred : RcptVerdict::Failed,
                                     ok ? "2.0.0" : later ? "4.4.1" : "5.1.1"));
    }
  }
};

TEST_F(SchedulerAuditTest, FinalOutcomesAndTheirDsnAreRecordedWithTheWriteBack) {
  auto m = message(1, {rcpt("a@one.example"), rcpt("b@two.example"), rcpt("c@three.example")});
  m.envelope.message_id = "m@agency.example";
  insert(std::move(m));
  start();
  answer_all(3);
  ASSERT_TRUE(eventually([&] {
    auto e = load(1);
    return e && e->attempts == 1;
  }));
  auto recs = records();
  ASSERT_EQ(recs.size(), 3u);  // two outcomes, one failure DSN; the deferral writes none
  EXPECT_EQ(recs[0]["event"], "outcome");
  EXPECT_EQ(recs[0]["outcome"], "delivered");
  EXPECT_EQ(recs[0]["recipient"]["address"], "a@one.example");
  EXPECT_EQ(recs[0]["by"], "delivery");
  EXPECT_EQ(recs[0]["dsn_id"], "");
  EXPECT_EQ(recs[1]["outcome"], "failed");
  EXPECT_EQ(recs[1]["recipient"]["address"], "b@two.example");
  EXPECT_EQ(recs[1]["recipient"]["status"], "5.1.1");
  const std::string dsn_id = recs[1]["dsn_id"];
  ASSERT_FALSE(dsn_id.empty());
  EXPECT_EQ(recs[2]["event"], "dsn");
  EXPECT_EQ(recs[2]["dsn_id"], dsn_id);
  EXPECT_EQ(recs[2]["kind"], "failure");
  EXPECT_EQ(recs[2]["recipients"], nlohmann::json::array({"b@two.example"}));
  EXPECT_EQ(recs[2]["to"], "s@agency.example");
  for (const auto& r : recs) EXPECT_EQ(r["queue_id"], model::QueueId{1}.to_string());
  // The DSN the record names is the one queued with it.
  auto dsn = store_->load(*model::QueueId::parse(dsn_id));
  ASSERT_TRUE(dsn.ok());
  ASSERT_TRUE(dsn->has_value());
  EXPECT_EQ((*dsn)->sender, "");
}

TEST_F(SchedulerAuditTest, NothingIsRecordedWithTheTrailOff) {
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->audit.enabled = false;
  config_ = cfg;
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example")}));
  start();
  answer_all(2);
  ASSERT_TRUE(eventually([&] { return !load(1).has_value(); }));
  EXPECT_TRUE(records().empty());
}

}  // namespace
}  // namespace secmx::delivery::test
