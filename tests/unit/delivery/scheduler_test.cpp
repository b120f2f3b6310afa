// The scheduler against a real LMDB store and commit writer, with a recording job sink in
// place of the workers: due messages become jobs per domain, outcomes are written back,
// no message is out twice, operator actions wait for an in-flight message.
#include "relay/delivery/scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>

#include "relay/delivery/job_plan.hpp"
#include "relay/delivery/operator_action.hpp"
#include "relay/delivery/outcome_apply.hpp"
#include "relay/delivery/tlsrpt_session.hpp"
#include "relay/tlsrpt/tally_codec.hpp"
#include "tests/unit/delivery/scheduler_test_util.hpp"

namespace secmx::delivery {
namespace {

using namespace std::chrono_literals;
using test::answer;
using test::eventually;
using test::message;
using test::now_us;
using test::rcpt;
using SchedulerTest = test::SchedulerFixture;

TEST(PlanJobs, GroupsPendingRecipientsByDomainPolicyAndTls) {
  auto env = std::make_shared<model::Envelope>();
  env->id = model::QueueId{7};
  env->arrival_us = now_us();
  env->recipients = {rcpt("a@one.example"), rcpt("b@ONE.example"),
                     rcpt("c@one.example", model::Policy::SOS),
                     rcpt("d@two.example"),
                     rcpt("e@two.example", model::Policy::BES, model::RcptState::Delivered),
                     rcpt("f@two.example", model::Policy::HOLD, model::RcptState::Held)};
  auto body = std::make_shared<const std::string>("x");
  auto plan = plan_jobs(env, body, now_us(), std::chrono::hours(1));
  ASSERT_EQ(plan.jobs.size(), 3u);
  EXPECT_FALSE(plan.nothing_pending);
  std::map<std::string, std::vector<std::size_t>> seen;
  for (const auto& j : plan.jobs) {
    seen[j.domain + (j.policy == model::Policy::SOS ? "/SOS" : "/BES")] = j.indices;
    for (std::size_t k = 0; k < j.size(); ++k) {
      EXPECT_EQ(j.recipient(k).address, env->recipients[j.indices[k]].address);
    }
  }
  EXPECT_EQ(seen["one.example/BES"], (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(seen["one.example/SOS"], (std::vector<std::size_t>{2}));
  EXPECT_EQ(seen["two.example/BES"], (std::vector<std::size_t>{3}));
}

TEST(PlanJobs, SosLifetimeMarksJobsExpired) {
  auto env = std::make_shared<model::Envelope>();
  env->arrival_us = now_us() - 2LL * 3600 * 1'000'000;
  env->recipients = {rcpt("a@one.example", model::Policy::SOS)};
  auto plan = plan_jobs(env, std::make_shared<const std::string>(), now_us(), std::chrono::hours(1));
  ASSERT_EQ(plan.jobs.size(), 1u);
  EXPECT_TRUE(plan.jobs[0].sos_expired);
  plan = plan_jobs(env, std::make_shared<const std::string>(), now_us(), std::chrono::hours(3));
  EXPECT_FALSE(plan.jobs[0].sos_expired);
}

TEST(ApplyOp, HoldReleaseFlushBounce) {
  model::Envelope env;
  env.recipients = {rcpt("a@x.example"), rcpt("b@x.example", model::Policy::HOLD,
                                              model::RcptState::Held)};
  env.next_attempt_us = 123;
  EXPECT_TRUE(apply_op(QueueOp::Hold, env, 1));
  EXPECT_TRUE(env.held);
  EXPECT_FALSE(apply_op(QueueOp::Flush, env, 1)) << "a held message is not flushed";
  EXPECT_TRUE(apply_op(QueueOp::Release, env, 1));
  EXPECT_FALSE(env.held);
  EXPECT_EQ(env.next_attempt_us, 0);
  // The policy-held recipient is released under SOS, never in plaintext.
  EXPECT_EQ(env.recipients[1].state, model::RcptState::Pending);
  EXPECT_EQ(env.recipients[1].policy, model::Policy::SOS);
  EXPECT_EQ(env.recipients[1].tls, model::TlsLevel::Encrypt);
  EXPECT_FALSE(apply_op(QueueOp::Release, env, 1));
  EXPECT_TRUE(apply_op(QueueOp::Bounce, env, 1));
  for (const auto& r : env.recipients) {
    EXPECT_EQ(r.state, model::RcptState::Failed);
    EXPECT_EQ(r.last_status, "5.0.0");
  }
  EXPECT_EQ(env.next_attempt_us, model::kNeverDue);
  EXPECT_FALSE(apply_op(QueueOp::Bounce, env, 1)) << "nothing left to bounce";
}

TEST(ScheduleNext, FinalMessagesAreNeverDueAgain) {
  model::Envelope env;
  env.recipients = {rcpt("a@x.example", model::Policy::BES, model::RcptState::Failed)};
  schedule_next(env, 1000, {std::chrono::minutes(1)}, std::chrono::hours(1));
  EXPECT_EQ(env.next_attempt_us, model::kNeverDue);
  env.recipients.push_back(rcpt("b@x.example"));
  schedule_next(env, 1000, {std::chrono::minutes(1)}, std::chrono::hours(1));
  EXPECT_EQ(env.next_attempt_us, 1000 + 60'000'000);
  EXPECT_EQ(env.attempts, 2u);
}

// The next retry of a pending SOS recipient is no later than the end of its SOS lifetime,
// so that it fails then, not at the first retry after it; BES recipients keep the retry
// schedule, and once the end is past nothing is pulled forward any more.
TEST(ScheduleNext, SosRecipientIsDueAtTheEndOfItsSosLifetime) {
  constexpr std::int64_t kArrival = 1'000'000'000;
  const std::vector<std::chrono::milliseconds> retry = {std::chrono::hours(1)};
  model::Envelope env;
  env.arrival_us = kArrival;
  env.recipients = {rcpt("a@x.example", model::Policy::SOS)};
  std::int64_t now = kArrival + 2'000'000;
  schedule_next(env, now, retry, std::chrono::seconds(10));
  EXPECT_EQ(env.next_attempt_us, kArrival + 10'000'000) << "capped at arrival + sos_lifetime";
  // A retry before the end stays as it is.
  schedule_next(env, now, {std::chrono::seconds(1)}, std::chrono::seconds(10));
  EXPECT_EQ(env.next_attempt_us, now + 1'000'000);
  // Past the end: the ordinary retry (no message due again and again).
  now = kArrival + 11'000'000;
  schedule_next(env, now, retry, std::chrono::seconds(10));
  EXPECT_EQ(env.next_attempt_us, now + 3'600'000'000LL);
  // BES only: the SOS lifetime does not apply.
  model::Envelope bes;
  bes.arrival_us = kArrival;
  bes.recipients = {rcpt("b@x.example"),
                    rcpt("c@x.example", model::Policy::SOS, model::RcptState::Failed)};
  schedule_next(bes, kArrival + 2'000'000, retry, std::chrono::seconds(10));
  EXPECT_EQ(bes.next_attempt_us, kArrival + 2'000'000 + 3'600'000'000LL);
}

model::Recipient tried_sos(const std::string& status, const std::string& reply) {
  auto r = rcpt("a@x.example", model::Policy::SOS);
  r.attempts = 1;
  r.last_status = status;
  r.last_reply = reply;
  return r;
}

// Past the SOS lifetime every pending recipient is still planned: the round at the end of
// the lifetime is an attempt like any other, its jobs marked sos_expired so that decide()
// ends the SOS recipients from what that attempt finds (a peer's own 4.7.10 is no refusal
// of TLS, a host that has since started offering STARTTLS takes the message).
TEST(PlanJobs, PastTheSosLifetimeJobsAreTheLastAttemptNotAVerdict) {
  auto env = std::make_shared<model::Envelope>();
  env->arrival_us = now_us() - 2LL * 3600 * 1'000'000;
  env->recipients = {tried_sos("4.7.10", "no secure (TLS) receiver yet: h[192.0.2.1]:25: y"),
                     tried_sos("4.4.3", "SERVFAIL"), rcpt("b@x.example")};
  auto body = std::make_shared<const std::string>();
  auto plan = plan_jobs(env, body, now_us(), std::chrono::hours(1));
  ASSERT_EQ(plan.jobs.size(), 2u) << "one SOS job for both SOS recipients, one BES job";
  EXPECT_EQ(plan.jobs[0].indices, (std::vector<std::size_t>{0, 1}));
  EXPECT_TRUE(plan.jobs[0].sos_expired);
  EXPECT_EQ(plan.jobs[0].envelope->recipients[0].state, model::RcptState::Pending)
      << "planning decides nothing";
  EXPECT_FALSE(plan.nothing_pending);
  // Before the end of the SOS lifetime the jobs may still defer.
  plan = plan_jobs(env, body, now_us(), std::chrono::hours(3));
  ASSERT_EQ(plan.jobs.size(), 2u);
  EXPECT_FALSE(plan.jobs[0].sos_expired);
}

// End to end through the scheduler, on the real clock: an SOS message deferred for want of
// a TLS receiver, with a retry of ten minutes and an SOS lifetime of 1.5 s, is tried again
// at the end of the SOS lifetime (within a tick), not at the retry, in a job that says
// sos_expired; that attempt's failure is written with its DSN (the worker that makes the
// attempt logs and counts it).
TEST_F(SchedulerTest, SosMessageFailsAtTheEndOfItsSosLifetimeNotAtTheNextRetry) {
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->delivery.sos_lifetime = std::chrono::milliseconds(1500);
  config_ = cfg;
  auto m = message(1, {rcpt("a@x.example", model::Policy::SOS)});
  m.envelope.recipients[0].policy_reason = "rule=1(classification=PROTECTED)";
  auto arrival = m.envelope.arrival_us;
  insert(std::move(m));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  JobResult r = answer(sink_.jobs()[0], RcptVerdict::Deferred, "4.7.10");
  r.outcomes[0].diagnostic =
      "no secure (TLS) receiver yet: mx.x.example[192.0.2.1]:25: STARTTLS not offered; "
      "mx2.x.example[192.0.2.2]:25: connection refused";
  scheduler_->post_result(r);
  ASSERT_TRUE(sink_.wait_for(2, 4000ms))
      << "tried again within sos_lifetime + a tick, not at the retry ten minutes on";
  EXPECT_GE(now_us(), arrival + 1'500'000) << "not before the end of the SOS lifetime";
  Job last = sink_.jobs()[1];
  EXPECT_TRUE(last.sos_expired) << "the attempt at the end is the last one";
  EXPECT_FALSE(sink_.jobs()[0].sos_expired);
  // What decide() answers to sos_expired when no host takes TLS (decide_test covers it).
  JobResult fin = answer(last, RcptVerdict::Failed, "5.7.10");
  fin.outcomes[0].diagnostic = "no secure (TLS) receiver found within the SOS lifetime: "
                               "mx.x.example[192.0.2.1]:25: STARTTLS not offered";
  scheduler_->post_result(fin);
  ASSERT_TRUE(eventually([&] { return !load(1).has_value(); }, 4000ms));
  auto all = store_->list(model::QueueId{}, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().sender, "");
  auto body = store_->load_body(all->front().id);
  ASSERT_TRUE(body.ok());
  EXPECT_NE(body->find("Status: 5.7.10"), std::string::npos);
  EXPECT_NE(body->find("Subject: Undelivered Mail: secure delivery was not possible"),
            std::string::npos);
}

// An operator's bounce counts its recipients as bounced (by policy), once written; it is
// no SOS bounce.
TEST_F(SchedulerTest, OperatorBounceIsCountedAsBounced) {
  auto m = message(1, {rcpt("a@one.example", model::Policy::SOS), rcpt("b@one.example"),
                       rcpt("c@one.example", model::Policy::BES, model::RcptState::Delivered)});
  m.envelope.next_attempt_us = now_us() + 3'600'000'000LL;
  insert(std::move(m));
  start();
  std::promise<Status<queue::Error>> p;
  scheduler_->control(QueueOp::Bounce, model::QueueId{1},
                      [&](Status<queue::Error> st) { p.set_value(st); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(f.get().ok());
  EXPECT_EQ(metrics_.bounced.value(model::Policy::SOS), 1u);
  EXPECT_EQ(metrics_.bounced.value(model::Policy::BES), 1u) << "the delivered one is not";
  EXPECT_EQ(metrics_.sos_bounces.value(), 0u);
}

TEST_F(SchedulerTest, DeliversDefersAndWritesOutcomesBack) {
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example")}));
  insert(message(2, {rcpt("c@one.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(3)) << "one job per (message, domain)";
  for (const auto& job : sink_.jobs()) {
    bool one = job.domain == "one.example";
    scheduler_->post_result(answer(job, one ? RcptVerdict::Delivered : RcptVerdict::Deferred,
                                   one ? "2.0.0" : "4.4.1"));
  }
  // Message 2 had only delivered recipients: removed. Message 1 waits for two.example.
  ASSERT_TRUE(eventually([&] { return !load(2).has_value(); }));
  ASSERT_TRUE(eventually([&] {
    auto e = load(1);
    return e && e->attempts == 1;
  }));
  auto e = load(1);
  EXPECT_EQ(e->recipients[0].state, model::RcptState::Delivered);
  EXPECT_EQ(e->recipients[1].state, model::RcptState::Pending);
  EXPECT_EQ(e->recipients[1].last_status, "4.4.1");
  EXPECT_EQ(e->recipients[1].attempts, 1u);
  EXPECT_GT(e->next_attempt_us, now_us() + 9 * 60 * 1'000'000LL);
  auto due = store_->due_after(std::nullopt, now_us(), 10);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty()) << "the deferred message is not due before its retry time";
}

TEST_F(SchedulerTest, NeverHandsOutAMessageTwice) {
  insert(message(1, {rcpt("a@one.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  for (int i = 0; i < 20; ++i) scheduler_->kick();
  // Rescans happen (kicks and the 1 s tick); none may dispatch the message again.
  EXPECT_FALSE(sink_.wait_for(2, 1500ms));
  EXPECT_EQ(scheduler_->stats().in_flight, 1u);
}

TEST_F(SchedulerTest, HoldOfAnInFlightMessageWaitsForItsOutcome) {
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(2));
  std::promise<bool> held;
  scheduler_->control(QueueOp::Hold, model::QueueId{1},
                      [&](Status<queue::Error> st) { held.set_value(st.ok()); });
  auto fut = held.get_future();
  EXPECT_EQ(fut.wait_for(300ms), std::future_status::timeout) << "hold waits for the delivery";
  for (const auto& job : sink_.jobs()) scheduler_->post_result(answer(job, RcptVerdict::Deferred, "4.4.1"));
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(fut.get());
  auto e = load(1);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->held);
  EXPECT_EQ(e->attempts, 1u) << "the outcome was written first";
}

TEST_F(SchedulerTest, OperatorActionsOnIdleMessages) {
  auto m = message(1, {rcpt("a@one.example")});
  m.envelope.next_attempt_us = now_us() + 3'600'000'000LL;  // not due for an hour
  insert(std::move(m));
  insert(message(2, {rcpt("b@one.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  auto run = [&](QueueOp op, std::uint64_t id) {
    std::promise<Status<queue::Error>> p;
    scheduler_->control(op, model::QueueId{id}, [&](Status<queue::Error> st) { p.set_value(st); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  };
  auto missing = run(QueueOp::Flush, 99);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, queue::Error::Kind::NotFound);
  ASSERT_TRUE(run(QueueOp::Flush, 1).ok());
  ASSERT_TRUE(sink_.wait_for(2)) << "the flushed message is handed out at once";
  auto jobs = sink_.jobs();
  for (const auto& job : jobs) scheduler_->post_result(answer(job, RcptVerdict::Deferred, "4.4.1"));
  ASSERT_TRUE(eventually([&] { return scheduler_->stats().in_flight == 0; }));
  ASSERT_TRUE(run(QueueOp::Remove, 2).ok());
  EXPECT_FALSE(load(2).has_value());
  ASSERT_TRUE(run(QueueOp::Bounce, 1).ok());
  // Bounced: the message is gone and a failure DSN to its sender took its place, in the
  // same transaction.
  EXPECT_FALSE(load(1).has_value());
  auto all = store_->list(model::QueueId{}, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  const auto& dsn = all->front();
  EXPECT_EQ(dsn.sender, "");
  ASSERT_EQ(dsn.recipients.size(), 1u);
  EXPECT_EQ(dsn.recipients[0].address, "s@agency.example");
  auto body = store_->load_body(dsn.id);
  ASSERT_TRUE(body.ok());
  EXPECT_NE(body->find("report-type=delivery-status"), std::string::npos);
  EXPECT_NE(body->find("Status: 5.0.0"), std::string::npos);
  EXPECT_NE(body->find("Final-Recipient: rfc822; a@one.example"), std::string::npos);
}

// A report from <> that fails with no dsn.postmaster is kept, held, out of the schedule,
// counted; the operator can release it (due again) or delete it. Nothing is dropped.
TEST_F(SchedulerTest, UndeliverableReportWithoutPostmasterIsHeldAndCounted) {
  auto m = message(1, {rcpt("alice@agency.example", model::Policy::SOS)});
  m.envelope.sender.clear();
  m.envelope.recipients[0].policy_reason = "dsn(sos)";
  insert(std::move(m));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  scheduler_->post_result(answer(sink_.jobs()[0], RcptVerdict::Failed, "5.7.10"));
  ASSERT_TRUE(eventually([&] { return metrics_.dsn_held.value() == 1; }));
  auto e = load(1);
  ASSERT_TRUE(e) << "the report is kept";
  EXPECT_TRUE(e->held);
  EXPECT_EQ(e->recipients[0].state, model::RcptState::Held);
  EXPECT_EQ(e->recipients[0].last_status, "5.7.10");
  auto all = store_->list(model::QueueId{}, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u) << "no report about the report";
  auto due = store_->due_after(std::nullopt, now_us() + 3'600'000'000LL, 10);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty()) << "held: never due until released";

  std::promise<Status<queue::Error>> p;
  scheduler_->control(QueueOp::Release, model::QueueId{1},
                      [&](Status<queue::Error> st) { p.set_value(st); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(f.get().ok());
  ASSERT_TRUE(sink_.wait_for(2)) << "released: tried again at once";
  EXPECT_EQ(sink_.jobs()[1].policy, model::Policy::SOS);
}

TEST_F(SchedulerTest, UndeliverableReportGoesToThePostmasterWhenSet) {
  auto cfg = std::make_shared<config::Config>(*config_);
  cfg->dsn.postmaster = "postmaster@agency.example";
  config_ = cfg;
  auto m = message(1, {rcpt("alice@agency.example", model::Policy::SOS)});
  m.envelope.sender.clear();
  insert(std::move(m));
  start();
  ASSERT_TRUE(sink_.wait_for(1));
  scheduler_->post_result(answer(sink_.jobs()[0], RcptVerdict::Failed, "5.7.10"));
  ASSERT_TRUE(eventually([&] { return !load(1).has_value(); }));
  auto all = store_->list(model::QueueId{}, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().recipients[0].address, "postmaster@agency.example");
  EXPECT_EQ(metrics_.dsn_held.value(), 0u);
}

// The counts of a message's sessions are written in the transaction of its outcome, for
// the domains the configuration counts (tlsrpt_counting), each key once with its total.
TEST_F(SchedulerTest, SessionCountsAreWrittenWithTheOutcome) {
  // When the configuration has its [tlsrpt] section, this test turns counting on with
  // two.example excluded, so that both sides of tlsrpt_counting() are exercised.
  insert(message(1, {rcpt("a@one.example"), rcpt("b@two.example")}));
  start();
  ASSERT_TRUE(sink_.wait_for(2));
  auto session = [](const std::string& domain, bool ok) {
    tlsrpt::SessionResult s;
    s.time_us = now_us();
    s.policy.domain = domain;
    if (!ok) s.failure.emplace().result = tlsrpt::ResultType::StarttlsNotSupported;
    return s;
  };
  std::map<std::string, std::uint64_t> expected;
  for (const auto& job : sink_.jobs()) {
    auto r = answer(job, RcptVerdict::Delivered, "2.0.0");
    r.sessions = {session(job.domain, false), session(job.domain, true),
                  session(job.domain, false)};
    if (tlsrpt_counting(*config_, job.domain)) {
      expected[tlsrpt::tally_add(r.sessions[0])->key] = 2;
      expected[tlsrpt::tally_add(r.sessions[1])->key] = 1;
    }
    scheduler_->post_result(std::move(r));
  }
  ASSERT_TRUE(eventually([&] { return !load(1).has_value(); })) << "the outcome was written";
  auto counters = store_->counters("r", 100);
  ASSERT_TRUE(counters.ok());
  std::map<std::string, std::uint64_t> got;
  for (const auto& c : *counters) got[c.key] = c.count;
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace secmx::delivery
