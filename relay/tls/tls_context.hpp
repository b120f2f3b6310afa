// tls_context.hpp - OpenSSL SSL_CTX for the server side and the client side.
//
// A TlsContext owns one SSL_CTX (freed with it). Built once at start-up (or reload) by a
// create function that returns the reason on failure; shared read-only by all threads
// afterwards (OpenSSL allows concurrent SSL_new on one SSL_CTX). The protocol floor, the
// cipher lists and the trust store come from the settings (tls_settings.hpp); a reload
// builds new contexts, so new sessions get new settings and running ones keep theirs.
#pragma once

#include <memory>
#include <string>

#include "relay/common/result.hpp"
#include "relay/tls/ticket_keys.hpp"
#include "relay/tls/tls_settings.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace secmx::tls {

struct TlsError {
  std::string message;  // the OpenSSL error queue drained into words
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};

class TlsContext {
 public:
  // cert_file: PEM chain (leaf first); key_file: PEM private key matching it. A second
  // pair, settings.ecdsa_cert/ecdsa_key, is loaded beside it when set (OpenSSL keeps one
  // certificate per key type and picks per client). Session tickets are sealed with keys
  // that rotate every settings.ticket_lifetime (ticket_keys.hpp).
  static Result<std::shared_ptr<TlsContext>, TlsError> create_server(
      const std::string& cert_file, const std::string& key_file,
      const ServerTlsSettings& settings = {});

  // Peers are verified against settings.ca_file and/or the system default store.
  // DANE-enabled: a session given TLSA records (PeerVerify) is matched against them.
  static Result<std::shared_ptr<TlsContext>, TlsError> create_client(
      const ClientTlsSettings& settings);
  // The default settings, with ca_file trusted besides the system store ("": that alone).
  static Result<std::shared_ptr<TlsContext>, TlsError> create_client(
      const std::string& ca_file);

  SSL_CTX* get() const { return ctx_.get(); }
  // Server contexts: the ticket keys (rotate() them in tests); nullptr on a client's.
  TicketKeys* ticket_keys() const { return tickets_.get(); }

 private:
  TlsContext(SSL_CTX* ctx, std::unique_ptr<TicketKeys> tickets)
      : tickets_(std::move(tickets)), ctx_(ctx) {}
  // Declared first, destroyed last: the SSL_CTX's ticket callback reads them until it goes.
  std::unique_ptr<TicketKeys> tickets_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
};

// Drain and return the thread's OpenSSL error queue as one readable line.
std::string drain_openssl_errors();

}  // namespace secmx::tls
