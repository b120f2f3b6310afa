#include "relay/server/received_header.hpp"

#include <gtest/gtest.h>

namespace secmx::server {
namespace {

TEST(ReceivedHeader, PlainEsmtp) {
  ReceivedInfo info;
  info.helo = "exchange.agency.example";
  info.client_ip = "192.0.2.10";
  info.hostname = "relay.agency.example";
  info.queue_id = "0193A4F2C1D00001";
  info.esmtp = true;
  std::string out;
  append_received(info, out);
  EXPECT_EQ(out.rfind("Received: from exchange.agency.example ([192.0.2.10])\r\n\tby "
                      "relay.agency.example (secmx-relay) with ESMTP id 0193A4F2C1D00001;\r\n\t",
                      0),
            0u)
      << out;
  EXPECT_EQ(out.substr(out.size() - 2), "\r\n");
  EXPECT_EQ(out.find("version="), std::string::npos);
}

TEST(ReceivedHeader, TlsDetailsAndProtocolName) {
  ReceivedInfo info;
  info.helo = "mx";
  info.client_ip = "::1";
  info.hostname = "relay";
  info.queue_id = "X";
  info.esmtp = true;
  info.tls = true;
  info.tls_protocol = "TLSv1.3";
  info.tls_cipher = "TLS_AES_256_GCM_SHA384";
  info.tls_bits = 256;
  std::string out;
  append_received(info, out);
  EXPECT_NE(out.find("with ESMTPS id X"), std::string::npos) << out;
  EXPECT_NE(out.find("(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256);"),
            std::string::npos)
      << out;
}

TEST(ReceivedHeader, HostileHeloCannotBreakTheHeader) {
  ReceivedInfo info;
  info.helo = "evil\r\nX-Injected: yes";
  info.client_ip = "192.0.2.1";
  info.hostname = "relay";
  info.queue_id = "X";
  std::string out;
  append_received(info, out);
  EXPECT_EQ(out.find("\r\nX-Injected"), std::string::npos) << out;
  EXPECT_NE(out.find("with SMTP id"), std::string::npos);
}

TEST(ReceivedHeader, DateIsRfc5322) {
  const std::string& d = rfc5322_now();
  // "Mon, 23 Nov 2026 09:30:00 +0000"
  ASSERT_EQ(d.size(), 31u) << d;
  EXPECT_EQ(d.substr(3, 2), ", ");
  EXPECT_EQ(d.substr(d.size() - 6), " +0000");
}

}  // namespace
}  // namespace secmx::server
