// cert_pair.hpp - read a certificate chain file and its private key file, and check that
// they make a pair the server can use. The one check behind both the config's --check
// (which names the line of a pair the start would refuse) and TlsContext::create_server.
//
// Reads both PEM files; the leaf is the first certificate, the rest is its chain. A
// passphrase-protected key is refused (never a prompt). On failure the error says in words
// which file is wrong and why; OpenSSL's own reason comes separately. The returned pair
// owns its objects. Thread-agnostic; leaves the thread's OpenSSL error queue empty.
#pragma once

#include <string>

#include "relay/common/result.hpp"
#include "relay/tls/openssl_ptr.hpp"

namespace secmx::tls {

// What the certificate's key must be. The ECDSA slot must hold an EC key: OpenSSL files a
// pair by key type, so an RSA pair there would replace the RSA pair silently.
enum class KeyKind { Any, Ec };

enum class PairProblem {
  Certificate,  // the certificate file cannot be read or holds no certificate
  KeyKind,      // the certificate's key is not of the kind asked for
  Key,          // the key file cannot be read, holds no key, or not the certificate's
};

struct PairError {
  PairProblem about;
  std::string message;  // names the file(s), e.g. "private key 'k' does not match ..."
  std::string reason;   // OpenSSL's error queue in words; may be empty
};

struct CertPair {
  X509Ptr leaf;
  X509StackPtr chain;  // the certificates after the leaf; null when there are none
  EvpPkeyPtr key;
};

Result<CertPair, PairError> load_cert_pair(const std::string& cert_file,
                                           const std::string& key_file,
                                           KeyKind kind = KeyKind::Any);

}  // namespace secmx::tls
