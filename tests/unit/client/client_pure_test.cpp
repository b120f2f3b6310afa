// client_pure_test.cpp - the client's pure parts: EHLO parsing, MAIL/RCPT formatting,
// dot-stuffing, local checks before MAIL, and the per-state table.
#include <gtest/gtest.h>

#include "relay/client/client_commands.hpp"
#include "relay/client/client_state.hpp"
#include "relay/client/dot_stuffer.hpp"
#include "relay/client/extensions.hpp"
#include "relay/client/message_check.hpp"
#include "relay/smtp/params.hpp"

namespace secmx::client {
namespace {

smtp::ParsedReply ehlo(std::vector<std::string> lines) {
  smtp::ParsedReply r;
  r.code = 250;
  r.lines = std::move(lines);
  return r;
}

TEST(ParseEhlo, RecognisesKeywordsCaseInsensitively) {
  auto ext = parse_ehlo(ehlo({"mx.example greets you", "pipelining", "SIZE 10240000",
                              "8BITMIME", "SmtpUtf8", "DSN", "STARTTLS", "REQUIRETLS",
                              "CHUNKING", "BINARYMIME", "ENHANCEDSTATUSCODES", "X-UNKNOWN 1"}));
  EXPECT_TRUE(ext.esmtp);
  EXPECT_TRUE(ext.pipelining);
  EXPECT_TRUE(ext.size_offered);
  EXPECT_EQ(ext.size, 10240000u);
  EXPECT_TRUE(ext.eightbitmime);
  EXPECT_TRUE(ext.smtputf8);
  EXPECT_TRUE(ext.dsn);
  EXPECT_TRUE(ext.starttls);
  EXPECT_TRUE(ext.requiretls);
  EXPECT_TRUE(ext.chunking);
  EXPECT_TRUE(ext.binarymime);
  EXPECT_TRUE(ext.enhanced);
}

TEST(ParseEhlo, FirstLineIsTheNameNotAKeyword) {
  auto ext = parse_ehlo(ehlo({"PIPELINING"}));
  EXPECT_TRUE(ext.esmtp);
  EXPECT_FALSE(ext.pipelining);
}

TEST(ParseEhlo, SizeWithoutOrWithBadValueMeansNoLimit) {
  auto bare = parse_ehlo(ehlo({"mx", "SIZE"}));
  EXPECT_TRUE(bare.size_offered);
  EXPECT_EQ(bare.size, 0u);
  auto bad = parse_ehlo(ehlo({"mx", "SIZE 12abc"}));
  EXPECT_TRUE(bad.size_offered);
  EXPECT_EQ(bad.size, 0u);
  auto none = parse_ehlo(ehlo({"mx", "8BITMIME"}));
  EXPECT_FALSE(none.size_offered);
}

TEST(ParseEhlo, KeywordMustMatchWholly) {
  auto ext = parse_ehlo(ehlo({"mx", "PIPELININGX", "DSNX", "STARTTLSNOW"}));
  EXPECT_FALSE(ext.pipelining);
  EXPECT_FALSE(ext.dsn);
  EXPECT_FALSE(ext.starttls);
}

Extensions full() {
  Extensions e;
  e.esmtp = e.pipelining = e.eightbitmime = e.smtputf8 = e.dsn = e.requiretls = true;
  e.chunking = e.binarymime = e.size_offered = true;
  return e;
}

model::Envelope envelope() {
  model::Envelope env;
  env.sender = "alice@origin.example";
  return env;
}

TEST(MailCommand, PlainWithoutExtensions) {
  EXPECT_EQ(mail_command(envelope(), 123, Extensions{}), "MAIL FROM:<alice@origin.example>\r\n");
  model::Envelope null_sender;
  EXPECT_EQ(mail_command(null_sender, 1, Extensions{}), "MAIL FROM:<>\r\n");
}

TEST(MailCommand, AllParametersWhenOffered) {
  auto env = envelope();
  env.body_type = model::BodyType::EightBitMime;
  env.smtputf8 = true;
  env.ret = model::Ret::Hdrs;
  env.envid = "id+1=x";
  env.requiretls = true;
  EXPECT_EQ(mail_command(env, 4096, full()),
            "MAIL FROM:<alice@origin.example> SIZE=4096 BODY=8BITMIME SMTPUTF8 RET=HDRS "
            "ENVID=id+2B1+3Dx REQUIRETLS\r\n");
}

TEST(MailCommand, ParametersDroppedWhenNotOffered) {
  auto env = envelope();
  env.body_type = model::BodyType::EightBitMime;
  env.smtputf8 = true;
  env.ret = model::Ret::Full;
  env.envid = "E";
  env.requiretls = true;
  Extensions e;
  e.esmtp = true;
  EXPECT_EQ(mail_command(env, 10, e), "MAIL FROM:<alice@origin.example>\r\n");
}

TEST(MailCommand, BinaryMimeNeedsBothExtensions) {
  auto env = envelope();
  env.body_type = model::BodyType::BinaryMime;
  EXPECT_NE(mail_command(env, 1, full()).find(" BODY=BINARYMIME"), std::string::npos);
  auto e = full();
  e.binarymime = false;
  EXPECT_EQ(mail_command(env, 1, e).find("BODY="), std::string::npos);
}

TEST(RcptCommand, NotifyAndOrcptOnlyWithDsn) {
  model::Recipient r;
  r.address = "bob@dest.example";
  r.notify = model::kNotifySuccess | model::kNotifyFailure | model::kNotifyDelay;
  r.orcpt = "rfc822;bob+tag@dest.example";
  EXPECT_EQ(rcpt_command(r, full()),
            "RCPT TO:<bob@dest.example> NOTIFY=SUCCESS,FAILURE,DELAY "
            "ORCPT=rfc822;bob+2Btag@dest.example\r\n");
  Extensions no_dsn = full();
  no_dsn.dsn = false;
  EXPECT_EQ(rcpt_command(r, no_dsn), "RCPT TO:<bob@dest.example>\r\n");
}

TEST(RcptCommand, NotifyValues) {
  EXPECT_EQ(notify_value(model::kNotifyUnset), "");
  EXPECT_EQ(notify_value(model::kNotifyNever), "NEVER");
  EXPECT_EQ(notify_value(model::kNotifyDelay), "DELAY");
  EXPECT_EQ(notify_value(model::kNotifyFailure | model::kNotifyDelay), "FAILURE,DELAY");
}

TEST(RcptCommand, MalformedOrcptIsLeftOut) {
  EXPECT_EQ(orcpt_value("no-semicolon"), "");
  EXPECT_EQ(orcpt_value(";x@y"), "");
  EXPECT_EQ(orcpt_value("rfc822;"), "");
  EXPECT_EQ(orcpt_value("rfc 822;x@y"), "");
  EXPECT_EQ(orcpt_value("rfc822;a b@c"), "rfc822;a+20b@c");
}

// RFC 6533: a utf-8 ORCPT goes out with \x{HEX} escapes, and our own server's parser reads
// back exactly what was stored (xtext's "+HH" was refused there with 501 5.5.4).
TEST(RcptCommand, Utf8OrcptUsesUtf8AddrXtext) {
  EXPECT_EQ(orcpt_value("utf-8;j\xC3\xBCrgen@b\xC3\xBC" "cher.example"),
            "utf-8;j\\x{FC}rgen@b\\x{FC}cher.example");
  EXPECT_EQ(orcpt_value("UTF-8;a+b=c\\d@x"), "utf-8;a\\x{2B}b\\x{3D}c\\x{5C}d@x");
  EXPECT_EQ(orcpt_value("utf-8;\xF0\x9F\x93\xA7@x"), "utf-8;\\x{1F4E7}@x");
  EXPECT_EQ(orcpt_value("utf-8;bad\xC3"), "");  // not UTF-8: left out
  for (std::string stored : {"utf-8;j\xC3\xBCrgen@b\xC3\xBC" "cher.example",
                             "utf-8;a+b=c\\d@x", "utf-8;\xF0\x9F\x93\xA7@x"}) {
    smtp::Offered offered;
    auto parsed = smtp::parse_rcpt("TO:<x@y.example> ORCPT=" + orcpt_value(stored), offered, false);
    ASSERT_TRUE(parsed.ok()) << stored << ": " << parsed.error().text;
    EXPECT_EQ(parsed->orcpt, stored);
  }
}

TEST(DotStuffer, DoublesLeadingDotsAndTerminates) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".a\r\n..b\r\nc.d\r\n.\r\n"), "..a\r\n...b\r\nc.d\r\n..\r\n.\r\n");
  EXPECT_EQ(dot_stuff("no final newline"), "no final newline\r\n.\r\n");
}

