// cert_pair.cpp - the ECDSA certificate/key check (see cert_pair.hpp).
#include "relay/tls/cert_pair.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>

namespace secmx::tls {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// A passphrase-protected key is refused, as the server context refuses it.
int no_passphrase(char*, int, int, void*) { return 0; }

std::string type_name(EVP_PKEY* pub) {
  const char* name = pub != nullptr ? EVP_PKEY_get0_type_name(pub) : nullptr;
  return name != nullptr ? name : "of no known type";
}

}  // namespace

std::optional<PairError> check_ecdsa_pair(const std::string& cert_file,
                                          const std::string& key_file) {
  std::optional<PairError> out;
  std::unique_ptr<FILE, FileCloser> cf(std::fopen(cert_file.c_str(), "r"));
  std::unique_ptr<X509, X509Free> cert(
      cf ? PEM_read_X509(cf.get(), nullptr, no_passphrase, nullptr) : nullptr);
  std::unique_ptr<FILE, FileCloser> kf(std::fopen(key_file.c_str(), "r"));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      kf ? PEM_read_PrivateKey(kf.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!cert) {
    out = PairError{PairProblem::Certificate, "no PEM certificate in '" + cert_file + "'"};
  } else if (EVP_PKEY* pub = X509_get0_pubkey(cert.get()); pub == nullptr || !EVP_PKEY_is_a(pub, "EC")) {
    out = PairError{PairProblem::Certificate,
                    "'" + cert_file + "' is not an ECDSA certificate (its key is " +
                        type_name(pub) +
                        "); tls_cert holds the RSA one"};
  } else if (!key) {
    out = PairError{PairProblem::Key, "no unencrypted PEM private key in '" + key_file + "'"};
  } else if (X509_check_private_key(cert.get(), key.get()) != 1) {
    out = PairError{PairProblem::Key, "private key '" + key_file +
                                          "' does not match certificate '" + cert_file + "'"};
  }
  ERR_clear_error();
  return out;
}

}  // namespace secmx::tls
