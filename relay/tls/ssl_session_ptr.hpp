// ssl_session_ptr.hpp - one owned reference to an OpenSSL SSL_SESSION (a TLS session kept
// for resumption).
//
// SSL_SESSION is reference-counted: SSL_get1_session() and SSL_SESSION_new() hand the
// caller a reference, SSL_set_session() takes one of its own. SslSessionPtr (declared in
// openssl_ptr.hpp) owns exactly one reference and gives it back when it goes, so a
// session passes between the SMTP client, the connection cache and the attempt by moving
// a value, never as a raw owning pointer. share() takes a further reference for a second
// owner. Any thread: OpenSSL counts the references atomically.
#pragma once

#include <openssl/ssl.h>

#include "relay/tls/openssl_ptr.hpp"

namespace secmx::tls {

// Another owned reference to `s`; null for null.
inline SslSessionPtr share(SSL_SESSION* s) {
  if (s != nullptr && SSL_SESSION_up_ref(s) == 1) return SslSessionPtr(s);
  return nullptr;
}

}  // namespace secmx::tls
