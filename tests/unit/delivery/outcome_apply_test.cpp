// outcome_apply_test.cpp - each outcome becomes one attempt in its recipient's history,
// newest last, bounded, the dropped ones counted.
#include "relay/delivery/outcome_apply.hpp"

#include <gtest/gtest.h>

#include "relay/delivery/outcome.hpp"

namespace secmx::delivery {
namespace {

RcptOutcome deferred(const std::string& host, const std::string& reply) {
  RcptOutcome o;
  o.verdict = RcptVerdict::Deferred;
  o.status = "4.2.0";
  o.diagnostic = "smtp; " + reply;
  o.remote_mta = host;
  o.host = host;
  o.address = "192.0.2.7:25";
  o.method = "mx";
  o.tls = "none";
  o.dnssec = "insecure";
  return o;
}

JobResult result_for(std::vector<std::size_t> indices, std::vector<RcptOutcome> outcomes) {
  JobResult r;
  r.indices = std::move(indices);
  r.outcomes = std::move(outcomes);
  return r;
}

model::Envelope two_recipients() {
  model::Envelope env;
  env.recipients.resize(2);
  env.recipients[0].address = "a@example.org";
  env.recipients[1].address = "b@example.org";
  return env;
}

TEST(ApplyOutcomes, EachOutcomeIsAnAttemptWithItsEvidence) {
  model::Envelope env = two_recipients();
  RcptOutcome sent;
  sent.verdict = RcptVerdict::Delivered;
  sent.status = "2.0.0";
  sent.diagnostic = "smtp; 250 2.0.0 queued as 4Xy";
  sent.remote_mta = "mx6.example.org";
  sent.host = "mx6.example.org";
  sent.address = "[2001:db8::7]:25";
  sent.method = "srv";
  sent.tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/dane";
  sent.cert_sha256 = std::string(64, 'f');
  sent.dnssec = "secure";
  apply_outcomes(env, result_for({1}, {deferred("mx.example.org", "451 4.2.0 busy")}), 100, 20);
  apply_outcomes(env, result_for({1}, {sent}), 200, 20);

  EXPECT_TRUE(env.recipients[0].history.empty()) << "not in the job: untouched";
  const auto& r = env.recipients[1];
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history_dropped, 0u);
  const model::Attempt& first = r.history[0];
  EXPECT_EQ(first.time_us, 100);
  EXPECT_EQ(first.host, "mx.example.org");
  EXPECT_EQ(first.address, "192.0.2.7:25");
  EXPECT_EQ(first.method, "mx");
  EXPECT_EQ(first.tls, "none");
  EXPECT_EQ(first.status, "4.2.0");
  EXPECT_EQ(first.reply, "451 4.2.0 busy") << "as the log line gives it, without the DSN tag";
  const model::Attempt& last = r.history[1];
  EXPECT_EQ(last.time_us, 200);
  EXPECT_EQ(last.address, "[2001:db8::7]:25");
  EXPECT_EQ(last.method, "srv");
  EXPECT_EQ(last.tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_EQ(last.cert_sha256, std::string(64, 'f'));
  EXPECT_EQ(last.dnssec, "secure");
  EXPECT_EQ(last.status, "2.0.0");
  // The last attempt's fields agree with the newest attempt.
  EXPECT_EQ(r.state, model::RcptState::Delivered);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.last_attempt_us, last.time_us);
  EXPECT_EQ(r.last_tls, last.tls);
}

TEST(ApplyOutcomes, HistoryKeepsTheNewestAndCountsTheDropped) {
  model::Envelope env = two_recipients();
  for (int k = 0; k < 5; ++k) {
    apply_outcomes(env, result_for({0}, {deferred("mx.example.org", "451 try " + std::to_string(k))}),
                   1000 + k, 2);
  }
  const auto& r = env.recipients[0];
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history_dropped, 3u);
  EXPECT_EQ(r.attempts, 5u);
  EXPECT_EQ(r.history[0].reply, "451 try 3");
  EXPECT_EQ(r.history[1].reply, "451 try 4");
  EXPECT_EQ(r.history[1].time_us, 1004);
}

// A history read from the queue after the limit was lowered shrinks to the new limit at
// the next attempt; a limit of 1 keeps only the newest.
TEST(ApplyOutcomes, LoweredLimitShrinksTheHistory) {
  model::Envelope env = two_recipients();
  for (int k = 0; k < 6; ++k) {
    apply_outcomes(env, result_for({0}, {deferred("mx.example.org", std::to_string(k))}), k, 20);
  }
  ASSERT_EQ(env.recipients[0].history.size(), 6u);
  apply_outcomes(env, result_for({0}, {deferred("mx.example.org", "6")}), 6, 3);
  ASSERT_EQ(env.recipients[0].history.size(), 3u);
  EXPECT_EQ(env.recipients[0].history_dropped, 4u);
  EXPECT_EQ(env.recipients[0].history.front().reply, "4");
  apply_outcomes(env, result_for({0}, {deferred("mx.example.org", "7")}), 7, 1);
  ASSERT_EQ(env.recipients[0].history.size(), 1u);
  EXPECT_EQ(env.recipients[0].history_dropped, 7u);
  EXPECT_EQ(env.recipients[0].history.front().reply, "7");
}

TEST(ApplyOutcomes, IndicesOutOfRangeAddNothing) {
  model::Envelope env = two_recipients();
  apply_outcomes(env, result_for({5, 0}, {deferred("x", "1")}), 1, 20);
  EXPECT_TRUE(env.recipients[0].history.empty());
  EXPECT_TRUE(env.recipients[1].history.empty());
}

}  // namespace
}  // namespace secmx::delivery
