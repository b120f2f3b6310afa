// operator_action_test.cpp - run_action() names its operator: the "operator" and "outcome"
// audit records in its change, and the status= lines of the recipients it ends.
#include "relay/delivery/operator_action.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <future>
#include <sstream>

#include <nlohmann/json.hpp>

#include "queue/audit_chain.hpp"
#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery::test {
namespace {

using nlohmann::json;

class OperatorActionTest : public SchedulerFixture {
 protected:
  void SetUp() override {
    SchedulerFixture::SetUp();
    dsn_options_ = dsn::Options::from_config(*config_);
    log_ = std::make_shared<spdlog::logger>(
        "operator-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_));
    log_->set_pattern("%v");
  }

  // Runs `op` on message 1 for `by`; the answer once written.
  Status<queue::Error> act(QueueOp op, const std::string& reason = {}, bool audit = true,
                           Operator by = {"alice", "127.0.0.9"}) {
    ActionContext ctx{*store_, *writer_, ids_, dsn_options_, std::chrono::hours(120), log_,
                      &metrics_, audit};
    std::promise<Status<queue::Error>> p;
    run_action(op, model::QueueId{1}, reason, by, ctx,
               [&](Status<queue::Error> st) { p.set_value(std::move(st)); }, [] {});
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  }

  std::vector<json> records() {
    std::vector<json> out;
    auto links = store_->audit_links(0, 100);
    EXPECT_TRUE(links.ok());
    if (!links.ok()) return out;
    for (const auto& e : *links) {
      auto link = queue::audit::decode_link(e.stored);
      EXPECT_TRUE(link.ok());
      if (link.ok()) out.push_back(json::parse(link->payload));
    }
    return out;
  }

  std::string lines() {
    log_->flush();
    return lines_.str();
  }

  dsn::Options dsn_options_;
  std::ostringstream lines_;
  std::shared_ptr<spdlog::logger> log_;
};

TEST_F(OperatorActionTest, HoldWritesAnOperatorRecordInItsChange) {
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example", model::Policy::SOS)}));
  ASSERT_TRUE(act(QueueOp::Hold).ok());
  auto r = records();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["event"], "operator");
  EXPECT_EQ(r[0]["action"], "hold");
  EXPECT_EQ(r[0]["operator"], "alice");
  EXPECT_EQ(r[0]["client"], "127.0.0.9");
  EXPECT_EQ(r[0]["queue_id"], model::QueueId{1}.to_string());
  EXPECT_EQ(r[0]["held_by_policy"], false);
  EXPECT_FALSE(r[0].contains("reason"));
  ASSERT_EQ(r[0]["recipients"].size(), 2u);
  EXPECT_EQ(r[0]["recipients"][1], (json{{"address", "b@two.example"}, {"policy", "SOS"},
                                         {"state", "pending"}}));
  EXPECT_NE(lines().find(model::QueueId{1}.to_string() + ": hold operator=alice client=[127.0.0.9]"),
            std::string::npos)
      << lines();
}

TEST_F(OperatorActionTest, ReleaseOfAPolicyHoldSaysSoAndShowsTheRecipientsAfter) {
  insert(message(1, {rcpt("a@one.example", model::Policy::HOLD, model::RcptState::Held)}));
  ASSERT_TRUE(act(QueueOp::Release).ok());
  auto r = records();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["action"], "release");
  EXPECT_EQ(r[0]["held_by_policy"], true);
  // As released: SOS and pending (operator_action.hpp apply_op).
  EXPECT_EQ(r[0]["recipients"][0]["policy"], "SOS");
  EXPECT_EQ(r[0]["recipients"][0]["state"], "pending");
}

