// tls_context_settings_test.cpp - what the settings do to real handshakes: the inbound
// default refuses old protocols, static RSA and CBC; a configured floor holds; ca_file
// adds to the system store unless ca_system = false.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <utility>

#include "relay/tls/tls_context.hpp"
#include "tests/unit/temp_dir.hpp"
#include "tests/unit/tls/tls_pair.hpp"

namespace secmx::tls {
namespace {

using namespace testing;  // NOLINT: the test PKI and pair helpers
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A client as an old or odd peer would be: its protocols and TLS 1.2 suites forced, and
// the security level lowered so that OpenSSL offers TLS 1.0/1.1 at all.
std::shared_ptr<TlsContext> odd_client(int max_version, const char* ciphers) {
  auto ctx = client_ctx();
  SSL_CTX* c = ctx->get();
  SSL_CTX_set_security_level(c, 0);
  SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(c, max_version);
  EXPECT_EQ(SSL_CTX_set_cipher_list(c, ciphers), 1) << ciphers;
  return ctx;
}

// A self-signed RSA server certificate and key: static RSA and ECDHE-RSA suites need one
// (the test PKI's keys are EC).
std::shared_ptr<TlsContext> rsa_server(const ServerTlsSettings& settings = {}) {
  auto ctx = TlsContext::create_server(rsa_pair().first, rsa_pair().second, settings);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return ctx ? ctx.value() : nullptr;
}

// Handshake of `client` against `server`; the session pair, whatever the outcome.
bool completes(std::shared_ptr<TlsContext> client, std::shared_ptr<TlsContext> server,
               PeerInfo* info = nullptr) {
  auto c = make(std::move(client), Role::Client, kServerName, names({kServerName}));
  auto s = make(std::move(server), Role::Server);
  if (!c || !s) return false;
  bool ok = handshake(*c, *s);
  if (ok && info) *info = c->peer_info();
  return ok;
}

TEST(TlsContextSettings, DefaultServerNegotiatesEcdheAead) {
  PeerInfo info;
  ASSERT_TRUE(completes(odd_client(TLS1_2_VERSION, "ALL:@SECLEVEL=0"), ca_server_ctx(), &info));
  EXPECT_EQ(info.protocol, "TLSv1.2");
  EXPECT_THAT(info.cipher, StartsWith("ECDHE-"));
  EXPECT_THAT(info.cipher, ::testing::AnyOf(HasSubstr("-GCM-"), HasSubstr("CHACHA20")));
  ASSERT_TRUE(completes(client_ctx(), ca_server_ctx(), &info));
  EXPECT_EQ(info.protocol, "TLSv1.3");
}

TEST(TlsContextSettings, DefaultServerRefusesTls11OnlyClient) {
  // The same client with TLS 1.2 allowed succeeds: the refusal is the protocol's.
  EXPECT_TRUE(completes(odd_client(TLS1_2_VERSION, "ALL:@SECLEVEL=0"), ca_server_ctx()));
  EXPECT_FALSE(completes(odd_client(TLS1_1_VERSION, "ALL:@SECLEVEL=0"), ca_server_ctx()));
}

TEST(TlsContextSettings, DefaultServerRefusesCbcAndStaticRsaClients) {
  const char* kCbc = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:AES128-SHA:AES256-SHA";
  const char* kStaticRsa = "AES128-GCM-SHA256:AES256-GCM-SHA384";
  EXPECT_FALSE(completes(odd_client(TLS1_2_VERSION, kCbc), rsa_server()));
  EXPECT_FALSE(completes(odd_client(TLS1_2_VERSION, kStaticRsa), rsa_server()));
  // The EC certificate's server too, for the ECDSA flavour of CBC.
  EXPECT_FALSE(completes(odd_client(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"),
                         ca_server_ctx()));

  // A server configured for them takes both clients: the default is what refused them.
  ServerTlsSettings old;
  old.protocol.tls12_ciphers = std::string(kCbc) + ":" + kStaticRsa;
  PeerInfo info;
  EXPECT_TRUE(completes(odd_client(TLS1_2_VERSION, kCbc), rsa_server(old), &info));
  EXPECT_EQ(info.cipher, "ECDHE-RSA-AES128-SHA");
  EXPECT_TRUE(completes(odd_client(TLS1_2_VERSION, kStaticRsa), rsa_server(old), &info));
  EXPECT_EQ(info.cipher, "AES128-GCM-SHA256");
}

TEST(TlsContextSettings, Tls13FloorRefusesTls12Client) {
  ServerTlsSettings settings;
  settings.protocol.min_protocol = MinProtocol::Tls1_3;
  auto server = TlsContext::create_server(test_pki().server_cert, test_pki().server_key, settings);
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*server)->get()), TLS1_3_VERSION);
  EXPECT_FALSE(completes(odd_client(TLS1_2_VERSION, "ALL:@SECLEVEL=0"), *server));
  PeerInfo info;
  ASSERT_TRUE(completes(client_ctx(), *server, &info));
  EXPECT_EQ(info.protocol, "TLSv1.3");
}

