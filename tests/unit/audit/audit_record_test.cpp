// audit_record_test.cpp - the common frame of audit records and the JSON shape of the model
// they carry.
#include "relay/audit/audit_record.hpp"

#include <gtest/gtest.h>

#include "queue/envelope_json.hpp"

namespace secmx::audit {
namespace {

TEST(AuditRecord, FrameNamesVersionEventAndTime) {
  auto j = frame(Event::Outcome, 1'700'000'000'123'456);
  EXPECT_EQ(j["v"], kSchemaVersion);
  EXPECT_EQ(j["event"], "outcome");
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123456Z");
}

TEST(AuditRecord, RecordIsCompactJsonWithInvalidUtf8Replaced) {
  auto j = frame(Event::Reject, 5);
  j["sender"] = std::string("a\xff@example.org");
  auto r = to_record(j, 5);
  EXPECT_EQ(r.time_us, 5);
  EXPECT_EQ(r.payload.find('\n'), std::string::npos);
  auto back = nlohmann::json::parse(r.payload);
  EXPECT_EQ(back["sender"], "a\xef\xbf\xbd@example.org");
}

TEST(EnvelopeJson, RecipientCarriesItsHistoryAndDroppedCount) {
  model::Recipient r;
  r.address = "bob@example.org";
  r.history.push_back(model::Attempt{1'000'000, "mx.example.org", "192.0.2.7:25", "mx",
                                     "TLSv1.3/TLS_AES_256_GCM_SHA384/dane", "ab", "secure",
                                     "2.0.0", "250 ok"});
  r.history_dropped = 3;
  auto j = queue::recipient_json(r);
  ASSERT_EQ(j["history"].size(), 1u);
  EXPECT_EQ(j["history"][0]["address"], "192.0.2.7:25");
  EXPECT_EQ(j["history"][0]["tls"], "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_EQ(j["history_dropped"], 3);
  EXPECT_EQ(j["last_attempt"], nullptr);
}

}  // namespace
}  // namespace secmx::audit

namespace secmx::audit {
namespace {

TEST(AuditRecord, TlsAuthIsTheEvidencesLastWordWhenItIsAnAuthentication) {
  EXPECT_EQ(tls_auth("TLSv1.3/TLS_AES_256_GCM_SHA384/dane"), "dane");
  EXPECT_EQ(tls_auth("TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256/mta-sts"), "mta-sts");
  EXPECT_EQ(tls_auth("TLSv1.3/TLS_AES_128_GCM_SHA256/pkix"), "pkix");
  EXPECT_EQ(tls_auth("TLSv1.3/TLS_AES_128_GCM_SHA256/none"), "none");
  EXPECT_EQ(tls_auth("none"), "none");
  EXPECT_EQ(tls_auth(""), "none");
}

TEST(AuditRecord, OutcomeCarriesTheMessageTheRecipientAndTheDecidingAttempt) {
  model::Envelope env;
  env.id = model::QueueId{};
  env.sender = "alice@agency.example";
  env.message_id = "m1@agency.example";
  env.classification = "PROTECTED";
  model::Recipient r;
  r.address = "bob@example.org";
  r.policy = model::Policy::SOS;
  r.tls = model::TlsLevel::Verify;
  r.state = model::RcptState::Delivered;
  r.last_status = "2.0.0";
  model::Attempt a{7, "mx.example.org", "192.0.2.7:25", "mx", "TLSv1.3/X/dane", "ab", "secure",
                   "2.0.0", "250 ok"};
  auto j = nlohmann::json::parse(outcome_record(9, env, r, "delivered", "delivery", &a, "").payload);
  EXPECT_EQ(j["event"], "outcome");
  EXPECT_EQ(j["message_id"], "m1@agency.example");
  EXPECT_EQ(j["classification"], "PROTECTED");
  EXPECT_EQ(j["recipient"]["policy"], "SOS");
  EXPECT_EQ(j["recipient"]["state"], "delivered");
  EXPECT_EQ(j["attempt"]["host"], "mx.example.org");
  EXPECT_EQ(j["auth"], "dane");
  auto none = nlohmann::json::parse(
      outcome_record(9, model::Envelope{}, r, "deleted", "alice", nullptr, "").payload);
  EXPECT_EQ(none["classification"], "none");
  EXPECT_EQ(none["attempt"], nullptr);
  EXPECT_EQ(none["auth"], "none");
  EXPECT_EQ(none["by"], "alice");
}

}  // namespace
}  // namespace secmx::audit
