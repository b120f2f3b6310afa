// The per-attempt log line: the field names operators grep for, and peer text escaped.
#include "relay/delivery/attempt_log.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace secmx::delivery
