// dsn_text_test.cpp - the words of a report on SOS mail that could not be sent securely:
// the subject, whether the receivers refused TLS or could not be reached (and with which
// status), the hosts tried, and what required encryption.
#include "relay/dsn/dsn_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::dsn::text {
namespace {

// Whitespace runs (line breaks and wrap indents included) as one space.
std::string squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\r' || c == '\n' || c == '\t';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  return out;
}

Recipient sos(std::string diagnostic, std::string reason = "rule=2(classification=PROTECTED)") {
  Recipient r;
  r.address = "bob@example.org";
  r.status = "5.7.10";
  r.diagnostic = std::move(diagnostic);
  r.sos = true;
  r.reason = std::move(reason);
  return r;
}

std::string text_of(const Recipient& r) {
  Context ctx;
  ctx.hostname = "relay.agency.example";
  return squash(human_text(ctx, {r}));
}

TEST(DsnText, SubjectSaysSecureDeliveryWasNotPossible) {
  EXPECT_EQ(subject(Event::Failure, false, true),
            "Undelivered Mail: secure delivery was not possible");
  EXPECT_EQ(subject(Event::Failure, false, false), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(subject(Event::Failure, true, true), "Postmaster Copy: Undelivered Mail");
  EXPECT_EQ(subject(Event::Delay, false, true), "Delayed Mail (still being retried)");
  EXPECT_TRUE(secure_delivery_failed(sos("no secure (TLS) receiver: h[192.0.2.1]:25: x")));
  auto remote = sos("smtp; 550 5.7.10 REQUIRETLS needed");
  EXPECT_FALSE(secure_delivery_failed(remote)) << "a receiver's own 5.7.10 is its reply";
}

TEST(DsnText, EveryReceiverRefusedTls) {
  std::string t = text_of(sos(
      "no secure (TLS) receiver: mx1.example.org[192.0.2.5]:25: STARTTLS not offered; "
      "mx2.example.org[192.0.2.6]:25: TLS handshake failed: alert handshake failure"));
  EXPECT_NE(t.find("<bob@example.org>: NOT SENT: secure delivery was not possible. The "
                   "receiving mail servers for example.org refused TLS encryption (5.7.10): "
                   "they do not offer STARTTLS, or TLS failed. Your message may only be sent "
                   "encrypted, so the relay did not send it over an unencrypted connection."),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Encryption was required because the message is marked PROTECTED (policy "
                   "rule 2)."),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Mail servers tried: - mx1.example.org[192.0.2.5]:25: refused TLS: STARTTLS "
                   "not offered - mx2.example.org[192.0.2.6]:25: refused TLS: TLS handshake "
                   "failed: alert handshake failure"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Status: 5.7.10 (encryption needed"), std::string::npos) << t;
  EXPECT_EQ(t.find("could not be reached"), std::string::npos) << t;
}

TEST(DsnText, NoReceiverCouldBeReachedWithinTheLifetime) {
  std::string t = text_of(sos(
      "no secure (TLS) receiver found within the SOS lifetime: mx1.example.org[192.0.2.5]:25: "
      "timeout while connecting; mx2.example.org[192.0.2.6]:25: connection refused"));
  EXPECT_NE(t.find("NOT SENT: secure delivery was not possible. No receiving mail server for "
                   "example.org could be reached within the time allowed; the last attempt "
                   "ended with 4.4.1 (connection refused)."),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("- mx2.example.org[192.0.2.6]:25: could not be reached (4.4.1): connection "
                   "refused"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("refused TLS"), std::string::npos) << t;
}

TEST(DsnText, SomeRefusedTlsTheOthersCouldNotBeReached) {
  std::string t = text_of(sos(
      "no secure (TLS) receiver found within the SOS lifetime: mx1.example.org[192.0.2.5]:25: "
      "STARTTLS not offered; mx2.example.org[192.0.2.6]:25: refused at greeting: 421 4.3.2 "
      "closing; mx3.example.org[192.0.2.7]:25: connection lost during dot"));
  EXPECT_NE(t.find("Some receiving mail servers for example.org refused TLS encryption "
                   "(5.7.10); the others could not be reached within the time allowed."),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("- mx1.example.org[192.0.2.5]:25: refused TLS: STARTTLS not offered"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("- mx2.example.org[192.0.2.6]:25: did not accept the connection (4.3.2): "
                   "refused at greeting: 421 4.3.2 closing"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("- mx3.example.org[192.0.2.7]:25: could not be reached (4.4.2): connection "
                   "lost during dot"),
            std::string::npos)
      << t;
}

TEST(DsnText, NoReceiverFound) {
  std::string t = text_of(
      sos("no secure (TLS) receiver found within the SOS lifetime: no receiving host found"));
  EXPECT_NE(t.find("No receiving mail server was found for example.org within the time "
                   "allowed."),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("Mail servers tried"), std::string::npos) << t;
}

TEST(DsnText, HowEachHostEnded) {
  EXPECT_TRUE(host_end("STARTTLS not offered").refused_tls);
  EXPECT_TRUE(host_end("TLS handshake failed: x").refused_tls);
  EXPECT_TRUE(host_end("certificate not verified: x").refused_tls);
  EXPECT_TRUE(host_end("refused at starttls: 454 4.7.0 TLS not available").refused_tls);
  EXPECT_EQ(host_end("STARTTLS not offered").status, "5.7.10");
  auto refused = host_end("connection refused");
  EXPECT_FALSE(refused.refused_tls);
  EXPECT_FALSE(refused.replied);
  EXPECT_EQ(refused.status, "4.4.1");
  EXPECT_EQ(host_end("timeout while connecting").status, "4.4.1");
  EXPECT_EQ(host_end("connection lost during rcpt").status, "4.4.2");
  EXPECT_EQ(host_end("timeout during data").status, "4.4.2");
  EXPECT_EQ(host_end("timeout after EHLO").status, "4.4.2") << "reached, then silent";
  auto busy = host_end("refused at ehlo: 421 too busy");
  EXPECT_TRUE(busy.replied);
  EXPECT_EQ(busy.status, "4.4.2") << "from the basic code when the reply has none";
  EXPECT_EQ(host_end("refused at greeting: 554 5.7.1 go away").status, "5.7.1");
}

TEST(DsnText, WhatRequiredEncryption) {
  EXPECT_EQ(required_by("rule=3(classification=RESTRICTED)"),
            "because the message is marked RESTRICTED (policy rule 3)");
  EXPECT_EQ(required_by("rule=1(header=X-Secmx-Policy)"),
            "by policy rule 1 (header=X-Secmx-Policy)");
  EXPECT_EQ(required_by("rule=4()"), "by policy rule 4");
  EXPECT_EQ(required_by("requiretls"), "because the message was sent with REQUIRETLS");
  EXPECT_EQ(required_by("default"), "by the relay's default policy (policy.default)");
  EXPECT_EQ(required_by("unknown-marking"),
            "because the message's protective marking was not recognised "
            "(policy.unknown_marking)");
  EXPECT_EQ(required_by("dsn(sos)"),
            "because this report is about mail that itself had to travel encrypted");
  EXPECT_EQ(required_by("rule=2(classification=SECRET),released"),
            "because the message is marked SECRET (policy rule 2); the message had been held "
            "and was released by the operator");
  EXPECT_EQ(required_by(""), "");
}

}  // namespace
}  // namespace secmx::dsn::text
