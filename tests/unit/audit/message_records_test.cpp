// message_records_test.cpp - the accept, reject and dsn records, the classification name
// the envelope carries, and the Message-ID as the records give it.
#include "relay/audit/message_records.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace secmx::audit {
namespace {

nlohmann::json parsed(const queue::AuditRecord& r) { return nlohmann::json::parse(r.payload); }

model::Envelope envelope() {
  model::Envelope env;
  env.id = model::QueueId{0x1234};
  env.sender = "alice@agency.example";
  env.client_address = "192.0.2.1";
  env.client_helo = "client.example";
  env.auth_user = "alice";
  env.tls_protocol = "TLSv1.3";
  env.tls_cipher = "TLS_AES_256_GCM_SHA384";
  env.body_size = 4321;
  env.message_id = "m1@agency.example";
  env.classification = "PROTECTED";
  model::Recipient a, b;
  a.address = "bob@partner.example";
  a.policy = model::Policy::SOS;
  a.tls = model::TlsLevel::Verify;
  a.policy_reason = "rule=1(classification=PROTECTED)";
  b.address = "carol@other.example";
  b.policy = model::Policy::HOLD;
  b.policy_reason = "rule=2(sender)";
  env.recipients = {a, b};
  return env;
}

policy::Classification protected_and_unreadable() {
  policy::Classification cls;
  cls.level = model::Level::Protected;
  policy::Marking header;
  header.source = policy::MarkingSource::Header;
  header.text = "VER=2018.1, NS=gov.au, SEC=PROTECTED";
  header.level = model::Level::Protected;
  policy::Marking subject;
  subject.source = policy::MarkingSource::SubjectSec;
  subject.text = std::string(400, 'x');
  subject.error = "unknown level";
  cls.markings = {header, subject};
  return cls;
}

TEST(ClassificationName, LevelUnknownOrNone) {
  policy::Classification cls;
  EXPECT_EQ(classification_name(cls), "none");
  cls.level = model::Level::OfficialSensitive;
  EXPECT_EQ(classification_name(cls), "OFFICIAL:Sensitive");
  cls.unknown = true;  // an unreadable marking makes it unknown, even with a level read
  EXPECT_EQ(classification_name(cls), "unknown");
}

TEST(MessageIdOf, BracketsAndBlanksGo) {
  EXPECT_EQ(message_id_of("<a.b@c.example>"), "a.b@c.example");
  EXPECT_EQ(message_id_of("  <x@y>  "), "x@y");
  EXPECT_EQ(message_id_of("no-brackets@y"), "no-brackets@y");
  EXPECT_EQ(message_id_of("   "), "");
  EXPECT_EQ(message_id_of("<"), "<");
}

TEST(AcceptRecord, CarriesClientEnvelopeMarkingsAndPolicyPerRecipient) {
  auto j = parsed(accept_record(1'700'000'000'000'000, envelope(), protected_and_unreadable()));
  EXPECT_EQ(j["event"], "accept");
  EXPECT_EQ(j["queue_id"], model::QueueId{0x1234}.to_string());
  EXPECT_EQ(j["message_id"], "m1@agency.example");
  EXPECT_EQ(j["sender"], "alice@agency.example");
  EXPECT_EQ(j["classification"], "PROTECTED");
  EXPECT_EQ(j["client"]["address"], "192.0.2.1");
  EXPECT_EQ(j["client"]["helo"], "client.example");
  EXPECT_EQ(j["client"]["auth_user"], "alice");
  EXPECT_EQ(j["client"]["tls_protocol"], "TLSv1.3");
  EXPECT_EQ(j["client"]["tls_cipher"], "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(j["size"], 4321);
  ASSERT_EQ(j["markings"].size(), 2u);
  EXPECT_EQ(j["markings"][0]["source"], "X-Protective-Marking");
  EXPECT_EQ(j["markings"][0]["level"], "PROTECTED");
  EXPECT_EQ(j["markings"][0]["error"], "");
  EXPECT_TRUE(j["markings"][1]["level"].is_null());
  EXPECT_EQ(j["markings"][1]["error"], "unknown level");
  EXPECT_EQ(j["markings"][1]["text"].get<std::string>().size(), policy::kMaxMarkingText);
  ASSERT_EQ(j["recipients"].size(), 2u);
  EXPECT_EQ(j["recipients"][0]["address"], "bob@partner.example");
  EXPECT_EQ(j["recipients"][0]["policy"], "SOS");
  EXPECT_EQ(j["recipients"][0]["tls"], "verify");
  EXPECT_EQ(j["recipients"][0]["rule"], "rule=1(classification=PROTECTED)");
  EXPECT_EQ(j["recipients"][1]["policy"], "HOLD");
}

TEST(RejectRecord, NoQueueIdThePoliciesDecidedAndTheReply) {
  auto env = envelope();
  for (auto& r : env.recipients) {  // as built: nothing applied yet
    r.policy = model::Policy::BES;
    r.policy_reason.clear();
  }
  std::vector<policy::Decision> decisions(2);
  decisions[0].action = model::Policy::REJECT;
  decisions[0].reason = model::Reason::for_rule(3, 40, {{"classification", "SECRET"}});
  decisions[1].action = model::Policy::SOS;
  decisions[1].tls = model::TlsLevel::Verify;
  auto j = parsed(reject_record(5, env, policy::Classification{}, decisions,
                                decisions[0].reason.to_string(), "550 5.7.1 Not here"));
  EXPECT_EQ(j["event"], "reject");
  EXPECT_EQ(j["queue_id"], "");
  EXPECT_EQ(j["classification"], "none");
  EXPECT_EQ(j["recipients"][0]["policy"], "REJECT");
  EXPECT_EQ(j["recipients"][0]["rule"], decisions[0].reason.to_string());
  EXPECT_EQ(j["recipients"][1]["policy"], "SOS");
  EXPECT_EQ(j["recipients"][1]["tls"], "verify");
  EXPECT_EQ(j["reason"], decisions[0].reason.to_string());
  EXPECT_EQ(j["reply"], "550 5.7.1 Not here");
  EXPECT_EQ(j["client"]["address"], "192.0.2.1");
}

TEST(AcceptRecord, ThousandsOfRecipientsStayUnderTheStoresLimitAndAreCounted) {
  auto env = envelope();
  env.recipients.resize(5000, env.recipients.front());
  auto record = accept_record(5, env, policy::Classification{});
  const std::string& text = record.payload;
  auto j = parsed(record);
  EXPECT_LT(text.size(), 60u * 1024);
  ASSERT_TRUE(j.contains("recipients_omitted"));
  EXPECT_EQ(j["recipients"].size() + j["recipients_omitted"].get<std::size_t>(), 5000u);
  EXPECT_GT(j["recipients"].size(), 100u);
  EXPECT_FALSE(parsed(accept_record(5, envelope(), {})).contains("recipients_omitted"));
}

TEST(DsnRecord, NamesTheDsnItsKindRecipientsAndWhereItGoes) {
  auto j = parsed(dsn_record(5, envelope(), "ABCDEF", "failure", {"bob@partner.example"},
                             "alice@agency.example"));
  EXPECT_EQ(j["event"], "dsn");
  EXPECT_EQ(j["queue_id"], model::QueueId{0x1234}.to_string());  // the original message
  EXPECT_EQ(j["dsn_id"], "ABCDEF");
  EXPECT_EQ(j["kind"], "failure");
  EXPECT_EQ(j["recipients"], nlohmann::json::array({"bob@partner.example"}));
  EXPECT_EQ(j["to"], "alice@agency.example");
  EXPECT_EQ(j["classification"], "PROTECTED");
}

}  // namespace
}  // namespace secmx::audit