TEST_F(OperatorActionTest, BounceRecordsEachRecipientItEndsWithItsDsnAndLogsAStatusLine) {
  insert(message(1, {rcpt("a@one.example", model::Policy::SOS), rcpt("b@two.example"),
                     rcpt("c@one.example", model::Policy::BES, model::RcptState::Delivered)}));
  ASSERT_TRUE(act(QueueOp::Bounce, "spam run").ok());
  EXPECT_FALSE(load(1).has_value()) << "every recipient final: the message is gone";
  auto r = records();
  ASSERT_EQ(r.size(), 4u)
      << "one operator record, one outcome per recipient it ended, one record of its DSN";
  EXPECT_EQ(r[0]["action"], "bounce");
  EXPECT_EQ(r[0]["reason"], "spam run");
  EXPECT_EQ(r[0]["recipients"][0]["state"], "failed");
  EXPECT_EQ(r[0]["recipients"][2]["state"], "delivered");
  // The failure DSN, queued in the same change, is the one the outcomes name.
  std::string dsn_id = r[1]["dsn_id"];
  ASSERT_FALSE(dsn_id.empty());
  auto dsn = store_->load(*model::QueueId::parse(dsn_id));
  ASSERT_TRUE(dsn.ok());
  ASSERT_TRUE(dsn->has_value());
  EXPECT_EQ((*dsn)->recipients[0].address, "s@agency.example");
  for (int i : {1, 2}) {
    EXPECT_EQ(r[i]["event"], "outcome");
    EXPECT_EQ(r[i]["outcome"], "bounced");
    EXPECT_EQ(r[i]["by"], "alice");
    EXPECT_EQ(r[i]["dsn_id"], dsn_id);
    EXPECT_TRUE(r[i]["attempt"].is_null());
    EXPECT_EQ(r[i]["recipient"]["status"], "5.0.0");
  }
  EXPECT_EQ(r[1]["recipient"]["address"], "a@one.example");
  EXPECT_EQ(r[2]["recipient"]["address"], "b@two.example");
  EXPECT_EQ(r[3]["event"], "dsn");
  EXPECT_EQ(r[3]["dsn_id"], dsn_id);
  EXPECT_EQ(r[3]["kind"], "failure");
  EXPECT_EQ(r[3]["recipients"], nlohmann::json({"a@one.example", "b@two.example"}));
  auto text = lines();
  EXPECT_NE(text.find(": to=<a@one.example>, relay=none, policy=SOS"), std::string::npos) << text;
  EXPECT_NE(text.find("dsn=5.0.0, status=bounced (operator alice: spam run)"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("to=<c@one.example>"), std::string::npos) << "delivered before: not ended";
}

TEST_F(OperatorActionTest, DeleteRecordsDeletedOutcomesWithoutADsn) {
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example", model::Policy::BES,
                                                 model::RcptState::Failed)}));
  ASSERT_TRUE(act(QueueOp::Remove, {}, true, {"bob", "::1"}).ok());
  EXPECT_FALSE(load(1).has_value());
  auto r = records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["action"], "delete");
  EXPECT_EQ(r[0]["operator"], "bob");
  EXPECT_EQ(r[1]["outcome"], "deleted");
  EXPECT_EQ(r[1]["by"], "bob");
  EXPECT_EQ(r[1]["dsn_id"], "");
  EXPECT_EQ(r[1]["recipient"]["address"], "a@one.example");
  EXPECT_NE(lines().find("to=<a@one.example>, relay=none"), std::string::npos);
  EXPECT_NE(lines().find("status=deleted (operator bob)"), std::string::npos) << lines();
}

TEST_F(OperatorActionTest, NoRecordsWhenTheAuditTrailIsOffAndNoneForAnActionRefused) {
  insert(message(1, {rcpt("a@one.example")}));
  auto st = act(QueueOp::Release);  // not held: nothing to release
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(records().empty()) << "no record of a change that was not made";
  ASSERT_TRUE(act(QueueOp::Hold, {}, false).ok());
  EXPECT_TRUE(records().empty());
  EXPECT_TRUE(load(1)->held);
}

TEST(OperatorStatusLine, BothLogFormatsCarryTheStatusAndTheOperator) {
  model::Envelope env;
  env.id = model::QueueId{0x1A2B};
  env.arrival_us = 1'000'000;
  auto r = rcpt("b@two.example", model::Policy::SOS);
  r.last_reply = "not, ours";
  r.attempts = 2;
  const Operator bob{"bob", "127.0.0.1"};
  auto secmx = operator_status_line(QueueOp::Bounce, env, r, bob, 3'500'000, log::Format::Secmx);
  EXPECT_EQ(secmx, env.id.to_string() + ": to=<b@two.example>, relay=none, policy=SOS, "
                   "reason=default, method=none, tls=none, delay=2.50, attempts=2, dsn=5.0.0, "
                   "status=bounced (operator bob: not, ours)");
  auto postfix = operator_status_line(QueueOp::Bounce, env, r, bob, 3'500'000, log::Format::Postfix);
  EXPECT_EQ(postfix.rfind(env.id.to_string() + ": to=<b@two.example>, relay=none, delay=2.50, ", 0), 0u)
      << postfix;
  EXPECT_NE(postfix.find(", dsn=5.0.0, status=bounced (operator bob: not\\x2c ours), policy=SOS"),
            std::string::npos)
      << postfix;
  auto deleted = operator_status_line(QueueOp::Remove, env, r, bob, 3'500'000, log::Format::Postfix);
  EXPECT_NE(deleted.find("dsn=5.0.0, status=deleted (operator bob), "), std::string::npos) << deleted;
}

}  // namespace
}  // namespace secmx::delivery::test
