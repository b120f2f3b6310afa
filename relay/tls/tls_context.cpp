// tls_context.cpp - builds the server and client SSL_CTX and turns OpenSSL's error queue
// into words.
//
// Contract (see tls_context.hpp): create_server()/create_client() return a ready, shared,
// read-only context or a TlsError whose message names the file involved and OpenSSL's
// reason. Nothing here throws; nothing here touches the network. Every failure path frees
// what it built (the SSL_CTX is owned by a unique_ptr from the first line on).
#include "relay/tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include "relay/tls/cert_pair.hpp"

namespace secmx::tls {
namespace {

using CtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Identifies our server-side session cache entries; OpenSSL refuses to resume sessions
// from a cache without one when peer verification is ever turned on.
constexpr unsigned char kSessionIdContext[] = "secmx-relay";

TlsError in_words(std::string what, std::string reason) {
  if (reason.empty()) reason = "no reason given by OpenSSL";
  return TlsError{std::move(what) + ": " + reason};
}

TlsError make_error(std::string what) { return in_words(std::move(what), drain_openssl_errors()); }

// Settings both sides share: protocol floor and suites, no renegotiation (a DoS lever and
// a source of past CVEs, and SMTP never needs it), no compression (CRIME), small idle
// memory. The cipher strings were checked by the config (check_protocol_settings); a
// failure here still names the setting, for callers that did not load a config.
Status<TlsError> apply_common(SSL_CTX* ctx, const ProtocolSettings& settings) {
  int floor = settings.min_protocol == MinProtocol::Tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, floor) != 1) {
    return fail(make_error("cannot set the minimum protocol to " +
                           std::string(to_string(settings.min_protocol))));
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle sessions (thousands of them, mostly waiting on a peer) give their 16-34 KiB
  // record buffers back. Partial writes stay off: write_plain() relies on SSL_write
  // taking everything it is given.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, settings.tls12_ciphers.c_str()) != 1) {
    return fail(make_error("cannot set the TLS 1.2 cipher list '" + settings.tls12_ciphers + "'"));
  }
  if (SSL_CTX_set_ciphersuites(ctx, settings.tls13_suites.c_str()) != 1) {
    return fail(make_error("cannot set the TLS 1.3 suites '" + settings.tls13_suites + "'"));
  }
  // X25519 first on both sides (tls_settings.hpp, kGroups): a client then sends its key
  // share for the group the server picks, and the exchange is the cheapest there is.
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return fail(make_error(std::string("cannot set the key exchange groups '") + kGroups + "'"));
  }
  // No TLS 1.3 suites means no TLS 1.3: OpenSSL would otherwise still negotiate it and
  // then fail every handshake for want of a suite.
  if (settings.tls13_suites.empty() && SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return fail(make_error("cannot set the maximum protocol to TLS 1.2"));
  }
  return Ok{};
}

Result<CtxPtr, TlsError> new_ctx(const SSL_METHOD* method, const ProtocolSettings& settings) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return fail(make_error("cannot create an SSL context"));
  if (auto st = apply_common(ctx.get(), settings); !st) return fail(std::move(st.error()));
  return ctx;
}

// One certificate chain and its key into the context; OpenSSL files it by key type, so
// the ECDSA pair must hold an EC key or it would take the RSA pair's place.
Status<TlsError> load_pair(SSL_CTX* c, const std::string& cert_file, const std::string& key_file,
                           KeyKind kind) {
  auto pair = load_cert_pair(cert_file, key_file, kind);
  if (!pair) return fail(in_words(std::move(pair.error().message), pair.error().reason));
  if (SSL_CTX_use_cert_and_key(c, pair->leaf.get(), pair->key.get(), pair->chain.get(), 1) !=
      1) {
    return fail(make_error("cannot use the certificate '" + cert_file + "' and key '" +
                           key_file + "'"));
  }
  return Ok{};
}

}  // namespace

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

