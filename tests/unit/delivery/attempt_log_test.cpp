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
  l.tls = format_tls("TLSv1.3", "TLS_AES_256_GCM_SHA384", true);
  l.delay_s = 1.234;
  l.attempts = 2;
  l.dsn = "2.0.0";
  l.status = "sent";
  l.detail = "250 2.0.0 Ok: queued as X";
  EXPECT_EQ(format_attempt(l),
            "0193ABC: to=<a@example.org>, relay=mx.example.org[127.0.0.5]:25, policy=SOS, "
            "reason=rule=3(classification=RESTRICTED), method=srv, "
            "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/verified, delay=1.23, attempts=2, dsn=2.0.0, "
            "status=sent (250 2.0.0 Ok: queued as X)");
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
  EXPECT_EQ(format_tls("", "", false), "none");
  EXPECT_EQ(format_tls("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", false),
            "TLSv1.2/ECDHE-RSA-AES128-GCM-SHA256/unverified");
}

}  // namespace
}  // namespace secmx::delivery
