// end_of_data_test.cpp - the pure steps at the end of a message: the content check, the
// envelope built from the transaction, the header section the policy reads.
#include "relay/server/end_of_data.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace secmx::server {
namespace {

TEST(CheckContent, CleanContentPasses) {
  smtp::ContentFlags flags;
  flags.eight_bit = true;  // 8-bit content is not a problem by itself
  EXPECT_FALSE(check_content(flags).has_value());
}

TEST(CheckContent, EachProblemAndItsReply) {
  struct Case {
    void (*set)(smtp::ContentFlags&);
    int code;
    const char* enhanced;
    const char* why;
    bool counts_error;
  };
  const Case cases[] = {
      {[](smtp::ContentFlags& f) { f.too_big = true; }, 552, "5.3.4", "message too big", false},
      {[](smtp::ContentFlags& f) { f.bare_lf = true; }, 550, "5.5.2", "bare CR/LF", true},
      {[](smtp::ContentFlags& f) { f.bare_cr = true; }, 550, "5.5.2", "bare CR/LF", true},
      {[](smtp::ContentFlags& f) { f.nul = true; }, 554, "5.6.0", "NUL in content", true},
      {[](smtp::ContentFlags& f) { f.line_too_long = true; }, 550, "5.5.2", "line too long",
       false},
  };
  for (const auto& c : cases) {
    smtp::ContentFlags flags;
    c.set(flags);
    auto r = check_content(flags);
    ASSERT_TRUE(r.has_value()) << c.why;
    EXPECT_EQ(r->reply.code, c.code) << c.why;
    EXPECT_EQ(r->reply.enhanced, c.enhanced) << c.why;
    EXPECT_EQ(r->why, c.why);
    EXPECT_EQ(r->counts_error, c.counts_error) << c.why;
  }
}

TEST(CheckContent, SizeIsAnsweredBeforeEverythingElse) {
  smtp::ContentFlags flags;
  flags.too_big = flags.bare_lf = flags.nul = flags.line_too_long = true;
  EXPECT_EQ(check_content(flags)->reply.code, 552);
  flags.too_big = false;
  EXPECT_EQ(check_content(flags)->why, "bare CR/LF");
  flags.bare_lf = false;
  EXPECT_EQ(check_content(flags)->why, "NUL in content");
}

TEST(BuildMessage, EnvelopeFromTransactionAndClient) {
  Transaction tx;
  tx.active = true;
  tx.mail.reverse_path = "s@x.example";
  tx.mail.body = model::BodyType::EightBitMime;
  tx.mail.smtputf8 = true;
  tx.mail.requiretls = true;
  tx.mail.ret = model::Ret::Hdrs;
  tx.mail.envid = "env-1";
  tx.id = model::QueueId{42};
  tx.arrival_us = 1234;
  model::Recipient r;
  r.address = "r@y.example";
  tx.recipients.push_back(r);
  tx.body = "Received: x\r\nSubject: a\r\n\r\nbody\r\n";
  tx.header_offset = 13;
  auto msg = build_message(
      tx, {"192.0.2.1", "client.test", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "app-user"});
  const auto& env = msg.envelope;
  EXPECT_EQ(env.id, model::QueueId{42});
  EXPECT_EQ(env.arrival_us, 1234);
  EXPECT_EQ(env.sender, "s@x.example");
  EXPECT_EQ(env.body_type, model::BodyType::EightBitMime);
  EXPECT_TRUE(env.smtputf8);
  EXPECT_TRUE(env.requiretls);
  EXPECT_EQ(env.ret, model::Ret::Hdrs);
  EXPECT_EQ(env.envid, "env-1");
  EXPECT_EQ(env.client_address, "192.0.2.1");
  EXPECT_EQ(env.client_helo, "client.test");
  EXPECT_EQ(env.tls_protocol, "TLSv1.3");
  EXPECT_EQ(env.tls_cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(env.auth_user, "app-user");
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, "r@y.example");
  EXPECT_EQ(msg.body, "Received: x\r\nSubject: a\r\n\r\nbody\r\n");
  EXPECT_EQ(env.body_size, msg.body.size());
  // The id stays with the transaction: the session answers "queued as <id>" later.
  EXPECT_EQ(tx.id, model::QueueId{42});
}

TEST(HeaderSection, UpToTheEmptyLine) {
  std::string body = "Received: x\r\nSubject: a\r\nFrom: b\r\n\r\nbody\r\n";
  EXPECT_EQ(header_section(body, 13), "Subject: a\r\nFrom: b\r\n");
}

TEST(HeaderSection, NoHeadersWhenContentStartsWithTheEmptyLine) {
  std::string body = "Received: x\r\n\r\nSubject: not a header\r\n";
  EXPECT_EQ(header_section(body, 13), "");
}

TEST(HeaderSection, AllOfItWithoutAnEmptyLine) {
  std::string body = "Received: x\r\nSubject: a\r\n";
  EXPECT_EQ(header_section(body, 13), "Subject: a\r\n");
  EXPECT_EQ(header_section(body, body.size()), "");
}

// What the policy read travels on the first decision: the envelope gets the Message-ID and
// the classification from it, and the accept record goes into the message's own commit.
std::vector<policy::Decision> read_protected(std::string message_id) {
  std::vector<policy::Decision> d(2);
  d[0].message_id = std::move(message_id);
  d[0].classification.level = model::Level::Protected;
  policy::Marking m;
  m.text = "VER=2018.1, NS=gov.au, SEC=PROTECTED";
  m.level = model::Level::Protected;
  d[0].classification.markings.push_back(m);
  return d;
}

queue::NewMessage accepted() {
  queue::NewMessage msg;
  msg.envelope.id = model::QueueId{42};
  msg.envelope.sender = "a@agency.example";
  msg.envelope.recipients.resize(2);
  msg.envelope.recipients[0].address = "b@x.example";
  msg.envelope.recipients[1].address = "c@x.example";
  return msg;
}

TEST(RecordAcceptance, EnvelopeCarriesWhatThePolicyReadAndTheAcceptRecordGoesWithIt) {
  auto msg = accepted();
  record_acceptance(msg, read_protected(" <id.1@agency.example> "), true, 1'000'000);
  EXPECT_EQ(msg.envelope.message_id, "id.1@agency.example");
  EXPECT_EQ(msg.envelope.classification, "PROTECTED");
  ASSERT_EQ(msg.audit.size(), 1u);
  EXPECT_EQ(msg.audit[0].time_us, 1'000'000);
  auto j = nlohmann::json::parse(msg.audit[0].payload);
  EXPECT_EQ(j["event"], "accept");
  EXPECT_EQ(j["queue_id"], model::QueueId{42}.to_string());
  EXPECT_EQ(j["message_id"], "id.1@agency.example");
  EXPECT_EQ(j["markings"][0]["level"], "PROTECTED");
  EXPECT_EQ(j["recipients"].size(), 2u);
}

TEST(RecordAcceptance, TrailOffSetsTheEnvelopeButWritesNothing) {
  auto msg = accepted();
  record_acceptance(msg, read_protected(""), false, 1);
  EXPECT_EQ(msg.envelope.message_id, "");
  EXPECT_EQ(msg.envelope.classification, "PROTECTED");
  EXPECT_TRUE(msg.audit.empty());
  record_acceptance(msg, {}, false, 1);  // no decisions at all: nothing was read
  EXPECT_EQ(msg.envelope.classification, "none");
}

TEST(RejectionRecord, TheRefusedMessageWithItsRuleAndReply) {
  auto msg = accepted();
  auto d = read_protected("<r@agency.example>");
  d[0].action = d[1].action = model::Policy::REJECT;
  auto r = rejection_record(msg.envelope, d, "rule=1(classification=PROTECTED)",
                            "550 5.7.1 No", 7);
  auto j = nlohmann::json::parse(r.payload);
  EXPECT_EQ(j["event"], "reject");
  EXPECT_EQ(j["queue_id"], "");
  EXPECT_EQ(j["message_id"], "r@agency.example");
  EXPECT_EQ(j["classification"], "PROTECTED");
  EXPECT_EQ(j["reason"], "rule=1(classification=PROTECTED)");
  EXPECT_EQ(j["reply"], "550 5.7.1 No");
  EXPECT_EQ(j["recipients"][1]["policy"], "REJECT");
}

}  // namespace
}  // namespace secmx::server