std::string drain_openssl_errors() {
  // Reason strings are loaded lazily by OpenSSL's first SSL_CTX; an error drained before
  // that (e.g. at start-up) would otherwise read "reason(267)".
  static const bool strings_loaded = OPENSSL_init_ssl(
      OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
  (void)strings_loaded;
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long err;
  while ((err = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    // Extra text such as "calling fopen(/etc/x.pem, r)" often says more than the code.
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

Result<std::shared_ptr<TlsContext>, TlsError> TlsContext::create_server(
    const std::string& cert_file, const std::string& key_file,
    const ServerTlsSettings& settings) {
  auto made = new_ctx(TLS_server_method(), settings.protocol);
  if (!made) return fail(std::move(made.error()));
  CtxPtr ctx = std::move(made.value());
  SSL_CTX* c = ctx.get();

  // The server's order wins: clients often list weak suites first for compatibility.
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);

  // Session-ID cache plus stateless tickets (on by default; SSL_OP_NO_TICKET stays
  // clear) so that a client that comes back for the next message skips the full
  // handshake. Ticket keys are per context: a reload costs one full handshake each.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof kSessionIdContext - 1) !=
      1) {
    return fail(make_error("cannot set the session id context"));
  }

  if (auto st = load_pair(c, cert_file, key_file, KeyKind::Any); !st) {
    return fail(std::move(st.error()));
  }
  if (!settings.ecdsa_cert.empty()) {
    if (auto st = load_pair(c, settings.ecdsa_cert, settings.ecdsa_key, KeyKind::Ec); !st) {
      return fail(std::move(st.error()));
    }
  }

  // Tickets valid as long as their key seals (a ticket's key opens it for one more
  // lifetime, but the session itself has expired by then). TLS 1.3 allows 7 days at most.
  SSL_CTX_set_timeout(c, static_cast<long>(settings.ticket_lifetime.count()));
  auto tickets = std::make_unique<TicketKeys>(settings.ticket_lifetime);
  if (!TicketKeys::install(c, tickets.get())) {
    return fail(make_error("cannot install the session ticket keys"));
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), std::move(tickets)));
}

Result<std::shared_ptr<TlsContext>, TlsError> TlsContext::create_client(
    const std::string& ca_file) {
  ClientTlsSettings settings;
  settings.ca_file = ca_file;
  return create_client(settings);
}

Result<std::shared_ptr<TlsContext>, TlsError> TlsContext::create_client(
    const ClientTlsSettings& settings) {
  auto made = new_ctx(TLS_client_method(), settings.protocol);
  if (!made) return fail(std::move(made.error()));
  CtxPtr ctx = std::move(made.value());
  SSL_CTX* c = ctx.get();

  // Verification runs, but never aborts the handshake: the result is recorded and the
  // TLS policy (encrypt vs verify, per destination) decides what to do with it. Aborting
  // here would turn "encrypt" into "verify" and push mail to plaintext instead.
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);

  // Both go into the one X509_STORE: a private CA (an agency's own receivers) is trusted
  // besides the public ones, not instead of them, unless ca_system says otherwise.
  ERR_clear_error();
  if (settings.ca_system && SSL_CTX_set_default_verify_paths(c) != 1) {
    return fail(make_error("cannot load the system CA store"));
  }
  const std::string& ca_file = settings.ca_file;
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) != 1) {
    return fail(make_error("cannot load CA bundle from '" + ca_file + "'"));
  }

  // DANE (RFC 7672) is switched on per session, for hosts with TLSA records; the context
  // only has to allow it. OpenSSL's default digests (1 = SHA-256, 2 = SHA-512) are the
  // matching types RFC 6698 defines, so SSL_CTX_dane_mtype_set() is not needed.
  if (SSL_CTX_dane_enable(c) <= 0) {
    return fail(make_error("cannot enable DANE on the client context"));
  }

  // Client mode makes OpenSSL treat sessions (and TLS 1.3 tickets) as cacheable. The
  // internal store is skipped: a client never looks sessions up there, so it would only
  // hold memory; the delivery engine keeps its own per-destination cache through
  // TlsSession::get1_session()/set_session().
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), nullptr));
}

}  // namespace secmx::tls
