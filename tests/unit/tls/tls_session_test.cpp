// tls_session_test.cpp - a client TlsSession and a server TlsSession wired back to back in
// memory: handshakes, data both ways, verification outcomes, failures in words,
// resumption and close_notify.
#include "relay/tls/tls_session.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string>

#include "tests/unit/tls/test_pki.hpp"
#include "tests/unit/tls/tls_pair.hpp"

namespace secmx::tls {
namespace {

using testing::ca_server_ctx;
using testing::client_ctx;
using testing::connect;
using testing::handshake;
using testing::kServerName;
using testing::make;
using testing::names;
using testing::Pair;
using testing::send;
using testing::server_ctx;
using testing::test_pki;
using testing::transfer;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using Progress = TlsSession::Progress;

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  unsigned x = seed;
  for (auto& ch : s) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 16);
  }
  return s;
}

TEST(TlsSession, HandshakeCompletesAndReportsPeer) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  EXPECT_TRUE(p.client->handshake_done());
  EXPECT_TRUE(p.server->handshake_done());
  EXPECT_FALSE(p.client->failed());
  EXPECT_FALSE(p.server->failed());

  PeerInfo info = p.client->peer_info();
  EXPECT_THAT(info.protocol, AnyOf("TLSv1.2", "TLSv1.3"));
  EXPECT_FALSE(info.cipher.empty());
  EXPECT_GE(info.cipher_bits, 128);
  EXPECT_THAT(info.peer_subject, HasSubstr("CN=mx.test.example"));
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_EQ(info.verify_error, "");
  EXPECT_EQ(info.verify_code, 0);
  EXPECT_FALSE(info.resumed);

  PeerInfo server_view = p.server->peer_info();
  EXPECT_EQ(server_view.protocol, info.protocol);
  EXPECT_EQ(server_view.cipher, info.cipher);
  EXPECT_FALSE(server_view.verified);  // no client certificate asked for
  EXPECT_EQ(server_view.peer_subject, "");
  EXPECT_EQ(server_view.verify_error, "no peer certificate");
}

TEST(TlsSession, DataRoundTripsBothWays) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  EXPECT_EQ(send(*p.client, *p.server, "EHLO client.example\r\n"), "EHLO client.example\r\n");
  EXPECT_EQ(send(*p.server, *p.client, "250 mx.test.example\r\n"), "250 mx.test.example\r\n");
}

TEST(TlsSession, OneMebibyteEachWay) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  std::string up = pattern(1 << 20, 1);
  std::string down = pattern(1 << 20, 2);
  std::string got_up = send(*p.client, *p.server, up);
  EXPECT_EQ(got_up.size(), up.size());
  EXPECT_TRUE(got_up == up);
  std::string got_down = send(*p.server, *p.client, down);
  EXPECT_EQ(got_down.size(), down.size());
  EXPECT_TRUE(got_down == down);
}

TEST(TlsSession, DataFedInSmallPiecesStillArrives) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  std::string msg = pattern(50000, 3);
  ASSERT_EQ(p.client->write_plain(msg), Progress::Done);
  std::string wire;
  p.client->take_encrypted(wire);
  EXPECT_FALSE(p.client->has_encrypted());
  std::string got;
  for (std::size_t i = 0; i < wire.size(); i += 7) {
    p.server->feed_encrypted(std::string_view(wire).substr(i, 7));
    ASSERT_EQ(p.server->read_plain(got), Progress::NeedMore) << p.server->error();
  }
  EXPECT_TRUE(got == msg);
}

TEST(TlsSession, TrailingDotInNamesIsIgnored) {
  Pair p{make(client_ctx(), Role::Client, "mx.test.example.", names({"mx.test.example."})),
         make(ca_server_ctx(), Role::Server)};
  ASSERT_TRUE(p.client && p.server);
  ASSERT_TRUE(handshake(*p.client, *p.server)) << p.client->error();
  EXPECT_TRUE(p.client->peer_info().verified) << p.client->peer_info().verify_error;
}

