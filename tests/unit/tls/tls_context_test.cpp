// tls_context_test.cpp - TlsContext: what gets loaded, what the settings are, and that
// every failure names the file and OpenSSL's reason.
#include "relay/tls/tls_context.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/unit/tls/test_pki.hpp"

namespace secmx::tls {
namespace {

using testing::test_pki;
using ::testing::HasSubstr;

TEST(TlsContextServer, LoadsMatchingChainAndKey) {
  auto ctx = TlsContext::create_server(test_pki().server_cert, test_pki().server_key);
  ASSERT_TRUE(ctx) << ctx.error().message;
  SSL_CTX* c = ctx.value()->get();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
  EXPECT_NE(SSL_CTX_get_options(c) & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_EQ(SSL_CTX_get_options(c) & SSL_OP_NO_TICKET, 0u);
  EXPECT_NE(SSL_CTX_get_session_cache_mode(c) & SSL_SESS_CACHE_SERVER, 0);
  EXPECT_NE(SSL_CTX_get_mode(c) & SSL_MODE_RELEASE_BUFFERS, 0);
  EXPECT_EQ(SSL_CTX_get_mode(c) & SSL_MODE_ENABLE_PARTIAL_WRITE, 0);
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(TlsContextServer, MismatchedKeyNamesBothFiles) {
  const auto& pki = test_pki();
  auto ctx = TlsContext::create_server(pki.server_cert, pki.other_key);
  ASSERT_FALSE(ctx);
  const std::string& msg = ctx.error().message;
  EXPECT_THAT(msg, HasSubstr("does not match")) << msg;
  EXPECT_THAT(msg, HasSubstr(pki.other_key)) << msg;
  EXPECT_THAT(msg, HasSubstr(pki.server_cert)) << msg;
  EXPECT_THAT(msg, HasSubstr("mismatch")) << msg;  // OpenSSL's own reason, kept
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(TlsContextServer, MissingCertificateFileIsNamed) {
  std::string missing = (test_pki().dir / "nope.pem").string();
  auto ctx = TlsContext::create_server(missing, test_pki().server_key);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("cannot load certificate chain from '" + missing))
      << ctx.error().message;
  EXPECT_THAT(ctx.error().message, HasSubstr("No such file")) << ctx.error().message;
}

TEST(TlsContextServer, KeyFileWithoutKeyIsNamed) {
  const auto& pki = test_pki();
  auto ctx = TlsContext::create_server(pki.server_cert, pki.ca_cert);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("cannot load private key from '" + pki.ca_cert))
      << ctx.error().message;
}

TEST(TlsContextServer, MissingKeyFileIsNamed) {
  std::string missing = (test_pki().dir / "nope.key").string();
  auto ctx = TlsContext::create_server(test_pki().server_cert, missing);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr(missing)) << ctx.error().message;
}

TEST(TlsContextClient, LoadsCaFile) {
  auto ctx = TlsContext::create_client(test_pki().ca_cert);
  ASSERT_TRUE(ctx) << ctx.error().message;
  SSL_CTX* c = ctx.value()->get();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(c), SSL_VERIFY_NONE);
  EXPECT_NE(SSL_CTX_get_session_cache_mode(c) & SSL_SESS_CACHE_CLIENT, 0);
  EXPECT_NE(SSL_CTX_get_options(c) & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_NE(SSL_CTX_get_mode(c) & SSL_MODE_RELEASE_BUFFERS, 0);
}

TEST(TlsContextClient, SystemStoreWhenNoCaFile) {
  auto ctx = TlsContext::create_client("");
  ASSERT_TRUE(ctx) << ctx.error().message;
}

TEST(TlsContextClient, MissingCaFileIsNamed) {
  std::string missing = (test_pki().dir / "no-ca.pem").string();
  auto ctx = TlsContext::create_client(missing);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("cannot load CA bundle from '" + missing))
      << ctx.error().message;
}

TEST(DrainOpensslErrors, EmptyQueueGivesEmptyString) {
  ERR_clear_error();
  EXPECT_EQ(drain_openssl_errors(), "");
}

TEST(DrainOpensslErrors, JoinsAndEmptiesTheQueue) {
  ERR_clear_error();
  ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
  ERR_raise_data(ERR_LIB_SYS, 2, "calling fopen(%s)", "/x");
  std::string text = drain_openssl_errors();
  EXPECT_THAT(text, HasSubstr("wrong version number")) << text;
  EXPECT_THAT(text, HasSubstr("; ")) << text;
  EXPECT_THAT(text, HasSubstr("(calling fopen(/x))")) << text;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace secmx::tls
