// tls_session.hpp - one TLS connection over memory BIOs, independent of any socket.
//
// The owner moves bytes: ciphertext from the network goes in with feed_encrypted();
// whatever OpenSSL wants to send is taken with take_encrypted() and written to the
// socket. Plaintext is written with write_plain() and read with read_plain(). This keeps
// TLS usable on a libuv stream (or in a unit test between two sessions in memory).
// Single-threaded: a session belongs to the loop of its connection. Owns SSL* and both
// BIOs (SSL_set_bio hands the BIOs to the SSL object; the SSL frees them).
//
// Failure: a fatal TLS error moves the session to failed(); error() says why, in words.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "relay/common/result.hpp"
#include "relay/tls/tls_context.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace secmx::tls {

enum class Role { Server, Client };

struct PeerInfo {
  std::string protocol;      // "TLSv1.3"
  std::string cipher;        // "TLS_AES_256_GCM_SHA384"
  int cipher_bits = 0;
  std::string peer_subject;  // peer certificate subject, "" when none
  bool verified = false;     // chain verified against the CA store (and name, if set)
  std::string verify_error;  // X509 verification result in words when not verified
  bool resumed = false;
  bool dane = false;         // verified by a TLSA record (PeerVerify::tlsa), not by PKIX
  std::string cert_sha256;   // SHA-256 of the peer's leaf certificate (DER), lower-case hex
};

class TlsSession {
 public:
  // sni / verify_name: client side only (SNI host name, and the name the peer's
  // certificate must match for verified=true; empty verify_name: chain only).
  static Result<std::unique_ptr<TlsSession>, TlsError> create(
      std::shared_ptr<TlsContext> context, Role role, const std::string& sni = {},
      const std::string& verify_name = {});
  ~TlsSession();

  enum class Progress { NeedMore, Done, Failed };

  // Ciphertext received from the peer.
  void feed_encrypted(std::string_view data);
  // Drives the handshake; call after feed_encrypted() until Done or Failed.
  Progress handshake();
  // Decrypted application data available now, appended to out. Failed on a fatal error;
  // a close_notify from the peer sets peer_closed().
  Progress read_plain(std::string& out);
  // Encrypts application data (after the handshake).
  Progress write_plain(std::string_view data);
  // Ciphertext to send to the peer, appended to out (handshake records included).
  void take_encrypted(std::string& out);
  bool has_encrypted() const;
  // Queue a close_notify (then take_encrypted() and send it).
  void shutdown();

  bool handshake_done() const { return handshake_done_; }
  bool peer_closed() const { return peer_closed_; }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  PeerInfo peer_info() const;

  // Client-side resumption; the caller keeps the cache (one session per destination and
  // verify_name: a resumed session reports the verification result of the original).
  // get1_session(): the session to offer next time, or nullptr when there is none that
  // can be resumed; the caller owns the returned reference (SSL_SESSION_free). Take it
  // after the first read_plain() that follows the handshake: TLS 1.3 tickets arrive
  // after the handshake. set_session(): offer `session` in the coming handshake (call
  // before the first handshake()); takes its own reference, the caller keeps theirs.
  // A session stays resumable when the connection ends without close_notify, but not
  // after a fatal TLS error (OpenSSL invalidates it then).
  SSL_SESSION* get1_session();
  void set_session(SSL_SESSION* session);

 private:
  TlsSession() = default;
  Progress fail_with(const char* what, int ssl_error);
  std::shared_ptr<TlsContext> context_;
  SSL* ssl_ = nullptr;
  void* enc_in_ = nullptr;   // BIO*, owned by ssl_
  void* enc_out_ = nullptr;  // BIO*, owned by ssl_
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  std::string error_;
};

}  // namespace secmx::tls
