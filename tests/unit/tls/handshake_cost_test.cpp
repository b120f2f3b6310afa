// handshake_cost_test.cpp - what makes inbound handshakes cheap: an ECDSA certificate
// served beside the RSA one and chosen per client, X25519 first on both sides, and session
// tickets under rotating keys (a ticket survives one rotation, not two).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "relay/tls/tls_context.hpp"
#include "tests/unit/tls/tls_pair.hpp"

namespace secmx::tls {
namespace {

using namespace testing;  // NOLINT: the test PKI and pair helpers

// The SHA-256 of a PEM certificate file's first certificate, as PeerInfo::cert_sha256.
std::string fingerprint(const std::string& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  X509* cert = f ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
  if (f) std::fclose(f);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string out;
  if (cert != nullptr && X509_digest(cert, EVP_sha256(), md, &len) == 1) {
    static const char* hex = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
  }
  X509_free(cert);
  return out;
}

std::shared_ptr<TlsContext> dual_server(ServerTlsSettings settings = {}) {
  settings.ecdsa_cert = test_pki().server_cert;
  settings.ecdsa_key = test_pki().server_key;
  auto ctx = TlsContext::create_server(rsa_pair().first, rsa_pair().second, settings);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return ctx ? ctx.value() : nullptr;
}

// A client that only accepts signatures of `sigalgs` ("ECDSA+SHA256", "RSA-PSS+SHA256"),
// at most `max_version`.
std::shared_ptr<TlsContext> client_signing(const char* sigalgs, int max_version = 0) {
  auto ctx = client_ctx();
  EXPECT_EQ(SSL_CTX_set1_sigalgs_list(ctx->get(), sigalgs), 1) << sigalgs;
  if (max_version != 0) SSL_CTX_set_max_proto_version(ctx->get(), max_version);
  return ctx;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

TEST(HandshakeCost, BothCertificatesServedChosenByTheClientsSignatureAlgorithms) {
  auto server = dual_server();
  ASSERT_TRUE(server);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    Pair ec = connect(client_signing("ECDSA+SHA256", version), server, names({}));
    ASSERT_TRUE(ec.client && ec.client->handshake_done());
    EXPECT_EQ(ec.client->peer_info().cert_sha256, fingerprint(test_pki().server_cert));
    Pair rsa = connect(client_signing("RSA-PSS+SHA256:RSA+SHA256", version), server, names({}));
    ASSERT_TRUE(rsa.client && rsa.client->handshake_done());
    EXPECT_EQ(rsa.client->peer_info().cert_sha256, fingerprint(rsa_pair().first));
  }
  // A client that takes both gets one of them; OpenSSL prefers ECDSA's cheaper signature.
  Pair any = connect(client_ctx(), server, names({}));
  ASSERT_TRUE(any.client && any.client->handshake_done());
  EXPECT_EQ(any.client->peer_info().cert_sha256, fingerprint(test_pki().server_cert));
}

// Why the server context refuses `cert`/`key` in the ECDSA slot beside the RSA pair.
std::string ecdsa_slot_refusal(const std::string& cert, const std::string& key) {
  ServerTlsSettings settings;
  settings.ecdsa_cert = cert;
  settings.ecdsa_key = key;
  auto ctx = TlsContext::create_server(rsa_pair().first, rsa_pair().second, settings);
  if (ctx) {
    ADD_FAILURE() << "accepted " << cert << " / " << key << " in the ECDSA slot";
    return "";
  }
  return ctx.error().message;
}

TEST(HandshakeCost, EcdsaPairThatDoesNotMatchFailsTheContext) {
  std::string message = ecdsa_slot_refusal(test_pki().server_cert, test_pki().other_key);
  EXPECT_NE(message.find("does not match certificate '" + test_pki().server_cert),
            std::string::npos)
      << message;
}

// OpenSSL files a pair by key type: an RSA pair there would take the RSA pair's place.
TEST(HandshakeCost, RsaPairInTheEcdsaSlotFailsTheContext) {
  std::string message = ecdsa_slot_refusal(rsa_pair().first, rsa_pair().second);
  EXPECT_NE(message.find("'" + rsa_pair().first + "' is not an ECDSA certificate"),
            std::string::npos)
      << message;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(HandshakeCost, X25519FirstOnBothSides) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto cctx = client_ctx();
    SSL_CTX_set_max_proto_version(cctx->get(), version);
    Pair p = connect(cctx, dual_server(), names({}));
    ASSERT_TRUE(p.client && p.client->handshake_done());
    EXPECT_EQ(lower(p.client->peer_info().group), "x25519");
    EXPECT_EQ(lower(p.server->peer_info().group), "x25519");
  }
  // A client without X25519 still gets in, over P-256.
  auto nist = client_ctx();
  ASSERT_EQ(SSL_CTX_set1_groups_list(nist->get(), "P-256"), 1);
  Pair p = connect(nist, dual_server(), names({}));
  ASSERT_TRUE(p.client && p.client->handshake_done());
  EXPECT_EQ(lower(p.client->peer_info().group), "secp256r1");
}

// One connection offering `offer` (nullptr: none); the session to offer next time, and
// whether this one resumed.
std::pair<SSL_SESSION*, bool> visit(std::shared_ptr<TlsContext> client,
                                    std::shared_ptr<TlsContext> server, SSL_SESSION* offer) {
  auto c = make(std::move(client), Role::Client, kServerName, names({}));
  auto s = make(std::move(server), Role::Server);
  if (!c || !s) return {nullptr, false};
  if (offer != nullptr) c->set_session(offer);
  EXPECT_TRUE(handshake(*c, *s)) << c->error() << " / " << s->error();
  // TLS 1.3 tickets come after the handshake: one exchange brings them in.
  EXPECT_EQ(send(*s, *c, "220 ok\r\n"), "220 ok\r\n");
  bool resumed = c->peer_info().resumed;
  EXPECT_EQ(s->peer_info().resumed, resumed);
  return {c->get1_session(), resumed};
}

TEST(HandshakeCost, TicketResumesAcrossOneRotationNotTwo) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
    auto server = dual_server();
    auto client = client_ctx();
    SSL_CTX_set_max_proto_version(client->get(), version);
    // A session-ID cache would resume without the ticket: tickets alone are under test.
    SSL_CTX_set_session_cache_mode(server->get(), SSL_SESS_CACHE_OFF);