TEST(DotStuffer, LineStartCarriesAcrossBlocks) {
  std::string body = "x\r\n.one\r\n.two\r\nend\r\n";
  std::string whole = dot_stuff(body);
  for (std::size_t split = 0; split <= body.size(); ++split) {
    DotStuffer s;
    std::string out;
    s.feed(std::string_view(body).substr(0, split), out);
    s.feed(std::string_view(body).substr(split), out);
    s.finish(out);
    EXPECT_EQ(out, whole) << "split at " << split;
  }
}

struct CheckFixture {
  model::Envelope env = envelope();
  model::Recipient rcpt;
  std::string body = "Subject: hi\r\n\r\nbody\r\n";
  MessageSpec spec() {
    rcpt.address = "bob@dest.example";
    MessageSpec s;
    s.envelope = &env;
    s.recipients = {&rcpt};
    s.body = &body;
    return s;
  }
};

TEST(MessageCheck, SizeOverPeerLimit) {
  CheckFixture f;
  Extensions e = full();
  e.size = f.body.size();
  EXPECT_FALSE(check_message(f.spec(), e));
  e.size = f.body.size() - 1;
  auto r = check_message(f.spec(), e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 552);
  EXPECT_EQ(r->enhanced, "5.3.4");
  e.size = 0;  // no limit advertised
  EXPECT_FALSE(check_message(f.spec(), e));
}