TEST(TlsSession, EmptyVerifyNameChecksChainOnly) {
  Pair p = connect(client_ctx(), ca_server_ctx(), names({}));
  ASSERT_TRUE(p.client && p.server);
  EXPECT_TRUE(p.client->peer_info().verified) << p.client->peer_info().verify_error;
}

TEST(TlsSession, WrongNameCompletesButIsNotVerified) {
  Pair p = connect(client_ctx(), ca_server_ctx(), names({"other.example"}));
  ASSERT_TRUE(p.client && p.server);
  PeerInfo info = p.client->peer_info();
  EXPECT_FALSE(info.verified);
  EXPECT_THAT(info.verify_error, HasSubstr("hostname mismatch"));
  EXPECT_EQ(info.verify_code, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_THAT(info.peer_subject, HasSubstr("CN=mx.test.example"));
}

TEST(TlsSession, SelfSignedCompletesButIsNotVerified) {
  Pair p = connect(client_ctx(),
                   server_ctx(test_pki().self_signed_cert, test_pki().self_signed_key));
  ASSERT_TRUE(p.client && p.server);
  PeerInfo info = p.client->peer_info();
  EXPECT_FALSE(info.verified);
  EXPECT_FALSE(info.verify_error.empty());
  EXPECT_THAT(info.verify_error, HasSubstr("self-signed")) << info.verify_error;
  EXPECT_EQ(info.verify_code, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
}

TEST(TlsSession, UnknownCaCompletesButIsNotVerified) {
  // The system store does not know our test CA.
  Pair p = connect(client_ctx(""), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  PeerInfo info = p.client->peer_info();
  EXPECT_FALSE(info.verified);
  EXPECT_THAT(info.verify_error, HasSubstr("issuer certificate")) << info.verify_error;
  EXPECT_EQ(info.verify_code, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TlsSession, SniIsSentWithoutRootDotAndNeverForAddresses) {
  auto sctx = ca_server_ctx();
  ASSERT_TRUE(sctx);
  static std::string seen;
  SSL_CTX_set_tlsext_servername_callback(
      sctx->get(), +[](SSL* ssl, int*, void*) -> int {
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        seen = name != nullptr ? name : "<none>";
        return SSL_TLSEXT_ERR_OK;
      });

  seen.clear();
  Pair named{make(client_ctx(), Role::Client, "mx.test.example."),
             make(sctx, Role::Server)};
  ASSERT_TRUE(handshake(*named.client, *named.server));
  EXPECT_EQ(seen, "mx.test.example");

  seen.clear();
  Pair address{make(client_ctx(), Role::Client, "192.0.2.1", names({"192.0.2.1"})),
               make(sctx, Role::Server)};
  ASSERT_TRUE(handshake(*address.client, *address.server));
  EXPECT_EQ(seen, "<none>");
  EXPECT_FALSE(address.client->peer_info().verified);  // cert has no IP SAN

  seen.clear();
  Pair none{make(client_ctx(), Role::Client), make(sctx, Role::Server)};
  ASSERT_TRUE(handshake(*none.client, *none.server));
  EXPECT_EQ(seen, "<none>");
}

TEST(TlsSession, OldProtocolClientFailsWithReadableReason) {
  auto cctx = client_ctx();
  ASSERT_TRUE(cctx);
  SSL_CTX* raw = cctx->get();
  // Let the client offer TLS 1.0/1.1 at all (the system policy would refuse to).
  SSL_CTX_set_security_level(raw, 0);
  ASSERT_EQ(SSL_CTX_set_cipher_list(raw, "DEFAULT:@SECLEVEL=0"), 1);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(raw, TLS1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(raw, TLS1_1_VERSION), 1);

  auto client = make(cctx, Role::Client, kServerName, names({kServerName}));
  auto server = make(ca_server_ctx(), Role::Server);
  ASSERT_TRUE(client && server);
  EXPECT_FALSE(handshake(*client, *server));
  EXPECT_TRUE(server->failed());
  EXPECT_FALSE(server->handshake_done());
  EXPECT_THAT(server->error(), HasSubstr("handshake failed: error:")) << server->error();
  EXPECT_THAT(server->error(), HasSubstr("unsupported protocol")) << server->error();
  // The server's alert reached the client, which fails with its own reason.
  EXPECT_TRUE(client->failed());
  EXPECT_THAT(client->error(), HasSubstr("handshake failed: error:")) << client->error();
  EXPECT_THAT(client->error(), HasSubstr("protocol version")) << client->error();
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(TlsSession, PlaintextReplyInsteadOfServerHelloFails) {
  auto client = make(client_ctx(), Role::Client, kServerName, names({kServerName}));
  ASSERT_TRUE(client);
  EXPECT_EQ(client->handshake(), Progress::NeedMore);
  EXPECT_TRUE(client->has_encrypted());  // the ClientHello
  std::string hello;
  client->take_encrypted(hello);
  client->feed_encrypted("220 hello\r\n");
  EXPECT_EQ(client->handshake(), Progress::Failed);
  EXPECT_TRUE(client->failed());
  EXPECT_THAT(client->error(), HasSubstr("handshake failed: error:")) << client->error();
  EXPECT_THAT(client->error(), HasSubstr("SSL routines::wrong version number"))
      << client->error();
  // Once failed, the session stays failed.
  std::string out;
  EXPECT_EQ(client->read_plain(out), Progress::Failed);
  EXPECT_EQ(client->write_plain("x"), Progress::Failed);
  EXPECT_EQ(client->handshake(), Progress::Failed);
}

TEST(TlsSession, PlaintextCommandInsteadOfClientHelloFails) {
  auto server = make(ca_server_ctx(), Role::Server);
  ASSERT_TRUE(server);
  server->feed_encrypted("EHLO client.example\r\n");
  EXPECT_EQ(server->handshake(), Progress::Failed);
  EXPECT_THAT(server->error(), HasSubstr("handshake failed: error:")) << server->error();
}

TEST(TlsSession, WriteBeforeHandshakeFails) {
  auto client = make(client_ctx(), Role::Client);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->write_plain("MAIL FROM:<>\r\n"), Progress::Failed);
  EXPECT_THAT(client->error(), HasSubstr("handshake not complete"));
}

// Full handshake, let the client read once (TLS 1.3 tickets arrive after the handshake),
// then offer the saved session on a second connection.
void expect_resumption(std::shared_ptr<TlsContext> cctx, std::shared_ptr<TlsContext> sctx,
                       const char* protocol) {
  SSL_SESSION* saved = nullptr;
  {
    Pair first = connect(cctx, sctx);
    ASSERT_TRUE(first.client && first.server);
    EXPECT_EQ(first.client->peer_info().protocol, protocol);
    EXPECT_FALSE(first.client->peer_info().resumed);
    EXPECT_EQ(send(*first.server, *first.client, "220 ready\r\n"), "220 ready\r\n");
    saved = first.client->get1_session();
    ASSERT_NE(saved, nullptr);
  }
  auto client = make(cctx, Role::Client, kServerName, names({kServerName}));
  auto server = make(sctx, Role::Server);
  ASSERT_TRUE(client && server);
  client->set_session(saved);
  SSL_SESSION_free(saved);  // the session holds its own reference
  ASSERT_TRUE(handshake(*client, *server)) << client->error() << " / " << server->error();
  PeerInfo info = client->peer_info();
  EXPECT_TRUE(info.resumed);
  EXPECT_TRUE(server->peer_info().resumed);
  EXPECT_EQ(info.protocol, protocol);
  // The original verification result and certificate carry over to the resumed session.
  EXPECT_TRUE(info.verified) << info.verify_error;
  EXPECT_THAT(info.peer_subject, HasSubstr("CN=mx.test.example"));
  EXPECT_EQ(send(*client, *server, "QUIT\r\n"), "QUIT\r\n");
}

TEST(TlsSession, ResumesTls13Session) {
  expect_resumption(client_ctx(), ca_server_ctx(), "TLSv1.3");
}

TEST(TlsSession, ResumesTls12Session) {
  auto cctx = client_ctx();
  ASSERT_TRUE(cctx);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(cctx->get(), TLS1_2_VERSION), 1);
  expect_resumption(cctx, ca_server_ctx(), "TLSv1.2");
}

TEST(TlsSession, FatalErrorEndsResumption) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  EXPECT_EQ(send(*p.server, *p.client, "220 ready\r\n"), "220 ready\r\n");
  SSL_SESSION* saved = p.client->get1_session();
  ASSERT_NE(saved, nullptr);
  // A forged application-data record: fails authentication.
  std::string forged("\x17\x03\x03\x00\x20", 5);
  forged += std::string(32, 'x');
  p.client->feed_encrypted(forged);
  std::string got;
  EXPECT_EQ(p.client->read_plain(got), Progress::Failed);
  EXPECT_THAT(p.client->error(), HasSubstr("read failed: error:")) << p.client->error();
  EXPECT_TRUE(p.client->has_encrypted());  // the alert telling the server why
  EXPECT_EQ(SSL_SESSION_is_resumable(saved), 0);
  EXPECT_EQ(p.client->get1_session(), nullptr);
  SSL_SESSION_free(saved);
}

TEST(TlsSession, NoSessionBeforeHandshake) {
  auto client = make(client_ctx(), Role::Client);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->get1_session(), nullptr);
  client->set_session(nullptr);  // harmless
}

TEST(TlsSession, CloseNotifyReachesPeer) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  EXPECT_EQ(send(*p.server, *p.client, "221 bye\r\n"), "221 bye\r\n");

  p.client->shutdown();
  EXPECT_TRUE(p.client->has_encrypted());
  transfer(*p.client, *p.server);
  std::string got;
  EXPECT_EQ(p.server->read_plain(got), Progress::Done);
  EXPECT_EQ(got, "");
  EXPECT_TRUE(p.server->peer_closed());
  EXPECT_FALSE(p.server->failed());

  p.server->shutdown();
  transfer(*p.server, *p.client);
  EXPECT_EQ(p.client->read_plain(got), Progress::Done);
  EXPECT_TRUE(p.client->peer_closed());
  EXPECT_FALSE(p.client->failed());

  p.client->shutdown();  // only ever queued once
  EXPECT_FALSE(p.client->has_encrypted());
}

TEST(TlsSession, DataBeforeCloseNotifyIsDelivered) {
  Pair p = connect(client_ctx(), ca_server_ctx());
  ASSERT_TRUE(p.client && p.server);
  ASSERT_EQ(p.server->write_plain("421 shutting down\r\n"), Progress::Done);
  p.server->shutdown();
  transfer(*p.server, *p.client);
  std::string got;
  EXPECT_EQ(p.client->read_plain(got), Progress::Done);
  EXPECT_EQ(got, "421 shutting down\r\n");
  EXPECT_TRUE(p.client->peer_closed());
}

TEST(TlsSession, ShutdownBeforeHandshakeSendsNothing) {
  auto client = make(client_ctx(), Role::Client);
  ASSERT_TRUE(client);
  client->shutdown();
  EXPECT_FALSE(client->has_encrypted());
  EXPECT_FALSE(client->failed());
}

TEST(TlsSession, CreateWithoutContextFails) {
  auto s = TlsSession::create(nullptr, Role::Client);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("no TLS context"));
}

}  // namespace
}  // namespace secmx::tls
