// The lines Postfix's tools read, in both shapes: SecMX's own lines stay as they were, and
// the postfix shape matches what pflogsumm's expressions look for.
#include "relay/common/log_lines.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace secmx::log {
namespace {

TEST(LogLines, ConnectAndDisconnect) {
  Connect c{7, "192.0.2.1", 40000};
  EXPECT_EQ(connect_line(c, Format::Secmx), "S7 connect from [192.0.2.1]:40000");
  EXPECT_EQ(connect_line(c, Format::Postfix), "connect from unknown[192.0.2.1] session=S7 port=40000");
  Disconnect d{7, "192.0.2.1", 5, 1, 2, 1, 1, 42};
  EXPECT_EQ(disconnect_line(d, Format::Secmx),
            "S7 disconnect from [192.0.2.1] commands=5 mail=1 rcpt=2 data=1 queued=1 ms=42");
  // pflogsumm: /disconnect from (.+)$/, then "unknown[ip]" as the client's name.
  EXPECT_EQ(disconnect_line(d, Format::Postfix),
            "disconnect from unknown[192.0.2.1] commands=5 mail=1 rcpt=2 data=1 queued=1 ms=42 "
            "session=S7");
}

Reject relay_denied() {
  return {3, "192.0.2.9", Reject::Stage::Rcpt, 550, "5.7.1",
          "<b@example.org>: Relay access denied", "a@example.com", "b@example.org",
          "client.example", ""};
}

TEST(LogLines, RcptRejectKeepsSecmxShape) {
  EXPECT_EQ(reject_line(relay_denied(), Format::Secmx),
            "S3 reject: RCPT from [192.0.2.9]: 550 5.7.1 <b@example.org>: Relay access denied; "
            "from=<a@example.com>");
}

TEST(LogLines, RcptRejectInPostfixsNoqueueShape) {
  auto line = reject_line(relay_denied(), Format::Postfix);
  EXPECT_EQ(line,
            "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 550 5.7.1 <b@example.org>: Relay "
            "access denied; from=<a@example.com> to=<b@example.org> helo=<client.example> "
            "session=S3");
  // pflogsumm's proc_smtpd_reject(): "reject: (\S+) from (\S+?): (.*)$".
  std::smatch m;
  std::string with_prefix = "secmx/smtpd[1]: " + line;
  ASSERT_TRUE(std::regex_search(with_prefix, m, std::regex(R"(\[\d+\]: \w+: reject: (\S+) from (\S+?): (.*)$)")));
  EXPECT_EQ(m[1], "RCPT");
  EXPECT_EQ(m[2], "unknown[192.0.2.9]");
}

TEST(LogLines, EndOfDataRejectCarriesSecmxFieldsLast) {
  Reject r{4, "192.0.2.9", Reject::Stage::EndOfData, 550, "5.7.1", "SECRET mail is not sent",
           "a@example.com", "b@example.org", "h", " rule=2(classification=SECRET)"};
  EXPECT_EQ(reject_line(r, Format::Secmx),
            "S4 reject: END-OF-DATA from [192.0.2.9]: 550 5.7.1 SECRET mail is not sent; "
            "from=<a@example.com> rule=2(classification=SECRET)");
  EXPECT_EQ(reject_line(r, Format::Postfix),
            "NOQUEUE: reject: END-OF-MESSAGE from unknown[192.0.2.9]: 550 5.7.1 SECRET mail is "
            "not sent; from=<a@example.com> to=<b@example.org> helo=<h> "
            "rule=2(classification=SECRET) session=S4");
}

TEST(LogLines, PeerTextIsEscaped) {
  Reject r = relay_denied();
  r.sender = "a@x\r\nsecmx/smtp[1]: forged";
  r.helo = "h\n";
  auto line = reject_line(r, Format::Postfix);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find("from=<a@x\\x0d\\x0asecmx/smtp[1]: forged>"), std::string::npos) << line;
  EXPECT_NE(line.find("helo=<h\\x0a>"), std::string::npos) << line;
}

