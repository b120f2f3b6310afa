// tls_settings_test.cpp - protocol names and OpenSSL's verdict on cipher strings, as
// `--check` reports them.
#include "relay/tls/tls_settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

namespace secmx::tls {
namespace {

using ::testing::HasSubstr;
using Field = SettingsError::Field;

TEST(TlsSettings, ProtocolNames) {
  EXPECT_EQ(parse_min_protocol("TLSv1.2"), MinProtocol::Tls1_2);
  EXPECT_EQ(parse_min_protocol("TLSv1.3"), MinProtocol::Tls1_3);
  EXPECT_EQ(parse_min_protocol("TLSv1.1"), std::nullopt);
  EXPECT_EQ(parse_min_protocol("TLSv1"), std::nullopt);
  EXPECT_EQ(parse_min_protocol("SSLv3"), std::nullopt);
  EXPECT_EQ(parse_min_protocol("tls1.3"), std::nullopt);
  EXPECT_EQ(parse_min_protocol(""), std::nullopt);
  EXPECT_EQ(to_string(MinProtocol::Tls1_3), "TLSv1.3");
  EXPECT_EQ(to_string(MinProtocol::Tls1_2), "TLSv1.2");
}

TEST(TlsSettings, DefaultsOfBothSidesPass) {
  EXPECT_TRUE(check_protocol_settings(ServerTlsSettings{}.protocol));
  EXPECT_TRUE(check_protocol_settings(ClientTlsSettings{}.protocol));
  ProtocolSettings tls13 = ServerTlsSettings{}.protocol;
  tls13.min_protocol = MinProtocol::Tls1_3;
  EXPECT_TRUE(check_protocol_settings(tls13));
}

TEST(TlsSettings, InboundDefaultIsForwardSecretAeadOnly) {
  // What the default list names, element by element: ECDHE, then GCM or ChaCha20-Poly1305.
  std::string list = kServerTls12Ciphers;
  std::size_t start = 0;
  while (start < list.size()) {
    std::size_t end = list.find(':', start);
    std::string e = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
    EXPECT_EQ(e.rfind("ECDHE-", 0), 0u) << e;
    EXPECT_TRUE(e.find("-GCM-") != std::string::npos || e.find("CHACHA20-POLY1305") != std::string::npos)
        << e;
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

TEST(TlsSettings, ListOpenSslRefusesIsNamed) {
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls12_ciphers = "NOSUCHCIPHER";
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls12Ciphers);
  EXPECT_THAT(st.error().message, HasSubstr("NOSUCHCIPHER"));
  EXPECT_THAT(st.error().message, HasSubstr("no cipher match"));  // OpenSSL's reason
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(TlsSettings, MisspeltElementNextToAGoodOneIsRefused) {
  // OpenSSL alone would accept this list and silently drop the typo.
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls12_ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265";
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls12Ciphers);
  EXPECT_THAT(st.error().message, HasSubstr("'ECDHE-RSA-AES128-GCM-SHA265' matches no TLS 1.2"));
}

TEST(TlsSettings, OperatorsAndCommandsNeedNotMatchAlone) {
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls12_ciphers = "ECDHE+AESGCM:!aNULL:-AES256:+ECDSA:@STRENGTH:@SECLEVEL=2";
  EXPECT_TRUE(check_protocol_settings(s));
  s.tls12_ciphers = "";
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls12Ciphers);
}

TEST(TlsSettings, Tls13SuiteInTheTls12ListIsRefused) {
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls12_ciphers = "TLS_AES_128_GCM_SHA256";
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls12Ciphers);
}

TEST(TlsSettings, UnknownTls13SuiteIsRefusedEvenBesideAKnownOne) {
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA999";
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls13Suites);
  EXPECT_THAT(st.error().message, HasSubstr("'TLS_AES_128_CCM_SHA999' is not a TLS 1.3 suite"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(TlsSettings, EmptyTls13SuitesOnlyWhenTls12IsAllowed) {
  ProtocolSettings s = ServerTlsSettings{}.protocol;
  s.tls13_suites = "";
  EXPECT_TRUE(check_protocol_settings(s));  // TLS 1.3 off, TLS 1.2 stays
  s.min_protocol = MinProtocol::Tls1_3;
  auto st = check_protocol_settings(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().field, Field::Tls13Suites);
  EXPECT_THAT(st.error().message, HasSubstr("disables TLS 1.3"));
}

}  // namespace
}  // namespace secmx::tls