    // Three sessions under the first key, each offered once (a TLS 1.3 client uses a
    // ticket only once, as the delivery engine does).
    SSL_SESSION* sealed[3];
    for (SSL_SESSION*& one : sealed) {
      auto [session, was_resumed] = visit(client, server, nullptr);
      ASSERT_NE(session, nullptr);
      EXPECT_FALSE(was_resumed);
      one = session;
    }
    auto [second, resumed] = visit(client, server, sealed[0]);
    EXPECT_TRUE(resumed);
    // A resumed handshake hands out a new ticket, which resumes in turn.
    ASSERT_NE(second, nullptr);
    auto [chained, chained_resumed] = visit(client, server, second);
    EXPECT_TRUE(chained_resumed);
    SSL_SESSION_free(chained);
    SSL_SESSION_free(second);

    // One rotation: the ticket's key is the previous one, which still opens it.
    server->ticket_keys()->rotate();
    auto [third, after_one] = visit(client, server, sealed[1]);
    EXPECT_TRUE(after_one);
    SSL_SESSION_free(third);

    // Two: its key is gone; a full handshake, not a failure.
    server->ticket_keys()->rotate();
    auto [fourth, after_two] = visit(client, server, sealed[2]);
    EXPECT_FALSE(after_two);
    ASSERT_NE(fourth, nullptr);
    // ... and the new ticket resumes.
    auto [fifth, again] = visit(client, server, fourth);
    EXPECT_TRUE(again);
    SSL_SESSION_free(fifth);
    SSL_SESSION_free(fourth);
    for (SSL_SESSION* one : sealed) SSL_SESSION_free(one);
  }
}

TEST(TicketKeys, RotateLazilyByTheClock) {
  using namespace std::chrono_literals;
  auto t0 = TicketKeys::Clock::time_point{} + 1000h;
  TicketKeys keys(12h, t0);
  TicketKey a = keys.sealing(t0);
  EXPECT_EQ(keys.sealing(t0 + 11h).name, a.name);  // not due yet
  auto found = keys.opening(a.name.data(), t0 + 11h);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->current);

  TicketKey b = keys.sealing(t0 + 12h);  // due: a new key seals
  EXPECT_NE(b.name, a.name);
  found = keys.opening(a.name.data(), t0 + 13h);
  ASSERT_TRUE(found);  // the previous one still opens
  EXPECT_FALSE(found->current);
  EXPECT_EQ(found->key.aes, a.aes);

  // Another lifetime on: a is retired.
  EXPECT_FALSE(keys.opening(a.name.data(), t0 + 24h));
  found = keys.opening(b.name.data(), t0 + 24h);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->current);

  // Idle for two lifetimes and more: nothing sealed since then opens any more.
  TicketKey c = keys.sealing(t0 + 24h);
  EXPECT_FALSE(keys.opening(c.name.data(), t0 + 24h + 12h + 12h + 1s));
  EXPECT_FALSE(keys.opening(b.name.data(), t0 + 72h));
}

}  // namespace
}  // namespace secmx::tls
