// tls_config_test.cpp - the TLS keys of [smtp] and [delivery]: defaults per side, every
// key, every refused value at its exact "file:line".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/config/config_file.hpp"

namespace secmx::config {
namespace {

// A CA file beside the config, for ca_file.
struct TlsConfigFile : test_support::ConfigFile {
  explicit TlsConfigFile(const std::string& text)
      : ConfigFile(text), ca_(dir().write("ca.pem", "not parsed by load_config\n")) {}
  const std::string& ca() const { return ca_; }

 private:
  std::string ca_;
};

TEST(TlsConfig, DefaultsDifferPerSide) {
  TlsConfigFile f("");
  auto cfg = load_config(f.path());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->smtp.tls, tls::ServerTlsSettings{});
  EXPECT_EQ(cfg->smtp.tls.protocol.min_protocol, tls::MinProtocol::Tls1_2);
  EXPECT_EQ(cfg->smtp.tls.protocol.tls12_ciphers, tls::kServerTls12Ciphers);
  EXPECT_EQ(cfg->delivery.client_tls(), tls::ClientTlsSettings{});
  EXPECT_EQ(cfg->delivery.tls.tls12_ciphers, tls::kClientTls12Ciphers);
  EXPECT_EQ(cfg->delivery.tls.tls13_suites, tls::kTls13Suites);
  EXPECT_TRUE(cfg->delivery.ca_system);
  EXPECT_EQ(cfg->delivery.ca_file, "");
}

TEST(TlsConfig, EveryKey) {
  TlsConfigFile f("");
  TlsConfigFile g(
      "[smtp]\n"
      "tls_min_protocol = \"TLSv1.3\"\n"
      "tls12_ciphers = \"ECDHE-RSA-AES256-GCM-SHA384\"\n"
      "tls13_suites = \"TLS_AES_256_GCM_SHA384\"\n"
      "[delivery]\n"
      "tls_min_protocol = \"TLSv1.2\"\n"
      "tls12_ciphers = \"ECDHE+AESGCM:AES128-SHA\"\n"
      "tls13_suites = \"\"\n"
      "ca_file = \"" + f.ca() + "\"\n"
      "ca_system = false\n");
  auto cfg = load_config(g.path());
  ASSERT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().front().to_string());
  EXPECT_EQ(cfg->smtp.tls.protocol.min_protocol, tls::MinProtocol::Tls1_3);
  EXPECT_EQ(cfg->smtp.tls.protocol.tls12_ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_EQ(cfg->smtp.tls.protocol.tls13_suites, "TLS_AES_256_GCM_SHA384");
  tls::ClientTlsSettings c = cfg->delivery.client_tls();
  EXPECT_EQ(c.protocol.min_protocol, tls::MinProtocol::Tls1_2);
  EXPECT_EQ(c.protocol.tls12_ciphers, "ECDHE+AESGCM:AES128-SHA");
  EXPECT_EQ(c.protocol.tls13_suites, "");
  EXPECT_EQ(c.ca_file, f.ca());
  EXPECT_FALSE(c.ca_system);
}

TEST(TlsConfig, UnknownProtocolNameAtItsLine) {
  TlsConfigFile f(
      "[smtp]\n"
      "tls_min_protocol = \"TLSv1.1\"\n"
      "[delivery]\n"
      "tls_min_protocol = \"1.3\"\n");
  const std::string p = f.path();
  EXPECT_EQ(f.issues(),
            (std::vector<std::string>{
                p + ":3: smtp.tls_min_protocol: unknown protocol 'TLSv1.1' (expected \"TLSv1.2\" "
                    "or \"TLSv1.3\"; older versions are not supported)",
                p + ":5: delivery.tls_min_protocol: unknown protocol '1.3' (expected \"TLSv1.2\" "
                    "or \"TLSv1.3\"; older versions are not supported)"}));
}

TEST(TlsConfig, CipherStringsOpenSslRefusesAtTheirLines) {
  TlsConfigFile f(
      "[smtp]\n"
      "tls12_ciphers = \"NOSUCHCIPHER\"\n"
      "[delivery]\n"
      "tls12_ciphers = \"ECDHE+AESGCM:ECDHE-RSA-AES128-GCM-SHA265\"\n"
      "tls13_suites = \"TLS_AES_128_GCM_SHA256\"\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].rfind(f.path() + ":3: smtp.tls12_ciphers: OpenSSL accepts no TLS 1.2 "
                                       "cipher in 'NOSUCHCIPHER'", 0),
            0u)
      << issues[0];
  EXPECT_EQ(issues[1].rfind(f.path() + ":5: delivery.tls12_ciphers: 'ECDHE-RSA-AES128-GCM-SHA265' "
                                       "matches no TLS 1.2 cipher", 0),
            0u)
      << issues[1];
}

TEST(TlsConfig, BadTls13SuiteAtItsLine) {
  TlsConfigFile f(
      "[delivery]\n"
      "tls12_ciphers = \"ECDHE+AESGCM\"\n"
      "tls13_suites = \"TLS_AES_128_GCM_SHA256:TLS_FOO\"\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].rfind(f.path() + ":4: delivery.tls13_suites: 'TLS_FOO' is not a TLS 1.3 "
                                       "suite", 0),
            0u)
      << issues[0];
}

TEST(TlsConfig, Tls13FloorWithNoTls13Suites) {
  TlsConfigFile f(
      "[smtp]\n"
      "tls_min_protocol = \"TLSv1.3\"\n"
      "tls13_suites = \"\"\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], f.path() + ":4: smtp.tls13_suites: is empty, which disables TLS 1.3, the "
                                  "minimum protocol");
}

TEST(TlsConfig, CaSystemFalseNeedsCaFile) {
  TlsConfigFile f(
      "[delivery]\n"
      "ca_system = false\n");
  EXPECT_EQ(f.issues(), (std::vector<std::string>{
                            f.path() + ":3: delivery.ca_system: false needs ca_file (with neither, "
                                       "no certificate could be verified)"}));
}

TEST(TlsConfig, WrongTypesAreIssues) {
  TlsConfigFile f(
      "[smtp]\n"
      "tls_min_protocol = 1.2\n"
      "[delivery]\n"
      "ca_system = \"no\"\n");
  auto issues = f.issues();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].rfind(f.path() + ":3: smtp.tls_min_protocol", 0), 0u) << issues[0];
  EXPECT_EQ(issues[1].rfind(f.path() + ":5: delivery.ca_system", 0), 0u) << issues[1];
}

}  // namespace
}  // namespace secmx::config
