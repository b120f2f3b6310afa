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
//
// Peer verification (client side) follows a PeerVerify and never fails the handshake; it
// is reported in peer_info(). Without TLSA records: PKIX, a chain to the context's CA
// store and one of the names. With TLSA records: DANE alone, by OpenSSL's own matching
// (RFC 7672): DANE-EE (3 x x) without name checks, DANE-TA (2 x x) with the names as
// reference identifiers. Usages 0 and 1 are unusable for SMTP (RFC 7672 §3.1.3): delivery
// never passes them, and a session given one skips it like any record OpenSSL refuses
// (bad length, unknown selector or matching type); with no usable record left the peer is
// not verified ("no usable TLSA record"), whatever its certificate.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "relay/common/result.hpp"
#include "relay/tls/peer_verify.hpp"
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
  // Authenticated by what the PeerVerify asked: PKIX (chain to the CA store, and one of
  // the names when given), or DANE when it had TLSA records - a PKIX-valid certificate
  // that matches no record is not verified. Server side: only the chain, if any.
  bool verified = false;
  std::string verify_error;  // in words when not verified ("hostname mismatch", ...)
  long verify_code = 0;      // ... and OpenSSL's X509_V_ERR_* code when a check failed
                             // (expired, untrusted, name mismatch), else 0
  bool resumed = false;
  std::string group;         // key exchange group, "X25519"; "" when none was negotiated
  bool dane = false;         // verified by a TLSA record (PeerVerify::tlsa), not by PKIX
  std::string cert_sha256;   // SHA-256 of the peer's leaf certificate (DER), lower-case hex;
                             // "" when the peer sent none
};

class TlsSession {
 public:
  // sni / verify: client side only. sni: the SNI host name (none for an address literal
  // or ""); the SMTP client passes verify.names.front(), which for DANE is the TLSA base
  // domain (RFC 7672 §8.1). verify: what verified=true means (see above). Names may end
  // in a dot. PKIX: an address literal is checked only when no host name is given
  // (OpenSSL would demand both). DANE: names.front() must be a host name, or create()
  // fails. Fails on a name OpenSSL refuses, with the reason.
  static Result<std::unique_ptr<TlsSession>, TlsError> create(
      std::shared_ptr<TlsContext> context, Role role, const std::string& sni = {},
      const PeerVerify& verify = {});
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

  // Client-side resumption; the caller keeps the cache. A resumed handshake verifies
  // nothing: it reports what the original full handshake established (verified, dane,
  // verify_error; session_auth.hpp), but only when it was asked the same as now - the
  // same verify_key(PeerVerify). So the caller keys its cache by host and
  // verify_key(verify) (a changed TLSA RRset or name list then starts afresh with a full
  // handshake); a session offered under another key still resumes, but reports
  // verified=false, dane=false ("resumed session was verified for other names or TLSA
  // records"): a wrongly keyed cache costs authentication and never grants it.
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
  Status<TlsError> set_pkix_names(const std::vector<std::string>& names);
  Status<TlsError> enable_dane(const std::vector<std::string>& names,
                               const std::vector<DaneRecord>& records);
  Progress handshake_finished();
  Progress fail_with(const char* what, int ssl_error);
  std::shared_ptr<TlsContext> context_;
  Role role_ = Role::Server;
  SSL* ssl_ = nullptr;
  std::string verify_key_;   // verify_key() of the PeerVerify (client side)
  bool dane_ = false;        // TLSA records were given: DANE decides
  int usable_tlsa_ = 0;      // of them, the ones OpenSSL took
  void* enc_in_ = nullptr;   // BIO*, owned by ssl_
  void* enc_out_ = nullptr;  // BIO*, owned by ssl_
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  std::string error_;
};

}  // namespace secmx::tls
