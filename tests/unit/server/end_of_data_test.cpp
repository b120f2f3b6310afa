// end_of_data_test.cpp - the pure steps at the end of a message: the content check, the
// envelope built from the transaction, the header section the policy reads.
#include "relay/server/end_of_data.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace secmx::server
