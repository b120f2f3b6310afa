// The per-attempt log line: the field names operators grep for, and peer text escaped.
#include "relay/delivery/attempt_log.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace secmx::delivery {
namespace {

TEST(AttemptLog, CarriesEveryFieldPostfixStyle) {
  AttemptLine l;
  l.queue_id = "0193ABC";
  l.recipient = "a@example.org";
  l.relay = "mx.example.org[127.0.0.5]:25";
  l.policy = "SOS";
  l.reason = "rule=3(classification=RESTRICTED)";
  l.method = "srv";
  l.tls = format_tls("TLSv1.3", "TLS_AES_256_GCM_SHA384", TlsAuth::Dane);
  l.cert_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  l.dnssec = dnssec_status(true, true, true);
  l.delay_s = 1.234;
  l.attempts = 2;
  l.dsn = "2.0.0";
  l.status = "sent";
  l.detail = "250 2.0.0 Ok: queued as X";
  EXPECT_EQ(format_attempt(l),
            "0193ABC: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, policy=SOS, "
            "reason=rule=3(classification=RESTRICTED), method=srv, "
            "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/dane, "
            "cert=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, "
            "dnssec=secure, delay=1.23, attempts=2, dsn=2.0.0, "
            "status=sent (250 2.0.0 Ok: queued as X)");
}

TEST(AttemptLog, TlsNamesHowThePeerWasAuthenticated) {
  EXPECT_EQ(format_tls("TLSv1.3", "TLS_AES_256_GCM_SHA384", TlsAuth::Dane),
            "TLSv1.3/TLS_AES_256_GCM_SHA384/dane");
  EXPECT_EQ(format_tls("TLSv1.3", "TLS_AES_128_GCM_SHA256", TlsAuth::MtaSts),
            "TLSv1.3/TLS_AES_128_GCM_SHA256/mta-sts");
  EXPECT_EQ(format_tls("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", TlsAuth::Pkix),
            "TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256/pkix");
  EXPECT_EQ(format_tls("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", TlsAuth::None),
            "TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256/none");
  EXPECT_EQ(format_tls("", "", TlsAuth::Pkix), "none");  // no TLS at all
}

TEST(AttemptLog, DnssecStatusOfTheAnswersUsed) {
  EXPECT_STREQ(dnssec_status(false, false, false), "off");
  EXPECT_STREQ(dnssec_status(false, true, true), "off");  // flags mean nothing then
  EXPECT_STREQ(dnssec_status(true, true, true), "secure");
  EXPECT_STREQ(dnssec_status(true, true, false), "insecure");
  EXPECT_STREQ(dnssec_status(true, false, true), "insecure");
}

TEST(AttemptLog, PlaintextShowsNoCertificate) {
  AttemptLine l;
  l.queue_id = "2";
  l.recipient = "c@example.org";
  l.relay = "mx.example.org[127.0.0.5]:25";
  l.policy = "BES";
  l.reason = "default";
  l.method = "mx";
  l.tls = format_tls("", "", TlsAuth::None);
  l.dnssec = dnssec_status(false, false, false);
  l.dsn = "2.0.0";
  l.status = "sent";
  auto line = format_attempt(l);
  EXPECT_NE(line.find("method=mx, tls=none, dnssec=off, delay=0.00,"), std::string::npos) << line;
  EXPECT_EQ(line.find("cert="), std::string::npos) << line;
}

TEST(AttemptLog, NoRelayNoTlsAndHostileText) {
  AttemptLine l;
  l.queue_id = "1";
  l.recipient = "b@nowhere.example";
  l.policy = "BES";
  l.reason = "default";
  l.dsn = "5.1.2";
  l.status = "bounced";
  l.detail = "no such domain\r\nFAKE: line";
  auto line = format_attempt(l);
  EXPECT_NE(line.find("relay=none"), std::string::npos);
  EXPECT_NE(line.find("tls=none"), std::string::npos);
  EXPECT_NE(line.find("method=none"), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  // No host was named: no evidence fields at all.
  EXPECT_EQ(line.find("cert="), std::string::npos) << line;
  EXPECT_EQ(line.find("dnssec="), std::string::npos) << line;
}

// The postfix shape: pflogsumm's expression matches, Postfix's fields come first and in
// its order, SecMX's after the reply; the Secmx shape stays as it was.
TEST(AttemptLog, PostfixShapeForPflogsumm) {
  AttemptLine l;
  l.queue_id = "0193ABC";
  l.recipient = "a@example.org";
  l.relay = "mx.example.org[127.0.0.5]:25";
  l.policy = "SOS";
  l.reason = "rule=3(classification=RESTRICTED)";
  l.method = "srv";
  l.tls = format_tls("TLSv1.3", "TLS_AES_256_GCM_SHA384", TlsAuth::Dane);
  l.dnssec = dnssec_status(true, true, true);
  l.delay_s = 1.234;
  l.queue_wait_s = 0.5;
  l.setup_s = 0.25;
  l.transfer_s = 0.1;
  l.attempts = 2;
  l.dsn = "4.2.0";
  l.status = "deferred";
  l.detail = "450 4.2.0 try later, please";
  auto line = format_attempt(l, log::Format::Postfix);
  EXPECT_EQ(line,
            "0193ABC: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, delay=1.23, "
            "delays=0/0.50/0.25/0.10, dsn=4.2.0, status=deferred (450 4.2.0 try later\\x2c please), "
            "policy=SOS, reason=rule=3(classification=RESTRICTED), method=srv, "
            "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/dane, dnssec=secure, attempts=2");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      line, m,
      std::regex(R"(to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (?:conn_use=[^,]+, )?delay=([^,]+), (?:delays=[^,]+, )?(?:dsn=[^,]+, )?status=(\S+)(.*)$)")));
  EXPECT_EQ(m[1], "a@example.org");
  EXPECT_EQ(m[2], "mx.example.org[127.0.0.5]:25");
  EXPECT_EQ(m[3], "1.23");
  EXPECT_EQ(m[4], "deferred");
  EXPECT_NE(format_attempt(l, log::Format::Secmx).find(", policy=SOS, reason="), std::string::npos);
  EXPECT_EQ(format_attempt(l, log::Format::Secmx).find("delays="), std::string::npos);
}

TEST(AttemptLog, PostfixShapeKeepsAHostileRecipientInsideItsField) {
  AttemptLine l;
  l.queue_id = "1";
  l.recipient = "x>, relay=evil@example.org";
  l.dsn = "5.1.1";
  l.status = "bounced";
  l.detail = "550 no, status=sent";
  auto line = format_attempt(l, log::Format::Postfix);
  EXPECT_NE(line.find("to=<x\\x3e\\x2c relay=evil@example.org>, relay=none, "), std::string::npos)
      << line;
  EXPECT_NE(line.find("status=bounced (550 no\\x2c status=sent)"), std::string::npos) << line;
}

}  // namespace
}  // namespace secmx::delivery
