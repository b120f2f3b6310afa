// cert_pair.cpp - reads and checks a certificate/key pair (see cert_pair.hpp).
#include "relay/tls/cert_pair.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <utility>

#include "relay/tls/tls_context.hpp"

namespace secmx::tls {
namespace {

// A passphrase-protected key must fail the load, not block the daemon on a tty prompt.
int refuse_passphrase(char*, int, int, void*) { return 0; }

std::string type_name(EVP_PKEY* pub) {
  const char* name = pub != nullptr ? EVP_PKEY_get0_type_name(pub) : nullptr;
  return name != nullptr ? name : "of no known type";
}

Unexpected<PairError> problem(PairProblem about, std::string message) {
  return fail(PairError{about, std::move(message), drain_openssl_errors()});
}

// The end of a PEM file reads as "no start line"; anything else is a real error.
bool at_end_of_pem() {
  unsigned long err = ERR_peek_last_error();
  return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

}  // namespace

Result<CertPair, PairError> load_cert_pair(const std::string& cert_file,
                                           const std::string& key_file, KeyKind kind) {
  ERR_clear_error();
  CertPair pair;
  BioPtr cert_in(BIO_new_file(cert_file.c_str(), "r"));
  if (!cert_in) {
    return problem(PairProblem::Certificate,
                   "cannot load certificate chain from '" + cert_file + "'");
  }
  // As SSL_CTX_use_certificate_chain_file reads it: the leaf with its trust settings.
  pair.leaf.reset(PEM_read_bio_X509_AUX(cert_in.get(), nullptr, refuse_passphrase, nullptr));
  if (!pair.leaf) {
    return problem(PairProblem::Certificate, "no PEM certificate in '" + cert_file + "'");
  }
  while (X509Ptr next{PEM_read_bio_X509(cert_in.get(), nullptr, refuse_passphrase, nullptr)}) {
    if (!pair.chain) pair.chain.reset(sk_X509_new_null());
    if (!pair.chain || sk_X509_push(pair.chain.get(), next.get()) == 0) {
      return problem(PairProblem::Certificate,
                     "cannot load certificate chain from '" + cert_file + "'");
    }
    (void)next.release();  // the stack has it
  }
  if (!at_end_of_pem()) {
    return problem(PairProblem::Certificate,
                   "cannot load certificate chain from '" + cert_file + "'");
  }
  ERR_clear_error();

  EVP_PKEY* pub = X509_get0_pubkey(pair.leaf.get());
  if (kind == KeyKind::Ec && (pub == nullptr || !EVP_PKEY_is_a(pub, "EC"))) {
    return problem(PairProblem::KeyKind, "'" + cert_file +
                                             "' is not an ECDSA certificate (its key is " +
                                             type_name(pub) + ")");
  }

  BioPtr key_in(BIO_new_file(key_file.c_str(), "r"));
  if (!key_in) {
    return problem(PairProblem::Key, "cannot load private key from '" + key_file + "'");
  }
  pair.key.reset(PEM_read_bio_PrivateKey(key_in.get(), nullptr, refuse_passphrase, nullptr));
  if (!pair.key) {
    return problem(PairProblem::Key, "cannot load private key from '" + key_file +
                                         "' (no unencrypted PEM private key there)");
  }
  if (X509_check_private_key(pair.leaf.get(), pair.key.get()) != 1) {
    return problem(PairProblem::Key, "private key '" + key_file +
                                         "' does not match certificate '" + cert_file + "'");
  }
  ERR_clear_error();
  return pair;
}

}  // namespace secmx::tls