TEST(MessageCheck, Smtputf8OnlyWhenReallyNeeded) {
  CheckFixture f;
  Extensions e = full();
  e.smtputf8 = false;
  f.env.smtputf8 = true;
  EXPECT_FALSE(check_message(f.spec(), e)) << "ASCII-only message may go without SMTPUTF8";
  f.body = "Subject: Gr\xC3\xBC\xC3\x9F" "e\r\n\r\nbody\r\n";
  auto r = check_message(f.spec(), e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->enhanced, "5.6.7");
  f.body = "Subject: hi\r\n\r\nb\xC3\xBC" "dy\r\n";  // UTF-8 only in the body: 8BITMIME's job
  EXPECT_FALSE(check_message(f.spec(), e));
  auto spec = f.spec();
  f.rcpt.address = "b\xC3\xB6" "b@dest.example";
  EXPECT_TRUE(needs_smtputf8(spec));
  f.env.smtputf8 = false;
  EXPECT_FALSE(needs_smtputf8(spec));
}

TEST(MessageCheck, BinaryMimeNeedsChunkingAndBinaryMime) {
  CheckFixture f;
  f.env.body_type = model::BodyType::BinaryMime;
  EXPECT_FALSE(check_message(f.spec(), full()));
  Extensions e = full();
  e.chunking = false;
  auto r = check_message(f.spec(), e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->enhanced, "5.6.3");
}

TEST(MessageCheck, HeaderSection) {
  EXPECT_EQ(header_section("A: b\r\nC: d\r\n\r\nbody"), "A: b\r\nC: d\r\n");
  EXPECT_EQ(header_section("\r\nbody"), "");
  EXPECT_EQ(header_section("A: b\r\n"), "A: b\r\n");
}

TEST(ClientState, TableCoversEveryStateWithRfcTimeouts) {
  ClientOptions o;
  EXPECT_EQ(o.*(state_info(State::Greeting).timeout), std::chrono::minutes(5));
  EXPECT_EQ(o.*(state_info(State::Data).timeout), std::chrono::minutes(2));
  EXPECT_EQ(o.*(state_info(State::Body).timeout), std::chrono::minutes(3));
  EXPECT_EQ(o.*(state_info(State::Dot).timeout), std::chrono::minutes(10));
  EXPECT_EQ(state_info(State::Ready).timeout, nullptr);
  EXPECT_STREQ(to_string(State::Rcpt), "rcpt");
  EXPECT_STREQ(state_info(State::TlsHandshake).stage, "tls");
}

}  // namespace
}  // namespace secmx::client
