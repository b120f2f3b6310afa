// tls_pair.hpp - a client TlsSession and a server TlsSession wired back to back in memory,
// for the TLS unit tests: contexts from the test PKI, sessions, and the handshake and data
// pumps between them. Failures are reported with ADD_FAILURE/EXPECT at the caller's test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "relay/tls/tls_session.hpp"
#include "tests/unit/tls/test_pki.hpp"

namespace secmx::tls::testing {

inline std::shared_ptr<TlsContext> server_ctx(const std::string& cert, const std::string& key) {
  auto ctx = TlsContext::create_server(cert, key);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return ctx ? ctx.value() : nullptr;
}

inline std::shared_ptr<TlsContext> ca_server_ctx() {
  return server_ctx(test_pki().server_cert, test_pki().server_key);
}

inline std::shared_ptr<TlsContext> client_ctx(const std::string& ca = test_pki().ca_cert) {
  auto ctx = TlsContext::create_client(ca);
  if (!ctx) ADD_FAILURE() << ctx.error().message;
  return ctx ? ctx.value() : nullptr;
}

inline std::unique_ptr<TlsSession> make(std::shared_ptr<TlsContext> ctx, Role role,
                                         const std::string& sni = {},
                                         const PeerVerify& verify = {}) {
  auto s = TlsSession::create(std::move(ctx), role, sni, verify);
  if (!s) {
    ADD_FAILURE() << s.error().message;
    return nullptr;
  }
  return std::move(s.value());
}

// PKIX against one name (none: the chain only).
inline PeerVerify names(std::initializer_list<std::string> list) { return PeerVerify{list, {}}; }

// What `from` wants sent arrives at `to`; true when anything moved.
inline bool transfer(TlsSession& from, TlsSession& to) {
  std::string wire;
  from.take_encrypted(wire);
  if (wire.empty()) return false;
  to.feed_encrypted(wire);
  return true;
}

// Runs both handshakes until both are done (true) or one failed and everything either
// side had to say (alerts) has been delivered (false).
inline bool handshake(TlsSession& client, TlsSession& server) {
  for (int round = 0; round < 20; ++round) {
    TlsSession::Progress c = client.handshake();
    bool moved = transfer(client, server);
    TlsSession::Progress s = server.handshake();
    moved = transfer(server, client) || moved;
    if (c == TlsSession::Progress::Done && s == TlsSession::Progress::Done && !moved) {
      return true;
    }
    if ((c == TlsSession::Progress::Failed || s == TlsSession::Progress::Failed) && !moved) {
      return false;
    }
  }
  ADD_FAILURE() << "handshake did not settle";
  return false;
}

struct Pair {
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
};

// A completed handshake between a client asking `verify` (SNI: its first name, else
// kServerName) and a server.
inline Pair connect(std::shared_ptr<TlsContext> cctx, std::shared_ptr<TlsContext> sctx,
                    const PeerVerify& verify = names({kServerName})) {
  std::string sni = verify.names.empty() ? kServerName : verify.names.front();
  Pair p{make(std::move(cctx), Role::Client, sni, verify), make(std::move(sctx), Role::Server)};
  if (p.client && p.server) {
    EXPECT_TRUE(handshake(*p.client, *p.server))
        << "client: " << p.client->error() << " / server: " << p.server->error();
  }
  return p;
}

// Sends `data` from one side and reads it all on the other.
inline std::string send(TlsSession& from, TlsSession& to, const std::string& data) {
  EXPECT_EQ(from.write_plain(data), TlsSession::Progress::Done) << from.error();
  transfer(from, to);
  std::string got;
  EXPECT_EQ(to.read_plain(got), TlsSession::Progress::NeedMore) << to.error();
  transfer(to, from);  // anything the read produced (TLS 1.3 key updates, say)
  return got;
}

}  // namespace secmx::tls::testing