TEST(TlsContextSettings, ClientDefaultStillReachesACbcOnlyServer) {
  // Outbound is opportunistic: a receiver stuck on CBC suites is better reached encrypted.
  ServerTlsSettings cbc;
  cbc.protocol.tls12_ciphers = "ECDHE-RSA-AES128-SHA:AES128-SHA";
  cbc.protocol.tls13_suites = "";
  PeerInfo info;
  ASSERT_TRUE(completes(client_ctx(), rsa_server(cbc), &info));
  EXPECT_EQ(info.protocol, "TLSv1.2");
  EXPECT_EQ(info.cipher, "ECDHE-RSA-AES128-SHA");
}

TEST(TlsContextSettings, EmptyTls13SuitesMeanTls12) {
  ServerTlsSettings settings;
  settings.protocol.tls13_suites = "";
  auto server = TlsContext::create_server(test_pki().server_cert, test_pki().server_key, settings);
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_EQ(SSL_CTX_get_max_proto_version((*server)->get()), TLS1_2_VERSION);
  PeerInfo info;
  ASSERT_TRUE(completes(client_ctx(), *server, &info));
  EXPECT_EQ(info.protocol, "TLSv1.2");
}

TEST(TlsContextSettings, BadCipherListFailsTheContextWithItsName) {
  ServerTlsSettings bad;
  bad.protocol.tls12_ciphers = "NOSUCHCIPHER";
  auto server = TlsContext::create_server(test_pki().server_cert, test_pki().server_key, bad);
  ASSERT_FALSE(server);
  EXPECT_THAT(server.error().message, HasSubstr("TLS 1.2 cipher list 'NOSUCHCIPHER'"));
}

// The "system store" is what SSL_CERT_FILE/SSL_CERT_DIR name (OpenSSL's default paths):
// here a store holding only the self-signed certificate, so that both sources can be told
// apart by which server verifies.
class SystemStore : public ::testing::Test {
 protected:
  void SetUp() override {
    save("SSL_CERT_FILE", file_);
    save("SSL_CERT_DIR", dir_);
    setenv("SSL_CERT_FILE", test_pki().self_signed_cert.c_str(), 1);
    setenv("SSL_CERT_DIR", empty_.path().c_str(), 1);
  }
  void TearDown() override {
    restore("SSL_CERT_FILE", file_);
    restore("SSL_CERT_DIR", dir_);
  }
  static void save(const char* name, std::optional<std::string>& out) {
    const char* v = getenv(name);
    if (v) out = v;
  }
  static void restore(const char* name, const std::optional<std::string>& v) {
    if (v) {
      setenv(name, v->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }

  // Whether a client with `settings` verifies the CA-issued server and the self-signed one.
  std::pair<bool, bool> verifies(const ClientTlsSettings& settings) {
    auto client = TlsContext::create_client(settings);
    EXPECT_TRUE(client) << client.error().message;
    if (!client) return {false, false};
    PeerInfo ca_issued, self;
    EXPECT_TRUE(completes(*client, ca_server_ctx(), &ca_issued));
    EXPECT_TRUE(completes(*client,
                          server_ctx(test_pki().self_signed_cert, test_pki().self_signed_key),
                          &self));
    return {ca_issued.verified, self.verified};
  }

  std::optional<std::string> file_, dir_;
  test::TempDir empty_{"secmx-empty-store"};
};

TEST_F(SystemStore, CaFileAddsToTheSystemStore) {
  ClientTlsSettings s;
  s.ca_file = test_pki().ca_cert;
  EXPECT_EQ(verifies(s), std::make_pair(true, true));
}

TEST_F(SystemStore, SystemStoreAloneWithoutCaFile) {
  EXPECT_EQ(verifies(ClientTlsSettings{}), std::make_pair(false, true));
}

TEST_F(SystemStore, CaSystemFalseReplacesIt) {
  ClientTlsSettings s;
  s.ca_file = test_pki().ca_cert;
  s.ca_system = false;
  EXPECT_EQ(verifies(s), std::make_pair(true, false));
}

}  // namespace
}  // namespace secmx::tls
