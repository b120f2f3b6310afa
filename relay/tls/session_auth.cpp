// session_auth.cpp - PeerAuth kept on an SSL_SESSION as ex_data (see session_auth.hpp).
//
// The ex_data slot is registered once per process with a free function (the record dies
// with its session) and a dup function (OpenSSL copies a session for each TLS 1.3 ticket
// and for TLS 1.2 session-id updates, and each copy owns a record of its own). Both are
// called from inside OpenSSL, so neither may throw.
#include "relay/tls/session_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <new>

namespace secmx::tls {
namespace {

struct Remembered {
  std::string key;
  PeerAuth auth;
};

void free_remembered(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<Remembered*>(ptr);
}

int dup_remembered(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long,
                   void*) {
  auto* from = static_cast<Remembered*>(*from_d);
  if (from == nullptr) return 1;
  try {
    *from_d = new Remembered(*from);
    return 1;
  } catch (const std::bad_alloc&) {
    *from_d = nullptr;  // the copy resumes as not verified; it never shares `from`
    return 0;
  }
}

int slot() {
  static const int index =
      SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, dup_remembered, free_remembered);
  return index;
}

}  // namespace

bool remember_auth(SSL_SESSION* session, const std::string& key, const PeerAuth& auth) {
  int index = slot();
  if (session == nullptr || index < 0) return false;
  Remembered* fresh = nullptr;
  try {
    fresh = new Remembered{key, auth};
  } catch (const std::bad_alloc&) {
    fresh = nullptr;
  }
  delete static_cast<Remembered*>(SSL_SESSION_get_ex_data(session, index));
  // Only a session that never had a record can fail here (its slot cannot grow), so
  // nothing freed above stays behind.
  if (SSL_SESSION_set_ex_data(session, index, fresh) != 1) {
    delete fresh;
    return false;
  }
  return fresh != nullptr;
}

PeerAuth recall_auth(SSL_SESSION* session, const std::string& key) {
  int index = slot();
  const auto* r = session == nullptr || index < 0
                      ? nullptr
                      : static_cast<const Remembered*>(SSL_SESSION_get_ex_data(session, index));
  if (r == nullptr) {
    return PeerAuth{false, false, "resumed session carries no verification result"};
  }
  if (key.empty() || r->key != key) {
    return PeerAuth{false, false,
                    "resumed session was verified for other names or TLSA records"};
  }
  return r->auth;
}

}  // namespace secmx::tls
