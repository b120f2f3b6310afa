// session_auth.hpp - the verification a client TLS session remembers for resumption.
//
// A resumed handshake verifies nothing: OpenSSL restores the original verify result and
// certificate from the SSL_SESSION, but not how the peer was authenticated (a DANE match
// is not recorded: SSL_get0_dane_authority() is -1 on a resumed connection), nor against
// which names or TLSA records. So the session that a full handshake created carries its
// PeerAuth together with the verify_key() of the PeerVerify it was checked against, as
// OpenSSL ex_data (copied into the sessions OpenSSL derives from it, e.g. TLS 1.3
// tickets; freed with the session; held in memory only: a session written out with
// i2d_SSL_SESSION and read back has none). A resumption asking under another key, or of a
// session with nothing remembered, is not verified.
//
// Any thread: a session is annotated once, by the connection that made it, before anyone
// else can hold it.
#pragma once

#include <string>

typedef struct ssl_session_st SSL_SESSION;

namespace secmx::tls {

struct PeerAuth {
  bool verified = false;     // authenticated by what was asked (PKIX names, or DANE)
  bool dane = false;         // ... and that was a TLSA record
  std::string verify_error;  // in words when not verified
  long verify_code = 0;      // OpenSSL's X509_V_ERR_* when a check failed; 0 when none applies
};

// Attach `auth`, established for `key`, to `session` (replacing what it had). False when
// memory runs out: the session then resumes as not verified.
bool remember_auth(SSL_SESSION* session, const std::string& key, const PeerAuth& auth);

// What `session` remembers, for a connection that asks what `key` names.
PeerAuth recall_auth(SSL_SESSION* session, const std::string& key);

}  // namespace secmx::tls
