// openssl_ptr.hpp - owners for the OpenSSL objects that the TLS code builds and frees in one
// scope: certificates, keys, certificate stacks, BIOs, sessions.
//
// Each unique_ptr holds exactly one reference and gives it back with OpenSSL's own free
// call when it goes (never called for null). Handing one to an OpenSSL call that takes a
// reference of its own (SSL_CTX_use_cert_and_key, SSL_set_session) leaves ours to free.
// Header only; any thread (OpenSSL counts references atomically).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace secmx::tls {

template <auto Free>
struct OpensslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

// A stack owns its certificates too.
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

using X509Ptr = std::unique_ptr<X509, OpensslFree<&X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<&EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslFree<&BIO_free_all>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpensslFree<&SSL_SESSION_free>>;

}  // namespace secmx::tls