Queued queued() {
  Queued q;
  q.queue_id = "0193ABCDEF012345";
  q.ip = "192.0.2.1";
  q.port = 40000;
  q.helo = "client.example";
  q.sender = "a@example.com";
  q.message_id = " <m1@example.com>";
  q.nrcpt = 2;
  q.size = 1234;
  q.tls = "none";
  q.policy = "BES";
  q.rule = "default";
  return q;
}

TEST(LogLines, QueuedInSecmxShapeAddsTheMessageId) {
  auto lines = queued_lines(queued(), Format::Secmx);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].module, "smtpd");
  EXPECT_EQ(lines[0].text,
            "0193ABCDEF012345: queued client=[192.0.2.1]:40000 helo=client.example "
            "from=<a@example.com> nrcpt=2 size=1234 tls=none requiretls=no policy=BES rule=default");
  EXPECT_EQ(lines[1].module, "cleanup");
  EXPECT_EQ(lines[1].text, "0193ABCDEF012345: message-id=<m1@example.com>");
}

TEST(LogLines, QueuedInPostfixShapeIsSmtpdCleanupAndQmgr) {
  auto lines = queued_lines(queued(), Format::Postfix);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].module, "smtpd");
  EXPECT_EQ(lines[0].text,
            "0193ABCDEF012345: client=unknown[192.0.2.1]:40000, helo=<client.example>, tls=none, "
            "requiretls=no, policy=BES, rule=default");
  EXPECT_EQ(lines[1].module, "cleanup");
  EXPECT_EQ(lines[1].text, "0193ABCDEF012345: message-id=<m1@example.com>");
  EXPECT_EQ(lines[2].module, "qmgr");
  EXPECT_EQ(lines[2].text, "0193ABCDEF012345: from=<a@example.com>, size=1234, nrcpt=2 (queue active)");
  // What pflogsumm needs to count a message received and its size.
  EXPECT_TRUE(std::regex_search("secmx/smtpd[1]: " + lines[0].text,
                                std::regex(R"(\[\d+\]: \w+: client=(.+?)(,|$))")));
  EXPECT_TRUE(std::regex_search(lines[2].text, std::regex(R"(from=<([^>]*)>, size=(\d+))")));
}

TEST(LogLines, MissingMessageIdIsEmpty) {
  Queued q = queued();
  q.message_id.clear();
  EXPECT_EQ(queued_lines(q, Format::Postfix)[1].text, "0193ABCDEF012345: message-id=<>");
}

TEST(LogLines, NotificationInPostfixsBounceWords) {
  EXPECT_EQ(notification_line("A1", "failed", "B2", 1, Format::Secmx),
            "A1: sender failed notification: B2 (1 recipient(s))");
  EXPECT_EQ(notification_line("A1", "failed", "B2", 1, Format::Postfix),
            "A1: sender non-delivery notification: B2 (1 recipient(s))");
  EXPECT_EQ(notification_line("A1", "delayed", "B2", 2, Format::Postfix),
            "A1: sender delay notification: B2 (2 recipient(s))");
  EXPECT_EQ(notification_line("A1", "delivered", "B2", 1, Format::Postfix),
            "A1: sender delivery status notification: B2 (1 recipient(s))");
}

TEST(LogLines, Removed) { EXPECT_EQ(removed_line("0193ABCDEF012345"), "0193ABCDEF012345: removed"); }

TEST(LogLines, PostfixProgramNames) {
  EXPECT_EQ(postfix_program("delivery"), "smtp");
  EXPECT_EQ(postfix_program("scheduler"), "qmgr");
  EXPECT_EQ(postfix_program("dsn"), "bounce");
  EXPECT_EQ(postfix_program("main"), "master");
  EXPECT_EQ(postfix_program("smtpd"), "smtpd");
  EXPECT_EQ(postfix_program("cleanup"), "cleanup");
}

}  // namespace
}  // namespace secmx::log
